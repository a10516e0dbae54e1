// Box edits and keypoint name placement.
import assert from "node:assert/strict";
import { test } from "node:test";

import { boundsOf, cornersOf, moved, placeLabels, spanned, without } from "../../../crowdnb/widgets/static/state/geometry.js";

test("a box spans from a fixed corner to the pointer, whichever way it is dragged", () => {
  assert.deepEqual(spanned([10, 10], { x: 4, y: 30 }), { x: 4, y: 10, w: 6, h: 20 });
  assert.deepEqual(spanned({ x: 1, y: 2 }, { x: 5, y: 7 }), { x: 1, y: 2, w: 4, h: 5 });
  assert.deepEqual(cornersOf({ x: 1, y: 2, w: 3, h: 4 }), [[1, 2], [4, 2], [4, 6], [1, 6]]);
});

test("a moved box stays inside the image; a quad moves freely", () => {
  const box = { label: "cat", x: 10, y: 10, w: 20, h: 20 };
  assert.deepEqual(moved(box, 100, -100, 50, 50), { label: "cat", x: 30, y: 0, w: 20, h: 20 });
  assert.deepEqual(box.x, 10); // the start is not changed
  assert.deepEqual(moved({ quad: [[0, 0], [1, 0], [1, 1], [0, 1]] }, 2, 3).quad, [[2, 3], [3, 3], [3, 4], [2, 4]]);
  assert.deepEqual(boundsOf({ quad: [[1, 5], [4, 2], [6, 7], [2, 9]] }), { x: 1, y: 2, w: 5, h: 7 });
});

test("without removes one element and keeps the list", () => {
  const list = ["a", "b", "c"];
  assert.deepEqual(without(list, 1), ["a", "c"]);
  assert.deepEqual(list, ["a", "b", "c"]);
});

const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;

test("point names neither overlap nor leave the image", () => {
  const names = ["left_eye_outer", "left_eye_inner", "left_pupil", "right_eye_inner", "nose_tip"];
  const points = [{ x: 95, y: 50 }, { x: 80, y: 50 }, { x: 88, y: 52 }, { x: 60, y: 50 }, null];
  const options = { width: 100, height: 100, fontSize: 6, radius: 2 };
  const spots = placeLabels(points, names, options);
  assert.equal(spots[4], null);
  const rects = spots.filter(Boolean).map((s) => ({ left: s.x, right: s.x + s.text.length * 6 * 0.62, top: s.y - 6, bottom: s.y + 0.45 * 6 }));
  for (const r of rects) assert.ok(r.left >= 0 && r.right <= 100.001 && r.top >= -0.001 && r.bottom <= 100.001, JSON.stringify(r));
  for (let i = 0; i < rects.length; i++) for (let j = i + 1; j < rects.length; j++) assert.ok(!overlap(rects[i], rects[j]), `${i} and ${j} overlap`);
  assert.ok(spots[0].x < 95, "the point at the right edge has its name on its left");
});

test("a name with no room is shortened to the point's number", () => {
  const points = [{ x: 5, y: 5 }, { x: 6, y: 6 }];
  const spots = placeLabels(points, ["first_point_name", "second_point_name"], { width: 12, height: 12, fontSize: 3, radius: 1 });
  assert.equal(spots[1].text, "2");
});
