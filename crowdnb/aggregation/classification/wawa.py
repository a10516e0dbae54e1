"""Wawa: Worker Agreement With Aggregate."""

from __future__ import annotations

from typing import ClassVar, Self

import pandas as pd

from crowdnb.aggregation.base import ClassificationAggregator, accuracy_on, encode, most_probable, worker_series
from crowdnb.aggregation.classification.majority_vote import weighted_vote


class Wawa(ClassificationAggregator):
    """Majority vote weighted by each worker's agreement with the plain majority vote.

    Fitted attributes: ``labels_``, ``probas_``, ``skills_`` (share of a worker's answers
    equal to the plain majority label).
    """

    name: ClassVar[str] = "wawa"

    def fit(self, data: pd.DataFrame) -> Self:
        answers = encode(data)
        plain = most_probable(weighted_vote(answers))
        skills = accuracy_on(answers, plain)
        self._set_results(answers, weighted_vote(answers, skills[answers.worker]))
        self.skills_ = worker_series(answers, skills, "skill")
        return self
