"""What every categorical aggregator shares: checked, integer-coded answers and the fit API.

Answers come as a DataFrame with columns ``task, worker, label`` (crowd-kit's format). They are
coded once into integer arrays (tasks, workers and labels each in sorted order), and every
estimator works on those arrays with numpy/scipy; results come back as pandas objects indexed by
the original task, worker and label values.

Tie-breaking, everywhere: among equally likely labels the first in sorted order wins (crowd-kit
does the same through ``DataFrame.idxmax`` on its sorted columns).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

COLUMNS = ("task", "worker", "label")


@dataclass(frozen=True)
class Answers:
    """Answers coded as integers: row i says worker ``worker[i]`` gave task ``task[i]`` the
    label ``label[i]``; the codes index ``tasks``, ``workers`` and ``labels`` (each sorted)."""

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    tasks: pd.Index
    workers: pd.Index
    labels: pd.Index

    @property
    def n_rows(self) -> int:
        return len(self.task)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(tasks, workers, labels)."""
        return len(self.tasks), len(self.workers), len(self.labels)

    def counts(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Votes per task and label, shape (tasks, labels), optionally weighted per row."""
        n_tasks, _, n_labels = self.shape
        flat = np.bincount(self.task * n_labels + self.label, weights, n_tasks * n_labels)
        return flat.reshape(n_tasks, n_labels).astype(float)

    def task_by_pair(self) -> sp.csr_matrix:
        """Sparse (tasks, workers*labels) count matrix: row t, column w*K+l counts how often
        worker w gave task t the label l. E-steps multiply it by per-pair log-likelihoods,
        M-steps multiply its transpose by task posteriors."""
        n_tasks, n_workers, n_labels = self.shape
        ones = np.ones(self.n_rows)
        pair = self.worker * n_labels + self.label
        matrix = sp.csr_matrix((ones, (self.task, pair)), shape=(n_tasks, n_workers * n_labels))
        matrix.sum_duplicates()
        return matrix

    def code_labels(self, values: pd.Series, what: str) -> np.ndarray:
        """Codes of `values` among this data's labels; a ValueError names any unknown value."""
        codes = self.labels.get_indexer(values)
        if (codes < 0).any():
            unknown = list(pd.unique(values[codes < 0]))[:5]
            raise ValueError(f"{what} has label value(s) {unknown} that no worker gave; known: {list(self.labels)}")
        return codes

    def code_tasks(self, values: pd.Index) -> np.ndarray:
        """Codes of task ids, -1 for tasks not in this data."""
        return self.tasks.get_indexer(values)


def encode(data: pd.DataFrame) -> Answers:
    """Check and code a ``task, worker, label`` frame.

    Missing columns, missing values (NaN/None) and unhashable or unsortable values raise a
    ValueError that names the column, the row and the value.
    """
    missing = [c for c in COLUMNS if c not in data.columns]
    if missing:
        raise ValueError(f"answers need columns {list(COLUMNS)}; missing {missing}")
    coded = {column: _factorize(data[column], column) for column in COLUMNS}
    return Answers(
        task=coded["task"][0], worker=coded["worker"][0], label=coded["label"][0],
        tasks=coded["task"][1], workers=coded["worker"][1], labels=coded["label"][1],
    )


def _factorize(values: pd.Series, column: str) -> tuple[np.ndarray, pd.Index]:
    nulls = values.isna().to_numpy()
    if nulls.any():
        row = values.index.tolist()[np.flatnonzero(nulls)[0]]
        raise ValueError(f"{column} is missing (NaN/None) in row {row!r}; drop or fill such rows")
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError as error:
        for row, value in values.items():
            if not isinstance(value, Hashable):
                raise ValueError(f"{column} in row {row!r} is {value!r}, which is not hashable") from None
        kinds = sorted({type(v).__name__ for v in values})
        raise ValueError(f"{column} values must be mutually sortable, got types {kinds}: {error}") from None
    return codes.astype(np.int64), pd.Index(uniques, name=column)


def most_probable(probas: np.ndarray) -> np.ndarray:
    """Per row, the column of the largest value; ties go to the first (sorted) label."""
    return np.argmax(probas, axis=1)


def normalize_rows(scores: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one."""
    return scores / scores.sum(axis=1, keepdims=True)


class ClassificationAggregator(ABC):
    """Base of categorical aggregators, with crowd-kit's API: `fit`, `fit_predict`,
    `fit_predict_proba`; after fitting, `labels_` (Series by task) and, where the method has
    them, `probas_` (DataFrame task x label)."""

    # The method's name in `crowdnb.aggregation.methods.METHODS` (e.g. "dawid-skene").
    name: ClassVar[str]
    labels_: pd.Series
    probas_: pd.DataFrame

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"

    @abstractmethod
    def fit(self, data: pd.DataFrame) -> Self:
        """Fit to answers with columns ``task, worker, label``."""

    def fit_predict(self, data: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.Series:
        """Fit, then return the most likely label of each task."""
        return self.fit(data, *args, **kwargs).labels_

    def fit_predict_proba(self, data: pd.DataFrame, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """Fit, then return each task's probability of each label."""
        return self.fit(data, *args, **kwargs).probas_

    def _set_results(self, answers: Answers, probas: np.ndarray) -> None:
        """Store posteriors and their most probable labels as pandas objects."""
        self.probas_ = probas_frame(answers, probas)
        self.labels_ = labels_series(answers, most_probable(probas))


def probas_frame(answers: Answers, probas: np.ndarray) -> pd.DataFrame:
    """Posteriors as a DataFrame indexed by task with one column per label."""
    return pd.DataFrame(probas, index=answers.tasks, columns=answers.labels)


def labels_series(answers: Answers, codes: np.ndarray) -> pd.Series:
    """Label codes as a Series of label values indexed by task (named like crowd-kit's)."""
    return pd.Series(answers.labels.take(codes), index=answers.tasks, name="agg_label")


def worker_series(answers: Answers, values: np.ndarray, name: str) -> pd.Series:
    """Per-worker values as a Series indexed by worker."""
    return pd.Series(values, index=answers.workers, name=name)


def accuracy_on(answers: Answers, truth: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per worker, the share of their answers equal to `truth` (a label code per task),
    as crowd-kit's ``get_accuracy``: repeated identical answers (same task, worker, label) count
    once, and answers on tasks without a truth (code -1) are left out."""
    _, n_workers, n_labels = answers.shape
    key = (answers.task * n_workers + answers.worker) * n_labels + answers.label
    _, first = np.unique(key, return_index=True)
    task, worker, label = answers.task[first], answers.worker[first], answers.label[first]
    known = truth[task] >= 0
    w = np.ones(len(first)) if weights is None else weights[first]
    hits = np.bincount(worker[known], (w * (label == truth[task]))[known], n_workers)
    totals = np.bincount(worker[known], w[known], n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hits / totals


class StructuredAggregator(ABC):
    """Base of aggregators whose labels are structures (boxes, polygons, keypoints, texts,
    spans): each task's answers are combined on their own, optionally weighted by worker skill.

    Fit on ``task, worker, label``; fitted attributes ``labels_`` (the combined label, by task)
    and ``confidence_`` (by task, in [0, 1]; its meaning is the method's).
    """

    # The method's name in `crowdnb.aggregation.methods.METHODS` (e.g. "boxes").
    name: ClassVar[str]
    labels_: pd.Series
    confidence_: pd.Series

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"

    def fit(self, data: pd.DataFrame, skills: pd.Series | None = None) -> Self:
        """Fit to answers; `skills` (by worker, default 1 each) weigh each worker's answer."""
        missing = [c for c in COLUMNS if c not in data.columns]
        if missing:
            raise ValueError(f"answers need columns {list(COLUMNS)}; missing {missing}")
        for column in ("task", "worker"):
            _factorize(data[column], column)
        nulls = data["label"].map(lambda v: v is None or (isinstance(v, float) and np.isnan(v))).to_numpy(dtype=bool)
        if nulls.any():
            raise ValueError(f"label is missing (NaN/None) in row {data.index.tolist()[np.flatnonzero(nulls)[0]]!r}")
        weight = pd.Series(1.0, index=pd.unique(data["worker"])) if skills is None else skills.astype(float)
        unknown = set(pd.unique(data["worker"])) - set(weight.index)
        if unknown:
            raise ValueError(f"no skill for worker(s) {sorted(unknown, key=str)[:5]}")
        labels, confidence = {}, {}
        for task, group in data.groupby("task", sort=True):
            ordered = group.sort_values("worker", key=lambda s: s.map(str))
            workers = ordered["worker"].tolist()
            labels[task], confidence[task] = self._aggregate(
                task, workers, ordered["label"].tolist(), weight.loc[workers].to_numpy(dtype=float)
            )
        index = pd.Index(list(labels), name="task")
        self.labels_ = pd.Series(list(labels.values()), index=index, name="agg_label", dtype=object)
        self.confidence_ = pd.Series(list(confidence.values()), index=index, name="confidence", dtype=float)
        return self

    def fit_predict(self, data: pd.DataFrame, skills: pd.Series | None = None) -> pd.Series:
        """Fit, then return the combined label of each task."""
        return self.fit(data, skills).labels_

    @abstractmethod
    def _aggregate(self, task: Any, workers: list[Any], labels: list[Any], weights: np.ndarray) -> tuple[Any, float]:
        """One task: its workers' labels (in worker order) to (combined label, confidence)."""
