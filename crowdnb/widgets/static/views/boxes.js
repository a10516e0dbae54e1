// Boxes on an image (bbox), or text regions with transcriptions (ocr, as boxes or 4-point quads).
// Drag on the image to draw; drag a box to move it, its corners to resize; 1..9 set the class of
// the selected box; Delete removes it; Tab cycles; arrows nudge (Shift: 10 px). Enter on an image
// without boxes asks once before it stores "nothing here".
import { classButtons, clone, colorOf, deleteKey, digitClass, h, PALETTE, same, svg, undoable } from "../core.js";
import { drag, ImageStage, ZOOM_KEYS } from "../imagestage.js";
import { boundsOf, cornersOf, moved, spanned, without } from "../state/geometry.js";
import { limitField } from "../textfield.js";

export function boxes(ctx) {
  const classes = ctx.config.classes || [];
  const transcribe = Boolean(ctx.config.transcribe);
  const quads = ctx.config.shape === "quad";
  const stage = new ImageStage(ctx.stage);
  let regions = [];
  let selected = -1;
  let current = classes[0] ?? null;
  let pendingQuad = [];
  let emptyAsked = false; // Enter on no boxes asked once on this item; the next Enter stores []

  const picker = h("div", "cnb-picker");
  picker.hidden = true;
  const pickerButtons = classButtons(classes, (name) => setClass(name));
  picker.append(pickerButtons.element);
  const panel = h("div", "cnb-regions");

  const history = undoable(() => ({ regions, selected }), (saved) => {
    ({ regions, selected } = saved);
    render();
  });
  const remember = history.remember;
  const nextClass = classButtons(classes, (name) => setClass(name)); // the bar below the image

  function setClass(name) {
    current = name;
    if (selected >= 0 && !transcribe) {
      remember();
      regions[selected].label = name;
    }
    render();
  }

  let drawn = []; // per region: its shape, tag and corner knobs, so a drag updates only one

  function render() {
    const layer = stage.layer;
    layer.replaceChildren();
    drawn = regions.map((r, i) => {
      const color = transcribe ? PALETTE[2] : colorOf(classes, r.label);
      const shape = svg(r.quad ? "polygon" : "rect", { class: "cnb-shape" + (i === selected ? " cnb-selected" : ""), stroke: color });
      shape.dataset.index = i;
      const tag = svg("text", { class: "cnb-tag", fill: color });
      tag.textContent = transcribe ? `${i + 1}` : r.label;
      const knobs = i === selected && !r.quad ? [0, 1, 2, 3].map((corner) => svg("rect", { class: "cnb-handle", "data-corner": corner })) : [];
      layer.append(shape, tag, ...knobs);
      return { shape, tag, knobs };
    });
    regions.forEach((_, i) => place(i));
    placePicker();
    if (pendingQuad.length) {
      layer.append(svg("polyline", { points: pendingQuad.map((p) => p.join(",")).join(" "), class: "cnb-pending" }));
    }
    renderPanel();
    nextClass.mark(selected >= 0 ? regions[selected].label : current);
  }

  // Move region i's shapes to its current geometry (all a drag needs to redraw).
  function place(i) {
    const r = regions[i];
    const { shape, tag, knobs } = drawn[i];
    if (r.quad) shape.setAttribute("points", r.quad.map((p) => p.join(",")).join(" "));
    else for (const [k, v] of Object.entries({ x: r.x, y: r.y, width: r.w, height: r.h })) shape.setAttribute(k, v);
    const b = boundsOf(r);
    tag.setAttribute("x", b.x + 2 / stage.scale);
    tag.setAttribute("y", b.y - 4 / stage.scale);
    tag.setAttribute("font-size", 12 / stage.scale);
    const handle = 6 / stage.scale;
    knobs.forEach((knob, corner) => {
      const [x, y] = cornersOf(r)[corner];
      for (const [k, v] of Object.entries({ x: x - handle / 2, y: y - handle / 2, width: handle, height: handle })) knob.setAttribute(k, v);
    });
    if (i === selected) placePicker();
  }

  function placePicker() {
    if (transcribe || selected < 0) {
      picker.hidden = true;
      return;
    }
    const r = regions[selected];
    const at = stage.screen(r.x + r.w, r.y + r.h);
    picker.style.left = Math.round(at.left + 4) + "px";
    picker.style.top = Math.round(at.top + 4) + "px";
    pickerButtons.mark(r.label);
    picker.hidden = false;
    ctx.stage.append(picker);
  }

  function renderPanel() {
    if (!transcribe) return;
    const rows = regions.map((r, i) => {
      const row = h("label", "cnb-region" + (i === selected ? " cnb-selected" : ""));
      row.append(h("span", "cnb-region-no", String(i + 1)));
      const input = h("input", "cnb-input");
      input.type = "text";
      input.value = r.text || "";
      input.setAttribute("aria-label", `text of region ${i + 1}`);
      input.dataset.index = i;
      const counter = h("span", "cnb-counter");
      limitField(input, ctx.config.max_chars || 500, { counter, onlyAtLimit: true }).update();
      input.addEventListener("input", () => (r.text = input.value));
      input.addEventListener("focus", () => {
        if (selected !== i) {
          selected = i;
          render();
          panel.querySelector(`input[data-index="${i}"]`)?.focus();
        }
      });
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter" && !event.isComposing && event.keyCode !== 229 && !event.ctrlKey && !event.metaKey) {
          event.preventDefault();
          event.stopPropagation();
          ctx.focus();
        }
      });
      row.append(input, counter);
      return row;
    });
    panel.replaceChildren(...rows);
    if (!regions.length) panel.append(h("div", "cnb-hint", "Drag on the image around a text, then type what it says."));
  }

  function add(region, upTime) {
    remember();
    emptyAsked = false;
    regions.push(region);
    selected = regions.length - 1;
    render();
    if (transcribe) panel.querySelector(`input[data-index="${selected}"]`)?.focus();
    ctx.painted("drawn", upTime);
  }

  drag(stage, stage.overlay, (p, event) => {
    const corner = event.target.dataset?.corner;
    const index = event.target.dataset?.index;
    if (corner !== undefined && selected >= 0) {
      remember();
      const r = regions[selected];
      const fixed = cornersOf(r)[(Number(corner) + 2) % 4];
      return {
        move(q) {
          Object.assign(r, spanned(fixed, q));
          place(selected);
        },
      };
    }
    if (index !== undefined) {
      selected = Number(index);
      remember();
      const r = regions[selected];
      const start = clone(r);
      render();
      if (transcribe) panel.querySelector(`input[data-index="${selected}"]`)?.focus();
      return {
        move(q) {
          Object.assign(r, moved(start, q.x - p.x, q.y - p.y, stage.width, stage.height));
          place(selected);
        },
        up() {
          if (same(start, r)) history.forget();
        },
      };
    }
    if (quads) {
      pendingQuad.push([p.x, p.y]);
      if (pendingQuad.length === 4) {
        const quad = pendingQuad;
        pendingQuad = [];
        add({ quad, text: "" }, event.timeStamp);
      } else render();
      return null;
    }
    const draft = { x: p.x, y: p.y, w: 0, h: 0 };
    const rect = svg("rect", { class: "cnb-shape cnb-draft", x: p.x, y: p.y, width: 0, height: 0 });
    stage.layer.append(rect);
    return {
      move(q) {
        Object.assign(draft, spanned(p, q));
        rect.setAttribute("x", draft.x);
        rect.setAttribute("y", draft.y);
        rect.setAttribute("width", draft.w);
        rect.setAttribute("height", draft.h);
      },
      up(q, e) {
        rect.remove();
        if (draft.w < 2 || draft.h < 2) {
          selected = -1;
          render();
          return;
        }
        add(transcribe ? { ...draft, text: "" } : { label: current, ...draft }, e.timeStamp);
      },
    };
  });
  stage.onZoom = () => regions.forEach((_, i) => place(i)); // keep tags and knobs the same size on screen

  function nudge(dx, dy) {
    remember();
    regions[selected] = moved(regions[selected], dx, dy, stage.width, stage.height);
    render();
  }

  const element = h("div", "cnb-tools");
  if (transcribe) element.append(panel);
  else element.append(h("div", "cnb-hint", "Class of the next box (or of the selected one):"), nextClass.element);
  const nothing = transcribe ? "no text regions" : "no boxes";

  return {
    element,
    keys: [
      ["drag", quads ? "click 4 corners to add a region" : "draw a box"],
      ["drag box / corner", "move / resize"],
      ...(transcribe ? [["type", "the region's text; Enter returns to the image"]] : [["1–9", "class of the selected box"]]),
      ["Tab", "select the next box"],
      ["← ↑ → ↓", "nudge (Shift: 10 px)"],
      ["Delete / x", "remove the selected box"],
      ["Esc", "deselect"],
      ["Enter (no boxes)", `asks once; Enter again submits "${nothing} here"`],
      ...ZOOM_KEYS,
    ],
    show(item, label) {
      stage.show(item);
      regions = (label || []).map((r) => (r.box ? { ...r.box, text: r.text } : clone(r)));
      selected = -1;
      pendingQuad = [];
      emptyAsked = false;
      history.reset();
      render();
    },
    value() {
      if (transcribe) return regions.map((r) => (r.quad ? { quad: r.quad, text: r.text || "" } : { box: { x: r.x, y: r.y, w: r.w, h: r.h }, text: r.text || "" }));
      return regions.map((r) => ({ label: r.label, x: r.x, y: r.y, w: r.w, h: r.h }));
    },
    check(value) {
      if (transcribe) {
        const empty = value.findIndex((r) => !r.text.trim());
        if (empty >= 0) return `Type the text of region ${empty + 1}.`;
      }
      const unlabeled = value.findIndex((r) => !transcribe && !r.label);
      return unlabeled >= 0 ? `Pick a class for box ${unlabeled + 1}.` : null;
    },
    // Asked after `check` passes, before storing: an empty image is worth one more keypress.
    confirm(value) {
      if (value.length || emptyAsked) return null;
      emptyAsked = true;
      return transcribe
        ? `No text regions drawn — press Enter again to submit "no text here".`
        : `No boxes drawn — press Enter again to submit "nothing here".`;
    },
    key(event) {
      if (stage.key(event)) return true;
      const name = digitClass(event, classes);
      if (name !== null && !transcribe) {
        setClass(name);
        return true;
      }
      if (event.key === "Escape") {
        pendingQuad = [];
        selected = -1;
        render();
        return true;
      }
      if (event.key === "Tab" && regions.length) {
        selected = (selected + (event.shiftKey ? regions.length - 1 : 1)) % regions.length;
        render();
        return true;
      }
      if (selected < 0) return false;
      const removed = deleteKey(event, history, selected, (i) => {
        regions = without(regions, i);
        selected = -1;
        render();
      });
      if (removed) return true;
      const step = event.shiftKey ? 10 : 1;
      const arrows = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] };
      if (arrows[event.key]) {
        nudge(...arrows[event.key]);
        return true;
      }
      return false;
    },
    keyup: (event) => stage.keyup(event),
    undo: () => history.undo(),
  };
}
