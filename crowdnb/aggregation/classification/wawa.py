"""Wawa: Worker Agreement With Aggregate."""

from __future__ import annotations

from typing import ClassVar, Self

from crowdnb.aggregation.base import (
    Answers,
    ClassificationAggregator,
    Tally,
    kernels,
    most_probable,
    worker_series,
)
from crowdnb.aggregation.classification.majority_vote import weighted_vote


class Wawa(ClassificationAggregator):
    """Majority vote weighted by each worker's agreement with the plain majority vote.

    Fitted attributes: ``labels_``, ``probas_``, ``skills_`` (share of a worker's answers
    equal to the plain majority label).
    """

    name: ClassVar[str] = "wawa"

    def fit_answers(self, answers: Answers) -> Self:
        answers = answers.checked()
        fast = kernels(answers.n_rows)
        plain = most_probable(weighted_vote(answers, None, fast))
        skills = Tally(answers, fast).accuracy(plain)
        self._set_results(answers, weighted_vote(answers, skills, fast))
        self.skills_ = worker_series(answers, skills, "skill")
        return self
