"""Dynamic overlap: how sure a task's label is, given the labels so far and the workers' skills."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def task_confidence(labels: Sequence[Hashable], skills: Sequence[float], classes: Sequence[Hashable]) -> float:
    """The largest posterior class probability under the one-coin model: a worker with skill
    ``s`` gives the true class with probability ``s``, each other class with ``(1-s)/(K-1)``;
    uniform prior over the K `classes`. No labels: ``1/K``."""
    k = len(classes)
    if k < 2:
        return 1.0
    index = {c: i for i, c in enumerate(classes)}
    scores = np.zeros(k)
    for label, skill in zip(labels, skills, strict=True):
        s = float(np.clip(skill, 1e-6, 1 - 1e-6))
        wrong = np.log((1 - s) / (k - 1))
        scores += wrong
        scores[index[label]] += np.log(s) - wrong
    scores -= scores.max()
    posterior = np.exp(scores) / np.exp(scores).sum()
    return float(posterior.max())
