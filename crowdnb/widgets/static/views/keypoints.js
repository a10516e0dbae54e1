// A named point set: click places the next point (always shown), v marks it not visible,
// drag a placed point to move it, Delete/x clears the selected point. Point names are placed so
// they neither overlap nor leave the image; left and right are the person's own (as in COCO),
// explained under the image, with a diagram for the face preset.
import { deleteKey, h, PALETTE, svg, undoable } from "../core.js";
import { drag, ImageStage, ZOOM_KEYS } from "../imagestage.js";
import { placeLabels } from "../state/geometry.js";

// Where the face preset's points sit on a face looking at the viewer (diagram units); the
// person's left is on the right of the picture.
const FACE = {
  left_eye_outer: [146, 52], left_eye_inner: [108, 52], left_pupil: [127, 52],
  right_eye_inner: [72, 52], right_eye_outer: [34, 52], right_pupil: [53, 52],
  nose_tip: [90, 82], mouth_left: [116, 106], mouth_right: [64, 106],
};
const SIDES = "Left and right are the person's own: their left eye is on the right of the image when they face the camera.";

// A small face with the preset's points numbered in labeling order; the next one is ringed.
function faceDiagram(names) {
  const figure = svg("svg", { class: "cnb-diagram", viewBox: "0 0 180 150", width: 180, height: 150, role: "img" });
  figure.setAttribute("aria-label", "face diagram: " + SIDES);
  figure.append(svg("ellipse", { cx: 90, cy: 72, rx: 72, ry: 62, class: "cnb-face" }));
  const dots = names.map((name, i) => {
    const [x, y] = FACE[name];
    const dot = svg("circle", { cx: x, cy: y, r: 4, fill: PALETTE[i % PALETTE.length], class: "cnb-diagram-point" });
    const number = svg("text", { x, y: y + (name.startsWith("mouth") ? 14 : -8), "text-anchor": "middle", class: "cnb-diagram-no" });
    number.textContent = String(i + 1);
    figure.append(dot, number);
    return dot;
  });
  for (const [x, text] of [[34, "their right"], [146, "their left"]]) {
    const side = svg("text", { x, y: 146, "text-anchor": "middle", class: "cnb-diagram-side" });
    side.textContent = text;
    figure.append(side);
  }
  return {
    element: figure,
    mark: (next) => dots.forEach((dot, i) => dot.classList.toggle("cnb-next-point", i === next)),
  };
}

