// Text fields limited to a number of code points, as the store counts them (see state/text.js).
// The maxLength attribute counts UTF-16 units (an emoji is two), so it only bounds the field at
// twice the limit; the real limit is enforced here on each input, after an input method has
// finished composing.
import { clipEdit, codePoints, counterText } from "./state/text.js";

// Limit `input` (an <input> or <textarea>) to `max` code points. With `counter` (an element),
// show "n / max" there, marked when the limit is reached; with `onlyAtLimit`, show it only then.
// Call this before adding the view's own input listener, so that listener sees the cut value.
export function limitField(input, max, { counter = null, onlyAtLimit = false } = {}) {
  input.maxLength = max * 2;
  const update = () => {
    if (!counter) return;
    const n = codePoints(input.value);
    counter.textContent = counterText(n, max);
    counter.classList.toggle("cnb-limit", n >= max);
    counter.hidden = onlyAtLimit && n < max;
  };
  const clip = () => {
    const caret = input.selectionStart ?? input.value.length;
    const cut = clipEdit(input.value, max, caret);
    if (cut.clipped) {
      input.value = cut.value;
      input.setSelectionRange?.(cut.caret, cut.caret);
    }
    update();
    return cut.clipped;
  };
  input.addEventListener("input", (event) => {
    if (event.isComposing) update();
    else clip();
  });
  input.addEventListener("compositionend", () => {
    if (clip()) input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  return { update };
}
