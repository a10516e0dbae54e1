"""What every categorical aggregator shares: checked, integer-coded answers and the fit API.

Answers come as a DataFrame with columns ``task, worker, label`` (crowd-kit's format) or already
coded as integers (`Answers`, as the store reads them). A frame is coded once into integer arrays
(tasks, workers and labels each in sorted order) and every estimator works on those arrays: with
numpy/scipy (the reference), or with the numba kernels of `crowdnb.aggregation.kernels` when numba
is installed (``CROWDNB_KERNELS=numpy`` forces the reference). Results come back as pandas
objects indexed by the original task, worker and label values.

Tie-breaking, everywhere: among equally likely labels the first in sorted order wins (crowd-kit
does the same through ``DataFrame.idxmax`` on its sorted columns).
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from functools import cached_property
from types import ModuleType
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

COLUMNS = ("task", "worker", "label")
CODE = np.int32  # codes, and the sparse matrices' indices: 32 bits halve the memory traffic
CODE_LIMIT = np.iinfo(CODE).max
KERNELS_FROM = 200_000  # answers from which CROWDNB_KERNELS=auto takes the numba kernels


def kernels(n_answers: int) -> ModuleType | None:
    """The numba kernels for a fit on `n_answers` answers, or None for the numpy reference.

    ``CROWDNB_KERNELS`` chooses: unset or ``auto`` takes numba when it imports and there are at
    least `KERNELS_FROM` answers (below, numpy is as fast and numba's import costs more than the
    fit), ``numpy`` the reference, ``numba`` insists on numba at any size (an ImportError names
    the extra to install).
    """
    choice = os.environ.get("CROWDNB_KERNELS", "auto")
    if choice not in ("auto", "numpy", "numba"):
        raise ValueError(f"CROWDNB_KERNELS must be 'auto', 'numpy' or 'numba', got {choice!r}")
    if choice == "numpy" or (choice == "auto" and n_answers < KERNELS_FROM):
        return None
    try:
        return importlib.import_module("crowdnb.aggregation.kernels")
    except ImportError as error:
        if choice == "numba":
            raise ImportError(f'CROWDNB_KERNELS=numba needs numba: pip install "crowdnb[fast]" ({error})') from error
        return None


@dataclass(frozen=True)
class Answers:
    """Answers coded as integers: row i says worker ``worker[i]`` gave task ``task[i]`` the
    label ``label[i]``; the codes index ``tasks``, ``workers`` and ``labels``.

    Estimators take them as `encode` makes them (`checked` says what that means); `compact`
    turns codes made elsewhere (e.g. read from a database) into that form.
    """

    task: np.ndarray
    worker: np.ndarray
    label: np.ndarray
    tasks: pd.Index
    workers: pd.Index
    labels: pd.Index
    # Set by `encode`, `checked` and `compact`, whose answers need no second check.
    _canonical: bool = field(default=False, repr=False, compare=False)

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
        flat = np.bincount(self.task_label, weights, n_tasks * n_labels)
        return flat.reshape(n_tasks, n_labels).astype(float, copy=False)

    @cached_property
    def task_label(self) -> np.ndarray:
        """Per row, ``task * labels + label``: the row's cell in a (tasks, labels) array."""
        return self.task.astype(np.int64) * len(self.labels) + self.label

    def checked(self) -> Answers:
        """These answers as estimators take them, or a ValueError naming what is wrong.

        Codes are integer arrays of one length, each in range and each value of ``tasks``,
        ``workers`` and ``labels`` used by some answer (as `encode` makes them; `compact` drops
        the unused ones); the three indexes hold distinct values and ``labels`` is sorted, since
        ties go to the first label. Codes come back as 32-bit integers.
        """
        if self._canonical:
            return self
        for what, used in self._uses().items():
            index = self._index(what)
            if not used.all():
                raise ValueError(f"answers' {what}s include {list(index[used == 0][:5])} that no answer uses; drop them with Answers.compact()")
        if not self.labels.is_monotonic_increasing:
            raise ValueError(f"answers' labels must be sorted (ties go to the first), got {list(self.labels[:10])}; Answers.compact() sorts them")
        return self._narrowed()

    def compact(self) -> Answers:
        """The same answers without the tasks, workers and labels no answer uses, the labels
        sorted, codes as 32-bit integers: what `encode` gives for the same rows. Bad codes raise
        a ValueError naming the first bad row."""
        if self._canonical:
            return self
        coded = {}
        for what, used in self._uses().items():
            codes, index = getattr(self, what), self._index(what)
            if what == "label" and not index.is_monotonic_increasing:
                order = np.argsort(index.to_numpy(), kind="stable")
                rank = np.empty(len(index), dtype=CODE)
                rank[order] = np.arange(len(index), dtype=CODE)
                codes, index, used = rank[codes], index[order], used[order]
            if not used.all():
                codes, index = (np.cumsum(used > 0, dtype=np.int64).astype(CODE) - 1)[codes], index[used > 0]
            coded[what] = codes, index
        return Answers(
            task=coded["task"][0], worker=coded["worker"][0], label=coded["label"][0],
            tasks=coded["task"][1], workers=coded["worker"][1], labels=coded["label"][1],
        )._narrowed()

    def _index(self, what: str) -> pd.Index:
        return {"task": self.tasks, "worker": self.workers, "label": self.labels}[what]

    def _uses(self) -> dict[str, np.ndarray]:
        """Per column, how many answers use each value of its index; a ValueError names codes
        that are not 1-D integer arrays of one length, the first row whose code is out of
        range, and repeated index values."""
        lengths = {what: len(getattr(self, what)) for what in COLUMNS}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"answers' code arrays differ in length: {lengths}")
        n_tasks, n_workers, n_labels = self.shape
        if max(n_tasks, n_workers * n_labels) > CODE_LIMIT:
            raise ValueError(f"{n_tasks} tasks, {n_workers} workers x {n_labels} labels: more than 32-bit codes hold")
        uses = {}
        for what in COLUMNS:
            codes, index = getattr(self, what), self._index(what)
            if not isinstance(codes, np.ndarray) or codes.ndim != 1 or not np.issubdtype(codes.dtype, np.integer):
                raise ValueError(f"answers' {what} codes must be a 1-D integer numpy array, got {type(codes).__name__} {getattr(codes, 'dtype', '')}")
            if not index.is_unique:
                raise ValueError(f"answers' {what}s repeat value(s) {list(index[index.duplicated()].unique()[:5])}")
            try:
                used = np.bincount(codes, minlength=len(index))
            except ValueError:  # a negative code
                used = None
            if used is None or len(used) > len(index):
                row = int(np.flatnonzero((codes < 0) | (codes >= len(index)))[0])
                raise ValueError(f"answers' {what} code in row {row} is {codes[row]}, outside 0..{len(index) - 1} (the {what}s index)")
            uses[what] = used
        return uses

    def _narrowed(self) -> Answers:
        """These answers, checked, with 32-bit codes (copies only where the codes are wider)."""
        if all(getattr(self, what).dtype == CODE for what in COLUMNS):
            return replace(self, _canonical=True)
        return replace(self, _canonical=True, **{what: getattr(self, what).astype(CODE) for what in COLUMNS})

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
        tasks=coded["task"][1], workers=coded["worker"][1], labels=coded["label"][1], _canonical=True,
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
    if len(uniques) > CODE_LIMIT:
        raise ValueError(f"{len(uniques)} distinct {column} values: more than 32-bit codes hold")
    return codes.astype(CODE), pd.Index(uniques, name=column)


