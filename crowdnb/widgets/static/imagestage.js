// An image with an SVG overlay in image-pixel coordinates, with zoom (wheel, + - 0) and pan
// (drag with the middle button, or with Space held). Geometry views draw into `layer`.
import { h, svg } from "./core.js";

// The help rows of every zoomable image.
export const ZOOM_KEYS = [
  ["wheel, + − 0", "zoom in, out, fit"],
  ["Space+drag", "pan (or drag with the middle button)"],
];

export class ImageStage {
  // With `fixedHeight`, the stage keeps one height for every image and fits each inside it
  // (like object-fit: contain), so the controls below do not move from item to item.
  constructor(stage, { fixedHeight = false } = {}) {
    this.fixedHeight = fixedHeight;
    this.stage = stage;
    this.box = h("div", "cnb-canvas");
    this.world = h("div", "cnb-world");
    this.overlay = svg("svg", { class: "cnb-overlay" });
    this.layer = svg("g");
    this.overlay.append(this.layer);
    this.box.append(this.world);
    this.scale = 1;
    this.tx = 0;
    this.ty = 0;
    this.width = 1;
    this.height = 1;
    this.spaceHeld = false;
    this.onZoom = () => {};
    this.box.addEventListener("wheel", (event) => this.wheel(event), { passive: false });
    this.box.addEventListener("pointerdown", (event) => this.panStart(event));
  }

  // Show `item`'s image (already decoded) and fit it into the available space.
  show(item) {
    this.stage.replaceChildren(this.box);
    this.world.replaceChildren();
    const img = item.img;
    if (!img) {
      this.stage.replaceChildren(h("div", "cnb-empty", "This task has no image."));
      return false;
    }
    this.width = item.width || img.naturalWidth || 640;
    this.height = item.height || img.naturalHeight || 480;
    img.classList.add("cnb-image-layer");
    this.world.append(img, this.overlay);
    this.overlay.setAttribute("viewBox", `0 0 ${this.width} ${this.height}`);
    this.overlay.setAttribute("width", this.width);
    this.overlay.setAttribute("height", this.height);
    this.world.style.width = this.width + "px";
    this.world.style.height = this.height + "px";
    this.fit();
    return true;
  }

  fit() {
    const available = Math.max(this.stage.clientWidth || 800, 200);
    const maxHeight = Math.max(window.innerHeight * 0.65, 240);
    const boxHeight = this.fixedHeight ? Math.round(Math.min(Math.max(window.innerHeight * 0.5, 240), 420)) : null;
    this.scale = Math.min(available / this.width, (boxHeight ?? maxHeight) / this.height);
    this.box.style.height = (boxHeight ?? Math.round(this.height * this.scale)) + "px";
    this.box.classList.toggle("cnb-fixed", this.fixedHeight);
    this.tx = Math.max(0, (available - this.width * this.scale) / 2);
    this.ty = boxHeight ? Math.max(0, (boxHeight - this.height * this.scale) / 2) : 0;
    this.apply();
  }

  apply() {
    this.world.style.transform = `translate(${this.tx}px, ${this.ty}px) scale(${this.scale})`;
    this.onZoom(this.scale);
  }

  zoomAt(factor, clientX, clientY) {
    const rect = this.box.getBoundingClientRect();
    const px = clientX - rect.left;
    const py = clientY - rect.top;
    const next = Math.min(Math.max(this.scale * factor, 0.05), 40);
    this.tx = px - ((px - this.tx) * next) / this.scale;
    this.ty = py - ((py - this.ty) * next) / this.scale;
    this.scale = next;
    this.apply();
  }

  wheel(event) {
    event.preventDefault();
    this.zoomAt(event.deltaY < 0 ? 1.2 : 1 / 1.2, event.clientX, event.clientY);
  }

  // Zoom keys (+ and - around the centre, 0 to fit) and Space held for panning; true if handled.
  key(event) {
    if (event.key === " ") {
      this.spaceHeld = true;
      return true;
    }
    const rect = this.box.getBoundingClientRect();
    const cx = rect.left + rect.width / 2;
    const cy = rect.top + rect.height / 2;
    if (event.key === "+" || event.key === "=") this.zoomAt(1.25, cx, cy);
    else if (event.key === "-") this.zoomAt(1 / 1.25, cx, cy);
    else if (event.key === "0") this.fit();
    else return false;
    return true;
  }

  keyup(event) {
    if (event.key === " ") this.spaceHeld = false;
  }

  panStart(event) {
    if (!(event.button === 1 || (event.button === 0 && this.spaceHeld))) return;
    event.preventDefault();
    event.stopPropagation();
    const start = { x: event.clientX, y: event.clientY, tx: this.tx, ty: this.ty };
    const move = (e) => {
      this.tx = start.tx + e.clientX - start.x;
      this.ty = start.ty + e.clientY - start.y;
      this.apply();
    };
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  }

  // Image-pixel coordinates of a pointer event, clamped to the image.
  point(event) {
    const rect = this.box.getBoundingClientRect();
    const x = (event.clientX - rect.left - this.tx) / this.scale;
    const y = (event.clientY - rect.top - this.ty) / this.scale;
    return {
      x: Math.round(Math.min(Math.max(x, 0), this.width) * 100) / 100,
      y: Math.round(Math.min(Math.max(y, 0), this.height) * 100) / 100,
    };
  }

  // Screen position (relative to the stage box) of an image point, for pop-ups.
  screen(x, y) {
    return { left: this.tx + x * this.scale, top: this.ty + y * this.scale };
  }
}

// Pointer drags inside a stage: `onDown(point, event)` returns a handler object with optional
// move(point) and up(point), or null to ignore the press.
export function drag(stageView, target, onDown) {
  target.addEventListener("pointerdown", (event) => {
    if (event.button !== 0 || stageView.spaceHeld) return;
    const handler = onDown(stageView.point(event), event);
    if (!handler) return;
    event.preventDefault();
    const move = (e) => handler.move?.(stageView.point(e), e);
    const up = (e) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      handler.up?.(stageView.point(e), e);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  });
}
