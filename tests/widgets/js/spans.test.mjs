// Span edits.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clashOf, cutPoints, withSpan } from "../../../crowdnb/widgets/static/state/spans.js";

test("spans are kept in reading order and overlaps are found", () => {
  const spans = [{ start: 5, end: 8, label: "B" }];
  const { spans: next, index } = withSpan(spans, { start: 0, end: 3, label: "A" });
  assert.deepEqual(next.map((s) => s.label), ["A", "B"]);
  assert.equal(index, 0);
  assert.equal(spans.length, 1);
  assert.equal(clashOf(next, { start: 2, end: 6 }).label, "A");
  assert.equal(clashOf(next, { start: 3, end: 5 }), undefined);
});

test("the text is cut at span edges, the selection and the caret", () => {
  assert.deepEqual(cutPoints(10, [{ start: 2, end: 4 }], { start: 6, end: 12 }, 3), [0, 2, 3, 4, 6, 10]);
});
