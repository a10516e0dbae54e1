"""Aggregated results of a project: which labels count, then the kind's (or a named) method."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crowdnb.aggregation.methods import RESULT_COLUMNS, aggregate


def results(
    labels: pd.DataFrame, tasks: pd.DataFrame, standing: pd.DataFrame, method: Any, *, include_flagged: bool = False,
    **params: Any,
) -> pd.DataFrame:
    """One answer per task in task order (a task without labels has label None and confidence
    NaN) from a project's `labels`, `tasks` and workers' `standing`.

    Labels of banned workers and rejected ones are left out, and so are flagged ones (e.g. too
    fast) unless `include_flagged`. Known answers are held fixed by Dawid-Skene; structured
    methods weigh workers by their skill once any worker has answered a control task."""
    standing = standing.set_index("worker")
    banned = set(standing.index[standing["status"] == "banned"])
    keep = ~labels["worker"].isin(banned) & (labels["status"] != "rejected")
    if not include_flagged:
        keep &= labels["flag"].isna()
    known = tasks.set_index("id")["known_answer"].dropna()
    skills = standing["skill"] if (standing["n_control"] > 0).any() else None
    result = aggregate(labels.loc[keep, ["task", "worker", "label"]], method, known=known, skills=skills, **params)
    result = result.set_index("task").reindex(tasks["id"]).rename_axis("task").reset_index()
    result["label"] = result["label"].astype(object).where(result["label"].notna(), None)
    result["n_labels"] = result["n_labels"].fillna(0).astype(int)
    return result[RESULT_COLUMNS]
