// The crowdnb front end's entry module: the shell around a view. It keeps a queue of prefetched
// items (images decoded ahead), so a keypress shows the next item at once; labels go to the
// kernel in the background and are re-sent until acknowledged (the annotation id makes a retry
// harmless). A label the kernel refuses brings its item back with the reason. Backspace walks
// back through the items already shown. Below the status, a line says what became of the labels
// after the kernel took them (over a server: waiting, retrying, offline, signed out, set aside).
import { clone, h, isTyping, prepare, release, same, uuid } from "./core.js";
import { deliveryText, language } from "./delivery.js";
import { VIEWS } from "./views/index.js";

const RESEND_MS = 4000;
const OFFLINE_RETRY_MS = 3000;
const STATUS_MS = 2000; // ask for the delivery state this often while labels are not all sent
const SETTLE_MS = 1000; // and once this long after a label or skip went to the kernel
const HISTORY = 100;
const SHELL_KEYS = [
  ["Enter", "submit (Ctrl+Enter in a text field)"],
  ["Backspace", "back to the previous item"],
  ["s", "skip"],
  ["z / Ctrl+Z", "undo"],
  ["?", "show or hide this help"],
];

// The `?` panel; `fill(viewKeys)` writes the rows (a view's keys may depend on the item shown).
function helpPanel() {
  const panel = h("div", "cnb-help");
  panel.hidden = true;
  const table = h("table");
  panel.append(h("div", "cnb-help-title", "Keyboard"), table, h("div", "cnb-hint", "Esc or ? closes"));
  const fill = (viewKeys) => {
    table.replaceChildren(
      ...[...viewKeys, ...SHELL_KEYS].map(([key, what]) => {
        const row = h("tr");
        row.append(h("td", "cnb-help-key", key), h("td", "", what));
        return row;
      }),
    );
  };
  return { panel, fill };
}

