"""Zero-Based Skill: weighted majority vote with skills refined by gradient steps."""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np

from crowdnb.aggregation.base import (
    Answers,
    ClassificationAggregator,
    Tally,
    kernels,
    most_probable,
    worker_series,
)
from crowdnb.aggregation.classification.majority_vote import weighted_vote


class ZeroBasedSkill(ClassificationAggregator):
    """Weighted majority vote whose worker weights move towards each worker's agreement with
    the current aggregate, by a learning rate that is halved every `lr_steps_to_reduce` steps.

    Parameters
    ----------
    n_iter
        Number of skill updates (all of them run, as in crowd-kit).
    lr_init, lr_steps_to_reduce, lr_reduce_factor
        Learning-rate schedule: multiplied by `lr_reduce_factor` at every multiple of
        `lr_steps_to_reduce`.
    eps
        Added to the starting skill ``1 / number of labels``.

    Fitted attributes: ``labels_``, ``probas_``, ``skills_``.
    """

    name: ClassVar[str] = "zero-based-skill"

    def __init__(
        self,
        n_iter: int = 100,
        lr_init: float = 1.0,
        lr_steps_to_reduce: int = 20,
        lr_reduce_factor: float = 0.5,
        eps: float = 1e-5,
    ) -> None:
        self.n_iter = n_iter
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.eps = eps

    def fit_answers(self, answers: Answers) -> Self:
        answers = answers.checked()
        fast = kernels(answers.n_rows)
        tally = Tally(answers, fast)
        skills = np.full(len(answers.workers), 1 / len(answers.labels) + self.eps)
        # The kernel votes into one buffer at every step.
        shares = None if fast is None else np.empty((len(answers.tasks), len(answers.labels)))
        rate = self.lr_init
        for step in range(1, self.n_iter + 1):
            if step % self.lr_steps_to_reduce == 0:
                rate *= self.lr_reduce_factor
            labels = most_probable(weighted_vote(answers, skills, fast, shares))
            skills = skills + rate * (tally.accuracy(labels) - skills)
        self._set_results(answers, weighted_vote(answers, skills, fast))
        self.skills_ = worker_series(answers, skills, "skill")
        return self
