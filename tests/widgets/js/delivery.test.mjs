// The delivery line's words, in English and Korean, for each state the kernel sends.
import assert from "node:assert/strict";
import { test } from "node:test";

import { deliveryText, language } from "../../../crowdnb/widgets/static/delivery.js";

const SINCE = "2026-03-01T03:04:05+00:00";

test("all sent, or no outbox at all: nothing to say", () => {
  assert.deepEqual(deliveryText({ state: "sent", waiting: 0, failed: 0 }), { text: "", isError: false, title: "" });
  assert.equal(deliveryText({}).text, "");
  assert.equal(deliveryText(undefined).text, "");
});

test("retrying and offline say how many labels are kept and count down to the next try", () => {
  const busy = { state: "retrying", waiting: 3, failed: 0, retrying_since: SINCE, next_attempt_in: 8.2, last_error: "http://x answered 503: busy" };
  const shown = deliveryText(busy, "en", 2);
  assert.match(shown.text, /^The server has not taken labels since \d\d:\d\d.*: 3 labels kept on this computer, sent automatically · next try in 7 s$/);
  assert.equal(shown.title, "http://x answered 503: busy");
  assert.equal(shown.isError, false);
  assert.match(deliveryText(busy, "en", 9).text, /trying again…$/);
  const away = { ...busy, state: "offline", waiting: 1 };
  assert.match(deliveryText(away, "en").text, /^Offline since .*: 1 label kept on this computer/);
  assert.match(deliveryText(away, "ko", 0).text, /부터 오프라인: 라벨 1개는 이 컴퓨터에 보관되어 있으며 자동으로 전송됩니다 · 9초 후 다시 시도$/);
  assert.match(deliveryText(busy, "ko").text, /서버가 라벨을 받지 않고 있습니다: 라벨 3개는/);
});

test("signed out keeps the labels and says what to do; it is shown as an error", () => {
  const out = { state: "signed out", waiting: 2, failed: 0, last_error: "answered 401" };
  assert.deepEqual(deliveryText(out, "en"), {
    text: "Signed out: the server no longer accepts this token. 2 labels kept on this computer. Ask your manager for a new token.",
    isError: true,
    title: "answered 401",
  });
  assert.equal(deliveryText({ ...out, waiting: 0 }, "en").text, "Signed out: the server no longer accepts this token. Ask your manager for a new token.");
  assert.match(deliveryText(out, "ko").text, /^로그아웃됨: .* 라벨 2개는 이 컴퓨터에 보관되어 있습니다\. 관리자에게 새 토큰을 요청하세요\.$/);
});

test("labels set aside are told with the last reason, after what is still on its way", () => {
  const state = { state: "sending", waiting: 1, failed: 2, last_failure: "submit 7: 404: task 7 is not in project 'p'" };
  assert.deepEqual(deliveryText(state, "en"), {
    text: "Sending 1 label to the server… · 2 labels could not be stored: submit 7: 404: task 7 is not in project 'p'",
    isError: true,
    title: "",
  });
  assert.equal(deliveryText({ ...state, state: "sent", waiting: 0 }, "ko").text, "라벨 2개를 저장하지 못했습니다: submit 7: 404: task 7 is not in project 'p'");
});

test("the language is the first of the browser's this file speaks", () => {
  assert.equal(language(["ko-KR", "en-US"]), "ko");
  assert.equal(language(["fr-FR", "en-GB", "ko"]), "en");
  assert.equal(language(["de"]), "en");
  assert.equal(language(undefined), "en");
  assert.equal(language([undefined]), "en");
});
