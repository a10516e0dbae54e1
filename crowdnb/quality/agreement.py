"""Inter-annotator agreement: Krippendorff's alpha (nominal, interval), Fleiss' and Cohen's
kappa, and pairwise IoU for geometry. Inputs are ``task, worker, label`` frames."""

from __future__ import annotations

from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from crowdnb.aggregation.base import encode
from crowdnb.aggregation.geometry.shapes import shape_iou


def krippendorff_alpha(data: pd.DataFrame, level: Literal["nominal", "interval"] = "nominal") -> float:
    """Krippendorff's alpha: 1 - observed / expected disagreement over pairable values (tasks
    with at least two labels). ``nominal``: labels differ or not; ``interval``: squared
    difference of numeric labels. NaN when there is no variation at all."""
    if level not in ("nominal", "interval"):
        raise ValueError(f"level must be 'nominal' or 'interval', got {level!r}")
    answers = encode(data)
    n_tasks, _, n_values = answers.shape
    per_task = np.bincount(answers.task, minlength=n_tasks)
    pairable = per_task[answers.task] >= 2
    units = sp.csr_matrix(
        (np.ones(pairable.sum()), (answers.task[pairable], answers.label[pairable])), shape=(n_tasks, n_values)
    )
    scale = sp.diags(1.0 / np.maximum(per_task - 1, 1))
    coincidences = (units.T @ scale @ units).toarray()
    coincidences -= np.diag(np.asarray((scale @ units).sum(axis=0)).ravel())
    totals = coincidences.sum(axis=1)
    n = totals.sum()
    if level == "nominal":
        delta = 1.0 - np.eye(n_values)
    else:
        try:
            values = answers.labels.to_numpy(dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"interval alpha needs numeric labels, got {list(answers.labels[:5])}") from None
        delta = (values[:, None] - values[None, :]) ** 2
    expected = (totals[:, None] * totals[None, :] * delta).sum()
    if expected == 0:
        return float("nan")
    return float(1.0 - (n - 1) * (coincidences * delta).sum() / expected)


def fleiss_kappa(data: pd.DataFrame) -> float:
    """Fleiss' kappa; every task must have the same number of labels (a ValueError names a
    task that differs)."""
    answers = encode(data)
    counts = answers.counts()
    raters = counts.sum(axis=1)
    if len(raters) == 0 or (raters != raters[0]).any():
        odd = answers.tasks[np.flatnonzero(raters != raters[0])[0]] if len(raters) else None
        raise ValueError(f"Fleiss' kappa needs the same number of labels per task; task {odd!r} differs")
    m = raters[0]
    if m < 2:
        raise ValueError("Fleiss' kappa needs at least two labels per task")
    agreement = ((counts * (counts - 1)).sum(axis=1) / (m * (m - 1))).mean()
    shares = counts.sum(axis=0) / counts.sum()
    chance = (shares**2).sum()
    return float((agreement - chance) / (1 - chance)) if chance < 1 else float("nan")


def cohen_kappa(data: pd.DataFrame, first: Any, second: Any) -> float:
    """Cohen's kappa between two workers, on the tasks both labeled."""
    pair = data[data["worker"].isin([first, second])].pivot_table(
        index="task", columns="worker", values="label", aggfunc="last"
    )
    if first not in pair.columns or second not in pair.columns:
        raise ValueError(f"no labels from worker {first!r} or {second!r}")
    pair = pair[[first, second]].dropna()
    if pair.empty:
        raise ValueError(f"workers {first!r} and {second!r} labeled no task in common")
    a, b = pair[first].to_numpy(), pair[second].to_numpy()
    observed = float((a == b).mean())
    values = np.union1d(a.astype(str), b.astype(str))
    pa = np.array([(a.astype(str) == v).mean() for v in values])
    pb = np.array([(b.astype(str) == v).mean() for v in values])
    chance = float(pa @ pb)
    return (observed - chance) / (1 - chance) if chance < 1 else float("nan")


def pairwise_iou(data: pd.DataFrame) -> pd.Series:
    """Per task, the mean over pairs of workers of how well their shapes match: shapes paired
    one-to-one by IoU (Hungarian), summed IoU over the larger count (an unmatched shape counts
    0; two empty answers agree fully). Labels are lists of boxes (``x, y, w, h``), OCR regions
    (``box`` or ``quad``) or polygons (``points``). Tasks with one worker are left out."""
    out = {}
    for task, group in data.groupby("task", sort=True):
        labels = group["label"].tolist()
        if len(labels) < 2:
            continue
        out[task] = float(np.mean([_set_iou(a, b) for a, b in combinations(labels, 2)]))
    return pd.Series(out, name="pairwise_iou", dtype=float).rename_axis("task")


def _set_iou(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    scores = shape_iou(a, b)
    rows, cols = linear_sum_assignment(-scores)
    return float(scores[rows, cols].sum() / max(len(a), len(b)))
