// Single choice: 1..9 pick a class (a click picks and submits), Enter submits.
import { classButtons, digitClass } from "../core.js";
import { mediaStage } from "../media.js";

export function classify(ctx) {
  const classes = ctx.config.classes || [];
  const media = mediaStage(ctx);
  let chosen = null;
  const buttons = classButtons(classes, (name) => {
    chosen = name;
    buttons.mark(chosen);
    ctx.submit();
  });
  return {
    element: buttons.element,
    keys: () => [["1–9", "pick a class"], ["click", "pick and submit"], ...media.keys()],
    show(item, label) {
      media.show(item);
      chosen = label ?? null;
      buttons.mark(chosen);
    },
    value: () => chosen,
    check: (value) => (value === null ? "Pick a class first (keys 1–9)." : null),
    key(event) {
      if (media.key(event)) return true;
      const name = digitClass(event, classes);
      if (name === null) return false;
      chosen = name;
      buttons.mark(chosen);
      return true;
    },
    keyup: (event) => media.keyup(event),
    undo: () => false,
  };
}
