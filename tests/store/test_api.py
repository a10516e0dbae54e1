"""The SqlStore API on SQLite and PostgreSQL: projects, tasks, hand-out, leases, submits."""

from __future__ import annotations

import threading
import time
from datetime import timezone

import pytest

from crowdnb.errors import Conflict, LabelError, NotFound, ValidationError
from crowdnb.store import NewTask, SqlStore, Submission


def _project(store: SqlStore, n: int = 10, *, overlap: int = 1, lease_seconds: int = 600) -> int:
    info = store.create_project("p", "text-class", {"classes": ["a", "b"]}, overlap=overlap, lease_seconds=lease_seconds)
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(n)])
    return info.id


def test_create_and_open_project(store: SqlStore) -> None:
    info = store.create_project("animals", "image-class", {"classes": ["cat", "dog"]}, overlap=3, price=5)
    assert store.project("animals") == info
    assert (info.overlap, info.price, info.config) == (3, 5, {"classes": ["cat", "dog"]})
    assert info.created_at.tzinfo == timezone.utc
    with pytest.raises(Conflict, match="already exists"):
        store.create_project("animals", "image-class", {"classes": ["x"]})
    with pytest.raises(NotFound, match="animals"):
        store.project("plants")
    with pytest.raises(ValueError, match="unknown task kind"):
        store.create_project("x", "no-such-kind", {})


def test_worker_ids_are_stable(store: SqlStore) -> None:
    first = store.worker_id("ana")
    assert store.worker_id("ana") == first
    assert store.worker_id("ben") != first


def test_add_tasks_rejects_existing_ids_and_keeps_store(store: SqlStore) -> None:
    pid = _project(store, 3)
    with pytest.raises(ValidationError, match="'t1'"):
        store.insert_tasks(pid, [NewTask("new", {"text": "n"}), NewTask("t1", {"text": "again"})])
    assert store.count_tasks(pid) == 3
    assert store.insert_tasks(pid, [NewTask("new", {"text": "n"}), NewTask("t1", {"text": "x"})], on_duplicate="skip") == 1
    assert store.tasks(pid)["id"].tolist() == ["t0", "t1", "t2", "new"]
    assert store.tasks(pid).loc[1, "payload"] == {"text": "text 1"}


def test_claim_follows_priority_then_insertion_order(store: SqlStore) -> None:
    info = store.create_project("p", "text-class", {"classes": ["a"]})
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": "x"}, priority=float(i == 3)) for i in range(5)])
    worker = store.worker_id("w")
    assert [t.external_id for t in store.claim(info.id, worker, 5)] == ["t3", "t0", "t1", "t2", "t4"]


def test_a_slot_is_leased_to_one_worker_only(store: SqlStore) -> None:
    pid = _project(store, 5)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    first = store.claim(pid, ana, 3)
    second = store.claim(pid, ben, 3)
    assert [t.external_id for t in first] == ["t0", "t1", "t2"]
    assert [t.external_id for t in second] == ["t3", "t4"]
    assert store.claim(pid, ben, 3, exclude=[t.id for t in second]) == []


def test_overlap_gives_each_task_to_distinct_workers(store: SqlStore) -> None:
    pid = _project(store, 2, overlap=2)
    workers = [store.worker_id(n) for n in ("ana", "ben", "cid")]
    got = {w: [t.external_id for t in store.claim(pid, w, 5)] for w in workers}
    assert got == {workers[0]: ["t0", "t1"], workers[1]: ["t0", "t1"], workers[2]: []}


def test_own_leases_come_back_first_after_a_restart(store: SqlStore) -> None:
    pid = _project(store, 6)
    worker = store.worker_id("w")
    held = store.claim(pid, worker, 3)
    store.submit(pid, worker, Submission("a0", held[0].id, "a"))
    again = store.claim(pid, worker, 3)  # a new widget: same worker, nothing excluded
    assert [t.external_id for t in again] == ["t1", "t2", "t3"]


def test_expired_leases_return_to_the_pool(store: SqlStore) -> None:
    pid = _project(store, 1, lease_seconds=1)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    assert len(store.claim(pid, ana, 1)) == 1
    assert store.claim(pid, ben, 1) == []
    time.sleep(1.2)
    assert [t.external_id for t in store.claim(pid, ben, 1)] == ["t0"]


def test_submit_is_durable_idempotent_and_timestamped_by_the_store(store: SqlStore) -> None:
    pid = _project(store, 2)
    worker = store.worker_id("w")
    task = store.claim(pid, worker, 1)[0]
    receipt = store.submit(pid, worker, Submission("id-1", task.id, "b", 1234))
    retry = store.submit(pid, worker, Submission("id-1", task.id, "b", 1234))
    assert not receipt.duplicate and retry.duplicate
    assert retry.submitted_at == receipt.submitted_at
    assert receipt.submitted_at.tzinfo == timezone.utc
    labels = store.labels(pid)
    assert labels[["task", "worker", "label", "duration_ms"]].values.tolist() == [["t0", "w", "b", 1234]]
    assert str(labels["submitted_at"].dt.tz) == "UTC"


def test_annotation_id_reused_for_another_task_is_refused(store: SqlStore) -> None:
    pid = _project(store, 2)
    worker = store.worker_id("w")
    t0, t1 = store.claim(pid, worker, 2)
    store.submit(pid, worker, Submission("same", t0.id, "a"))
    with pytest.raises(Conflict, match="same"):
        store.submit(pid, worker, Submission("same", t1.id, "a"))
    assert len(store.labels(pid)) == 1