class Tally:
    """The distinct (task, worker, label) triples of some answers, each with how often it was
    given, as sparse count matrices over worker-label pairs (column or row ``w * labels + l``):

    - ``by_task`` (tasks x pairs): what E-steps multiply by per-pair log-likelihoods;
    - ``by_pair`` (pairs x tasks, made on first use): what the reference M-step multiplies
      by posteriors.

    Indices ascend within each row. Built once per fit: by the numba kernel when there is one
    (a counting sort), else by numpy (a sort of the triples' keys).
    """

    def __init__(self, answers: Answers, fast: ModuleType | None) -> None:
        n_tasks, n_workers, n_labels = answers.shape
        self.n_labels = n_labels
        self.n_workers = n_workers
        if fast is not None:
            indptr, indices, data = fast.tally(answers.task, answers.worker, answers.label, n_tasks, n_labels)
        else:
            indptr, indices, data = _tally(answers)
        self.by_task = sp.csr_matrix((data, indices, indptr), shape=(n_tasks, n_workers * n_labels))
        # Whether some worker gave a task the same label twice (else every count is 1).
        self.repeated = len(indices) < answers.n_rows
        self.fast = fast

    @cached_property
    def by_pair(self) -> sp.csr_matrix:
        by_task = self.by_task
        if self.fast is None:
            return by_task.T.tocsr()
        indptr, indices, data = self.fast.transpose(by_task.indptr, by_task.indices, self.counts_of(by_task), by_task.shape[1])
        return sp.csr_matrix((data, indices, indptr), shape=by_task.shape[::-1])

    def counts_of(self, matrix: sp.csr_matrix) -> np.ndarray:
        """The counts of `by_task` or `by_pair` as kernels take them: empty when all are 1
        (they then skip reading them)."""
        return matrix.data if self.repeated else np.empty(0)

    @cached_property
    def observed(self) -> np.ndarray:
        """``observed[w, l]``: worker w gave label l at least once."""
        return (np.diff(self.by_pair.indptr) > 0).reshape(self.n_workers, self.n_labels)

    def accuracy(self, truth: np.ndarray) -> np.ndarray:
        """Per worker, the share of their answers equal to `truth` (a label code per task), as
        crowd-kit's ``get_accuracy``: repeated identical answers (same task, worker, label)
        count once."""
        by_task = self.by_task
        if self.fast is not None:
            count = self.fast.for_labels(self.n_labels).hits
            hits, given = count(by_task.indptr, by_task.indices, truth.astype(CODE, copy=False), self.n_workers)
        else:
            tasks, workers, labels, given = self._triples
            hits = np.bincount(workers[labels == truth[tasks]], minlength=self.n_workers)
        with np.errstate(invalid="ignore", divide="ignore"):
            return hits / given

    @cached_property
    def _triples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(task, worker, label) of each distinct triple and the number per worker, for the
        numpy reference of `accuracy` (Zero-Based Skill calls it at every step)."""
        by_task = self.by_task
        tasks = np.repeat(np.arange(by_task.shape[0], dtype=CODE), np.diff(by_task.indptr))
        workers, labels = np.divmod(by_task.indices, CODE(self.n_labels))
        return tasks, workers, labels, np.bincount(workers, minlength=self.n_workers)


def _tally(answers: Answers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, counts) of the tasks x pairs count matrix, by sorting the triples'
    keys ``task * pairs + pair`` (the numpy reference of ``kernels.tally``)."""
    n_tasks, n_workers, n_labels = answers.shape
    n_pairs = n_workers * n_labels
    pair = answers.worker.astype(np.int64) * n_labels + answers.label
    keys, counts = np.unique(answers.task.astype(np.int64) * n_pairs + pair, return_counts=True)
    tasks, pairs = np.divmod(keys, n_pairs)
    indptr = np.zeros(n_tasks + 1, dtype=np.int64)
    np.cumsum(np.bincount(tasks, minlength=n_tasks), out=indptr[1:])
    return indptr, pairs.astype(CODE), counts.astype(float)


