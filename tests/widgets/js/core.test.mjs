// The shared "Delete or x removes the selected thing, z brings it back" helper.
import assert from "node:assert/strict";
import { test } from "node:test";

import { deleteKey, undoable } from "../../../crowdnb/widgets/static/core.js";

test("Delete removes the selected item and undo restores it", () => {
  let items = ["a", "b", "c"];
  const history = undoable(() => items, (saved) => (items = saved));
  const remove = (i) => (items = items.filter((_, k) => k !== i));
  assert.equal(deleteKey({ key: "Delete" }, history, 1, remove), true);
  assert.deepEqual(items, ["a", "c"]);
  assert.equal(deleteKey({ key: "x" }, history, 0, remove), true);
  assert.deepEqual(items, ["c"]);
  assert.equal(history.undo(), true);
  assert.equal(history.undo(), true);
  assert.deepEqual(items, ["a", "b", "c"]);
});

test("nothing selected, or another key: not handled, nothing remembered", () => {
  let items = ["a"];
  const history = undoable(() => items, (saved) => (items = saved));
  assert.equal(deleteKey({ key: "Delete" }, history, -1, () => assert.fail("removed")), false);
  assert.equal(deleteKey({ key: "d" }, history, 0, () => assert.fail("removed")), false);
  assert.equal(history.undo(), false);
});
