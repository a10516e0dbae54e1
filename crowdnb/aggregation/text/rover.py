"""ROVER: align transcriptions into a word (or character) transition network and vote per slot."""

from __future__ import annotations

import unicodedata
from typing import Any, ClassVar, Literal

import numpy as np

from crowdnb.aggregation.base import StructuredAggregator
from crowdnb.aggregation.geometry.shapes import weighted_vote

GAP = ""


def is_cjk(text: str) -> bool:
    """Whether `text` is mostly written without spaces between words (Chinese, Japanese, Thai...)."""
    letters = [c for c in text if not c.isspace()]
    if not letters:
        return False
    wide = sum(unicodedata.east_asian_width(c) in ("W", "F") or "\u0e00" <= c <= "\u0e7f" for c in letters)
    return wide / len(letters) > 0.5


def tokenize(text: str, level: Literal["words", "chars"]) -> list[str]:
    return list(text.replace(" ", "")) if level == "chars" else text.split()


def align(network: list[list[str]], tokens: list[str]) -> list[list[str]]:
    """Add one more hypothesis to a transition network (a list of slots, each holding one token
    per earlier hypothesis, GAP for none) by edit-distance alignment against the slots."""
    n_hyp = len(network[0]) if network else 0
    m, n = len(network), len(tokens)
    cost = np.zeros((m + 1, n + 1))
    cost[:, 0] = np.arange(m + 1)
    cost[0, :] = np.arange(n + 1)
    for i in range(1, m + 1):
        slot = network[i - 1]
        gap_cost = 1.0 - slot.count(GAP) / len(slot)
        for j in range(1, n + 1):
            match = 1.0 - slot.count(tokens[j - 1]) / len(slot)
            cost[i, j] = min(cost[i - 1, j - 1] + match, cost[i - 1, j] + gap_cost, cost[i, j - 1] + 1.0)
    merged: list[list[str]] = []
    i, j = m, n
    while i > 0 or j > 0:
        slot = network[i - 1] if i > 0 else None
        if i > 0 and j > 0 and np.isclose(cost[i, j], cost[i - 1, j - 1] + 1.0 - slot.count(tokens[j - 1]) / len(slot)):
            merged.append([*slot, tokens[j - 1]])
            i, j = i - 1, j - 1
        elif i > 0 and np.isclose(cost[i, j], cost[i - 1, j] + 1.0 - slot.count(GAP) / len(slot)):
            merged.append([*slot, GAP])
            i -= 1
        else:
            merged.append([GAP] * n_hyp + [tokens[j - 1]])
            j -= 1
    return merged[::-1]


def rover(texts: list[str], weights: np.ndarray, level: Literal["auto", "words", "chars"] = "auto") -> tuple[str, float]:
    """The slot-by-slot weighted vote over aligned `texts`, and the mean winning share."""
    if level == "auto":
        level = "chars" if any(is_cjk(t) for t in texts) else "words"
    network: list[list[str]] = []
    for k, text in enumerate(texts):
        tokens = tokenize(text, level)
        network = align(network, tokens) if network else [[t] for t in tokens]
        if len(network and network[0]) < k + 1:  # an empty text before any token
            network = [slot + [GAP] * (k + 1 - len(slot)) for slot in network]
    kept, shares = [], []
    for slot in network:
        token, share = weighted_vote(slot, weights.tolist())
        shares.append(share)
        if token != GAP:
            kept.append(token)
    joiner = "" if level == "chars" else " "
    return joiner.join(kept), float(np.mean(shares)) if shares else 1.0


class ROVER(StructuredAggregator):
    """Combine transcriptions (labels are strings) by ROVER (Fiscus, 1997): the texts are
    aligned one after another (workers in sorted order) into slots by edit distance, and each
    slot takes the skill-weighted vote, an empty slot dropping out. Tokens are words, or
    characters for texts written without spaces (``level="auto"`` picks characters when a text
    is mostly CJK/Thai). Confidence: the mean share of the winning token over the slots.
    """

    name: ClassVar[str] = "rover"

    def __init__(self, level: Literal["auto", "words", "chars"] = "auto") -> None:
        self.level = level

    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        return rover([str(text) for text in labels], weights, self.level)
