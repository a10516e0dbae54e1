"""Free text (answers, captions, dialogs): no vote, the most central candidate."""

from __future__ import annotations

import json
from difflib import SequenceMatcher
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crowdnb.aggregation.base import StructuredAggregator


def as_text(label: Any) -> str:
    """A label as plain text: strings as they are, Q&A dialogs as their turns, else JSON."""
    if isinstance(label, str):
        return label
    if isinstance(label, dict) and "turns" in label:
        return "\n".join(f"{t['question']}\n{t['answer']}" for t in label["turns"])
    return json.dumps(label, sort_keys=True, ensure_ascii=False)


def similarity(a: str, b: str) -> float:
    """How alike two texts are, in [0, 1] (difflib's ratio on case-folded, space-normalized text)."""
    a, b = " ".join(a.casefold().split()), " ".join(b.casefold().split())
    if not a and not b:
        return 1.0
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


class BestCandidate(StructuredAggregator):
    """Pick, per task, the worker's answer most similar to the others' (skill-weighted mean
    similarity); free text has no vote. The pick's score is the confidence; every candidate
    and its score stay in ``candidates_`` (task, worker, label, score) for inspection. With a
    single answer the confidence is 0: nobody confirmed it.
    """

    name: ClassVar[str] = "best-candidate"

    def fit(self, data: pd.DataFrame, skills: pd.Series | None = None) -> BestCandidate:
        self._scores: list[dict[str, Any]] = []
        super().fit(data, skills)
        self.candidates_ = pd.DataFrame(self._scores, columns=["task", "worker", "label", "score"])
        return self

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        texts = [as_text(label) for label in labels]
        n = len(texts)
        pair = np.eye(n)
        for i in range(n):
            for j in range(i + 1, n):
                pair[i, j] = pair[j, i] = similarity(texts[i], texts[j])
        others = weights[None, :] * (1 - np.eye(n))
        total = others.sum(axis=1)
        scores = np.divide((pair * others).sum(axis=1), total, out=np.zeros(n), where=total > 0)
        best = int(np.argmax(scores))
        self._scores.extend({"task": task, "worker": w, "label": label, "score": float(s)} for w, label, s in zip(workers, labels, scores, strict=True))
        return labels[best], float(scores[best])
