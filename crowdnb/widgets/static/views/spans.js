// Entity spans in a text: select with the mouse (or move the caret with ← → and extend with
// Shift+← →), then 1..9 (or a class button) labels the selection. Click a span to select it;
// Delete removes it. Offsets are code points of the original string, as Python counts them.
import { classButtons, clone, colorOf, deleteKey, digitClass, h, undoable } from "../core.js";
import { without } from "../state/geometry.js";
import { clashOf, cutPoints, withSpan } from "../state/spans.js";
import { utf16ToCodePoint } from "../state/text.js";

export function spans(ctx) {
  const classes = ctx.config.classes || [];
  const allowOverlap = Boolean(ctx.config.allow_overlap);
  const box = h("div", "cnb-spantext");
  let chars = [];
  let spans = [];
  let pending = null; // {start, end}
  let anchor = 0;
  let caret = 0;
  let selected = -1;
  const history = undoable(() => ({ spans, selected }), (saved) => {
    ({ spans, selected } = saved);
    render();
  });
  const remember = history.remember;
  const classBar = classButtons(classes, (name) => label(name));

  function label(name) {
    if (pending) {
      const span = { start: pending.start, end: pending.end, label: name };
      const clash = clashOf(spans, span);
      if (clash && !allowOverlap) {
        ctx.status(`Overlaps “${chars.slice(clash.start, clash.end).join("")}”; this project does not allow overlapping spans.`, true);
        return;
      }
      remember();
      ({ spans, index: selected } = withSpan(spans, span));
      pending = null;
    } else if (selected >= 0) {
      remember();
      spans[selected].label = name;
    }
    render();
  }

  function render() {
    const points = cutPoints(chars.length, spans, pending, caret);
    const parts = [];
    for (let i = 0; i < points.length - 1; i++) {
      const [a, b] = [points[i], points[i + 1]];
      const seg = h("span", "cnb-seg", chars.slice(a, b).join(""));
      seg.dataset.s = a;
      const covering = spans.map((s, k) => [s, k]).filter(([s]) => s.start <= a && b <= s.end);
      if (covering.length) {
        const [s, k] = covering[0];
        seg.classList.add("cnb-span");
        seg.style.setProperty("--cnb-color", colorOf(classes, s.label));
        if (covering.length > 1) seg.classList.add("cnb-nested");
        if (covering.some(([, j]) => j === selected)) seg.classList.add("cnb-selected");
        if (b === s.end) seg.dataset.label = s.label;
        seg.dataset.span = k;
      }
      if (pending && pending.start <= a && b <= pending.end) seg.classList.add("cnb-pending");
      if (a === caret && !pending) seg.classList.add("cnb-caret");
      parts.push(seg);
    }
    if (caret === chars.length && !pending) parts.push(h("span", "cnb-seg cnb-caret cnb-end"));
    box.replaceChildren(...parts);
    classBar.mark(selected >= 0 ? spans[selected].label : null);
  }

  // Code-point offset of a DOM position inside the text box.
  function offsetOf(node, offset) {
    const seg = (node.nodeType === Node.TEXT_NODE ? node.parentElement : node)?.closest?.(".cnb-seg");
    if (!seg || !box.contains(seg)) return null;
    if (node.nodeType !== Node.TEXT_NODE) return Number(seg.dataset.s) + (offset > 0 ? Array.from(seg.textContent).length : 0);
    return Number(seg.dataset.s) + utf16ToCodePoint(node.data, offset);
  }

  box.addEventListener("pointerup", (event) => {
    const selection = window.getSelection();
    if (selection && !selection.isCollapsed && selection.rangeCount) {
      const range = selection.getRangeAt(0);
      const a = offsetOf(range.startContainer, range.startOffset);
      const b = offsetOf(range.endContainer, range.endOffset);
      selection.removeAllRanges();
      if (a !== null && b !== null && a !== b) {
        pending = { start: Math.min(a, b), end: Math.max(a, b) };
        selected = -1;
        caret = pending.end;
        render();
        ctx.painted("selected", event.timeStamp);
      }
      return;
    }
    const seg = event.target.closest?.(".cnb-seg");
    if (seg?.dataset.span !== undefined) {
      selected = Number(seg.dataset.span);
      pending = null;
      render();
    }
  });

  function moveCaret(delta, extend) {
    const next = Math.min(Math.max(caret + delta, 0), chars.length);
    if (extend) {
      if (!pending) anchor = caret;
      caret = next;
      pending = caret === anchor ? null : { start: Math.min(anchor, caret), end: Math.max(anchor, caret) };
    } else {
      caret = next;
      pending = null;
    }
    render();
  }

  const element = h("div", "cnb-tools");
  element.append(classBar.element);
  return {
    element,
    keys: [
      ["mouse", "select text"], ["← →", "move the caret"], ["Shift+← →", "select"], ["1–9", "label the selection"],
      ["click a span", "select it (1–9 relabels)"], ["Delete / x", "remove the selected span"], ["Esc", "clear the selection"],
    ],
    show(item, label) {
      ctx.stage.replaceChildren(box);
      chars = Array.from(item.text ?? "");
      spans = clone(label || []).map(({ start, end, label: l }) => ({ start, end, label: l }));
      pending = null;
      caret = anchor = 0;
      selected = -1;
      history.reset();
      render();
    },
    value: () => spans.map((s) => ({ ...s, text: chars.slice(s.start, s.end).join("") })),
    check: () => null,
    key(event) {
      const name = digitClass(event, classes);
      if (name !== null) {
        label(name);
        return true;
      }
      if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
        moveCaret(event.key === "ArrowLeft" ? -1 : 1, event.shiftKey);
        return true;
      }
      if (event.key === "Escape") {
        pending = null;
        selected = -1;
        render();
        return true;
      }
      return deleteKey(event, history, selected, (i) => {
        spans = without(spans, i);
        selected = -1;
        render();
      });
    },
    undo: () => history.undo(),
  };
}
