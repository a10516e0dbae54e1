// Chatbot dialog writing: read the instruction/context, write a question and its expected answer
// per turn. Alt+N adds a turn, Alt+R removes the last one, Ctrl+Enter submits. Lengths are code
// points, as the store counts them.
import { clone, h } from "../core.js";
import { mediaStage } from "../media.js";
import { limitField } from "../textfield.js";

export function qa(ctx) {
  const c = ctx.config;
  const media = mediaStage(ctx);
  const minTurns = c.min_turns ?? 1;
  const maxTurns = c.max_turns ?? 10;
  const element = h("div", "cnb-form cnb-qa");
  const list = h("div", "cnb-turns");
  const add = h("button", "cnb-button", "+ turn (Alt+N)");
  add.type = "button";
  add.addEventListener("click", () => addTurn(true));
  element.append(list, add);
  let turns = [];

  function field(turn, key, label, max, rows) {
    const wrap = h("label", "cnb-field");
    wrap.append(h("span", "cnb-field-name", label));
    const area = h("textarea", "cnb-input");
    area.rows = rows;
    area.value = turn[key];
    area.dataset.field = key;
    const counter = h("span", "cnb-counter");
    limitField(area, max, { counter }).update();
    area.addEventListener("input", () => (turn[key] = area.value));
    wrap.append(area, counter);
    return wrap;
  }

  function render(focusLast) {
    list.replaceChildren(
      ...turns.map((turn, i) => {
        const box = h("fieldset", "cnb-turn");
        const legend = h("legend", "", `Turn ${i + 1}`);
        box.append(legend, field(turn, "question", "Question", c.max_question_chars ?? 500, 2), field(turn, "answer", "Expected answer", c.max_answer_chars ?? 2000, 3));
        if (turns.length > minTurns) {
          const remove = h("button", "cnb-button cnb-remove", "remove turn");
          remove.type = "button";
          remove.addEventListener("click", () => {
            turns.splice(i, 1);
            render(false);
          });
          box.append(remove);
        }
        return box;
      }),
    );
    add.disabled = turns.length >= maxTurns;
    const areas = list.querySelectorAll("textarea");
    if (focusLast && areas.length) areas[areas.length - 2 >= 0 ? areas.length - 2 : 0].focus({ preventScroll: true });
  }

  function addTurn(focus) {
    if (turns.length >= maxTurns) return;
    turns.push({ question: "", answer: "" });
    render(focus);
  }

  function typingKey(event) {
    if (!event.altKey) return false;
    if (event.code === "KeyN") addTurn(true);
    else if (event.code === "KeyR" && turns.length > minTurns) {
      turns.pop();
      render(true);
    } else return false;
    return true;
  }

  return {
    element,
    keys: () => [["type", "question and expected answer"], ["Alt+N", "add a turn"], ["Alt+R", "remove the last turn"], ["Ctrl+Enter", "submit"], ["Esc", "leave the text field"], ...media.keys()],
    show(item, label) {
      media.show(item);
      turns = clone(label?.turns) || [];
      while (turns.length < minTurns) turns.push({ question: "", answer: "" });
      render(true);
    },
    value: () => ({ turns: turns.map((t) => ({ question: t.question.trim(), answer: t.answer.trim() })) }),
    check(value) {
      for (const [i, t] of value.turns.entries()) {
        if (!t.question) return `Turn ${i + 1}: write the question.`;
        if (!t.answer) return `Turn ${i + 1}: write the expected answer.`;
      }
      if (value.turns.length < minTurns) return `Write at least ${minTurns} turn(s).`;
      return null;
    },
    key: (event) => media.key(event) || typingKey(event),
    keyup: (event) => media.keyup(event),
    typingKey,
    undo: () => false,
  };
}
