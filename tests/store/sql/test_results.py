"""Results from integer codes read in SQL give what aggregating the `labels()` frame gives, with
the same labels left out (superseded, rejected, banned workers', flagged); stored results come
back as they were computed, with how and when."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import crowdnb
from crowdnb.aggregation.methods import CATEGORICAL, aggregate
from crowdnb.errors import NotFound
from crowdnb.store import SqlStore, Submission
from crowdnb.store.schema import annotations


@pytest.fixture
def crowd(store: SqlStore) -> crowdnb.Project:
    """60 tasks, 3 classes, 12 workers of mixed skill, 4 control tasks; some labels rejected or
    flagged, one worker banned."""
    rng = np.random.default_rng(7)
    truth = rng.choice(["cat", "dog", "owl"], 60)
    project = crowdnb.Project.create("crowd", "text-class", store=store, classes=["owl", "dog", "cat"], overlap=5)
    answers = [t if i % 15 == 0 else None for i, t in enumerate(truth)]
    project.add_tasks(pd.DataFrame({"id": [f"t{i:02d}" for i in range(60)], "text": ["x"] * 60, "answer": answers}))
    pid = project.info.id
    for w in range(12):
        wid = store.worker_id(f"w{w:02d}")
        skill = 0.5 + w / 25
        for task in store.claim(pid, wid, 60)[: 20 + 3 * w]:
            right = truth[int(task.external_id[1:])]
            label = right if rng.random() < skill else rng.choice(["cat", "dog", "owl"])
            store.submit(pid, wid, Submission(f"a-{w}-{task.id}", task.id, str(label), 2000))
    with store.engine.begin() as conn:  # states the store records after inspection and quality rules
        conn.execute(annotations.update().where(annotations.c.id.like("a-3-%")).values(status="rejected"))
        conn.execute(annotations.update().where(annotations.c.id.like("a-4-%")).values(flag="too_fast"))
    project.set_worker_status("w05", "banned")
    return project


def _reference(project: crowdnb.Project, method: str, include_flagged: bool = False) -> pd.DataFrame:
    """What aggregating the labels frame gives, with the rules applied in pandas."""
    labels, standing = project.labels(), project.workers().set_index("worker")
    keep = ~labels["worker"].isin(standing.index[standing["status"] == "banned"]) & (labels["status"] != "rejected")
    if not include_flagged:
        keep &= labels["flag"].isna()
    known = project.tasks().set_index("id")["known_answer"].dropna()
    found = aggregate(labels.loc[keep, ["task", "worker", "label"]], method, known=known)
    found = found.set_index("task").reindex(project.tasks()["id"]).rename_axis("task").reset_index()
    found["label"] = found["label"].astype(object).where(found["label"].notna(), None)
    return found


@pytest.mark.parametrize("method", sorted(CATEGORICAL))
def test_coded_results_equal_aggregating_the_labels_frame(crowd: crowdnb.Project, method: str) -> None:
    found, expected = crowd.results(method), _reference(crowd, method)
    assert found["task"].tolist() == expected["task"].tolist()
    assert found["label"].tolist() == expected["label"].tolist()
    np.testing.assert_allclose(found["confidence"].to_numpy(float), expected["confidence"].to_numpy(float), rtol=0, atol=1e-9)
    assert found["n_labels"].tolist() == expected["n_labels"].fillna(0).astype(int).tolist()
    assert found.attrs == {"method": method, "params": {}, "include_flagged": False}


def test_flagged_labels_count_when_asked(crowd: crowdnb.Project) -> None:
    found, expected = crowd.results("majority-vote", include_flagged=True), _reference(crowd, "majority-vote", True)
    assert found["n_labels"].sum() == expected["n_labels"].sum() > crowd.results("majority-vote")["n_labels"].sum()


def test_stored_results_come_back_with_how_and_when(crowd: crowdnb.Project) -> None:
    with pytest.raises(NotFound, match=r"results\(store=True\)"):
        crowd.stored_results()
    first = crowd.results("wawa", store=True)
    kept = crowd.stored_results()
    pd.testing.assert_frame_equal(kept, first)
    assert kept.attrs["method"] == "wawa" and kept.attrs["params"] == {} and kept.attrs["include_flagged"] is False
    assert kept.attrs["computed_at"] == first.attrs["computed_at"] and kept.attrs["n_labels"] == first["n_labels"].sum()
    again = crowd.results("dawid-skene", store=True, n_iter=5)
    kept = crowd.stored_results()
    assert (kept.attrs["method"], kept.attrs["params"]) == ("dawid-skene", {"n_iter": 5})
    assert kept.attrs["computed_at"] >= first.attrs["computed_at"]
    pd.testing.assert_frame_equal(kept, again)
    crowd.add_tasks(pd.DataFrame({"id": ["late"], "text": ["y"]}))
    assert "late" not in set(crowd.stored_results()["task"])


def test_a_project_without_labels_has_a_row_per_task(store: SqlStore) -> None:
    project = crowdnb.Project.create("empty", "text-class", store=store, classes=["a"])
    project.add_tasks(pd.DataFrame({"id": ["x", "y"], "text": ["1", "2"]}))
    found = project.results(store=True)
    assert found["task"].tolist() == ["x", "y"] and found["label"].tolist() == [None, None]
    assert found["n_labels"].tolist() == [0, 0] and found["confidence"].isna().all()
    kept = project.stored_results()
    assert kept["label"].tolist() == [None, None] and kept["confidence"].isna().all()


def test_deleting_a_project_deletes_its_stored_results(crowd: crowdnb.Project) -> None:
    crowd.results(store=True)
    with crowd.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM projects")
        assert conn.scalar(sa.text("SELECT count(*) FROM results")) == 0
