// Text lengths count code points, as the store (Python len) does.
import assert from "node:assert/strict";
import { test } from "node:test";

import { clipCodePoints, clipEdit, codePointToUtf16, codePoints, counterText, lengthProblem, utf16ToCodePoint } from "../../../crowdnb/widgets/static/state/text.js";

const EMOJI = "😀";

test("an emoji is one code point, as Python counts it", () => {
  assert.equal(EMOJI.length, 2);
  assert.equal(codePoints(EMOJI.repeat(3)), 3);
  assert.equal(codePoints("서울역"), 3);
  assert.equal(codePoints(""), 0);
  assert.equal(codePoints(undefined), 0);
});

test("three emoji are refused when at least four characters are needed", () => {
  assert.match(lengthProblem(EMOJI.repeat(3), 4, 10), /at least 4 characters \(3 so far\)/);
  assert.equal(lengthProblem(EMOJI.repeat(4), 4, 10), null);
  assert.match(lengthProblem("", 1, 10), /at least 1 character \(0 so far\)/);
  assert.match(lengthProblem("x".repeat(11), 1, 10), /At most 10 characters/);
});

test("ten emoji fit a ten-character limit; the eleventh is cut", () => {
  assert.equal(clipCodePoints(EMOJI.repeat(10), 10), EMOJI.repeat(10));
  assert.equal(clipCodePoints(EMOJI.repeat(11), 10), EMOJI.repeat(10));
  assert.equal(counterText(10, 10), "10 / 10 · limit reached, more is not taken");
  assert.equal(counterText(9, 10), "9 / 10");
});

test("clipEdit cuts what was just typed, never half an emoji", () => {
  // typed "XY" at the caret in the middle of "ab|cd", limit 5: keep "abX", then "cd"
  assert.deepEqual(clipEdit("abXYcd", 5, 4), { value: "abXcd", caret: 3, clipped: true });
  const cut = clipEdit(EMOJI.repeat(6), 5);
  assert.equal(cut.value, EMOJI.repeat(5));
  assert.equal(cut.caret, 10);
  assert.deepEqual(clipEdit("abc", 5, 1), { value: "abc", caret: 1, clipped: false });
  // more excess than was typed before the caret: then the end goes too
  assert.equal(clipEdit("abcdef", 2, 1).value, "bc");
});

test("UTF-16 and code-point offsets convert both ways", () => {
  const text = "🍜 東京駅";
  assert.equal(utf16ToCodePoint(text, 3), 2);
  assert.equal(codePointToUtf16(text, 2), 3);
  for (let i = 0; i <= codePoints(text); i++) assert.equal(utf16ToCodePoint(text, codePointToUtf16(text, i)), i);
});
