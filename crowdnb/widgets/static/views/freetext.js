// A written answer (free text about a text, or an image caption); Ctrl+Enter submits. Lengths
// are code points, as the store counts them.
import { h } from "../core.js";
import { mediaStage } from "../media.js";
import { lengthProblem } from "../state/text.js";
import { limitField } from "../textfield.js";

export function freetext(ctx) {
  const { min_chars: minChars = 1, max_chars: maxChars = 2000, prompt = "" } = ctx.config;
  const media = mediaStage(ctx);
  const element = h("div", "cnb-form");
  if (prompt) element.append(h("div", "cnb-prompt", prompt));
  const area = h("textarea", "cnb-input");
  area.rows = 3;
  area.setAttribute("aria-label", prompt || "your text");
  const counter = h("div", "cnb-counter");
  const field = limitField(area, maxChars, { counter });
  element.append(area, counter);
  return {
    element,
    keys: () => [["type", "write the text"], ["Ctrl+Enter", "submit"], ["Esc", "leave the text field"], ...media.keys()],
    show(item, label) {
      media.show(item);
      area.value = label ?? "";
      field.update();
      area.focus({ preventScroll: true });
    },
    value: () => area.value.trim(),
    check: (value) => lengthProblem(value, minChars, maxChars),
    key: (event) => media.key(event),
    keyup: (event) => media.keyup(event),
    undo: () => false,
  };
}
