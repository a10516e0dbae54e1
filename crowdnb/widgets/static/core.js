// Shared helpers of the crowdnb front end (DOM building, undo, item images, class buttons).
//
// Everything user-provided (task text, class names, metadata, typed text) is inserted with
// textContent or as attribute values, never as HTML.

export const SVG_NS = "http://www.w3.org/2000/svg";
export const PALETTE = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#9a6324", "#808000", "#000075"];

export function h(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  return node;
}

export function uuid() {
  if (globalThis.crypto?.randomUUID) return crypto.randomUUID();
  return "id-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
}

export function colorOf(classes, label) {
  const i = classes.indexOf(label);
  return PALETTE[(i < 0 ? 0 : i) % PALETTE.length];
}

export function clone(value) {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

export function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

// Undo inside one item: snapshots of a view's state, taken before each change.
export function undoable(get, set) {
  let stack = [];
  return {
    remember: () => stack.push(JSON.stringify(get())),
    undo() {
      if (!stack.length) return false;
      set(JSON.parse(stack.pop()));
      return true;
    },
    forget: () => stack.pop(),
    reset: () => (stack = []),
  };
}

export function isTyping(target) {
  return Boolean(target?.closest?.("input, textarea, [contenteditable='true']"));
}

// Decode an item's image ahead of time; resolves when it can be painted without waiting.
export function prepare(item, buffer) {
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

export function release(item) {
  if (item.objectUrl) URL.revokeObjectURL(item.objectUrl);
  item.objectUrl = null;
  item.img = null;
}

// A row of class buttons with 1..9 shortcuts; `onPick(name)` on click.
export function classButtons(classes, onPick) {
  const bar = h("div", "cnb-classes");
  const buttons = classes.map((name, i) => {
    const button = h("button", "cnb-class");
    button.type = "button";
    button.style.setProperty("--cnb-color", colorOf(classes, name));
    if (i < 9) button.append(h("kbd", "", String(i + 1)));
    button.append(h("span", "", name));
    button.addEventListener("click", () => onPick(name));
    bar.append(button);
    return button;
  });
  return {
    element: bar,
    mark(chosen) {
      const set = new Set(Array.isArray(chosen) ? chosen : [chosen]);
      buttons.forEach((b, i) => b.classList.toggle("cnb-chosen", set.has(classes[i])));
    },
  };
}

// The class a digit key names, or null.
export function digitClass(event, classes) {
  if (!/^[1-9]$/.test(event.key)) return null;
  return classes[Number(event.key) - 1] ?? null;
}

// Delete or x removes the selected thing (a box, polygon, point or span) so that z brings it
// back: `remove(index)` edits the view's state and redraws. True if the key was handled.
export function deleteKey(event, history, selected, remove) {
  if ((event.key !== "Delete" && event.key !== "x") || selected < 0) return false;
  history.remember();
  remove(selected);
  return true;
}
