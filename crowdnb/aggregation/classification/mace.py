"""MACE: Multi-Annotator Competence Estimation (Hovy et al., 2013)."""

from __future__ import annotations

from typing import ClassVar, Literal, Self

import numpy as np
import scipy.stats as sps
from scipy.special import digamma

from crowdnb.aggregation.base import Answers, ClassificationAggregator, worker_series


class MACE(ClassificationAggregator):
    """Each worker either knows the answer (and gives it) or spams, drawing from their own
    label distribution. Fitted by EM (``method="em"``, with smoothing) or variational Bayes
    (``"vb"``, Beta and Dirichlet priors), keeping the best of `n_restarts` runs.

    Restart r starts from random parameters drawn with seed ``random_state + r``; the first
    restart is crowd-kit's start (crowd-kit 1.4.2 redraws that same start on every restart).
    Workers and labels are taken in sorted order; crowd-kit takes them in order of first
    appearance, and mixes up the two orders in its M-step unless they agree, so results agree
    with crowd-kit on data whose workers and labels first appear in sorted order.

    Fitted attributes: ``labels_``, ``probas_``, ``spamming_`` (per worker: P(spam),
    P(knows)), ``thetas_`` (per worker: spam label distribution), ``skills_`` (P(knows), by
    worker), ``log_marginal_likelihood_``.
    """

    name: ClassVar[str] = "mace"

    def __init__(
        self,
        n_restarts: int = 10,
        n_iter: int = 50,
        method: Literal["vb", "em"] = "vb",
        smoothing: float = 0.1,
        default_noise: float = 0.5,
        alpha: float = 0.5,
        beta: float = 0.5,
        random_state: int = 0,
    ) -> None:
        self.n_restarts = n_restarts
        self.n_iter = n_iter
        self.method = method
        self.smoothing = smoothing
        self.default_noise = default_noise
        self.alpha = alpha
        self.beta = beta
        self.random_state = random_state

    def fit_answers(self, answers: Answers) -> Self:
        if self.method not in ("vb", "em"):
            raise ValueError(f"method must be 'vb' or 'em', got {self.method!r}")
        answers = answers.checked()
        best: tuple[float, np.ndarray, np.ndarray] | None = None
        for restart in range(self.n_restarts):
            spamming, thetas = self._start(answers, self.random_state + restart)
            likelihood, *counts = _e_step(answers, spamming, thetas)
            for _ in range(self.n_iter):
                spamming, thetas = self._m_step(answers, *counts)
                likelihood, *counts = _e_step(answers, spamming, thetas)
            if best is None or likelihood > best[0]:
                best = (likelihood, spamming, thetas)
        assert best is not None, "n_restarts must be at least 1"
        self.log_marginal_likelihood_, self.spamming_, self.thetas_ = best
        marginals = _gold_marginals(answers, self.spamming_, self.thetas_)
        self._set_results(answers, marginals / marginals.sum(axis=1, keepdims=True))
        self.skills_ = worker_series(answers, self.spamming_[:, 1], "skill")
        return self

    def _start(self, answers: Answers, seed: int) -> tuple[np.ndarray, np.ndarray]:
        _, n_workers, n_labels = answers.shape
        draw = sps.uniform(1, 1 + self.default_noise)
        spamming = draw.rvs(size=(n_workers, 2), random_state=seed)
        thetas = draw.rvs(size=(n_workers, n_labels), random_state=seed)
        return spamming / spamming.sum(axis=1, keepdims=True), thetas / thetas.sum(axis=1, keepdims=True)

    def _m_step(self, answers: Answers, knowing: np.ndarray, strategy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.method == "em":
            smoothing = 0.01 / len(answers.labels)
            return _normalize(knowing, smoothing), _normalize(strategy, smoothing)
        theta_priors = np.array([self.alpha, self.beta])
        return _variational_normalize(knowing, theta_priors), _variational_normalize(strategy, 10.0)


def _gold_marginals(answers: Answers, spamming: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """P(answers of task t, true label k), up to the uniform prior, computed in log space."""
    a = answers
    n_tasks, _, n_labels = a.shape
    spam = spamming[a.worker, 0] * thetas[a.worker, a.label]
    knows = spamming[a.worker, 1]
    log_other = np.bincount(a.task, np.log(spam), n_tasks)
    log_own = np.log(spam + knows) - np.log(spam)
    scores = log_other[:, None] + np.bincount(a.task_label, log_own, n_tasks * n_labels).reshape(n_tasks, n_labels)
    return np.exp(scores) / n_labels


def _e_step(answers: Answers, spamming: np.ndarray, thetas: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(log marginal likelihood, expected knowing counts (workers x 2), expected strategy
    counts (workers x labels))."""
    a = answers
    _, n_workers, n_labels = a.shape
    gold = _gold_marginals(a, spamming, thetas)
    instance = gold.sum(axis=1)
    likelihood = float(np.log(instance + 1e-8).sum())
    spam = spamming[a.worker, 0] * thetas[a.worker, a.label]
    knows = spamming[a.worker, 1]
    # Posterior that the worker spammed on this answer: summed over true labels.
    row_gold = gold[a.task]
    spam_share = (row_gold / spam[:, None]).sum(axis=1) - row_gold[np.arange(a.n_rows), a.label] / spam
    spam_share += row_gold[np.arange(a.n_rows), a.label] / (spam + knows)
    strategy_rows = spam_share * spam / instance[a.task]
    knowing_rows = gold[a.task, a.label] * knows / (spam + knows) / instance[a.task]
    strategy = np.bincount(a.worker * n_labels + a.label, strategy_rows, n_workers * n_labels).reshape(n_workers, n_labels)
    knowing = np.stack([np.bincount(a.worker, strategy_rows, n_workers), np.bincount(a.worker, knowing_rows, n_workers)], axis=1)
    return likelihood, knowing, strategy


def _normalize(x: np.ndarray, smoothing: float) -> np.ndarray:
    total = (x + smoothing).sum(axis=1, keepdims=True)
    return np.divide(x + smoothing, total, out=np.zeros_like(x), where=~np.isclose(total, 0))


def _variational_normalize(x: np.ndarray, priors: np.ndarray | float) -> np.ndarray:
    shifted = x + priors
    total = np.exp(digamma(shifted.sum(axis=1, keepdims=True)))
    return np.divide(np.exp(digamma(shifted)), total, out=np.zeros_like(x), where=~np.isclose(total, 0))
