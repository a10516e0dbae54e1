"""Dawid-Skene: per-worker confusion matrices fitted by EM; and its one-coin variant."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crowdnb.aggregation.base import Answers, ClassificationAggregator, encode, worker_series
from crowdnb.aggregation.classification.majority_vote import weighted_vote

EPS = 1e-10


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
        gold = _gold(answers, true_labels)
        counts = answers.task_by_pair()
        by_pair = counts.T.tocsr()
        observed = _observed_pairs(answers)
        probas = _fix(weighted_vote(answers), gold)
        priors, errors = probas.mean(axis=0), self._m_step(answers, by_pair, observed, probas)
        # Per task and true label: the log-likelihood of the task's answers. Computed once per
        # iteration, it serves the lower bound of this iteration and the next E-step.
        scores = counts @ _log(errors).reshape(-1, len(priors))
        self.loss_history_: list[float] = []
        self.n_iter_ = 0
        for _ in range(self.n_iter):
            previous = probas
            probas = _fix(_e_step(scores, priors), gold)
            priors, errors = probas.mean(axis=0), self._m_step(answers, by_pair, observed, probas)
            scores = counts @ _log(errors).reshape(-1, len(priors))
            self.loss_history_.append(_lower_bound(answers, scores, probas, priors))
            self.n_iter_ += 1
            if np.abs(probas - previous).max(initial=0.0) < self.tol:
                break
        self._set_results(answers, probas)
        self.priors_ = pd.Series(priors, index=answers.labels, name="prior")
        self.errors_ = _errors_frame(answers, errors)
        return self

    def _m_step(
        self, answers: Answers, by_pair: sp.csr_matrix, observed: np.ndarray, probas: np.ndarray
    ) -> np.ndarray:
        return confusion_matrices(answers, by_pair, observed, probas)


class OneCoinDawidSkene(DawidSkene):
    """Dawid-Skene with one skill per worker: right with probability ``s``, otherwise any
    other label with equal probability (Zhang et al., 2014). The skill is the worker's mean
    posterior probability of the labels they gave.

    Fitted attributes as `DawidSkene`, plus ``skills_`` (by worker).
    """

    name: ClassVar[str] = "one-coin-dawid-skene"

    def fit(self, data: pd.DataFrame) -> Self:  # type: ignore[override]
        super().fit(data)
        return self

    def _m_step(
        self, answers: Answers, by_pair: sp.csr_matrix, observed: np.ndarray, probas: np.ndarray
    ) -> np.ndarray:
        _, n_workers, n_labels = answers.shape
        given = probas[answers.task, answers.label]
        skills = np.bincount(answers.worker, given, n_workers) / np.bincount(answers.worker, None, n_workers)
        self.skills_ = worker_series(answers, skills, "skill")
        wrong = (1 - skills) / max(n_labels - 1, 1)
        errors = np.repeat(wrong[:, None, None], n_labels, axis=1).repeat(n_labels, axis=2)
        diagonal = np.arange(n_labels)
        errors[:, diagonal, diagonal] = skills[:, None]
        errors = np.clip(errors, EPS, 1 - EPS)
        return np.where(observed[:, :, None], errors, 0.0)


def confusion_matrices(
    answers: Answers, by_pair: sp.csr_matrix, observed: np.ndarray, probas: np.ndarray
) -> np.ndarray:
    """M-step: ``errors[w, observed, true]``, each worker's expected answer counts given the
    posteriors (`by_pair`: the (workers*labels, tasks) count matrix), clipped at 1e-10 where
    the worker gave that label, normalized over observed labels."""
    _, n_workers, n_labels = answers.shape
    expected = np.asarray(by_pair @ probas).reshape(n_workers, n_labels, n_labels)
    expected = np.where(observed[:, :, None], np.maximum(expected, EPS), 0.0)
    return expected / expected.sum(axis=1, keepdims=True)


def _log(errors: np.ndarray) -> np.ndarray:
    """Natural log of confusion matrices; 0 where a worker never gave the label (never used)."""
    return np.log(np.where(errors > 0, errors, 1.0))


def _e_step(scores: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Task posteriors from the answers' log-likelihoods and the priors (clipped at 1e-10)."""
    shifted = scores + np.log(np.maximum(priors, EPS))
    shifted -= shifted.max(axis=1, keepdims=True)
    likelihood = np.exp(shifted)
    return likelihood / likelihood.sum(axis=1, keepdims=True)


def _lower_bound(answers: Answers, scores: np.ndarray, probas: np.ndarray, priors: np.ndarray) -> float:
    """Evidence lower bound per answer: expected complete-data log-likelihood plus the entropy
    of the posteriors."""
    expected = (probas * scores).sum() + (probas @ np.log(np.maximum(priors, EPS))).sum()
    clipped = np.maximum(probas, EPS)
    entropy = -(clipped * np.log(clipped)).sum()
    return float((expected + entropy) / answers.n_rows)


def _observed_pairs(answers: Answers) -> np.ndarray:
    """``observed[w, l]``: worker w gave label l at least once."""
    _, n_workers, n_labels = answers.shape
    seen = np.zeros(n_workers * n_labels, dtype=bool)
    seen[answers.worker * n_labels + answers.label] = True
    return seen.reshape(n_workers, n_labels)


def _gold(answers: Answers, true_labels: pd.Series | None) -> tuple[np.ndarray, np.ndarray]:
    """(task codes, label codes) of known answers for tasks in the data."""
    if true_labels is None:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if true_labels.isna().any():
        raise ValueError(f"true_labels is missing (NaN/None) for task(s) {list(true_labels.index[true_labels.isna()])[:5]}")
    tasks = answers.code_tasks(true_labels.index)
    present = tasks >= 0
    labels = answers.code_labels(true_labels[present], "true_labels")
    return tasks[present], labels


def _fix(probas: np.ndarray, gold: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Posteriors with known answers set to certainty."""
    tasks, labels = gold
    if len(tasks):
        probas[tasks] = 0.0
        probas[tasks, labels] = 1.0
    return probas


def _errors_frame(answers: Answers, errors: np.ndarray) -> pd.DataFrame:
    """Confusion matrices as crowd-kit lays them out: rows (worker, observed label) for the
    labels each worker gave, one column per true label."""
    _, n_workers, n_labels = answers.shape
    observed = _observed_pairs(answers).ravel()
    index = pd.MultiIndex.from_product([answers.workers, answers.labels], names=["worker", "label"])
    frame = pd.DataFrame(errors.reshape(n_workers * n_labels, n_labels), index=index, columns=answers.labels)
    return frame[observed]
