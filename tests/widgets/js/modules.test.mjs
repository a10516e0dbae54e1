// The front-end files are real ES modules: they load unbundled in Node, every view is known.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { VIEWS } from "../../../crowdnb/widgets/static/views/index.js";
import shell from "../../../crowdnb/widgets/static/shell.js";

test("the shell exports render and the index every view file", () => {
  assert.equal(typeof shell.render, "function");
  const kinds = readFileSync(new URL("../../../crowdnb/widgets/static/views/", import.meta.url).pathname + "index.js", "utf8");
  const files = [...kinds.matchAll(/from "\.\/(\w+)\.js"/g)].map((m) => m[1]);
  assert.deepEqual(Object.keys(VIEWS).sort(), files.sort());
  for (const view of Object.values(VIEWS)) assert.equal(typeof view, "function");
});
