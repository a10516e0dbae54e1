// A named point set: click places the next point (always shown), v marks it not visible,
// drag a placed point to move it, Delete/x clears the selected point.
VIEWS.keypoints = (ctx) => {
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
    points.forEach((p, i) => {
      if (!p?.visible) return;
      const dot = svg("circle", { cx: p.x, cy: p.y, r, class: "cnb-point" + (i === selected ? " cnb-selected" : ""), fill: PALETTE[i % PALETTE.length] });
      dot.dataset.point = i;
      layer.append(dot);
      const tag = svg("text", { x: p.x + r * 1.5, y: p.y - r, class: "cnb-tag", "font-size": 11 / stage.scale });
      tag.textContent = names[i];
      layer.append(tag);
      drawn[i] = { dot, tag };
    });
    const next = nextIndex();
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
          const r = 5 / stage.scale;
          drawn[i].dot.setAttribute("cx", q.x);
          drawn[i].dot.setAttribute("cy", q.y);
          drawn[i].tag.setAttribute("x", q.x + r * 1.5);
          drawn[i].tag.setAttribute("y", q.y - r);
          for (const { line, ia, ib } of bones) {
            if (ia === i) { line.setAttribute("x1", q.x); line.setAttribute("y1", q.y); }
            if (ib === i) { line.setAttribute("x2", q.x); line.setAttribute("y2", q.y); }
          }
        },
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
    element: status,
    keys: [["click", "place the next point"], ["v", "next point is not visible"], ["drag point", "move it"], ["Delete / x", "clear the selected point"], ["wheel, + − 0", "zoom, fit"], ["Space+drag", "pan"]],
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
      if ((event.key === "Delete" || event.key === "x") && selected >= 0) {
        remember();
        points[selected] = null;
        selected = -1;
        render();
        return true;
      }
      return false;
    },
    keyup: (event) => stage.keyup(event),
    undo: () => history.undo(),
  };
};
