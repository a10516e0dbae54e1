// What became of the labels after the kernel took them, in the worker's words (English or
// Korean, by the browser's language): a pure function of the `delivery` state the kernel sends
// (crowdnb/widgets/labeler.py `describe_delivery`; what each state means: crowdnb/client/sender.py).

const WORDS = {
  en: {
    labels: (n) => (n === 1 ? "1 label" : `${n} labels`),
    sending: (n) => `Sending ${n} to the server…`,
    retrying: (since, kept) => `The server has not taken labels since ${since}: ${kept}`,
    offline: (since, kept) => `Offline since ${since}: ${kept}`,
    kept: (n) => `${n} kept on this computer, sent automatically`,
    next: (seconds) => (seconds > 0 ? ` · next try in ${seconds} s` : " · trying again…"),
    signedOut: (n) =>
      `Signed out: the server no longer accepts this token.${n ? ` ${n} kept on this computer.` : ""} Ask your manager for a new token.`,
    failed: (n, reason) => `${n} could not be stored: ${reason}`,
  },
  ko: {
    labels: (n) => `라벨 ${n}개`,
    sending: (n) => `${n}를 서버로 보내는 중…`,
    retrying: (since, kept) => `${since}부터 서버가 라벨을 받지 않고 있습니다: ${kept}`,
    offline: (since, kept) => `${since}부터 오프라인: ${kept}`,
    kept: (n) => `${n}는 이 컴퓨터에 보관되어 있으며 자동으로 전송됩니다`,
    next: (seconds) => (seconds > 0 ? ` · ${seconds}초 후 다시 시도` : " · 다시 시도하는 중…"),
    signedOut: (n) =>
      `로그아웃됨: 서버가 이 토큰을 더 이상 받지 않습니다.${n ? ` ${n}는 이 컴퓨터에 보관되어 있습니다.` : ""} 관리자에게 새 토큰을 요청하세요.`,
    failed: (n, reason) => `${n}를 저장하지 못했습니다: ${reason}`,
  },
};

// The first of the browser's languages this file speaks ("en" when none).
export function language(preferred) {
  const found = (preferred ?? []).map((tag) => String(tag).toLowerCase().slice(0, 2)).find((tag) => tag in WORDS);
  return found ?? "en";
}

function clock(iso, lang) {
  const when = iso ? new Date(iso) : null;
  if (!when || Number.isNaN(when.getTime())) return "?";
  return when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
}

// {text, isError, title} for `delivery`, `elapsed` seconds after it arrived: nothing when all is
// sent; the technical reason goes in `title` (shown on hover).
export function deliveryText(delivery, lang = "en", elapsed = 0) {
  const words = WORDS[lang] ?? WORDS.en;
  const d = delivery ?? {};
  const waiting = words.labels(d.waiting ?? 0);
  let text = "";
  if (d.state === "sending") text = words.sending(waiting);
  else if (d.state === "retrying" || d.state === "offline") {
    const left = d.next_attempt_in == null ? 0 : Math.ceil(Math.max(0, d.next_attempt_in - elapsed));
    text = words[d.state](clock(d.retrying_since, lang), words.kept(waiting)) + words.next(left);
  } else if (d.state === "signed out") text = words.signedOut(d.waiting ? waiting : "");
  const failed = d.failed ? words.failed(words.labels(d.failed), d.last_failure ?? "?") : "";
  return {
    text: [text, failed].filter(Boolean).join(" · "),
    isError: Boolean(failed) || d.state === "signed out",
    title: d.last_error ?? "",
  };
}
