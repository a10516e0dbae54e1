"""Control tasks: how each worker did on the tasks whose answer is known."""

from __future__ import annotations

from typing import Any

import pandas as pd

from crowdnb.kinds import Kind
from crowdnb.quality.rules import QualityPolicy


def control_report(
    labels: pd.DataFrame, known: pd.Series, policy: QualityPolicy, kind: Kind, config: dict[str, Any]
) -> pd.DataFrame:
    """Per worker: control answers, correct ones, and skill (with the policy's prior).

    `labels` has columns task, worker, label; `known` maps task to known answer (tasks without
    one are ignored). An answer is correct when the `kind` says it matches the known one under
    the project's `config` (`Kind.matches`: e.g. IoU for boxes, normalized text for OCR).
    Workers without control answers get the prior skill.
    """
    answered = labels[labels["task"].isin(known.index)]
    truth = known.reindex(answered["task"]).tolist()
    correct = [kind.matches(label, answer, config) for label, answer in zip(answered["label"], truth, strict=True)]
    stats = (
        answered.assign(correct=correct)
        .groupby("worker")["correct"]
        .agg(n_control="size", n_correct="sum")
        .reindex(pd.unique(labels["worker"]), fill_value=0)
    )
    stats["skill"] = [policy.skill(c, n) for c, n in zip(stats["n_correct"], stats["n_control"], strict=True)]
    return stats.rename_axis("worker").astype({"n_control": int, "n_correct": int})
