"""The crowd model behind dynamic overlap and a policy project's results.

Each worker has a confusion matrix (Dawid & Skene 1979): ``M[t, l]``, the probability that
they answer ``l`` when the truth is ``t``, estimated from their measured answers (control answers,
and labels on tasks the crowd closed with a confident answer) with a Dirichlet prior whose mean is
their one-coin matrix: until a row has answers, the worker is a one-coin worker whose skill
(right answers, shrunk toward the policy's prior) spreads their errors evenly. The project's class
prior comes from the answers it has decided. A task is easy or hard (after GLAD, Whitehill et al.
2009): on a hard task every worker's matrix is tempered, ``M[t, l] ** hard_factor`` normalized per
row, so that good workers disagreeing on a task make it likelier to be hard rather than
pinning its answer on whoever is rated best.

The functions are pure numpy over a task's few labels; the store calls them with counts it keeps
per worker (no EM over the whole project on each label), so the posterior that stops a task is
the one a project's results report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FLOOR = 1e-9


def one_coin(skill: float, k: int) -> np.ndarray:
    """The k x k matrix of a worker who is right with probability `skill` and spreads the
    rest evenly over the other classes."""
    matrix = np.full((k, k), (1.0 - skill) / (k - 1))
    np.fill_diagonal(matrix, skill)
    return matrix


def confusion(counts: np.ndarray, skill: float, row_weight: float) -> np.ndarray:
    """A worker's confusion matrix from `counts[t, l]` (answers ``l`` where the truth was
    ``t``): each row is the posterior mean under a Dirichlet prior of weight `row_weight`
    centred on the one-coin matrix of `skill`."""
    k = counts.shape[0]
    matrix = (counts + row_weight * one_coin(skill, k)) / (counts.sum(axis=1, keepdims=True) + row_weight)
    return np.clip(matrix, FLOOR, 1.0)


def class_prior(decided: np.ndarray) -> np.ndarray:
    """Class prior from the counts of decided answers per class (add-one smoothing)."""
    counts = np.asarray(decided, dtype=float) + 1.0
    return counts / counts.sum()


def tempered(matrices: np.ndarray, factor: float) -> np.ndarray:
    """Matrices (..., k, k) with each row raised to `factor` and normalized: the same
    worker on a hard task."""
    raised = matrices**factor
    return raised / raised.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class Posterior:
    """What a task's labels say: probability of each class, and that the task is hard."""

    probabilities: np.ndarray
    p_hard: float

    @property
    def best(self) -> int:
        return int(np.argmax(self.probabilities))

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.best])


def posterior(
    labels: Sequence[int], matrices: np.ndarray, prior: np.ndarray, hard_share: float, hard_factor: float
) -> Posterior:
    """The class posterior of a task from its labels (class codes), the labelers' confusion
    matrices (n, k, k) and the class prior, marginalized over the task being easy or hard
    (prior probability `hard_share`). No labels: the prior."""
    labels = np.asarray(labels, dtype=np.int64)
    levels = [(1.0 - hard_share, matrices), (hard_share, tempered(matrices, hard_factor))] if hard_share > 0 else [(1.0, matrices)]
    joint = np.empty((len(levels), len(prior)))
    for d, (weight, m) in enumerate(levels):
        # m[i, :, labels[i]]: the likelihood of labeler i's answer under each true class.
        picked = m[np.arange(len(labels)), :, labels] if len(labels) else np.ones((0, len(prior)))
        joint[d] = np.log(max(weight, FLOOR)) + np.log(prior) + np.log(picked).sum(axis=0)
    joint = np.exp(joint - joint.max())
    joint /= joint.sum()
    return Posterior(joint.sum(axis=0), float(joint[1].sum()) if len(levels) > 1 else 0.0)


def information(matrix: np.ndarray, prior: np.ndarray) -> float:
    """Mutual information (bits) between the truth and a worker's answer: how much one of
    their labels tells about the truth. 0 for a worker who answers at random or always the
    same class, whatever their share of right answers."""
    answered = prior @ matrix
    ratio = matrix / np.maximum(answered, FLOOR)[None, :]
    return float((prior[:, None] * matrix * np.log2(np.maximum(ratio, FLOOR))).sum())


def reachable(
    labels: Sequence[int], matrices: np.ndarray, prior: np.ndarray, hard_share: float, hard_factor: float,
    remaining: int, typical: np.ndarray, target: float,
) -> bool:
    """Whether `remaining` more labels could still bring the task to `target`: the posterior
    if each of them agreed with the leading class and came from a `typical` worker."""
    now = posterior(labels, matrices, prior, hard_share, hard_factor)
    if now.confidence >= target:
        return True
    if remaining <= 0:
        return False
    more = np.concatenate([matrices, np.repeat(typical[None], remaining, axis=0)])
    hoped = posterior([*labels, *[now.best] * remaining], more, prior, hard_share, hard_factor)
    return hoped.confidence >= target


def agreement_chance(first: np.ndarray, second: np.ndarray, prior: np.ndarray) -> float:
    """The probability that two independent workers give the same answer to a task."""
    return float((prior[:, None] * first * second).sum())


def collusion_z(shared: int, agreed: int, expected: float, variance: float) -> float:
    """How far two workers' agreement on `shared` tasks lies above what their skills explain
    (`expected` agreements, with `variance`), in standard deviations."""
    if shared == 0:
        return 0.0
    return (agreed - expected) / float(np.sqrt(max(variance, 1e-9)))
