"""Reading a project's labels and tasks as columns: the columns asked for and no others, pieces
that add up to the whole, task-then-time order, and the same values on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

import crowdnb
from crowdnb.store import SqlStore, Submission
from crowdnb.store.schema import tasks
from crowdnb.store.sql import reads
from crowdnb.store.types import LABEL_COLUMNS


def _labeled(store: SqlStore, kind: str = "text-class", labels: dict[str, list] | None = None, **options) -> crowdnb.Project:
    project = crowdnb.Project.create("p", kind, store=store, overlap=3, **options)
    project.add_tasks(pd.DataFrame({
        "id": [f"t{i}" for i in range(7)], "text": [f"text {i}" for i in range(7)],
        "prediction": ["a", None, "b", "a", None, "b", "a"] if kind == "text-class" else [None] * 7,
    }))
    for worker, chosen in (labels or {"ana": list("aabbaab"), "ben": list("abababa"), "cy": list("bbbbbbb")}).items():
        wid = store.worker_id(worker)
        for task, label in zip(store.claim(project.info.id, wid, 7), chosen, strict=False):
            store.submit(project.info.id, wid, Submission(f"{worker}-{task.external_id}", task.id, label, 1500))
    return project


def test_all_columns_in_task_then_time_order(store: SqlStore) -> None:
    labels = _labeled(store, classes=["a", "b"]).labels()
    assert list(labels.columns) == LABEL_COLUMNS
    assert labels["task"].tolist() == [f"t{i}" for i in range(7) for _ in range(3)]
    for _, group in labels.groupby("task"):
        assert group["submitted_at"].is_monotonic_increasing
    assert str(labels["submitted_at"].dt.tz) == "UTC"
    assert labels["duration_ms"].tolist() == [1500] * 21 and str(labels["duration_ms"].dtype) == "Int64"
    assert labels["flag"].tolist() == [None] * 21
    first = labels[labels["task"] == "t0"].set_index("worker")
    assert first["label"].to_dict() == {"ana": "a", "ben": "a", "cy": "b"}
    assert first["prediction_accepted"].to_dict() == {"ana": True, "ben": True, "cy": False}
    assert labels.loc[labels["task"] == "t1", "prediction_accepted"].tolist() == [None] * 3


def test_only_the_columns_asked_for(store: SqlStore) -> None:
    project = _labeled(store, classes=["a", "b"])
    whole = project.labels()
    for names in (["label"], ["worker", "task"], ["prediction_accepted", "label"], ["annotation_id"]):
        part = project.labels(names)
        assert list(part.columns) == names
        pd.testing.assert_frame_equal(part, whole[names])
    with pytest.raises(ValueError, match=r"unknown label column\(s\) \['colour'\]"):
        project.labels(["task", "colour"])


@pytest.mark.parametrize("per_batch", [1, 2, 5, 100])
def test_pieces_add_up_to_the_whole(store: SqlStore, per_batch: int) -> None:
    project = _labeled(store, classes=["a", "b"])
    pieces = list(project.label_batches(tasks_per_batch=per_batch))
    assert len(pieces) == -(-7 // per_batch)
    assert all(piece["task"].nunique() <= per_batch for piece in pieces)
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), project.labels())


def test_pieces_add_up_when_task_ids_do_not_follow_positions(store: SqlStore) -> None:
    project = _labeled(store, classes=["a", "b"])
    with store.engine.begin() as conn:  # task order reversed: t6 first, t0 last
        conn.execute(sa.update(tasks).where(tasks.c.project_id == project.info.id).values(position=100 - tasks.c.position))
    whole = project.labels()
    assert whole["task"].drop_duplicates().tolist() == [f"t{i}" for i in reversed(range(7))]
    pieces = list(project.label_batches(tasks_per_batch=3))
    assert [piece["task"].drop_duplicates().tolist() for piece in pieces] == [["t6", "t5", "t4"], ["t3", "t2", "t1"], ["t0"]]
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole)


def test_without_predictions_the_read_does_not_join_them(store: SqlStore) -> None:
    project = _labeled(store, classes=["a", "b"])
    with store.engine.begin() as conn:
        assert reads.has_predictions(conn, project.info.id)
        conn.execute(sa.update(tasks).where(tasks.c.project_id == project.info.id).values(payload={"text": "x"}))
        assert not reads.has_predictions(conn, project.info.id)
    query, _ = reads.label_query(project.info.id, LABEL_COLUMNS, class_labels=True, dialect=store.engine.dialect.name, predicted=False)
    assert "predictions" not in str(query.compile(store.engine))
    labels = project.labels()
    assert labels["prediction_accepted"].tolist() == [None] * 21 and labels["label"].notna().all()


def test_structured_labels_come_back_as_values(store: SqlStore) -> None:
    spans = {"ana": [[{"start": 0, "end": 4, "label": "日本"}]] * 7, "ben": [[]] * 7}
    project = _labeled(store, "spans", spans, classes=["日本", "b"])
    labels = project.labels()
    assert labels.loc[labels["worker"] == "ana", "label"].tolist() == [[{"start": 0, "end": 4, "label": "日本", "text": "text"}]] * 7
    assert labels.loc[labels["worker"] == "ben", "label"].tolist() == [[]] * 7
    assert labels["prediction_accepted"].tolist() == [None] * 14


def test_tasks_count_their_current_labels(store: SqlStore) -> None:
    project = _labeled(store, classes=["a", "b"], labels={"ana": list("ab"), "ben": list("a")})
    found = project.tasks()
    assert found["id"].tolist() == [f"t{i}" for i in range(7)]
    assert found["n_labels"].tolist() == [2, 1, 0, 0, 0, 0, 0]
    assert found.loc[0, "payload"] == {"text": "text 0", "prediction": "a"} and found.loc[1, "payload"] == {"text": "text 1"}
    assert found["overlap"].tolist() == [3] * 7 and found["known_answer"].tolist() == [None] * 7
