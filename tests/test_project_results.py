"""`Project.results`: one answer per task with the kind's aggregator, banned and flagged labels
left out, known answers held fixed; every kind end to end through a store."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from samples import write_images

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


TEXT = "Alice met Bob in Paris"


def _spans(*parts: tuple[str, str]) -> list[dict]:
    return [{"start": TEXT.index(p), "end": TEXT.index(p) + len(p), "label": c} for p, c in parts]


def _box(x: float) -> dict:
    return {"label": "car", "x": x, "y": 20.0, "w": 40.0, "h": 30.0}


def _square(x: float) -> dict:
    return {"label": "roof", "points": [[x, 10.0], [x + 50, 10.0], [x + 50, 60.0], [x, 60.0]]}


def _pose(x: float | None) -> list[dict]:
    """Nose at (x, 50) (x 50 when None), ear at (x, 30) or hidden."""
    ear = {"name": "ear", "x": x, "y": None if x is None else 30.0, "visible": x is not None}
    return [{"name": "nose", "x": x or 50.0, "y": 50.0, "visible": True}, ear]


def _region(x: float, text: str) -> dict:
    return {"box": {"x": x, "y": 30.0, "w": 80.0, "h": 16.0}, "text": text}


def _dialog(question: str, answer: str) -> dict:
    return {"turns": [{"question": question, "answer": answer}]}


# kind, options, the three workers' labels, and the fused answer (or a check of it).
CASES = {
    "image-class": ({"classes": ["cat", "dog"]}, ["cat", "dog", "cat"], "cat"),
    "text-class": ({"classes": ["pos", "neg"]}, ["neg", "neg", "pos"], "neg"),
    "image-multilabel": ({"classes": ["cat", "dog"]}, [["cat", "dog"], ["cat"], ["dog", "cat"]], ["cat", "dog"]),
    "text-multilabel": ({"classes": ["a", "b", "c"]}, [["a"], ["a", "c"], ["a"]], ["a"]),
    "bbox": ({"classes": ["car"]}, [[_box(10)], [_box(14)], [_box(12)]], lambda fused: (
        [(b["label"], b["x"], b["y"], b["w"], b["h"], b["n_workers"]) for b in fused] == [("car", 12.0, 20.0, 40.0, 30.0, 3)]
    )),
    "polygon": ({"classes": ["roof"]}, [[_square(10)], [_square(14)], [_square(12)]], lambda fused: (
        [(p["label"], p["points"]) for p in fused] == [("roof", _square(12)["points"])]
    )),
    "keypoints": ({"points": ["nose", "ear"]}, [_pose(51.0), _pose(None), _pose(53.0)], lambda fused: (
        [(p["name"], p["x"], p["visible"]) for p in fused] == [("nose", pytest.approx(51.0 + 1 / 3), True), ("ear", 52.0, True)]
    )),
    "ocr": ({}, [[_region(20, "TOTAL 42,00")], [_region(22, "TOTAL 42.00")], [_region(21, "TOTAL 42,00")]], lambda fused: (
        [(r["text"], r["box"]["x"]) for r in fused] == [("TOTAL 42,00", pytest.approx(21.0))]
    )),
    "spans": ({"classes": ["PER", "LOC"]}, [
        _spans(("Alice", "PER"), ("Paris", "LOC")), _spans(("Alice", "PER"), ("Bob", "PER")), _spans(("Alice", "PER"), ("Paris", "LOC")),
    ], lambda fused: [(TEXT[s["start"]:s["end"]], s["label"]) for s in fused] == [("Alice", "PER"), ("Paris", "LOC")]),
    "qa": ({}, [
        _dialog("What is the capital of France?", "Paris."),
        _dialog("How tall is the tower?", "About 300 m."),
        _dialog("What's the capital of France?", "Paris."),
    ], lambda fused: fused["turns"][0]["answer"] == "Paris."),
    "free-text": ({}, ["A cat sleeps on a sofa.", "A cat is sleeping on the sofa.", "Stock prices fell."], lambda fused: "cat" in fused),
    "caption": ({}, ["Two dogs on a beach.", "A red car.", "Two dogs playing on the beach."], lambda fused: "dogs" in fused),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_results_through_a_store_for_every_kind(kind: str, tmp_path: Path) -> None:
    options, labels, expected = CASES[kind]
    store = crowdnb.SqlStore(str(tmp_path / "store.sqlite"))
    project = crowdnb.Project.create("p", kind, store=store, overlap=3, **options)
    media = crowdnb.kinds.get(kind).media.column
    content = write_images(tmp_path / "img", 2, size=(200, 100)) if media == "image" else [TEXT, TEXT]
    project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], media: content}))
    for i, label in enumerate(labels):
        worker = store.worker_id(f"w{i}")
        for task in store.claim(project.info.id, worker, 2):
            if task.external_id == "t1":
                store.submit(project.info.id, worker, Submission(uuid.uuid4().hex, task.id, label, 3000))
    result = project.results()
    assert list(result.columns) == ["task", "label", "confidence", "n_labels"]
    assert result["task"].tolist() == ["t1", "t2"] and result["n_labels"].tolist() == [3, 0]
    fused, confidence = result.loc[0, "label"], result.loc[0, "confidence"]
    assert 0 < confidence <= 1
    assert (expected(fused) if callable(expected) else fused == expected), fused
    assert result.loc[1, "label"] is None and pd.isna(result.loc[1, "confidence"])
    store.close()


def test_a_known_answer_of_a_class_no_worker_gave_yet_does_not_stop_the_results(tmp_path: Path) -> None:
    store = crowdnb.SqlStore(str(tmp_path / "store.sqlite"))
    project = crowdnb.Project.create("p", "text-class", store=store, classes=["a", "b", "c"])
    project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], "text": ["x", "y"], "answer": ["c", None]}))
    worker = store.worker_id("w0")
    for task in store.claim(project.info.id, worker, 2):
        store.submit(project.info.id, worker, Submission(uuid.uuid4().hex, task.id, "a", 3000))
    result = project.results()
    assert result["task"].tolist() == ["t1", "t2"] and result["label"].tolist() == ["a", "a"]
    store.close()
