"""Control tasks: how each worker did on the tasks whose answer is known."""

from __future__ import annotations

import pandas as pd

from crowdnb.quality.rules import QualityPolicy


def control_report(labels: pd.DataFrame, known: pd.Series, policy: QualityPolicy) -> pd.DataFrame:
    """Per worker: control answers, correct ones, and skill (with the policy's prior).

    `labels` has columns task, worker, label; `known` maps task to known answer (tasks without
    one are ignored). Workers without control answers get the prior skill.
    """
    answered = labels[labels["task"].isin(known.index)]
    correct = answered["label"].to_numpy() == known.reindex(answered["task"]).to_numpy()
    stats = (
        answered.assign(correct=correct)
        .groupby("worker")["correct"]
        .agg(n_control="size", n_correct="sum")
        .reindex(pd.unique(labels["worker"]), fill_value=0)
    )
    stats["skill"] = [policy.skill(c, n) for c, n in zip(stats["n_correct"], stats["n_control"], strict=True)]
    return stats.rename_axis("worker").astype({"n_control": int, "n_correct": int})
