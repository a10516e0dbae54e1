// Multiple choice: 1..9 (or a click) toggle a class, Enter submits the chosen set.
VIEWS.multiselect = (ctx) => {
  const classes = ctx.config.classes || [];
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
    keys: [["1–9", "toggle a class"]],
    show(item, label) {
      showMedia(ctx.stage, item);
      chosen = new Set(label || []);
      history = [];
      buttons.mark([...chosen]);
    },
    value: () => classes.filter((c) => chosen.has(c)),
    check: (value) => (value.length === 0 && !ctx.config.allow_empty ? "Choose at least one class." : null),
    key(event) {
      const name = digitClass(event, classes);
      if (name === null) return false;
      toggle(name);
      return true;
    },
    undo() {
      if (!history.length) return false;
      chosen = history.pop();
      buttons.mark([...chosen]);
      return true;
    },
  };
};
