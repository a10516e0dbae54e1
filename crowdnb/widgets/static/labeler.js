// crowdnb labeler front end (anywidget ES module, no build step).
//
// The page keeps a queue of prefetched items whose images are already decoded, so a keypress
// swaps in the next item at once. Labels go to the kernel in the background and are re-sent
// until acknowledged (the annotation id makes a retry harmless). Task text, class names and
// metadata are always inserted as text, never as HTML.

const RESEND_MS = 4000;
const HISTORY = 100;

function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return "id-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

// Decode an item's image ahead of time; resolves when it can be painted without waiting.
function prepare(item, buffer) {
  if (item.has_image) {
    const blob = new Blob([buffer], { type: item.image_mime || "application/octet-stream" });
    item.objectUrl = URL.createObjectURL(blob);
  }
  const src = item.objectUrl || item.image_url;
  if (!src) {
    item.ready = Promise.resolve();
    return item;
  }
  const img = new Image();
  img.className = "cnb-image";
  img.alt = "task " + item.external_id;
  img.draggable = false;
  img.src = src;
  item.img = img;
  item.ready = img.decode().catch(() => undefined);
  return item;
}

function release(item) {
  if (item.objectUrl) URL.revokeObjectURL(item.objectUrl);
  item.objectUrl = null;
  item.img = null;
}

// -- views: how one task kind draws a task and turns keys into a label ----------------------

const views = {
  classify(ctx) {
    const classes = ctx.config.classes || [];
    const bar = h("div", "cnb-classes");
    const buttons = classes.map((name, i) => {
      const button = h("button", "cnb-class");
      button.type = "button";
      if (i < 9) button.append(h("kbd", "", String(i + 1)));
      button.append(h("span", "", name));
      button.addEventListener("click", () => {
        ctx.choose(name);
        ctx.submit();
      });
      bar.append(button);
      return button;
    });
    return {
      element: bar,
      hint: "1–9 pick · Enter submit · Backspace back · s skip",
      show(label) {
        buttons.forEach((b, i) => b.classList.toggle("cnb-chosen", classes[i] === label));
      },
      key(event) {
        if (/^[1-9]$/.test(event.key) && Number(event.key) <= classes.length) {
          ctx.choose(classes[Number(event.key) - 1]);
          return true;
        }
        return false;
      },
    };
  },
};

// -- the shell: queue, history, keyboard, submit with acknowledgement -----------------------

function render({ model, el }) {
  const root = h("div", "cnb-root");
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true"); // keep JupyterLab's cell shortcuts out
  const header = h("div", "cnb-header");
  const title = h("span", "cnb-title");
  const progress = h("progress", "cnb-progress");
  const count = h("span", "cnb-count");
  header.append(title, progress, count);
  const stage = h("div", "cnb-stage");
  const status = h("div", "cnb-status");
  status.setAttribute("role", "status");
  const hint = h("div", "cnb-hint");
  root.append(header, stage, status);
  el.append(root);

  const queue = []; // fetched, not yet shown
  const history = []; // shown items, oldest first; `pos` points at the current one
  const pending = new Map(); // annotation id -> {message, sentAt}
  let pos = -1;
  let fetching = false;
  let exhausted = false;
  let chosen = null;
  let shownAt = performance.now();
  let disposed = false;

  const ctx = {
    config: model.get("config"),
    choose(label) {
      chosen = label;
      view.show(label);
    },
    submit,
  };
  const view = views[model.get("view")](ctx);
  hint.textContent = view.hint + " · click here first to use the keyboard";
  root.append(view.element, hint);

  const current = () => (pos >= 0 && pos < history.length ? history[pos] : null);

  function paint() {
    const item = current();
    stage.replaceChildren();
    if (!item) {
      view.element.hidden = true;
      stage.append(h("div", "cnb-empty", exhausted ? "All done: nothing left to label." : "Loading…"));
      return;
    }
    view.element.hidden = false;
    if (item.img) stage.append(item.img);
    if (item.text != null) stage.append(h("div", "cnb-text", item.text));
    chosen = item.label ?? null;
    view.show(chosen);
    shownAt = performance.now();
    root.dataset.taskId = item.external_id;
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
    if (fetching || exhausted || disposed) return;
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

  function send(message) {
    pending.set(message.id, { message, sentAt: performance.now() });
    model.send(message);
    showPending();
  }

  function submit() {
    const item = current();
    if (!item || chosen === null) {
      status.textContent = item ? "Pick a label first." : "";
      return;
    }
    if (item.label === chosen && item.stored) {
      advance(); // unchanged relabel: nothing to store
      return;
    }
    item.label = chosen;
    item.stored = true;
    item.lastId = uuid();
    send({
      type: "submit",
      id: item.lastId,
      task_id: item.task_id,
      external_id: item.external_id,
      label: chosen,
      duration_ms: Math.round(performance.now() - shownAt),
    });
    advance();
  }

  function skip() {
    const item = current();
    if (!item) return;
    if (!item.stored) model.send({ type: "skip", task_id: item.task_id });
    advance();
  }

  function showPending() {
    const error = model.get("error");
    status.textContent = error || (pending.size ? `saving ${pending.size}…` : "");
    status.classList.toggle("cnb-error", Boolean(error));
  }

  function onKey(event) {
    if (event.isComposing || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target !== root && target.closest?.("input, textarea, [contenteditable]")) return;
    let handled = true;
    if (event.key === "Enter") submit();
    else if (event.key === "Backspace") back();
    else if (event.key === "s" || event.key === "S") skip();
    else handled = view.key(event);
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  function onMessage(message, buffers) {
    if (message.type === "items") {
      fetching = false;
      let b = 0;
      for (const item of message.items) {
        queue.push(prepare(item, item.has_image ? buffers[b++] : null));
      }
      if (!message.more) exhausted = true;
      if (pos >= history.length || pos < 0) {
        if (queue.length) advance();
        else paint();
      }
      refill();
    } else if (message.type === "ack") {
      pending.delete(message.id);
      showPending();
    } else if (message.type === "rejected") {
      pending.delete(message.id);
      const item = history.find((i) => i.lastId === message.id);
      if (item) item.stored = false;
      showPending();
    }
  }

  const resend = setInterval(() => {
    const now = performance.now();
    for (const entry of pending.values()) {
      if (now - entry.sentAt > RESEND_MS) {
        entry.sentAt = now;
        model.send(entry.message);
      }
    }
  }, 1000);

  root.addEventListener("keydown", onKey);
  root.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
  model.on("msg:custom", onMessage);
  model.on("change:done", updateProgress);
  model.on("change:total", updateProgress);
  model.on("change:error", showPending);
  updateProgress();
  paint();
  model.send({ type: "hello" });
  root.focus({ preventScroll: true });

  return () => {
    disposed = true;
    clearInterval(resend);
    model.off("msg:custom", onMessage);
    model.off("change:done", updateProgress);
    model.off("change:total", updateProgress);
    model.off("change:error", showPending);
    for (const item of [...history, ...queue]) release(item);
  };
}

export default { render };
