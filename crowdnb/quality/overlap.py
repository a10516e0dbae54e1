"""Dynamic overlap: how sure a task's label is, given the labels so far and the workers' skills."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np


def task_posterior(
    labels: Sequence[Hashable], skills: Sequence[float], classes: Sequence[Hashable]
) -> tuple[Hashable, float]:
    """The most probable class and its posterior probability under the one-coin model: a
    worker with skill ``s`` gives the true class with probability ``s``, each other class with
    ``(1-s)/(K-1)``; uniform prior over the K `classes` (ties: the first class). No labels:
    the first class, ``1/K``."""
    k = len(classes)
    if k < 2:
        return classes[0], 1.0
    index = {c: i for i, c in enumerate(classes)}
    scores = np.zeros(k)
    for label, skill in zip(labels, skills, strict=True):
        s = float(np.clip(skill, 1e-6, 1 - 1e-6))
        wrong = np.log((1 - s) / (k - 1))
        scores += wrong
        scores[index[label]] += np.log(s) - wrong
    scores -= scores.max()
    posterior = np.exp(scores) / np.exp(scores).sum()
    best = int(np.argmax(posterior))
    return classes[best], float(posterior[best])
