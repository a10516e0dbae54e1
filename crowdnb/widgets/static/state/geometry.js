// Pure edits of shapes in image-pixel coordinates, shared by the drawing views. Boxes are
// {x, y, w, h} (a region may carry `quad`: four [x, y] points instead); nothing here touches the
// DOM, so these run in Node tests as they are.

export function cornersOf(r) {
  return [[r.x, r.y], [r.x + r.w, r.y], [r.x + r.w, r.y + r.h], [r.x, r.y + r.h]];
}

// The axis-aligned bounds of a box or a quad.
export function boundsOf(r) {
  if (!r.quad) return { x: r.x, y: r.y, w: r.w, h: r.h };
  const xs = r.quad.map((p) => p[0]);
  const ys = r.quad.map((p) => p[1]);
  return { x: Math.min(...xs), y: Math.min(...ys), w: Math.max(...xs) - Math.min(...xs), h: Math.max(...ys) - Math.min(...ys) };
}

// The box spanned by a fixed corner and the pointer (a resize, or a box being drawn).
export function spanned(fixed, q) {
  const [fx, fy] = Array.isArray(fixed) ? fixed : [fixed.x, fixed.y];
  return { x: Math.min(fx, q.x), y: Math.min(fy, q.y), w: Math.abs(q.x - fx), h: Math.abs(q.y - fy) };
}

// Region `start` moved by (dx, dy); a box stays inside a width x height image.
export function moved(start, dx, dy, width, height) {
  if (start.quad) return { ...start, quad: start.quad.map(([x, y]) => [x + dx, y + dy]) };
  return {
    ...start,
    x: Math.min(Math.max(start.x + dx, 0), width - start.w),
    y: Math.min(Math.max(start.y + dy, 0), height - start.h),
  };
}

// `list` without its element `index`.
export function without(list, index) {
  return list.filter((_, i) => i !== index);
}

// Where to write the names of points so that no two overlap and none leaves the image: each
// name goes right of its point, else left, above or below (or diagonally); a name that fits
// nowhere is shortened to its number (1-based), placed further out if need be. `points` are {x, y} or null; sizes are in image pixels; returns per
// point {x, y, text} for an SVG <text> with the default start anchor (y is the baseline), or null.
export function placeLabels(points, names, { width, height, fontSize, radius, charWidth = 0.62 }) {
  const taken = points.filter(Boolean).map((p) => ({ left: p.x - radius, top: p.y - radius, right: p.x + radius, bottom: p.y + radius }));
  const overlaps = (a) => taken.some((b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom);
  const inside = (a) => a.left >= 0 && a.top >= 0 && a.right <= width && a.bottom <= height;
  const gap = radius * 1.5;
  return points.map((p, i) => {
    if (!p) return null;
    // Boxes for `text` beside the point (right, left, above, below), `ring` steps further out.
    const candidates = (text, ring = 0) => {
      // a drawn name's box, outline included: about 1.8 font sizes high, its baseline 0.45 above the bottom
      const w = (text.length * charWidth + 0.7) * fontSize;
      const hgt = fontSize * 1.8;
      const d = gap + ring * hgt;
      return [
        { left: p.x + d, top: p.y - hgt / 2 },
        { left: p.x - d - w, top: p.y - hgt / 2 },
        { left: p.x - w / 2, top: p.y - d - hgt },
        { left: p.x - w / 2, top: p.y + d },
        { left: p.x + d, top: p.y - d - hgt },
        { left: p.x - d - w, top: p.y - d - hgt },
        { left: p.x + d, top: p.y + d },
        { left: p.x - d - w, top: p.y + d },
      ].map((c) => ({ ...c, right: c.left + w, bottom: c.top + hgt, text }));
    };
    const number = String(i + 1);
    const tries = [...candidates(names[i]), ...[0, 1, 2, 3, 4].flatMap((ring) => candidates(number, ring))];
    let spot = tries.find((c) => inside(c) && !overlaps(c));
    if (!spot) {
      const [first] = candidates(String(i + 1));
      const left = Math.min(Math.max(first.left, 0), Math.max(width - (first.right - first.left), 0));
      const top = Math.min(Math.max(first.top, 0), Math.max(height - fontSize * 1.8, 0));
      spot = { left, top, right: left + (first.right - first.left), bottom: top + fontSize * 1.8, text: first.text };
    }
    taken.push(spot);
    return { x: spot.left + 0.35 * fontSize, y: spot.bottom - fontSize * 0.45, text: spot.text };
  });
}