export function render({ model, el }) {
  const root = h("div", "cnb-root");
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // keep JupyterLab's cell shortcuts out
  root.dataset.view = model.get("view");
  const header = h("div", "cnb-header");
  const title = h("span", "cnb-title");
  const progress = h("progress", "cnb-progress");
  const count = h("span", "cnb-count");
  const helpButton = h("button", "cnb-button cnb-help-button", "?");
  helpButton.type = "button";
  helpButton.title = "Keyboard shortcuts";
  header.append(title, progress, count, helpButton);
  const stage = h("div", "cnb-stage");
  const badge = h("div", "cnb-badge", "Model pre-label: edit it, or press Enter to accept.");
  badge.hidden = true;
  const status = h("div", "cnb-status");
  status.setAttribute("role", "status");
  const delivery = h("div", "cnb-delivery");
  delivery.setAttribute("role", "status");
  delivery.hidden = true;
  const lang = language(globalThis.navigator?.languages ?? [globalThis.navigator?.language]);

  const queue = []; // fetched, not yet shown
  const history = []; // shown items, oldest first; `pos` points at the current one
  const pending = new Map(); // annotation id -> {message, sentAt}
  let pos = -1;
  let fetching = false;
  let exhausted = false;
  let shownAt = performance.now();
  let keyTime = null;
  let problem = ""; // the error on screen, if any
  let problemKind = ""; // "check": the view's check, redone as the user edits; "confirm"; "other"
  let deliveryAt = performance.now(); // the delivery state arrived
  let handedAt = -Infinity; // a label or skip last went to the kernel
  let askedAt = -Infinity; // the delivery state was last asked for

  const ctx = {
    config: model.get("config"),
    stage,
    submit: () => submit(),
    focus: () => root.focus({ preventScroll: true }),
    status: (text, isError, kind = "other") => {
      problem = isError ? text : "";
      problemKind = isError ? kind : "";
      status.textContent = text;
      status.classList.toggle("cnb-error", Boolean(isError));
    },
    // Report, on the next frame, that something the user caused at `start` is on screen.
    painted: (what, start) => {
      const task = current()?.external_id;
      requestAnimationFrame(() => {
        root.dispatchEvent(new CustomEvent("cnb-painted", { detail: { what, task, start, end: performance.now() } }));
      });
    },
  };
  const view = VIEWS[model.get("view")](ctx);
  const help = helpPanel();
  const viewKeys = () => (typeof view.keys === "function" ? view.keys() : view.keys);
  help.fill(viewKeys());
  const hint = h("div", "cnb-hint", "Click the widget, then use the keyboard · ? shows all keys");
  root.append(header, help.panel, stage, badge, view.element, status, delivery, hint);
  el.append(root);

  const current = () => (pos >= 0 && pos < history.length ? history[pos] : null);

  function paint() {
    const item = current();
    problem = "";
    problemKind = "";
    if (!item) {
      view.element.hidden = true;
      badge.hidden = true;
      delete root.dataset.taskId;
      stage.replaceChildren(h("div", "cnb-empty", exhausted ? "All done: nothing left to label." : "Loading…"));
      showPending();
      return;
    }
    view.element.hidden = false;
    const prelabeled = item.label === undefined && item.prediction != null;
    badge.textContent = item.notice ? `Sent back for rework: ${item.notice}` : "Model pre-label: edit it, or press Enter to accept.";
    badge.hidden = !(prelabeled || item.notice);
    view.show(item, item.label ?? item.prediction ?? null);
    shownAt = performance.now();
    root.dataset.taskId = item.external_id;
    showPending();
    ctx.painted("shown", keyTime ?? shownAt);
    keyTime = null;
  }

  function updateProgress() {
    const total = model.get("total");
    const done = model.get("done");
    progress.max = Math.max(total, 1);
    progress.value = done;
    count.textContent = `${done} / ${total}`;
    title.textContent = model.get("title");
  }

  function refill() {
    if (fetching || exhausted) return;
    const want = model.get("prefetch") + 1 - queue.length - (history.length - 1 - pos);
    if (want <= 0) return;
    fetching = true;
    model.send({ type: "fetch", n: want });
  }

  function advance() {
    if (pos < history.length - 1) {
      pos += 1;
    } else if (queue.length) {
      history.push(queue.shift());
      pos = history.length - 1;
      while (history.length > HISTORY) {
        release(history.shift());
        pos -= 1;
      }
    } else {
      pos = history.length; // past the end: waiting for items, or finished
    }
    paint();
    refill();
  }

  function back() {
    if (pos > 0) {
      pos -= 1;
      paint();
    }
  }

  function submit() {
    const item = current();
    if (!item) return;
    const value = view.value();
    const why = view.check(value);
    if (why) {
      ctx.status(why, true, "check");
      return;
    }
    const question = view.confirm?.(value); // e.g. "No boxes drawn — press Enter again ..."
    if (question) {
      asked = clone(value);
      ctx.status(question, true, "confirm");
      return;
    }
    if (item.stored && same(item.label, value)) {
      advance(); // unchanged: nothing new to store
      return;
    }
    item.label = clone(value);
    item.stored = true;
    item.lastId = uuid();
    const message = {
      type: "submit",
      id: item.lastId,
      task_id: item.task_id,
      external_id: item.external_id,
      label: value,
      duration_ms: Math.round(performance.now() - shownAt),
    };
    pending.set(message.id, { message, sentAt: performance.now() });
    model.send(message);
    handedAt = performance.now();
    advance();
  }

  function skip() {
    const item = current();
    if (!item) return;
    if (!item.stored) {
      model.send({ type: "skip", task_id: item.task_id });
      handedAt = performance.now();
    }
    advance();
  }

  function undo() {
    if (!view.undo()) ctx.status("Nothing to undo on this item.");
  }

  // After an edit: a check message on screen is redone (updated, or cleared once it holds), and a
  // "press Enter again" question no longer stands once the label changed.
  let asked = null;
  function recheck() {
    const item = current();
    if (!item || !problem) return;
    if (problemKind === "check") {
      const why = view.check(view.value());
      if (why) ctx.status(why, true, "check");
      else {
        ctx.status("", false);
        showPending();
      }
    } else if (problemKind === "confirm" && !same(asked, view.value())) {
      ctx.status("", false);
      showPending();
    }
  }

  // The kernel refused a label (after the page had moved on): show that item again with its
  // label for editing, and say which task and why.
  let refusal = ""; // the kernel also puts a refusal in `error`; the page says it better, once
  function refused(message) {
    refusal = message.message;
    const entry = pending.get(message.id);
    pending.delete(message.id);
    const index = history.findIndex((i) => i.lastId === message.id);
    const task = entry?.message.external_id ?? history[index]?.external_id;
    const named = `Not saved: task ${task ?? "?"}: ${message.message}`;
    if (index < 0) {
      ctx.status(`${named} (that item is no longer in this page).`, true);
      return;
    }
    const item = history[index];
    item.stored = false;
    if (index !== pos) {
      pos = index;
      paint();
    }
    ctx.status(`${named} · It is shown again: fix it and submit.`, true);
  }

  function showPending() {
    if (problem) return;
    const error = model.get("error") === refusal ? "" : model.get("error");
    status.textContent = error || (pending.size ? `saving ${pending.size}…` : "");
    status.classList.toggle("cnb-error", Boolean(error));
  }

  // The delivery line: shown from the last state the kernel sent, counting down on this clock.
  function showDelivery() {
    const shown = deliveryText(model.get("delivery"), lang, (performance.now() - deliveryAt) / 1000);
    delivery.textContent = shown.text;
    delivery.title = shown.title;
    delivery.hidden = !shown.text;
    delivery.classList.toggle("cnb-error", shown.isError);
  }
  function onDelivery() {
    deliveryAt = performance.now();
    showDelivery();
  }
  function askDelivery(now) {
    const state = model.get("delivery")?.state;
    const unsettled = state !== undefined && state !== "sent";
    if ((unsettled && now - askedAt >= STATUS_MS) || (handedAt > askedAt && now - handedAt >= SETTLE_MS)) {
      askedAt = now;
      model.send({ type: "status" });
    }
    if (unsettled) showDelivery();
  }

  function toggleHelp(open = help.panel.hidden) {
    if (open) help.fill(viewKeys());
    help.panel.hidden = !open;
  }

  function onKey(event) {
    if (event.isComposing || event.keyCode === 229) return; // IME composition: never a shortcut
    const typing = isTyping(event.target);
    keyTime = event.timeStamp;
    let handled = true;
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) submit();
    else if (!help.panel.hidden && (event.key === "Escape" || event.key === "?")) toggleHelp(false);
    else if (typing) {
      if (event.key === "Escape") root.focus({ preventScroll: true });
      else handled = Boolean(view.typingKey?.(event));
    } else if (event.ctrlKey || event.metaKey) {
      if (event.key === "z") undo();
      else handled = false;
    } else if (event.altKey) handled = Boolean(view.typingKey?.(event));
    else if (event.key === "?") toggleHelp();
    else if (view.key(event)) handled = true;
    else if (event.key === "Enter") submit();
    else if (event.key === "Backspace") back();
    else if (event.key === "s" || event.key === "S") skip();
    else if (event.key === "z") undo();
    else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
      recheck();
    } else keyTime = null;
  }

  function onMessage(message, buffers) {
    if (message.type === "items") {
      fetching = false;
      if (message.offline) {
        ctx.status(`Offline (${message.offline}): labeling what is already here; retrying…`);
        setTimeout(refill, OFFLINE_RETRY_MS);
      }
      let b = 0;
      for (const item of message.items) queue.push(prepare(item, item.has_image ? buffers[b++] : null));
      if (!message.more) exhausted = true;
      if (pos < 0 || pos >= history.length) {
        if (queue.length) queue[0].ready.then(() => (pos < 0 || pos >= history.length) && advance());
        else paint();
      }
      refill();
    } else if (message.type === "ack") {
      pending.delete(message.id);
      showPending();
    } else if (message.type === "rejected") refused(message);
  }

  const resend = setInterval(() => {
    const now = performance.now();
    for (const entry of pending.values()) {
      if (now - entry.sentAt > RESEND_MS) {
        entry.sentAt = now;
        model.send(entry.message);
      }
    }
    askDelivery(now);
  }, 1000);

  const onKeyUp = (event) => view.keyup?.(event);
  root.addEventListener("keydown", onKey);
  root.addEventListener("keyup", onKeyUp);
  root.addEventListener("pointerdown", (event) => {
    if (!isTyping(event.target)) root.focus({ preventScroll: true });
  });
  root.addEventListener("input", recheck);
  root.addEventListener("click", () => setTimeout(recheck));
  const onPointerUp = () => setTimeout(recheck); // after the view's own pointerup (a drawn box)
  window.addEventListener("pointerup", onPointerUp);
  helpButton.addEventListener("click", () => toggleHelp());
  model.on("msg:custom", onMessage);
  model.on("change:done", updateProgress);
  model.on("change:total", updateProgress);
  model.on("change:error", showPending);
  model.on("change:delivery", onDelivery);
  updateProgress();
  showDelivery();
  paint();
  model.send({ type: "hello" });
  root.focus({ preventScroll: true });

  return () => {
    clearInterval(resend);
    window.removeEventListener("pointerup", onPointerUp);
    model.off("msg:custom", onMessage);
    model.off("change:done", updateProgress);
    model.off("change:total", updateProgress);
    model.off("change:error", showPending);
    model.off("change:delivery", onDelivery);
    for (const item of [...history, ...queue]) release(item);
  };
}

export default { render };
