"""GLAD: worker abilities and task difficulties (Whitehill et al., 2009)."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from crowdnb.aggregation.base import Answers, ClassificationAggregator, worker_series

LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


class GLAD(ClassificationAggregator):
    """A worker with ability ``alpha`` answers a task with inverse difficulty ``exp(beta)``
    correctly with probability ``sigmoid(alpha * exp(beta))``, otherwise with any other label.

    EM as in crowd-kit: E-step for the posteriors, M-step by conjugate gradients on alphas and
    betas (with standard-normal priors around their prior means); label priors stay fixed.

    Parameters
    ----------
    n_iter, tol
        At most `n_iter` EM iterations; stop when the per-answer objective gains less than `tol`.
    labels_priors
        Prior label probabilities (by label); uniform by default.
    alphas_priors_mean, betas_priors_mean
        Prior means of alphas (by worker) and betas (by task); 1 by default.
    m_step_max_iter, m_step_tol
        Conjugate-gradient budget of each M-step.

    Fitted attributes: ``labels_``, ``probas_``, ``alphas_``, ``betas_``, ``priors_``,
    ``loss_history_``.
    """

    name: ClassVar[str] = "glad"

    def __init__(
        self,
        n_iter: int = 100,
        tol: float = 1e-5,
        labels_priors: pd.Series | None = None,
        alphas_priors_mean: pd.Series | None = None,
        betas_priors_mean: pd.Series | None = None,
        m_step_max_iter: int = 25,
        m_step_tol: float = 1e-2,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.labels_priors = labels_priors
        self.alphas_priors_mean = alphas_priors_mean
        self.betas_priors_mean = betas_priors_mean
        self.m_step_max_iter = m_step_max_iter
        self.m_step_tol = m_step_tol

    def fit_answers(self, answers: Answers) -> Self:
        answers = answers.checked()
        model = _Model(answers, self._priors(answers), *self._prior_means(answers))
        alphas, betas = np.ones(len(answers.workers)), np.ones(len(answers.tasks))
        probas = model.posteriors(alphas, betas)
        loss = model.objective(alphas, betas, probas)
        self.loss_history_: list[float] = []
        for _ in range(self.n_iter):
            previous = loss
            probas = model.posteriors(alphas, betas)
            alphas, betas = self._m_step(model, alphas, betas, probas)
            loss = model.objective(alphas, betas, probas) / (answers.n_rows * len(answers.labels))
            self.loss_history_.append(loss)
            if loss - previous < self.tol:
                break
        self._set_results(answers, probas)
        self.alphas_ = worker_series(answers, alphas, "alpha")
        self.betas_ = pd.Series(betas, index=answers.tasks.rename("task"), name="beta")
        self.priors_ = pd.Series(model.priors, index=answers.labels.rename("label"), name="prior")
        return self

    def _m_step(
        self, model: _Model, alphas: np.ndarray, betas: np.ndarray, probas: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        n_workers = len(alphas)
        result = minimize(
            lambda x: -model.objective(x[:n_workers], x[n_workers:], probas),
            np.concatenate([alphas, betas]),
            jac=lambda x: -np.concatenate(model.gradient(x[:n_workers], x[n_workers:], probas)),
            method="CG",
            tol=self.m_step_tol,
            options={"maxiter": self.m_step_max_iter},
        )
        return result.x[:n_workers], result.x[n_workers:]

    def _priors(self, answers: Answers) -> np.ndarray:
        n_labels = len(answers.labels)
        if self.labels_priors is None:
            return np.full(n_labels, 1 / n_labels)
        unknown = answers.labels.difference(self.labels_priors.index)
        if len(unknown):
            raise ValueError(f"labels_priors has no prior for label value(s) {list(unknown)[:5]}")
        return self.labels_priors.reindex(answers.labels).to_numpy(dtype=float)

    def _prior_means(self, answers: Answers) -> tuple[np.ndarray, np.ndarray]:
        def means(given: pd.Series | None, index: pd.Index, what: str) -> np.ndarray:
            if given is None:
                return np.ones(len(index))
            values = given.reindex(index).to_numpy(dtype=float)
            if np.isnan(values).any():
                raise ValueError(f"{what} lacks a value for {list(index[np.isnan(values)])[:5]}")
            return values

        return (
            means(self.alphas_priors_mean, answers.workers, "alphas_priors_mean"),
            means(self.betas_priors_mean, answers.tasks, "betas_priors_mean"),
        )


class _Model:
    """GLAD's likelihood on coded answers, vectorized over rows."""

    def __init__(self, answers: Answers, priors: np.ndarray, alpha_means: np.ndarray, beta_means: np.ndarray) -> None:
        self.answers = answers
        self.priors = priors
        self.alpha_means = alpha_means
        self.beta_means = beta_means
        self.log_other = np.log(len(priors) - 1) if len(priors) > 1 else np.inf

    def _logs(self, alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per row: exp(beta), log P(right), log P(a given wrong label)."""
        scale = np.exp(betas[self.answers.task])
        x = alphas[self.answers.worker] * scale
        return scale, -np.logaddexp(0, -x), -np.logaddexp(0, x) - self.log_other

    def posteriors(self, alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
        a = self.answers
        n_tasks, _, n_labels = a.shape
        _, right, wrong = self._logs(alphas, betas)
        scores = np.bincount(a.task, wrong, n_tasks)[:, None] + np.log(self.priors)
        scores += np.bincount(a.task_label, right - wrong, n_tasks * n_labels).reshape(n_tasks, n_labels)
        scores -= scores.max(axis=1, keepdims=True)
        likelihood = np.exp(scores)
        return likelihood / likelihood.sum(axis=1, keepdims=True)

    def objective(self, alphas: np.ndarray, betas: np.ndarray, probas: np.ndarray) -> float:
        """Expected log-likelihood of the answers plus the log-priors of alphas and betas."""
        _, right, wrong = self._logs(alphas, betas)
        given = probas[self.answers.task, self.answers.label]
        value = (given * right + (1 - given) * wrong).sum()
        value -= 0.5 * ((alphas - self.alpha_means) ** 2).sum() + LOG_SQRT_2PI * len(alphas)
        value -= 0.5 * ((betas - self.beta_means) ** 2).sum() + LOG_SQRT_2PI * len(betas)
        return float(value) if np.isfinite(value) else -np.inf

    def gradient(self, alphas: np.ndarray, betas: np.ndarray, probas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = self.answers
        scale, right, _ = self._logs(alphas, betas)
        residual = probas[a.task, a.label] - np.exp(right)
        d_alpha = np.bincount(a.worker, residual * scale, len(alphas)) - (alphas - self.alpha_means)
        d_beta = np.bincount(a.task, residual * scale * alphas[a.worker], len(betas)) - (betas - self.beta_means)
        return d_alpha, d_beta
