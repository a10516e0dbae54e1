"""The quality policy's pure parts: skill with a prior, verdicts, control share, confidence."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crowdnb.quality.rules import QualityPolicy, Track


def test_skill_starts_at_the_prior_and_follows_the_answers() -> None:
    policy = QualityPolicy(skill_prior=0.8, prior_weight=5)
    assert policy.skill(0, 0) == pytest.approx(0.8)
    assert policy.skill(10, 10) == pytest.approx(14 / 15)
    assert policy.skill(0, 10) == pytest.approx(4 / 15)


def test_verdict_waits_for_enough_answers_and_never_softens() -> None:
    policy = QualityPolicy(min_control=4, suspend_below=0.6, ban_below=0.4)
    assert policy.verdict(Track(3, 0)) == "active"
    assert policy.verdict(Track(4, 1)) == "suspended"  # skill (1 + 2.8) / 8 = 0.475
    assert policy.verdict(Track(8, 0)) == "banned"  # skill 2.8 / 12 = 0.23
    assert policy.verdict(Track(4, 4), current="suspended") == "suspended"


def test_verdict_weighs_consensus_answers_once_the_entry_test_is_done() -> None:
    policy = QualityPolicy(min_control=4, suspend_below=0.6, ban_below=0.4)
    track = Track(n_control=4, n_correct=3, n_consensus=20, n_agreed=8)
    assert policy.worker_skill(track) == pytest.approx((11 + 2.8) / 28)
    assert policy.verdict(track) == "suspended"
    assert policy.verdict(replace(track, n_control=3)) == "active"  # entry test not finished
    assert policy.verdict(replace(track, n_agreed=20)) == "active"


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


def test_settings_of_the_wrong_type_are_refused_by_name() -> None:
    for bad in ({"min_duration_ms": "100"}, {"min_control": 1.5}, {"control_rate": None}, {"max_skips_in_row": True}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            QualityPolicy.from_dict(bad)
    with pytest.raises(ValueError, match="mapping"):
        QualityPolicy.from_dict(["control_rate"])  # type: ignore[arg-type]
    assert QualityPolicy.from_dict({"control_rate": 0, "skill_prior": 0.8, "ban_below": 0.5}).control_rate == 0