export function keypoints(ctx) {
  const names = ctx.config.points || [];
  const edges = ctx.config.skeleton || [];
  const stage = new ImageStage(ctx.stage);
  let points = [];
  let selected = -1;
  const history = undoable(() => ({ points, selected }), (saved) => {
    ({ points, selected } = saved);
    render();
  });
  const remember = history.remember;
  const nextIndex = () => points.findIndex((p) => p === null);
  const status = h("div", "cnb-next");
  status.setAttribute("aria-live", "polite");
  const element = h("div", "cnb-tools cnb-keypoints");
  const legend = h("div", "cnb-legend");
  const diagram = names.length && names.every((name) => name in FACE) ? faceDiagram(names) : null;
  if (diagram) legend.append(diagram.element);
  const order = h("ol", "cnb-point-list");
  const entries = names.map((name) => order.appendChild(h("li", "", name)));
  const side = names.some((name) => /(^|_)(left|right)(_|$)/.test(name)) ? h("div", "cnb-hint", SIDES) : null;
  legend.append(order);
  element.append(status, legend);
  if (side) element.append(side);

  // Drawn elements by point index, so that a drag moves only the point, its tag and its bones.
  let drawn = [];
  let bones = [];

  function render() {
    const layer = stage.layer;
    layer.replaceChildren();
    const r = 5 / stage.scale;
    bones = [];
    for (const [a, b] of edges) {
      const [ia, ib] = [names.indexOf(a), names.indexOf(b)];
      const [pa, pb] = [points[ia], points[ib]];
      if (!pa?.visible || !pb?.visible) continue;
      const line = svg("line", { x1: pa.x, y1: pa.y, x2: pb.x, y2: pb.y, class: "cnb-bone" });
      layer.append(line);
      bones.push({ line, ia, ib });
    }
    drawn = [];
    const fontSize = 12 / stage.scale;
    const visible = points.map((p) => (p?.visible ? p : null));
    const spots = placeLabels(visible, names, { width: stage.width, height: stage.height, fontSize, radius: r });
    points.forEach((p, i) => {
      if (!p?.visible) return;
      const dot = svg("circle", { cx: p.x, cy: p.y, r, class: "cnb-point" + (i === selected ? " cnb-selected" : ""), fill: PALETTE[i % PALETTE.length] });
      dot.dataset.point = i;
      layer.append(dot);
      const tag = svg("text", { x: spots[i].x, y: spots[i].y, class: "cnb-tag", "font-size": fontSize });
      tag.textContent = spots[i].text;
      layer.append(tag);
      drawn[i] = { dot, tag, dx: spots[i].x - p.x, dy: spots[i].y - p.y };
    });
    const next = nextIndex();
    diagram?.mark(next);
    entries.forEach((entry, i) => {
      entry.className = i === next ? "cnb-next-point" : !points[i] ? "" : points[i].visible ? "cnb-placed" : "cnb-hidden-point";
    });
    const placed = points.filter((p) => p !== null).length;
    status.textContent = next < 0
      ? `All ${names.length} points set (${points.filter((p) => p && !p.visible).length} not visible).`
      : `Next: ${names[next]} (${placed + 1}/${names.length}) · click to place, v = not visible`;
    status.dataset.next = next < 0 ? "" : names[next];
  }

  drag(stage, stage.overlay, (p, event) => {
    const hit = event.target.dataset?.point;
    if (hit !== undefined) {
      selected = Number(hit);
      remember();
      const point = points[selected];
      render();
      const i = selected;
      return {
        move(q) {
          point.x = q.x;
          point.y = q.y;
          drawn[i].dot.setAttribute("cx", q.x);
          drawn[i].dot.setAttribute("cy", q.y);
          drawn[i].tag.setAttribute("x", q.x + drawn[i].dx);
          drawn[i].tag.setAttribute("y", q.y + drawn[i].dy);
          for (const { line, ia, ib } of bones) {
            if (ia === i) { line.setAttribute("x1", q.x); line.setAttribute("y1", q.y); }
            if (ib === i) { line.setAttribute("x2", q.x); line.setAttribute("y2", q.y); }
          }
        },
        up: () => render(), // place the names again around the point's new spot
      };
    }
    const next = nextIndex();
    if (next < 0) return null;
    remember();
    points[next] = { x: p.x, y: p.y, visible: true };
    selected = -1;
    render();
    ctx.painted("placed", event.timeStamp);
    return null;
  });
  stage.onZoom = () => render();

  return {
    element,
    keys: [["click", "place the next point"], ["v", "next point is not visible"], ["drag point", "move it"], ["Delete / x", "clear the selected point"], ...ZOOM_KEYS],
    show(item, label) {
      stage.show(item);
      points = names.map((name) => {
        const given = (label || []).find((p) => p.name === name);
        if (!given) return null;
        return given.visible ? { x: given.x, y: given.y, visible: true } : { x: null, y: null, visible: false };
      });
      selected = -1;
      history.reset();
      render();
    },
    value: () => names.map((name, i) => ({ name, x: points[i]?.x ?? null, y: points[i]?.y ?? null, visible: Boolean(points[i]?.visible) })),
    check() {
      const next = nextIndex();
      return next < 0 ? null : `Place ${names[next]} or mark it not visible (v).`;
    },
    key(event) {
      if (stage.key(event)) return true;
      if (event.key === "v") {
        const next = nextIndex();
        if (next >= 0) {
          remember();
          points[next] = { x: null, y: null, visible: false };
          render();
        }
        return true;
      }
      return deleteKey(event, history, selected, (i) => {
        points = points.map((p, k) => (k === i ? null : p));
        selected = -1;
        render();
      });
    },
    keyup: (event) => stage.keyup(event),
    undo: () => history.undo(),
  };
}
