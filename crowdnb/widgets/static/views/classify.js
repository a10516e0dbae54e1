// Single choice: 1..9 pick a class (a click picks and submits), Enter submits.
VIEWS.classify = (ctx) => {
  const classes = ctx.config.classes || [];
  let chosen = null;
  const buttons = classButtons(classes, (name) => {
    chosen = name;
    buttons.mark(chosen);
    ctx.submit();
  });
  return {
    element: buttons.element,
    keys: [["1–9", "pick a class"], ["click", "pick and submit"]],
    show(item, label) {
      showMedia(ctx.stage, item);
      chosen = label ?? null;
      buttons.mark(chosen);
    },
    value: () => chosen,
    check: (value) => (value === null ? "Pick a class first (keys 1–9)." : null),
    key(event) {
      const name = digitClass(event, classes);
      if (name === null) return false;
      chosen = name;
      buttons.mark(chosen);
      return true;
    },
    undo: () => false,
  };
};