def most_probable(probas: np.ndarray) -> np.ndarray:
    """Per row, the column of the largest value; ties go to the first (sorted) label. One pass
    per column (``np.argmax(axis=1)`` works row by row, several times slower on a few labels)."""
    best = probas[:, 0].copy()
    choice = np.zeros(len(probas), dtype=np.intp)
    for column in range(1, probas.shape[1]):
        better = probas[:, column] > best
        choice[better] = column
        np.maximum(best, probas[:, column], out=best)
    return choice


def normalize_rows(scores: np.ndarray) -> np.ndarray:
    """Rows scaled to sum to one (in place)."""
    scores /= row_sums(scores)[:, None]
    return scores


def row_sums(values: np.ndarray) -> np.ndarray:
    """Sums of the rows of a (rows, labels) array, left to right. One pass per column:
    numpy's ``sum(axis=1)`` reduces each row of a few labels on its own, several times slower."""
    total = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        total += values[:, column]
    return total


def row_max(values: np.ndarray) -> np.ndarray:
    """Largest value of each row of a (rows, labels) array, one pass per column (see
    `row_sums`)."""
    top = values[:, 0].copy()
    for column in range(1, values.shape[1]):
        np.maximum(top, values[:, column], out=top)
    return top


class ClassificationAggregator(ABC):
    """Base of categorical aggregators, with crowd-kit's API: `fit`, `fit_predict`,
    `fit_predict_proba`, and `fit_answers` on integer-coded `Answers`; after fitting,
    `labels_` (Series by task) and, where the method has them, `probas_` (DataFrame task x
    label)."""

    # The method's name in `crowdnb.aggregation.methods.METHODS` (e.g. "dawid-skene").
    name: ClassVar[str]
    labels_: pd.Series
    probas_: pd.DataFrame

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"

    def fit(self, data: pd.DataFrame) -> Self:
        """Fit to answers with columns ``task, worker, label``."""
        return self.fit_answers(encode(data))

    @abstractmethod
    def fit_answers(self, answers: Answers) -> Self:
        """Fit to integer-coded answers (as `encode` makes them; see `Answers.checked`)."""

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
    return pd.DataFrame(probas, index=answers.tasks.rename("task"), columns=answers.labels.rename("label"), copy=False)


def labels_series(answers: Answers, codes: np.ndarray) -> pd.Series:
    """Label codes as a Series of label values indexed by task (named like crowd-kit's)."""
    return pd.Series(answers.labels.take(codes), index=answers.tasks.rename("task"), name="agg_label")


def worker_series(answers: Answers, values: np.ndarray, name: str) -> pd.Series:
    """Per-worker values as a Series indexed by worker."""
    return pd.Series(values, index=answers.workers.rename("worker"), name=name)


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
