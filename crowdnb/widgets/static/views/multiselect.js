// Multiple choice: 1..9 (or a click) toggle a class, Enter submits the chosen set.
import { classButtons, digitClass } from "../core.js";
import { mediaStage } from "../media.js";

export function multiselect(ctx) {
  const classes = ctx.config.classes || [];
  const media = mediaStage(ctx);
  let chosen = new Set();
  let history = [];
  const toggle = (name) => {
    history.push(new Set(chosen));
    if (chosen.has(name)) chosen.delete(name);
    else chosen.add(name);
    buttons.mark([...chosen]);
  };
  const buttons = classButtons(classes, toggle);
  return {
    element: buttons.element,
    keys: () => [["1–9", "toggle a class"], ...media.keys()],
    show(item, label) {
      media.show(item);
      chosen = new Set(label || []);
      history = [];
      buttons.mark([...chosen]);
    },
    value: () => classes.filter((c) => chosen.has(c)),
    check: (value) => (value.length === 0 && !ctx.config.allow_empty ? "Choose at least one class." : null),
    key(event) {
      if (media.key(event)) return true;
      const name = digitClass(event, classes);
      if (name === null) return false;
      toggle(name);
      return true;
    },
    keyup: (event) => media.keyup(event),
    undo() {
      if (!history.length) return false;
      chosen = history.pop();
      buttons.mark([...chosen]);
      return true;
    },
  };
}
