"""Aggregation methods by name, and `aggregate`: a project's labels to one answer per task.

A task kind names its default method (`Kind.aggregator`); `Project.results(method=...)` picks
another by name.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from crowdnb.aggregation.base import ClassificationAggregator, StructuredAggregator
from crowdnb.aggregation.classification import (
    GLAD,
    MACE,
    BinaryRelevance,
    DawidSkene,
    MajorityVote,
    OneCoinDawidSkene,
    Wawa,
    ZeroBasedSkill,
)
from crowdnb.aggregation.geometry import BoxAggregator, KeypointAggregator, PolygonAggregator
from crowdnb.aggregation.text import ROVER, BestCandidate, OCRAggregator, SpanAggregator

CATEGORICAL: dict[str, type[ClassificationAggregator]] = {
    "majority-vote": MajorityVote,
    "wawa": Wawa,
    "zero-based-skill": ZeroBasedSkill,
    "dawid-skene": DawidSkene,
    "one-coin-dawid-skene": OneCoinDawidSkene,
    "glad": GLAD,
    "mace": MACE,
}
STRUCTURED: dict[str, type[StructuredAggregator]] = {
    "boxes": BoxAggregator,
    "polygons": PolygonAggregator,
    "keypoints": KeypointAggregator,
    "ocr": OCRAggregator,
    "rover": ROVER,
    "spans": SpanAggregator,
    "best-candidate": BestCandidate,
}
SINGLE_CHOICE = frozenset(CATEGORICAL)
METHODS = sorted([*CATEGORICAL, "binary-relevance", *STRUCTURED])

RESULT_COLUMNS = ["task", "label", "confidence", "n_labels"]


def aggregate(
    labels: pd.DataFrame,
    method: str,
    *,
    known: pd.Series | None = None,
    skills: pd.Series | None = None,
    **params: Any,
) -> pd.DataFrame:
    """One row per task: task, label, confidence, n_labels.

    `labels` has columns task, worker, label. `known` (known answers by task) are held fixed by
    Dawid-Skene; `skills` (by worker) weigh structured methods. `params` go to the method's
    constructor; ``binary-relevance`` takes ``base`` (a categorical method's name, default
    ``"dawid-skene"``). Confidence: the largest posterior for categorical methods, the mean
    per-class certainty for binary relevance, the method's own for structured ones.
    """
    _known(method)
    if labels.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    n_labels = labels.groupby("task", sort=True).size()
    if method in CATEGORICAL:
        estimator = CATEGORICAL[method](**params)
        if method == "dawid-skene" and known is not None:
            estimator.fit(labels, known.dropna())
        else:
            estimator.fit(labels)
        result, confidence = estimator.labels_, estimator.probas_.max(axis=1)
    elif method == "binary-relevance":
        base = params.pop("base", "dawid-skene")
        estimator = BinaryRelevance(CATEGORICAL[_known(base)](**params)).fit(labels)
        certainty = estimator.probas_.where(estimator.probas_ >= 0.5, 1 - estimator.probas_)
        result, confidence = estimator.labels_, certainty.mean(axis=1).fillna(1.0)
    else:
        structured = STRUCTURED[method](**params).fit(labels, skills)
        result, confidence = structured.labels_, structured.confidence_
    return pd.DataFrame(
        {
            "task": result.index,
            "label": result.to_numpy(),
            "confidence": confidence.reindex(result.index).to_numpy(dtype=float),
            "n_labels": n_labels.reindex(result.index).to_numpy(),
        }
    )


def _known(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"unknown aggregation method {method!r}; methods: {METHODS}")
    return method
