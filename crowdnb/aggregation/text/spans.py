"""Text spans (NER): a character-level vote."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from crowdnb.aggregation.base import StructuredAggregator

NONE = -1


class SpanAggregator(StructuredAggregator):
    """Combine labeled character ranges (labels ``[{"start", "end", "label", ...}, ...]``, as
    the ``spans`` kind stores them; end exclusive).

    Every character covered by some worker gets the class with the largest skill weight, "no
    span" counting as a class (ties: no span, then classes in sorted order). Runs of characters
    with the same class become spans; a span's ``agreement`` is the mean winning share over its
    characters and the task's confidence the mean over all characters any worker marked.
    With overlapping spans, the later span in a worker's list decides a character. When the
    labels carry each span's ``text`` (the kind stores it), fused spans carry theirs too.
    """

    name: ClassVar[str] = "spans"

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        spans = [s for label in labels for s in label]
        if not spans:
            return [], 1.0
        classes = sorted({s["label"] for s in spans}, key=str)
        code = {name: i for i, name in enumerate(classes)}
        length = max(s["end"] for s in spans)
        marks = np.full((len(labels), length), NONE)
        for w, label in enumerate(labels):
            for s in label:
                marks[w, s["start"]:s["end"]] = code[s["label"]]
        votes = np.zeros((len(classes) + 1, length))
        for w in range(len(labels)):
            np.add.at(votes, (marks[w] + 1, np.arange(length)), weights[w])
        winner = np.argmax(votes, axis=0) - 1
        share = votes.max(axis=0) / max(weights.sum(), 1e-12)
        marked = (marks != NONE).any(axis=0)
        known = _characters(spans)
        out = []
        start = 0
        for i in range(1, length + 1):
            if i == length or winner[i] != winner[start]:
                if winner[start] != NONE:
                    span = {"start": start, "end": i, "label": classes[winner[start]], "agreement": float(share[start:i].mean())}
                    if all(k in known for k in range(start, i)):
                        span["text"] = "".join(known[k] for k in range(start, i))
                    out.append(span)
                start = i
        return out, float(share[marked].mean())


def _characters(spans: list[dict[str, Any]]) -> dict[int, str]:
    """The text's characters by offset, as far as the workers' spans quote them."""
    return {s["start"] + k: ch for s in spans if "text" in s for k, ch in enumerate(s["text"])}
