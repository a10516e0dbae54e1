// Polygons on an image: click to add vertices, click the first vertex (or press c) to close;
// drag a vertex to move it; click inside a polygon to select it; 1..9 set its class;
// Delete removes it; Esc drops the polygon being drawn.
import { classButtons, clone, colorOf, deleteKey, digitClass, h, svg, undoable } from "../core.js";
import { drag, ImageStage, ZOOM_KEYS } from "../imagestage.js";
import { without } from "../state/geometry.js";

export function polygon(ctx) {
  const classes = ctx.config.classes || [];
  const stage = new ImageStage(ctx.stage);
  let polygons = [];
  let draft = [];
  let selected = -1;
  let current = classes[0] ?? null;
  const history = undoable(() => ({ polygons, draft, selected }), (saved) => {
    ({ polygons, draft, selected } = saved);
    render();
  });
  const remember = history.remember;
  const classBar = classButtons(classes, (name) => setClass(name));

  function setClass(name) {
    current = name;
    if (selected >= 0) {
      remember();
      polygons[selected].label = name;
    }
    render();
  }

  function close(time) {
    if (draft.length < 3) return false;
    remember();
    polygons.push({ label: current, points: draft });
    draft = [];
    selected = polygons.length - 1;
    render();
    ctx.painted("closed", time);
    return true;
  }

  // The selected polygon's drawn elements, so that a vertex drag moves only what it changes.
  let drawn = null;
  const pointList = (points) => points.map((q) => q.join(",")).join(" ");

  function render() {
    const layer = stage.layer;
    layer.replaceChildren();
    drawn = null;
    const r = 5 / stage.scale;
    polygons.forEach((p, i) => {
      const color = colorOf(classes, p.label);
      const shape = svg("polygon", { points: pointList(p.points), class: "cnb-shape cnb-filled" + (i === selected ? " cnb-selected" : ""), stroke: color, fill: color });
      shape.dataset.index = i;
      layer.append(shape);
      const tag = svg("text", { x: p.points[0][0], y: p.points[0][1] - 4 / stage.scale, class: "cnb-tag", fill: color, "font-size": 12 / stage.scale });
      tag.textContent = p.label;
      layer.append(tag);
      if (i === selected) {
        drawn = { shape, tag, knobs: [] };
        p.points.forEach(([x, y], v) => {
          const knob = svg("circle", { cx: x, cy: y, r, class: "cnb-handle" });
          knob.dataset.vertex = v;
          layer.append(knob);
          drawn.knobs.push(knob);
        });
      }
    });
    if (draft.length) {
      layer.append(svg("polyline", { points: draft.map((q) => q.join(",")).join(" "), class: "cnb-pending", stroke: colorOf(classes, current) }));
      draft.forEach(([x, y], v) => {
        const knob = svg("circle", { cx: x, cy: y, r, class: "cnb-handle" + (v === 0 ? " cnb-first" : "") });
        if (v === 0) knob.dataset.first = "1";
        layer.append(knob);
      });
    }
    classBar.mark(selected >= 0 ? polygons[selected].label : current);
  }

  drag(stage, stage.overlay, (p, event) => {
    const t = event.target.dataset || {};
    if (t.first !== undefined) {
      close(event.timeStamp);
      return null;
    }
    if (t.vertex !== undefined && selected >= 0) {
      remember();
      const points = polygons[selected].points;
      const v = Number(t.vertex);
      return {
        move(q) {
          points[v] = [q.x, q.y];
          drawn.shape.setAttribute("points", pointList(points));
          drawn.knobs[v].setAttribute("cx", q.x);
          drawn.knobs[v].setAttribute("cy", q.y);
          if (v === 0) {
            drawn.tag.setAttribute("x", q.x);
            drawn.tag.setAttribute("y", q.y - 4 / stage.scale);
          }
        },
      };
    }
    if (t.index !== undefined && !draft.length) {
      selected = Number(t.index);
      render();
      return null;
    }
    remember();
    selected = -1;
    draft.push([p.x, p.y]);
    render();
    return null;
  });
  stage.onZoom = () => render();

  const element = h("div", "cnb-tools");
  element.append(h("div", "cnb-hint", "Class of the polygon:"), classBar.element);
  return {
    element,
    keys: [
      ["click", "add a vertex"], ["click first vertex / c", "close the polygon"], ["drag vertex", "move it"],
      ["1–9", "class"], ["Delete / x", "remove the selected polygon"], ["Esc", "drop the unfinished polygon"],
      ...ZOOM_KEYS,
    ],
    show(item, label) {
      stage.show(item);
      polygons = clone(label || []);
      draft = [];
      selected = -1;
      history.reset();
      render();
    },
    value: () => polygons.map((p) => ({ label: p.label, points: p.points })),
    check: () => (draft.length ? "Close the polygon you are drawing (click its first vertex or press c), or press Esc." : null),
    key(event) {
      if (stage.key(event)) return true;
      const name = digitClass(event, classes);
      if (name !== null) {
        setClass(name);
        return true;
      }
      if (event.key === "c") return close(event.timeStamp) || true;
      if (event.key === "Escape") {
        remember();
        draft = [];
        selected = -1;
        render();
        return true;
      }
      return deleteKey(event, history, selected, (i) => {
        polygons = without(polygons, i);
        selected = -1;
        render();
      });
    },
    keyup: (event) => stage.keyup(event),
    undo: () => history.undo(),
  };
}
