"""The quality policy's pure parts: skill with a prior, verdicts, control share, confidence."""

from __future__ import annotations

import pandas as pd
import pytest

from crowdnb.quality.control import control_report
from crowdnb.quality.overlap import task_posterior
from crowdnb.quality.rules import QualityPolicy


def test_skill_starts_at_the_prior_and_follows_the_answers() -> None:
    policy = QualityPolicy(skill_prior=0.8, prior_weight=5)
    assert policy.skill(0, 0) == pytest.approx(0.8)
    assert policy.skill(10, 10) == pytest.approx(14 / 15)
    assert policy.skill(0, 10) == pytest.approx(4 / 15)


def test_verdict_waits_for_enough_answers_and_never_softens() -> None:
    policy = QualityPolicy(min_control=4, suspend_below=0.6, ban_below=0.4)
    assert policy.verdict(0, 3) == "active"
    assert policy.verdict(1, 4) == "suspended"  # skill (1 + 2.8) / 8 = 0.475
    assert policy.verdict(0, 8) == "banned"  # skill 2.8 / 12 = 0.23
    assert policy.verdict(4, 4, current="suspended") == "suspended"


def _control_positions(policy: QualityPolicy, n: int) -> list[int]:
    controls, picks = 0, []
    for handed in range(n):
        pick = policy.wants_control(controls, handed)
        controls += pick
        picks.append(pick)
    return [i for i, p in enumerate(picks) if p]


def test_control_share_follows_an_entry_test() -> None:
    assert _control_positions(QualityPolicy(control_rate=0.25, min_control=0), 12) == [0, 4, 8]
    assert _control_positions(QualityPolicy(control_rate=0.25, min_control=2), 12) == [0, 1, 8]
    assert _control_positions(QualityPolicy(control_rate=0.0, min_control=2), 12) == []


def test_policy_round_trips_and_refuses_unknown_settings() -> None:
    policy = QualityPolicy(control_rate=0.1, target_confidence=0.95, max_overlap=5)
    assert QualityPolicy.from_dict(policy.to_dict()) == policy
    with pytest.raises(ValueError, match="unknown quality setting"):
        QualityPolicy.from_dict({"contrl_rate": 0.1})
    with pytest.raises(ValueError, match="needs both"):
        QualityPolicy(target_confidence=0.9)


def test_posterior_of_agreeing_skilled_workers() -> None:
    classes = ["a", "b", "c"]
    assert task_posterior([], [], classes) == ("a", pytest.approx(1 / 3))
    assert task_posterior(["b"], [0.9], classes) == ("b", pytest.approx(0.9))
    assert task_posterior(["a", "a"], [0.9, 0.9], classes) == ("a", pytest.approx(0.81 / (0.81 + 2 * 0.05**2)))
    assert task_posterior(["c", "b"], [0.9, 0.9], classes) == ("b", pytest.approx(0.045 / (2 * 0.045 + 0.05**2)))
    assert task_posterior(["c", "b"], [0.9, 0.95], classes)[0] == "b"


def test_control_report_counts_right_answers() -> None:
    labels = pd.DataFrame({"task": [1, 2, 3, 1], "worker": ["a", "a", "a", "b"], "label": ["x", "y", "z", "y"]})
    report = control_report(labels, pd.Series({1: "x", 2: "y"}), QualityPolicy(skill_prior=0.5, prior_weight=2))
    assert report.loc["a"].tolist() == [2, 2, pytest.approx(0.75)]
    assert report.loc["b", "skill"] == pytest.approx(1 / 3)