def test_relabel_supersedes_the_previous_label(store: SqlStore) -> None:
    pid = _project(store, 2)
    worker = store.worker_id("w")
    task = store.claim(pid, worker, 1)[0]
    store.submit(pid, worker, Submission("first", task.id, "a"))
    store.submit(pid, worker, Submission("second", task.id, "b"))
    labels = store.labels(pid)
    assert labels[["task", "label", "annotation_id"]].values.tolist() == [["t0", "b", "second"]]
    assert store.progress(pid, worker) == (1, 2)


def test_invalid_labels_and_foreign_tasks_store_nothing(store: SqlStore) -> None:
    pid = _project(store, 1)
    other = store.create_project("q", "text-class", {"classes": ["a"]})
    store.insert_tasks(other.id, [NewTask("x", {"text": "x"})])
    worker = store.worker_id("w")
    task = store.claim(pid, worker, 1)[0]
    with pytest.raises(LabelError, match="'c'"):
        store.submit(pid, worker, Submission("bad", task.id, "c"))
    with pytest.raises(NotFound):
        store.submit(other.id, worker, Submission("foreign", task.id, "a"))
    assert store.labels(pid).empty and store.labels(other.id).empty


def test_skip_hands_the_task_to_others_not_back(store: SqlStore) -> None:
    pid = _project(store, 2)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    t0, t1 = store.claim(pid, ana, 2)
    store.skip(pid, ana, t0.id)
    assert [t.external_id for t in store.claim(pid, ana, 5, exclude=[t1.id])] == []
    assert [t.external_id for t in store.claim(pid, ben, 5)] == ["t0"]


def test_concurrent_workers_never_share_a_slot(store: SqlStore) -> None:
    pid = _project(store, 60, overlap=2)
    handed: dict[str, list[str]] = {}

    def work(name: str) -> None:
        worker = store.worker_id(name)
        mine: list[str] = []
        while batch := store.claim(pid, worker, 3, exclude=[]):
            for task in batch:
                store.submit(pid, worker, Submission(f"{name}-{task.id}", task.id, "a"))
                mine.append(task.external_id)
        handed[name] = mine

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = store.labels(pid)
    assert len(labels) == 120
    per_task = labels.groupby("task")["worker"].agg(["count", "nunique"])
    assert (per_task["count"] == 2).all() and (per_task["nunique"] == 2).all()
    assert all(len(set(v)) == len(v) for v in handed.values())


def test_a_late_label_after_the_lease_ran_out_never_exceeds_the_overlap(store: SqlStore) -> None:
    pid = _project(store, 1, lease_seconds=1)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    (task,) = store.claim(pid, ana, 1)
    time.sleep(1.2)
    assert [t.id for t in store.claim(pid, ben, 1)] == [task.id]
    store.submit(pid, ben, Submission("ben-1", task.id, "a"))
    with pytest.raises(Conflict, match="already has all its labels"):
        store.submit(pid, ana, Submission("ana-late", task.id, "b"))
    assert store.labels(pid)["worker"].tolist() == ["ben"]


def test_renew_extends_only_the_callers_live_leases(store: SqlStore) -> None:
    pid = _project(store, 2, lease_seconds=1)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    held = store.claim(pid, ana, 2)
    assert store.renew(pid, ben, [t.id for t in held]) == 0
    time.sleep(0.6)
    assert store.renew(pid, ana, [t.id for t in held]) == 2
    time.sleep(0.6)
    assert store.claim(pid, ben, 2) == []  # still held by ana thanks to the renewal


def test_banned_workers_are_not_paid(store: SqlStore) -> None:
    info = store.create_project("paid", "text-class", {"classes": ["a"]}, price=5)
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": "x"}) for i in range(3)])
    store.set_review(info.id, 1.0)
    ana, ines = store.worker_id("ana"), store.worker_id("ines", role="inspector")
    for task in store.claim(info.id, ana, 2):
        store.submit(info.id, ana, Submission(f"ana-{task.external_id}", task.id, "a"))
    store.decide(info.id, ines, "ana-t0", "approved")
    assert store.balance(ana) == 5
    store.set_worker_status(info.id, ana, "banned")
    store.decide(info.id, ines, "ana-t1", "approved")
    assert store.balance(ana) == 5


def test_claiming_more_renews_the_leases_already_held(store: SqlStore) -> None:
    pid = _project(store, 3, lease_seconds=1)
    ana, ben = store.worker_id("ana"), store.worker_id("ben")
    held = store.claim(pid, ana, 2)
    time.sleep(0.6)
    assert [t.external_id for t in store.claim(pid, ana, 1, exclude=[t.id for t in held])] == ["t2"]
    time.sleep(0.6)
    assert store.claim(pid, ben, 3) == []  # all three still leased to ana


def test_names_that_could_not_name_a_project_or_worker_everywhere_are_refused(store: SqlStore) -> None:
    for bad in ("a/b", ".", "..", "", "  ", "bell\x07"):
        with pytest.raises(ValueError, match="name"):
            store.create_project(bad, "text-class", {"classes": ["a"]})
        with pytest.raises(ValueError, match="name"):
            store.issue_token(bad)
    assert store.create_project("가게 간판 (OCR)", "text-class", {"classes": ["a"]}).name == "가게 간판 (OCR)"
