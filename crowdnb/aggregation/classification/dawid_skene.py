"""Dawid-Skene: per-worker confusion matrices fitted by EM; and its one-coin variant.

Each step has a numpy reference here and a numba kernel in `crowdnb.aggregation.kernels` (used
when numba imports); both give the same posteriors within 1e-9 and the same labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from crowdnb.aggregation.base import (
    CODE,
    Answers,
    ClassificationAggregator,
    Tally,
    encode,
    kernels,
    normalize_rows,
    row_max,
    row_sums,
    worker_series,
)
from crowdnb.aggregation.classification.majority_vote import weighted_vote

EPS = 1e-10

Gold = tuple[np.ndarray, np.ndarray]


class DawidSkene(ClassificationAggregator):
    """Dawid & Skene (1979): each worker has a confusion matrix ``errors[w][observed, true]``,
    fitted with the true labels' posteriors by expectation-maximization.

    EM starts from the majority-vote shares (as crowd-kit does), then alternates E-steps (task
    posteriors from priors and confusion matrices) and M-steps (priors and confusion matrices from
    posteriors; entries clipped at 1e-10 before normalizing, as crowd-kit does).

    Parameters
    ----------
    n_iter
        The most EM iterations to run.
    tol
        Stopping rule: stop after the iteration in which no task posterior moved by `tol` or
        more (the largest absolute change); ``tol=0`` runs all `n_iter` iterations. crowd-kit
        stops when the gain of its loss is below `tol` (default 1e-5); that loss counts the
        label prior once per answer rather than once per task, is not monotone, and dips on the
        1979 data after 4 iterations, far from the fixed point (even with ``tol=0``). This rule
        with the default 1e-8 reaches the fixed point there in 20 iterations.

    Fitted attributes: ``labels_``, ``probas_``, ``priors_`` (by label), ``errors_`` (rows
    (worker, observed label), columns true label), ``loss_history_`` (the evidence lower bound
    per answer after each iteration), ``n_iter_`` (iterations run).
    """

    name: ClassVar[str] = "dawid-skene"

    def __init__(self, n_iter: int = 100, tol: float = 1e-8) -> None:
        self.n_iter = n_iter
        self.tol = tol

    def fit(self, data: pd.DataFrame, true_labels: pd.Series | None = None) -> Self:
        """Fit to answers; `true_labels` (known answers, by task) are held fixed at every step."""
        answers = encode(data)
        return self.fit_answers(answers, gold=gold_codes(answers, true_labels))

    def fit_answers(self, answers: Answers, gold: Gold | None = None) -> Self:
        """Fit to integer-coded answers; `gold` (task codes, label codes) are known answers,
        held fixed at every step."""
        answers = answers.checked()
        fast = kernels(answers.n_rows)
        model = _Model(answers, Tally(answers, fast), _known(answers, gold), fast)
        probas = _fix(weighted_vote(answers, None, fast), model.known)
        priors = probas.mean(axis=0)
        errors, log_errors, skills = self._m_step(model, model.expected_counts(probas))
        self.loss_history_: list[float] = []
        self.n_iter_ = 0
        entropy = 0.0
        for _ in range(self.n_iter):
            step = model.e_step(log_errors, priors, probas, with_delta=self.tol > 0)
            if self.n_iter_:
                self.loss_history_.append((step.expected + entropy) / answers.n_rows)
            probas, priors, entropy = step.probas, step.priors, step.entropy
            errors, log_errors, skills = self._m_step(model, step.counts)
            self.n_iter_ += 1
            if step.delta < self.tol:
                break
        if self.n_iter_:
            # The lower bound of the last iteration: its posteriors under its parameters.
            self.loss_history_.append((model.expected(log_errors, priors, probas) + entropy) / answers.n_rows)
        self._set_results(answers, probas)
        self.priors_ = pd.Series(priors, index=answers.labels.rename("label"), name="prior")
        self.errors_ = _errors_frame(answers, model.tally, errors)
        if skills is not None:
            self.skills_ = worker_series(answers, skills, "skill")
        return self

    def _m_step(self, model: _Model, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(errors, their logs as a (workers * labels, labels) array, skills per worker or
        None) from the expected answer counts."""
        return *model.confusion(counts), None


