"""The quality benchmark's simulated crowds (benchmarks/crowds.py) behave as their docstring
says: honest accuracy, hard tasks 25 points lower, the confusable pair at 3x, the imbalance
share, spammers and the ring recognizing controls, churn quotas; and one tiny run of the driver
(benchmarks/aggregation_quality.py) through the real store gives numbers in range."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import aggregation_quality
import crowds

N_TASKS, N_WORKERS, N_CLASSES = 5000, 100, 5


def crowd_of(name: str, seed: int = 0) -> crowds.Crowd:
    return crowds.make(name, N_TASKS, N_WORKERS, N_CLASSES, np.random.default_rng(seed))


def answers(
    crowd: crowds.Crowd, workers: np.ndarray, tasks: np.ndarray, is_control: bool = False
) -> np.ndarray:
    """Labels of each worker (rows) on each task (columns)."""
    rng = np.random.default_rng(1)
    return np.array(
        [
            [crowd.answer(int(w), int(t), int(crowd.truth[t]), is_control, rng)[0] for t in tasks]
            for w in workers
        ]
    )


def honest(crowd: crowds.Crowd) -> np.ndarray:
    return np.flatnonzero(crowd.kind == "honest")


@pytest.mark.parametrize("name", crowds.NAMES)
def test_honest_accuracy_on_ordinary_tasks(name: str) -> None:
    crowd = crowd_of(name)
    workers, tasks = honest(crowd)[:30], np.flatnonzero(~crowd.hard)[:400]
    right = (answers(crowd, workers, tasks) == crowd.truth[tasks]).mean(axis=1)
    assert np.abs(right - crowd.accuracy[workers]).max() < 0.08
    assert abs(right.mean() - crowd.accuracy[workers].mean()) < 0.01
    assert ((0.60 <= crowd.accuracy[workers]) & (crowd.accuracy[workers] <= 0.95)).all()


@pytest.mark.parametrize("name", crowds.NAMES)
def test_worker_mix(name: str) -> None:
    crowd = crowd_of(name)
    mix = crowds.MIXES[name]
    shares = {kind: float((crowd.kind == kind).mean()) for kind in crowds.KINDS}
    for kind in ("random", "constant", "fast", "colluder"):
        assert shares[kind] == pytest.approx(getattr(mix, kind), abs=0.01)


def test_hard_tasks_are_25_points_lower() -> None:
    crowd = crowd_of("hard")
    assert crowd.hard.mean() == pytest.approx(0.20, abs=0.02)
    workers, tasks = honest(crowd)[:30], np.flatnonzero(crowd.hard)[:400]
    right = (answers(crowd, workers, tasks) == crowd.truth[tasks]).mean()
    expected = np.maximum(crowd.accuracy[workers] - 0.25, 1 / N_CLASSES).mean()
    assert right == pytest.approx(expected, abs=0.015)


def test_imbalance_and_confusable_pair() -> None:
    crowd = crowd_of("imbalance")
    assert (crowd.truth == 0).mean() == pytest.approx(0.60, abs=0.02)
    others = np.bincount(crowd.truth[crowd.truth > 0], minlength=N_CLASSES)[1:]
    assert others.min() > 0.8 * others.max()
    workers = honest(crowd)[:40]
    for truth, pair in ((1, 2), (2, 1)):
        tasks = np.flatnonzero(crowd.truth == truth)[:300]
        labels = answers(crowd, workers, tasks)
        wrong = np.bincount(labels[labels != truth], minlength=N_CLASSES)
        rest = [c for c in range(N_CLASSES) if c not in (truth, pair)]
        assert wrong[pair] / wrong[rest].mean() == pytest.approx(3.0, rel=0.15)


def test_spammers_recognize_half_the_controls() -> None:
    crowd = crowd_of("spammers")
    workers = np.flatnonzero(crowd.kind == "constant")
    tasks = np.arange(400)
    on_controls = answers(crowd, workers, tasks, is_control=True)
    known = (on_controls == crowd.truth[tasks]) & (on_controls != crowd.constant[workers, None])
    chance = (crowd.truth[tasks] != crowd.constant[workers, None]).mean()
    assert known.mean() / chance == pytest.approx(0.5, abs=0.04)
    assert (answers(crowd, workers, tasks) == crowd.constant[workers, None]).all()


def test_ring_agrees_with_itself_not_with_the_truth() -> None:
    crowd = crowd_of("colluders")
    ring, tasks = np.flatnonzero(crowd.kind == "colluder"), np.arange(1000)
    labels = answers(crowd, ring, tasks)
    assert (labels == labels[0]).all()
    assert (labels[0] == crowd.truth[tasks]).mean() == pytest.approx(1 / N_CLASSES, abs=0.04)
    on_controls = answers(crowd, ring, tasks, is_control=True)
    assert (on_controls == on_controls[0]).all()
    assert (on_controls[0] == crowd.truth[tasks]).mean() == pytest.approx(
        0.8 + 0.2 / N_CLASSES, abs=0.04
    )


@pytest.mark.parametrize("name", ["churn", "all"])
def test_churn(name: str) -> None:
    crowd = crowd_of(name)
    assert crowd.n_workers == 3 * N_WORKERS and crowd.present == N_WORKERS
    assert crowd.quota is not None and crowd.quota.min() >= 20 and crowd.quota.max() <= 200
    assert crowd.quota.mean() == pytest.approx(110, abs=10)
    assert crowd.qualified.mean() == pytest.approx(0.5, abs=0.1)


def test_without_churn_everyone_stays() -> None:
    crowd = crowd_of("readme")
    assert crowd.quota is None and crowd.present == crowd.n_workers == N_WORKERS
    assert not crowd.qualified.any()


def test_fast_clickers_are_fast() -> None:
    crowd = crowd_of("readme")
    rng = np.random.default_rng(2)
    fast = int(np.flatnonzero(crowd.kind == "fast")[0])
    durations = [crowd.answer(fast, t, int(crowd.truth[t]), False, rng)[1] for t in range(200)]
    assert 150 <= min(durations) and max(durations) <= 450


@pytest.mark.parametrize("name", ["readme", "all"])
def test_tiny_run_through_the_store(name: str) -> None:
    options = aggregation_quality.Options(
        tasks=200, workers=20, classes=5, controls=20, inspect=False
    )
    row = aggregation_quality.run(name, 0, options)
    assert 0 <= row.accuracy <= 1 and row.accuracy > 0.8
    assert row.labels_per_task >= 1 and 0 < row.controls_per_task < row.labels_per_task
    assert row.escalated is None
    for value in (row.honest_out, row.strong_out, row.bad_banned):
        assert 0 <= value <= 1
    assert row.seconds > 0


class EscalatingProject:
    """Stands in for a project with `escalated` and `resolve`, recording the decisions."""

    def __init__(self, tasks: list[str]) -> None:
        self.tasks = tasks
        self.decided: dict[str, str] = {}

    def escalated(self) -> pd.DataFrame:
        return pd.DataFrame({"task": self.tasks, "votes": [{}] * len(self.tasks), "label": None})

    def resolve(self, task: str, label: str) -> None:
        self.decided[task] = label


def test_inspector_resolves_every_escalated_task_99_percent_right() -> None:
    crowd = crowd_of("readme")
    truth_of = {f"t{i}": int(crowd.truth[i]) for i in range(N_TASKS)}
    project = EscalatingProject(list(truth_of))
    resolved = aggregation_quality.inspect(project, crowd, truth_of, np.random.default_rng(3))  # type: ignore[arg-type]
    assert resolved == N_TASKS and set(project.decided) == set(truth_of)
    right = np.mean([project.decided[t] == crowd.classes[c] for t, c in truth_of.items()])
    assert right == pytest.approx(0.99, abs=0.005)
