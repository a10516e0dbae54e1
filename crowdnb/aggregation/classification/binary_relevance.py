"""Multi-label aggregation by binary relevance: one yes/no aggregation per class."""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from crowdnb.aggregation.base import COLUMNS, Answers, ClassificationAggregator
from crowdnb.aggregation.classification.majority_vote import MajorityVote


class BinaryRelevance(ClassificationAggregator):
    """Aggregates answers that are sets of classes: each class becomes a yes/no task per task,
    aggregated by a fresh copy of `base_aggregator` (majority vote by default).

    Fitted attributes: ``labels_`` (by task, the sorted list of classes judged present),
    ``probas_`` (task x class, the probability that the class is present, where the base
    aggregator gives probabilities), ``aggregators_`` (the fitted aggregator of each class).
    """

    name: ClassVar[str] = "binary-relevance"

    def __init__(self, base_aggregator: ClassificationAggregator | None = None) -> None:
        self.base_aggregator = base_aggregator if base_aggregator is not None else MajorityVote()

    def fit(self, data: pd.DataFrame) -> Self:
        sets = _label_sets(data)
        classes = sorted(set().union(*sets)) if len(sets) else []
        self.aggregators_: dict[object, ClassificationAggregator] = {}
        present: dict[object, pd.Series] = {}
        probas: dict[object, pd.Series] = {}
        for name in classes:
            binary = pd.DataFrame(
                {"task": data["task"], "worker": data["worker"], "label": [name in s for s in sets]}
            )
            aggregator = _clone(self.base_aggregator).fit(binary)
            self.aggregators_[name] = aggregator
            present[name] = aggregator.labels_.astype(bool)
            if hasattr(aggregator, "probas_"):
                probas[name] = aggregator.probas_.get(True, pd.Series(0.0, index=aggregator.probas_.index))
        tasks = pd.Index(sorted(pd.unique(data["task"])), name="task")
        table = pd.DataFrame(present, index=tasks, columns=classes).fillna(False).astype(bool)
        self.labels_ = pd.Series(
            [list(np.array(classes, dtype=object)[row]) for row in table.to_numpy()], index=tasks, name="agg_label"
        )
        self.probas_ = pd.DataFrame(probas, index=tasks, columns=classes)
        return self

    def fit_answers(self, answers: Answers) -> Self:
        """Not available: answers here are sets of classes, which have no integer codes; fit a
        DataFrame instead."""
        raise ValueError("BinaryRelevance aggregates answers that are sets of classes and takes them as a DataFrame "
                         "(task, worker, label) in fit(); it has no integer-coded entry point")


def _label_sets(data: pd.DataFrame) -> list[frozenset[object]]:
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"answers need columns {list(COLUMNS)}; missing {missing}")
    sets = []
    for row, value in data["label"].items():
        if isinstance(value, str) or not isinstance(value, Collection):
            raise ValueError(f"label in row {row!r} is {value!r}; multi-label answers are lists of classes")
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in value):
            raise ValueError(f"label in row {row!r} has a missing class (NaN/None): {value!r}")
        sets.append(frozenset(value))
    return sets


def _clone(aggregator: ClassificationAggregator) -> ClassificationAggregator:
    """An unfitted aggregator with the same hyperparameters."""
    params = {k: v for k, v in vars(aggregator).items() if not k.endswith("_")}
    return type(aggregator)(**params)
