"""Aggregation methods by name, and `aggregate`: a project's labels to one answer per task.

Every estimator class carries its method name (``DawidSkene.name == "dawid-skene"``); the table
of methods is built from the estimator families once. A task kind names its default method as
a class (`Kind.aggregator`); `Project.results(method=...)` picks another by name or class.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from crowdnb.aggregation import FAMILIES
from crowdnb.aggregation.base import Answers, ClassificationAggregator, StructuredAggregator, encode
from crowdnb.aggregation.classification import BinaryRelevance, DawidSkene
from crowdnb.aggregation.classification.dawid_skene import gold_codes

Estimator = type[ClassificationAggregator] | type[StructuredAggregator]

ESTIMATORS: dict[str, Estimator] = {
    cls.name: cls
    for family in FAMILIES
    for cls in (getattr(family, attribute) for attribute in family.__all__)
    if isinstance(cls, type) and issubclass(cls, (ClassificationAggregator, StructuredAggregator))
}
CATEGORICAL: dict[str, type[ClassificationAggregator]] = {
    name: cls for name, cls in ESTIMATORS.items() if issubclass(cls, ClassificationAggregator) and cls is not BinaryRelevance
}
STRUCTURED: dict[str, type[StructuredAggregator]] = {
    name: cls for name, cls in ESTIMATORS.items() if issubclass(cls, StructuredAggregator)
}
# Single-choice classification methods, as classes (what `Kind.aggregator` holds) and as names.
SINGLE_CHOICE: frozenset[Estimator | str] = frozenset([*CATEGORICAL.values(), *CATEGORICAL])
METHODS = sorted(ESTIMATORS)

RESULT_COLUMNS = ["task", "label", "confidence", "n_labels"]


def aggregate(
    labels: pd.DataFrame | Answers,
    method: str | Estimator,
    *,
    known: pd.Series | None = None,
    skills: pd.Series | None = None,
    **params: Any,
) -> pd.DataFrame:
    """One row per task: task, label, confidence, n_labels.

    `labels` has columns task, worker, label, or is already integer-coded (`Answers`; for
    categorical methods only; tasks, workers and labels that no answer uses are left out, as
    a frame of the same rows would have them); `method` is a name in `METHODS` or an estimator
    class. `known` (known answers by task value) are held fixed by Dawid-Skene (those of a
    class some worker gave); `skills` (by worker) weigh structured methods. `params` go to the
    method's constructor, and one it does not take raises `TypeError`; ``binary-relevance``
    takes ``base`` (a categorical method's name or class, default ``"dawid-skene"``) and that
    method's parameters. Confidence: the largest posterior for categorical methods, the mean
    per-class certainty for binary relevance, the method's own for structured ones.
    """
    cls = estimator_class(method)
    if issubclass(cls, BinaryRelevance):
        base = estimator_class(params.pop("base", DawidSkene))
        if not issubclass(base, ClassificationAggregator) or base is BinaryRelevance:
            raise ValueError(f"binary-relevance needs a categorical base method, one of {sorted(CATEGORICAL)}; got {method_name(base)!r}")
        _check_params(base, params, extra=("base",), shown_as=cls.name)
    else:
        _check_params(cls, params)
    if isinstance(labels, Answers):
        if not issubclass(cls, ClassificationAggregator) or issubclass(cls, BinaryRelevance):
            raise ValueError(
                f"aggregation method {method_name(cls)!r} takes its labels as a DataFrame (task, worker, label): "
                f"integer-coded Answers are for single-choice methods, one of {sorted(CATEGORICAL)}"
            )
        return _categorical(cls, labels.compact(), known, params)
    if labels.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    if issubclass(cls, BinaryRelevance):
        relevance = cls(base(**params)).fit(labels)
        certainty = relevance.probas_.where(relevance.probas_ >= 0.5, 1 - relevance.probas_)
        return _frame(relevance.labels_, certainty.mean(axis=1).fillna(1.0), _per_task(labels))
    if issubclass(cls, ClassificationAggregator):
        return _categorical(cls, encode(labels), known, params)
    structured = cls(**params).fit(labels, skills)
    return _frame(structured.labels_, structured.confidence_, _per_task(labels))


def _categorical(cls: type[ClassificationAggregator], answers: Answers, known: pd.Series | None, params: dict[str, Any]) -> pd.DataFrame:
    """`aggregate` for a single-choice method on coded answers."""
    if answers.n_rows == 0:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    estimator = cls(**params)
    if cls is DawidSkene and known is not None:
        # A known answer of a class no worker has given yet cannot be held fixed (the model
        # knows only the classes it has seen); early in a project that is common.
        known = known.dropna()
        estimator.fit_answers(answers, gold=gold_codes(answers, known[known.isin(answers.labels)]))
    else:
        estimator.fit_answers(answers)
    tasks = answers.tasks
    confidence = pd.Series(estimator.probas_.to_numpy().max(axis=1), index=tasks)
    return _frame(estimator.labels_, confidence, pd.Series(np.bincount(answers.task, minlength=len(tasks)), index=tasks))


def _per_task(labels: pd.DataFrame) -> pd.Series:
    """How many labels each task of a frame has."""
    return labels.groupby("task", sort=True).size()


def _frame(result: pd.Series, confidence: pd.Series, n_labels: pd.Series) -> pd.DataFrame:
    """The result frame from labels, confidences and label counts by task."""
    return pd.DataFrame(
        {
            "task": result.index,
            "label": result.to_numpy(),
            "confidence": confidence.reindex(result.index).to_numpy(dtype=float),
            "n_labels": n_labels.reindex(result.index).to_numpy(),
        }
    )


def estimator_class(method: str | Estimator) -> Estimator:
    """The estimator class of a method name, or the class itself (any categorical or structured
    estimator); a ValueError lists the known methods otherwise."""
    if isinstance(method, type) and issubclass(method, (ClassificationAggregator, StructuredAggregator)):
        return method
    if isinstance(method, str) and method in ESTIMATORS:
        return ESTIMATORS[method]
    raise ValueError(f"unknown aggregation method {method!r}; methods: {METHODS}")


def method_name(cls: Estimator) -> str:
    """A method's name: the class's ``name`` (its class name when it has none)."""
    return getattr(cls, "name", cls.__name__)


def parameters(cls: Estimator) -> list[str] | None:
    """The keyword parameters a method's constructor takes (None: any, it takes ``**kwargs``)."""
    if cls.__init__ is object.__init__:
        return []
    found = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in found):
        return None
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in found if p.kind in kinds]


def _check_params(cls: Estimator, params: dict[str, Any], *, extra: tuple[str, ...] = (), shown_as: str | None = None) -> None:
    """Refuse parameters the method does not take, naming them and the ones it does."""
    own = parameters(cls)
    if own is None:
        return
    accepted = [*extra, *own]
    unknown = [name for name in params if name not in accepted]
    if unknown:
        method = shown_as or method_name(cls)
        takes = ", ".join(accepted) if accepted else "none"
        raise TypeError(f"aggregation method {method!r} takes no parameter {', '.join(map(repr, unknown))}; its parameters: {takes}")
