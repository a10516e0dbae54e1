"""The same `Project` over a crowd server (`crowdnb.connect`) as over a local store: a real
server on 127.0.0.1, roles permitting."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from crowd import Crowd, make_project

import crowdnb
from crowdnb.client import HttpStore
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import Submission


@pytest.fixture
def people(crowd: Crowd, tmp_path: Path) -> Iterator[dict[str, HttpStore]]:
    """A connection for each person of the crowd, each with an outbox of its own."""
    opened = {who: crowdnb.connect(crowd.server.url, token, outbox=tmp_path / f"{who}.sqlite") for who, token in crowd.tokens.items()}
    yield opened
    for store in opened.values():
        store.close()


def test_a_manager_runs_a_project_through_the_server_as_on_a_local_store(crowd: Crowd, people: dict[str, HttpStore]) -> None:
    boss, ana, ben = people["boss"], people["ana"], people["ben"]
    project = crowdnb.Project.create("texts", "text-class", store=boss, classes=["a", "b"], overlap=2, price=3)
    assert project.labels().columns.tolist() == [
        "task", "worker", "label", "submitted_at", "duration_ms", "status", "annotation_id", "flag", "prediction_accepted",
    ]
    assert project.results().empty and project.results().columns.tolist() == ["task", "label", "confidence", "n_labels"]
    assert project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], "text": ["one", "two"]})) == 2
    project.add_member("ana")
    project.add_member("ben")
    for store, label in ((ana, "a"), (ben, "a")):
        mine = crowdnb.Project.open("texts", store=store)
        me = store.worker_id(store.current_worker())
        for task in store.claim(mine.info.id, me, 2):
            store.submit(mine.info.id, me, Submission(f"{store.current_worker()}-{task.id}-label", task.id, label, 1500))
        assert store.flush() == 0
        assert mine.progress() == (2, 2)
    local = crowdnb.Project.open("texts", store=crowd.store)
    pd.testing.assert_frame_equal(project.results(), local.results(), check_dtype=False)
    pd.testing.assert_frame_equal(project.results("majority-vote"), local.results("majority-vote"), check_dtype=False)
    assert project.workers()["worker"].tolist() == ["ana", "ben"]
    assert ana.balance() == 6 and boss.payouts(pd.Timestamp("2000-01-01", tz="UTC"), pd.Timestamp("2100-01-01", tz="UTC"))["points"].tolist() == [6, 6]
    with pytest.raises(crowdnb.LabelError, match="foo"):
        project.results("majority-vote", foo=1)
    project.set_quality(QualityPolicy(min_duration_ms=2000))
    assert crowd.store.quality(project.info.id).min_duration_ms == 2000
    project.set_worker_status("ben", "suspended")
    assert local.workers().set_index("worker").loc["ben", "status"] == "suspended"


def test_roles_decide_what_the_same_project_may_do(crowd: Crowd, people: dict[str, HttpStore]) -> None:
    make_project(crowd)
    mine = crowdnb.Project.open("street", store=people["ana"])
    assert mine.my_labels().empty and "reason" in mine.my_labels().columns
    with pytest.raises(crowdnb.Forbidden):
        mine.labels()
    with pytest.raises(crowdnb.Forbidden):
        mine.results()
    with pytest.raises(crowdnb.Forbidden):
        mine.add_member("eve")
    with pytest.raises(crowdnb.Forbidden, match="manager"):
        mine.annotate(worker="ben")
    with pytest.raises(crowdnb.Forbidden):
        crowdnb.Project.open("street", store=people["eve"])  # not a member


def test_a_label_the_server_would_refuse_is_refused_before_it_is_queued(crowd: Crowd, people: dict[str, HttpStore]) -> None:
    make_project(crowd)
    ana = people["ana"]
    project = crowdnb.Project.open("street", store=ana)
    me = ana.worker_id("ana")
    (task,) = ana.claim(project.info.id, me, 1)
    with pytest.raises(crowdnb.LabelError, match="truck"):
        ana.submit(project.info.id, me, Submission("unknown-class-01", task.id, "truck"))
    with pytest.raises(crowdnb.LabelError):
        ana.submit(project.info.id, me, Submission("lone-surrogate", task.id, "car\ud800"))
    assert len(ana.outbox) == 0 and ana.notices() == []


def test_boxes_outside_the_image_are_refused_before_they_are_queued(crowd: Crowd, people: dict[str, HttpStore]) -> None:
    boss, ana = people["boss"], people["ana"]
    project = crowdnb.Project.create("boxes", "bbox", store=boss, classes=["car"])
    project.add_tasks(pd.DataFrame({"id": ["b0"], "image": ["street/img000.jpeg"]}))
    project.add_member("ana")
    project = crowdnb.Project.open("boxes", store=ana)
    me = ana.worker_id("ana")
    (task,) = ana.claim(project.info.id, me, 1)
    assert task.payload["width"] == 64 and "image" not in task.payload  # the server's path stays on the server
    with pytest.raises(crowdnb.LabelError):
        ana.submit(project.info.id, me, Submission("box-outside-01", task.id, [{"label": "car", "x": 60, "y": 0, "w": 30, "h": 10}]))
    assert len(ana.outbox) == 0


def test_what_the_server_refuses_or_hides_and_what_comes_back_as_locally(crowd: Crowd, people: dict[str, HttpStore]) -> None:
    boss, ana, ines = people["boss"], people["ana"], people["ines"]
    for bad in ("a/b", ".", "..", "tab\there"):
        with pytest.raises((ValueError, crowdnb.CrowdnbError)):
            crowdnb.Project.create(bad, "text-class", store=boss, classes=["a"])
    with pytest.raises((ValueError, crowdnb.CrowdnbError), match="min_duration_ms"):
        crowdnb.Project.create("typed", "text-class", store=boss, classes=["a"], quality=QualityPolicy(min_duration_ms="100"))  # type: ignore[arg-type]
    project = crowdnb.Project.create(
        "hidden", "text-class", store=boss, classes=["a", "b"], quality=QualityPolicy(min_duration_ms=900), review_rate=1.0,
    )
    project.add_tasks(pd.DataFrame({"id": ["t1", "t2"], "text": ["one", "two"]}))
    for who in ("ana", "ines"):
        project.add_member(who)
    seen = crowdnb.Project.open("hidden", store=ana).info
    assert seen.quality is None and seen.review_rate == 0.0  # a worker does not see the thresholds
    with pytest.raises(crowdnb.NotFound):
        project.set_worker_status("ben", "suspended")  # not in the project: no membership made for him
    with pytest.raises(crowdnb.Forbidden):
        crowdnb.Project.open("hidden", store=people["ben"])
    me = ana.worker_id("ana")
    (task, _) = ana.claim(seen.id, me, 2)
    ana.submit(seen.id, me, Submission("slash/in/the/id", task.id, "a", 1000))
    assert ana.flush() == 0
    review = crowdnb.Project.open("hidden", store=ines)
    (waiting,) = ines.claim_reviews(review.info.id, ines.worker_id("ines"), 5)
    ines.decide(review.info.id, ines.worker_id("ines"), waiting["annotation_id"], "approve")
    assert project.labels()["status"].tolist() == ["approved"] and project.labels()["flag"].tolist() == [None]
    results = project.results()
    assert results["label"].tolist() == ["a", None] and results["confidence"].isna().tolist() == [False, True]


def test_labels_in_columns_and_pieces_and_stored_results_over_http(crowd: Crowd, people: dict[str, HttpStore]) -> None:
    boss, ana = people["boss"], people["ana"]
    project = crowdnb.Project.create("many", "text-class", store=boss, classes=["a", "b"], overlap=1)
    project.add_tasks(pd.DataFrame({"id": [f"t{i}" for i in range(9)], "text": ["日本語のテキスト"] * 9}))
    project.add_member("ana")
    mine, me = crowdnb.Project.open("many", store=ana), ana.worker_id(ana.current_worker())
    for task in ana.claim(mine.info.id, me, 9):
        ana.submit(mine.info.id, me, Submission(f"many-label-{task.id}", task.id, "ab"[task.id % 2], 900))
    assert ana.flush() == 0
    local = crowdnb.Project.open("many", store=crowd.store)
    pd.testing.assert_frame_equal(project.labels(["task", "label"]), local.labels(["task", "label"]), check_dtype=False)
    pieces = list(project.label_batches(["label", "duration_ms"], tasks_per_batch=4))
    assert [len(p) for p in pieces] == [4, 4, 1] and list(pieces[0].columns) == ["label", "duration_ms"]
    assert pd.concat(pieces)["label"].tolist() == local.labels()["label"].tolist()
    with pytest.raises(crowdnb.NotFound, match="store=True"):
        project.stored_results()
    stored = project.results("majority-vote", store=True)
    assert stored.attrs["method"] == "majority-vote" and stored.attrs["computed_at"] == local.stored_results().attrs["computed_at"]
    pd.testing.assert_frame_equal(stored, local.stored_results(), check_dtype=False)
    with pytest.raises(crowdnb.Forbidden):
        mine.stored_results()
    with pytest.raises(crowdnb.LabelError, match="colour"):
        project.labels(["colour"])
