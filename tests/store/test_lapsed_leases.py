"""Leases that run out while the worker still shows the task: it is not handed to them twice,
and their late label is stored only while the task needs labels."""

from __future__ import annotations

import time

import pytest

from crowdnb.errors import Conflict
from crowdnb.store import NewTask, SqlStore, Submission


def _project(store: SqlStore, n: int, *, overlap: int) -> int:
    info = store.create_project("p", "text-class", {"classes": ["a", "b"]}, overlap=overlap, lease_seconds=1)
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": f"text {i}"}) for i in range(n)])
    return info.id


def test_a_held_task_whose_lease_ran_out_is_not_handed_to_its_holder_again(store: SqlStore) -> None:
    pid = _project(store, 3, overlap=2)
    ana = store.worker_id("ana")
    (held,) = store.claim(pid, ana, 1)
    time.sleep(1.2)  # the lease runs out; the next claim returns it to the pool
    again = store.claim(pid, ana, 3, exclude=[held.id])
    assert held.id not in [t.id for t in again] and len(again) == 2
    assert store.submit(pid, ana, Submission("ana-late", held.id, "a")).submitted_at is not None  # still needed


def test_a_late_label_is_stored_while_the_task_needs_one_and_refused_after(store: SqlStore) -> None:
    pid = _project(store, 1, overlap=2)
    ana, ben, eve = (store.worker_id(n) for n in ("ana", "ben", "eve"))
    (task,) = store.claim(pid, ana, 1)
    store.claim(pid, ben, 1)
    time.sleep(1.2)
    assert [t.id for t in store.claim(pid, eve, 1)] == [task.id]  # both leases returned, one taken
    store.submit(pid, ana, Submission("ana-late", task.id, "a"))  # a free slot: stored
    with pytest.raises(Conflict, match="already has all its labels"):
        store.submit(pid, ben, Submission("ben-late", task.id, "b"))
    store.submit(pid, eve, Submission("eve-1", task.id, "a"))
    labels = store.labels(pid)
    assert sorted(labels["worker"]) == ["ana", "eve"]
