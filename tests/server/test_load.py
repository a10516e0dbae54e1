"""Many workers at once over HTTP, with server processes killed and restarted, and outages:
every task ends with exactly `overlap` labels from distinct workers, and no acknowledged label
is lost."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from servers import Server

import crowdnb
from crowdnb import SqlStore
from crowdnb.store import Submission
from crowdnb.widgets import SourceUnavailable

pytestmark = pytest.mark.timeout(300)


def _crowd(store_url: str, n_workers: int, n_tasks: int, overlap: int, lease_seconds: int) -> tuple[SqlStore, list[str]]:
    store = SqlStore(store_url)
    info = store.create_project("load", "text-class", {"classes": ["a", "b"]}, overlap=overlap, lease_seconds=lease_seconds)
    crowdnb.Project(store, info).add_tasks(pd.DataFrame({"text": [f"task {i}" for i in range(n_tasks)], "id": [f"t{i}" for i in range(n_tasks)]}))
    tokens = []
    for i in range(n_workers):
        tokens.append(store.issue_token(f"w{i:02d}"))
        store.add_member(info.id, f"w{i:02d}")
    return store, tokens


class Worker(threading.Thread):
    """Claims and labels through the client library (outbox included) until nothing is left;
    `quit_when()` returning True makes them walk away, abandoning the tasks they hold."""

    def __init__(self, url: str, token: str, folder: Path, quit_when: Callable[[], bool] = lambda: False) -> None:
        super().__init__(daemon=True)
        self.remote = crowdnb.connect(url, token, outbox=folder / f"outbox-{token[-8:]}.sqlite")
        self.quit_when = quit_when
        self.acknowledged: list[str] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            info = self.remote.project("load")
            me = self.remote.worker_id(self.remote.current_worker())
            held: list[int] = []
            empty_rounds = 0
            while empty_rounds < 3 and not self.quit_when():
                try:
                    batch = self.remote.claim(info.id, me, 5, exclude=held[-1000:])
                except SourceUnavailable:
                    time.sleep(0.2)
                    continue
                empty_rounds = 0 if batch else empty_rounds + 1
                if not batch:
                    time.sleep(1.0)  # leases of others may still run out
                for task in batch:
                    if self.quit_when():
                        return
                    label = Submission(uuid.uuid4().hex, task.id, random.choice("ab"))
                    self.acknowledged.append(self.remote.submit(info.id, me, label).annotation_id)
                    held.append(task.id)
                self.remote.flush(timeout=5)  # a person takes longer per item than the upload
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.remote.flush(timeout=60)


def _check(store: SqlStore, workers: list[Worker], n_tasks: int, overlap: int) -> None:
    for worker in workers:
        assert worker.error is None, repr(worker.error)
        assert worker.remote.flush(timeout=60) == 0
        assert worker.remote.failures == [] or all("already has all its labels" in f for f in worker.remote.failures)
    project = crowdnb.Project.open("load", store=store)
    labels = project.labels()
    per_task = labels.groupby("task")["worker"].agg(["count", "nunique"])
    assert len(per_task) == n_tasks
    assert (per_task["count"] == overlap).all() and (per_task["nunique"] == overlap).all()
    stored = set(labels["annotation_id"])
    refused = sum(len(w.remote.failures) for w in workers)
    acknowledged = [a for w in workers for a in w.acknowledged]
    assert len(acknowledged) == len(set(acknowledged))
    assert len(stored) == len(acknowledged) - refused  # every acknowledged label is stored or its refusal reported
    assert stored <= set(acknowledged)


@pytest.mark.postgres
def test_fifty_workers_two_servers_one_killed(pg_cluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    store, tokens = _crowd(url, 50, 500, 3, lease_seconds=4)
    media = tmp_path / "media"
    media.mkdir()
    servers = [Server(url, media, tmp_path / f"server{i}.log").start() for i in range(2)]
    killed = threading.Event()
    try:
        workers = [
            Worker(servers[i % 2].url, token, tmp_path,
                   quit_when=(lambda i=i: killed.is_set() and i % 10 == 1))  # some walk away at the crash
            for i, token in enumerate(tokens)
        ]
        for worker in workers:
            worker.start()
        time.sleep(2.0)
        servers[1].kill()  # kill -9 in the middle of the run
        killed.set()
        time.sleep(1.5)
        servers[1].start()
        for worker in workers:
            worker.join(timeout=240)
        assert not any(w.is_alive() for w in workers)
        _check(store, workers, 500, 3)
    finally:
        for server in servers:
            server.stop()
        store.close()


def test_eight_workers_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'load.sqlite'}"
    store, tokens = _crowd(url, 8, 120, 3, lease_seconds=30)
    media = tmp_path / "media"
    media.mkdir()
    server = Server(url, media, tmp_path / "server.log").start()
    try:
        workers = [Worker(server.url, token, tmp_path) for token in tokens]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=240)
        _check(store, workers, 120, 3)
    finally:
        server.stop()
        store.close()


def test_outbox_holds_labels_while_the_server_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outage.sqlite'}"
    store, (token,) = _crowd(url, 1, 10, 1, lease_seconds=600)
    server = Server(url, tmp_path, tmp_path / "server.log").start()
    remote = crowdnb.connect(server.url, token, outbox=tmp_path / "outbox.sqlite")
    try:
        widget = crowdnb.Project.open("load", store=remote).annotate(prefetch=4)
        source = widget._source
        items = source.fetch(6, [])
        server.kill()
        with pytest.raises(SourceUnavailable):
            source.fetch(1, [i.task_id for i in items])
        for item in items:  # the worker goes on with what the page already has
            source.submit(item.task_id, "a", f"offline-{item.task_id:04d}", 500)
        assert len(remote.outbox) == 6
        assert source.progress() == (6, 10)  # last known total, plus what waits locally
        remote.close()  # the notebook is closed while offline: the outbox stays on disk
        server.start()
        again = crowdnb.connect(server.url, token, outbox=tmp_path / "outbox.sqlite")
        assert again.flush(timeout=30) == 0
        labels = crowdnb.Project.open("load", store=store).labels()
        assert sorted(labels["annotation_id"]) == sorted(f"offline-{i.task_id:04d}" for i in items)
        again.close()
    finally:
        server.stop()
        store.close()