class OneCoinDawidSkene(DawidSkene):
    """Dawid-Skene with one skill per worker: right with probability ``s``, otherwise any
    other label with equal probability (Zhang et al., 2014). The skill is the worker's mean
    posterior probability of the labels they gave.

    Fitted attributes as `DawidSkene`, plus ``skills_`` (by worker).
    """

    name: ClassVar[str] = "one-coin-dawid-skene"

    def fit(self, data: pd.DataFrame) -> Self:  # type: ignore[override]
        return self.fit_answers(encode(data))

    def fit_answers(self, answers: Answers) -> Self:  # type: ignore[override]
        return super().fit_answers(answers)

    def _m_step(self, model: _Model, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        skills, errors, log_errors = model.one_coin(counts)
        return errors, log_errors, skills


@dataclass(frozen=True)
class _Step:
    """One E-step: new posteriors, their means per label (the next priors), their entropy
    (clipped at 1e-10, as the lower bound has it) and their expected answer counts (pairs x
    true labels); the expected complete-data log-likelihood of the previous posteriors under
    the parameters this step used; the largest change of any posterior."""

    probas: np.ndarray
    priors: np.ndarray
    entropy: float
    counts: np.ndarray
    expected: float
    delta: float


class _Model:
    """The E- and M-steps of (one-coin) Dawid-Skene on one tally: numba kernels (compiled for
    this number of labels) when `fast` is given, else numpy (the reference).

    Steps write into arrays allocated once per fit (posteriors alternate between two): at 10
    million answers a fresh 40 MB array per step costs more than the step's arithmetic, since
    every page of new memory is a page fault.
    """

    def __init__(self, answers: Answers, tally: Tally, known: np.ndarray, fast: ModuleType | None) -> None:
        n_tasks, n_workers, n_labels = answers.shape
        self.answers = answers
        self.tally = tally
        self.known = known
        self.kernels = None if fast is None else fast.for_labels(n_labels)
        self._posteriors = (np.empty((n_tasks, n_labels)), np.empty((n_tasks, n_labels)))
        self._scratch = np.empty((n_tasks, n_labels))
        self._counts = None if fast is None else np.empty((n_workers * n_labels, n_labels))
        self._propagated: np.ndarray | None = None  # the posteriors `_counts` sums (kernels)
        self._moved = None if fast is None else np.zeros(n_tasks, dtype=np.bool_)
        self._errors = np.empty((n_workers, n_labels, n_labels))
        self._log_errors = np.zeros((n_workers * n_labels, n_labels))  # 0 where never given, kept

    @cached_property
    def answered(self) -> np.ndarray:
        """Per worker, how many answers they gave (repeats included)."""
        return np.bincount(self.answers.worker, minlength=self.tally.n_workers).astype(float)

    def expected_counts(self, probas: np.ndarray, moved: int | None = None) -> np.ndarray:
        """Per worker-label pair and true label, the expected number of answers given the
        posteriors: the pairs x tasks count matrix times `probas`.

        The kernels keep the counts of the last call, and when told how many tasks `moved`
        (marked by their E-step) add only those tasks' change; after a few iterations that
        is a few percent of the tasks (see `kernels.PROPAGATE_ABOVE`). With no count, or more
        than a fifth moved, they sum afresh."""
        p = self.tally.by_pair
        if self.kernels is None:
            return np.asarray(p @ probas)
        if moved is not None and moved <= len(probas) // 5:
            t = self.tally.by_task
            self.kernels.propagate(t.indptr, t.indices, self.tally.counts_of(t), probas, self._propagated, self._counts, self._moved)
            return self._counts
        self.kernels.expected_counts(p.indptr, p.indices, self.tally.counts_of(p), probas, self._counts)
        if self._propagated is None:
            self._propagated = np.empty_like(probas)
        np.copyto(self._propagated, probas)
        return self._counts

    def e_step(self, log_errors: np.ndarray, priors: np.ndarray, previous: np.ndarray, with_delta: bool) -> _Step:
        """Posteriors from the answers' log-likelihoods and the priors (clipped at 1e-10); the
        largest change is measured `with_delta` (else 0)."""
        log_priors = np.log(np.maximum(priors, EPS))
        probas = self._posteriors[1] if previous is self._posteriors[0] else self._posteriors[0]
        if self.kernels is not None:
            t = self.tally.by_task
            shifted, none = self._scratch, np.empty((0, probas.shape[1]))
            expected = self.kernels.scores(t.indptr, t.indices, self.tally.counts_of(t), log_errors, log_priors, previous, shifted)
            np.exp(shifted, out=probas)
            follow = none if self._propagated is None else self._propagated
            sums = self.kernels.posteriors(shifted, probas, self.known, previous if with_delta else none, follow, self._moved)
            n_labels = probas.shape[1]
            priors, entropy, delta = sums[:n_labels] / len(probas), sums[n_labels], sums[n_labels + 1]
            moved = None if self._propagated is None else int(sums[n_labels + 2])
            return _Step(probas, priors, entropy, self.expected_counts(probas, moved), expected, delta)
        scores = self._scores(log_errors, log_priors)
        expected = float(np.vdot(previous, scores))
        scores -= row_max(scores)[:, None]
        normalize_rows(np.exp(scores, out=probas))
        _fix(probas, self.known)
        clipped = np.maximum(probas, EPS, out=scores)
        entropy = -float(np.vdot(clipped, np.log(clipped, out=self._scratch)))
        delta = float(np.abs(np.subtract(probas, previous, out=scores)).max(initial=0.0)) if with_delta else 0.0
        return _Step(probas, probas.mean(axis=0), entropy, self.expected_counts(probas), expected, delta)

    def expected(self, log_errors: np.ndarray, priors: np.ndarray, probas: np.ndarray) -> float:
        """The expected complete-data log-likelihood of `probas`."""
        log_priors = np.log(np.maximum(priors, EPS))
        if self.kernels is not None:
            t = self.tally.by_task
            return self.kernels.scores(t.indptr, t.indices, self.tally.counts_of(t), log_errors, log_priors, probas, self._scratch)
        return float(np.vdot(probas, self._scores(log_errors, log_priors)))

    def _scores(self, log_errors: np.ndarray, log_priors: np.ndarray) -> np.ndarray:
        """Per task and true label: the log-likelihood of the task's answers plus the log-prior."""
        scores = self.tally.by_task @ log_errors
        scores += log_priors
        return scores

    def confusion(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """M-step: ``errors[w, observed, true]``, each worker's expected answer counts clipped
        at 1e-10 where the worker gave that label, normalized over observed labels; and their
        logs."""
        errors, observed = self._errors, self.tally.observed
        if self.kernels is not None:
            self.kernels.confusion(counts, observed.ravel(), errors)
            return errors, self._log(errors)
        np.maximum(counts.reshape(errors.shape), EPS, out=errors)
        errors *= observed[:, :, None]
        errors /= errors.sum(axis=1, keepdims=True)
        return errors, self._log(errors)

    def one_coin(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One-coin M-step: (skills, errors, their logs). A worker's skill is the mean posterior
        of the labels they gave; errors are ``s`` on the diagonal and ``(1 - s) / (labels - 1)``
        elsewhere, clipped to [1e-10, 1 - 1e-10], zero where the worker never gave the label."""
        errors, observed = self._errors, self.tally.observed
        if self.kernels is not None:
            skills = self.kernels.one_coin(counts, observed.ravel(), self.answered, errors)
            return skills, errors, self._log(errors)
        n_labels = errors.shape[1]
        diagonal = np.arange(n_labels)
        skills = row_sums(counts.reshape(errors.shape)[:, diagonal, diagonal]) / self.answered
        errors[:] = ((1 - skills) / max(n_labels - 1, 1))[:, None, None]
        errors[:, diagonal, diagonal] = skills[:, None]
        np.clip(errors, EPS, 1 - EPS, out=errors)
        errors *= observed[:, :, None]
        return skills, errors, self._log(errors)

    def _log(self, errors: np.ndarray) -> np.ndarray:
        """Natural logs of confusion matrices as a (workers * labels, labels) array; 0 where a
        worker never gave the label (never used)."""
        np.log(errors.reshape(self._log_errors.shape), out=self._log_errors, where=self._observed_cells)
        return self._log_errors

    @cached_property
    def _observed_cells(self) -> np.ndarray:
        """`Tally.observed` per cell of the logs (numpy's ``where`` is faster on a full mask)."""
        return np.repeat(self.tally.observed.reshape(-1, 1), self.tally.n_labels, axis=1)


def gold_codes(answers: Answers, true_labels: pd.Series | None) -> Gold | None:
    """(task codes, label codes) of known answers (by task value) for tasks in the data; a
    ValueError names missing values and labels no worker gave."""
    if true_labels is None:
        return None
    if true_labels.isna().any():
        raise ValueError(f"true_labels is missing (NaN/None) for task(s) {list(true_labels.index[true_labels.isna()])[:5]}")
    tasks = answers.code_tasks(true_labels.index)
    present = tasks >= 0
    labels = answers.code_labels(true_labels[present], "true_labels")
    return tasks[present], labels


def _known(answers: Answers, gold: Gold | None) -> np.ndarray:
    """Per task, the code of its known label (-1: none); a ValueError names bad gold codes."""
    n_tasks, _, n_labels = answers.shape
    known = np.full(n_tasks, -1, dtype=CODE)
    if gold is None:
        return known
    tasks, labels = (np.asarray(codes) for codes in gold)
    if tasks.shape != labels.shape or tasks.ndim != 1:
        raise ValueError(f"gold must be two 1-D code arrays of one length, got shapes {tasks.shape} and {labels.shape}")
    for what, codes, size in (("task", tasks, n_tasks), ("label", labels, n_labels)):
        if not np.issubdtype(codes.dtype, np.integer) and len(codes):
            raise ValueError(f"gold {what} codes must be integers, got {codes.dtype}")
        bad = (codes < 0) | (codes >= size)
        if bad.any():
            raise ValueError(f"gold {what} code {codes[bad][0]} is outside 0..{size - 1}")
    known[tasks] = labels
    if (known[tasks] != labels).any():
        task = tasks[np.flatnonzero(known[tasks] != labels)[0]]
        raise ValueError(f"gold gives task {answers.tasks[task]!r} two different labels")
    return known


def _fix(probas: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Posteriors with known answers set to certainty (in place)."""
    tasks = np.flatnonzero(known >= 0)
    if len(tasks):
        probas[tasks] = 0.0
        probas[tasks, known[tasks]] = 1.0
    return probas


def _errors_frame(answers: Answers, tally: Tally, errors: np.ndarray) -> pd.DataFrame:
    """Confusion matrices as crowd-kit lays them out: rows (worker, observed label) for the
    labels each worker gave, one column per true label."""
    _, n_workers, n_labels = answers.shape
    index = pd.MultiIndex.from_product([answers.workers, answers.labels], names=["worker", "label"])
    frame = pd.DataFrame(errors.reshape(n_workers * n_labels, n_labels), index=index, columns=answers.labels.rename("label"))
    return frame[tally.observed.ravel()]
