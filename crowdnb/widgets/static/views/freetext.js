// A written answer (free text about a text, or an image caption); Ctrl+Enter submits.
VIEWS.freetext = (ctx) => {
  const { min_chars: minChars = 1, max_chars: maxChars = 2000, prompt = "" } = ctx.config;
  const element = h("div", "cnb-form");
  if (prompt) element.append(h("div", "cnb-prompt", prompt));
  const area = h("textarea", "cnb-input");
  area.rows = 3;
  area.maxLength = maxChars;
  area.setAttribute("aria-label", prompt || "your text");
  const counter = h("div", "cnb-counter");
  const count = () => (counter.textContent = `${area.value.length} / ${maxChars}`);
  area.addEventListener("input", count);
  element.append(area, counter);
  return {
    element,
    keys: [["type", "write the text"], ["Ctrl+Enter", "submit"], ["Esc", "leave the text field"]],
    show(item, label) {
      showMedia(ctx.stage, item);
      area.value = label ?? "";
      count();
      area.focus({ preventScroll: true });
    },
    value: () => area.value.trim(),
    check(value) {
      if (value.length < minChars) return `Write at least ${minChars} character(s).`;
      if (value.length > maxChars) return `At most ${maxChars} characters.`;
      return null;
    },
    key: () => false,
    undo: () => false,
  };
};
