"""Majority vote, plain or weighted by given worker skills."""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar, Literal, Self

import numpy as np
import pandas as pd

from crowdnb.aggregation.base import (
    Answers,
    ClassificationAggregator,
    Tally,
    encode,
    kernels,
    most_probable,
    normalize_rows,
    worker_series,
)

MissingSkill = Literal["error", "ignore", "value"]


class MajorityVote(ClassificationAggregator):
    """Each task gets the label with the most votes (or the largest sum of skills).

    Parameters
    ----------
    default_skill
        The weight of workers missing from `skills` when ``on_missing_skill="value"``.
    on_missing_skill
        What to do with answers of workers that `skills` does not list: ``"error"`` raises,
        ``"ignore"`` drops them (a task left without answers raises), ``"value"`` weighs them
        with `default_skill`.

    Fitted attributes: ``labels_``, ``probas_`` (vote shares), ``skills_`` (each worker's share
    of answers equal to the majority label). Ties go to the first label in sorted order.
    """

    name: ClassVar[str] = "majority-vote"

    def __init__(self, default_skill: float | None = None, on_missing_skill: MissingSkill = "error") -> None:
        self.default_skill = default_skill
        self.on_missing_skill = on_missing_skill

    def fit(self, data: pd.DataFrame, skills: pd.Series | None = None) -> Self:
        """Fit to answers; `skills` (by worker) turns the vote into a weighted one."""
        return self.fit_answers(encode(data), skills)

    def fit_answers(self, answers: Answers, skills: pd.Series | None = None) -> Self:
        """Fit to integer-coded answers; `skills` is by worker value, as in `fit`."""
        answers = answers.checked()
        fast = kernels(answers.n_rows)
        weights = None
        if skills is not None:
            answers, weights = self._weights(answers, skills)
        probas = weighted_vote(answers, weights, fast)
        self._set_results(answers, probas)
        self.skills_ = worker_series(answers, Tally(answers, fast).accuracy(most_probable(probas)), "skill")
        return self

    def _weights(self, answers: Answers, skills: pd.Series) -> tuple[Answers, np.ndarray]:
        """Per-worker weights from `skills`, following `on_missing_skill` (with "ignore", the
        answers of workers without a skill are dropped)."""
        if self.on_missing_skill != "value" and self.default_skill is not None:
            raise ValueError('default_skill is used only with on_missing_skill="value"')
        weights = skills.reindex(answers.workers).to_numpy(dtype=float)
        unknown = np.isnan(weights)
        if not unknown.any():
            return answers, weights
        if self.on_missing_skill == "error":
            names = list(answers.workers[unknown])[:5]
            rows = int(unknown[answers.worker].sum())
            raise ValueError(f"no skill for worker(s) {names} ({rows} answers); pass skills for every worker")
        if self.on_missing_skill == "value":
            if self.default_skill is None:
                raise ValueError('on_missing_skill="value" needs default_skill')
            return answers, np.where(unknown, self.default_skill, weights)
        if self.on_missing_skill != "ignore":
            raise ValueError(f"unknown on_missing_skill {self.on_missing_skill!r}; use 'error', 'ignore' or 'value'")
        kept = ~unknown[answers.worker]
        left = np.bincount(answers.task[kept], minlength=len(answers.tasks))
        if (left == 0).any():
            raise ValueError(f"{int((left == 0).sum())} task(s) have no answers from workers with known skills")
        reduced = Answers(
            answers.task[kept], answers.worker[kept], answers.label[kept],
            answers.tasks, answers.workers, answers.labels,
        )
        return reduced, weights


def weighted_vote(
    answers: Answers, skills: np.ndarray | None = None, fast: ModuleType | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """Vote shares per task and label (tasks x labels), each answer weighted by its worker's
    skill when `skills` (per worker code) is given; into `out` when given (the kernel's)."""
    if fast is not None:
        shares = np.empty((len(answers.tasks), len(answers.labels))) if out is None else out
        fast.vote(answers.task, answers.worker, answers.label, np.empty(0) if skills is None else skills.astype(float, copy=False), shares)
        return shares
    return normalize_rows(answers.counts(None if skills is None else skills[answers.worker]))
