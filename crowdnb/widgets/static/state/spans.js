// Pure edits of entity spans: {start, end, label} with code-point offsets into the text.

// The first span that shares a character with `span`, or undefined.
export function clashOf(spans, span) {
  return spans.find((s) => s.start < span.end && span.start < s.end);
}

// `spans` with `span` added in reading order, and the new span's index.
export function withSpan(spans, span) {
  const next = [...spans, span].sort((a, b) => a.start - b.start || a.end - b.end);
  return { spans: next, index: next.indexOf(span) };
}

// The offsets where the drawn text must be cut into segments (span edges, the selection, the
// caret), sorted and inside 0..length.
export function cutPoints(length, spans, pending, caret) {
  const cuts = new Set([0, length, caret]);
  for (const s of spans) cuts.add(s.start).add(s.end);
  if (pending) cuts.add(pending.start).add(pending.end);
  return [...cuts].filter((c) => c >= 0 && c <= length).sort((a, b) => a - b);
}
