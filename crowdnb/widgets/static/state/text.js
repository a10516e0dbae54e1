// Text lengths as the store counts them. Python's len() counts code points, JS's `length` (and
// the maxLength attribute) UTF-16 units, so an emoji is 1 for the store and 2 for the browser:
// every limit in the page goes through these functions.

export function codePoints(text) {
  return Array.from(text ?? "").length;
}

// The first `max` code points of `text`.
export function clipCodePoints(text, max) {
  const chars = Array.from(text ?? "");
  return chars.length <= max ? text : chars.slice(0, max).join("");
}

// Python string index (code points) of a JS string index (UTF-16 units).
export function utf16ToCodePoint(text, index) {
  return Array.from(text.slice(0, index)).length;
}

// JS string index (UTF-16 units) of a Python string index (code points).
export function codePointToUtf16(text, index) {
  return Array.from(text).slice(0, index).join("").length;
}

// An edited field's value cut to `max` code points: the excess is taken from what was just
// typed or pasted (the code points before the caret), so text after the caret survives.
// `caret` is a UTF-16 index, as selectionStart gives it; returns the new value and caret.
export function clipEdit(value, max, caret = value.length) {
  const before = Array.from(value.slice(0, caret));
  const after = Array.from(value.slice(caret));
  let excess = before.length + after.length - max;
  if (excess <= 0) return { value, caret, clipped: false };
  const cut = Math.min(excess, before.length);
  before.length -= cut;
  excess -= cut;
  if (excess > 0) after.length -= excess;
  const head = before.join("");
  return { value: head + after.join(""), caret: head.length, clipped: true };
}

const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// Why `value` does not fit min..max code points (the store's wording), or null.
export function lengthProblem(value, min = 0, max = Infinity) {
  const n = codePoints(value);
  if (n < min) return `Write at least ${plural(min, "character")} (${n} so far).`;
  if (n > max) return `At most ${plural(max, "character")} (${n} now).`;
  return null;
}

// The counter under a text field.
export function counterText(n, max) {
  return n >= max ? `${n} / ${max} · limit reached, more is not taken` : `${n} / ${max}`;
}
