"""`Project.results`: one answer per task with the kind's aggregator, banned and flagged labels
left out, known answers held fixed."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
import sqlalchemy as sa

import crowdnb
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import Submission
from crowdnb.store.schema import tasks


def _label(project: crowdnb.Project, worker: str, task: str, label: object, duration_ms: int = 3000) -> None:
    store, pid = project.store, project.info.id
    store.submit(pid, store.worker_id(worker), Submission(uuid.uuid4().hex, _task_id(project, task), label, duration_ms))


def _task_id(project: crowdnb.Project, external: str) -> int:
    with project.store.engine.connect() as conn:
        return conn.scalar(sa.select(tasks.c.id).where(tasks.c.project_id == project.info.id, tasks.c.external_id == external))


@pytest.fixture
def project(store: crowdnb.Store) -> crowdnb.Project:
    project = crowdnb.Project.create("r", "text-class", store=store, classes=["a", "b"], overlap=3)
    project.add_tasks(pd.DataFrame({"id": ["t1", "t2", "t3"], "text": ["x", "y", "z"], "answer": [None, None, "b"]}))
    return project


def test_results_use_the_kinds_aggregator_and_cover_every_task(project: crowdnb.Project) -> None:
    for worker, labels in {"ana": "aab", "ben": "aba", "cy": "bb"}.items():
        for task, label in zip(["t1", "t2", "t3"], labels, strict=False):
            _label(project, worker, task, label)
    result = project.results()
    assert list(result.columns) == ["task", "label", "confidence", "n_labels"]
    assert result["task"].tolist() == ["t1", "t2", "t3"]
    assert result["n_labels"].tolist() == [3, 3, 2]
    assert result.set_index("task").loc["t3", ["label", "confidence"]].tolist() == ["b", 1.0]  # known answer
    assert result["confidence"].between(0.5, 1).all()
    majority = project.results("majority-vote").set_index("task")
    assert majority.loc["t1", "label"] == "a" and majority.loc["t1", "confidence"] == pytest.approx(2 / 3)


def test_tasks_without_labels_have_no_answer(project: crowdnb.Project) -> None:
    _label(project, "ana", "t1", "a")
    result = project.results().set_index("task")
    assert result.loc["t2", "label"] is None and result.loc["t2", "n_labels"] == 0
    assert pd.isna(result.loc["t2", "confidence"])


def test_banned_and_too_fast_labels_do_not_count(project: crowdnb.Project) -> None:
    project.set_quality(QualityPolicy(min_duration_ms=500))
    _label(project, "ana", "t1", "a")
    _label(project, "ben", "t1", "b", duration_ms=100)
    _label(project, "cy", "t1", "b")
    project.store.set_worker_status(project.info.id, project.store.worker_id("cy"), "banned")
    assert project.results("majority-vote").set_index("task").loc["t1", ["label", "n_labels"]].tolist() == ["a", 1]
    assert project.results("majority-vote", include_flagged=True).set_index("task").loc["t1", "n_labels"] == 2
    assert project.workers().set_index("worker").loc["cy", "status"] == "banned"


def test_unknown_method_is_named(project: crowdnb.Project) -> None:
    _label(project, "ana", "t1", "a")
    with pytest.raises(ValueError, match="unknown aggregation method 'dawid'"):
        project.results("dawid")


def test_multilabel_projects_use_binary_relevance(store: crowdnb.Store) -> None:
    project = crowdnb.Project.create("m", "text-multilabel", store=store, classes=["cat", "dog"], overlap=3)
    project.add_tasks(pd.DataFrame({"id": ["t1"], "text": ["pets"]}))
    for worker, label in {"ana": ["cat", "dog"], "ben": ["cat"], "cy": ["cat", "dog"]}.items():
        _label(project, worker, "t1", label)
    assert project.results().loc[0, "label"] == ["cat", "dog"]
