"""Many workers at once over HTTP, with server processes killed and restarted, and outages:
every task ends with exactly `overlap` labels from distinct workers, and no acknowledged label
is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from crowdload import OutboxWorker, check_labels, load_project
from servers import Server

import crowdnb
from crowdnb import SqlStore
from crowdnb.widgets import SourceUnavailable

pytestmark = pytest.mark.timeout(300)


def _check(store: SqlStore, workers: list[OutboxWorker], n_tasks: int, overlap: int) -> None:
    check_labels(store, "load", n_tasks, overlap, [w.outcome() for w in workers])


@pytest.mark.postgres
def test_fifty_workers_two_servers_one_killed(pg_cluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    store, tokens = load_project(url, 50, 500, 3, lease_seconds=4)
    media = tmp_path / "media"
    media.mkdir()
    servers = [Server(url, media, tmp_path / f"server{i}.log").start() for i in range(2)]
    killed = threading.Event()
    try:
        workers = [
            OutboxWorker(servers[i % 2].url, token, tmp_path,
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
    store, tokens = load_project(url, 8, 120, 3, lease_seconds=30)
    media = tmp_path / "media"
    media.mkdir()
    server = Server(url, media, tmp_path / "server.log").start()
    try:
        workers = [OutboxWorker(server.url, token, tmp_path) for token in tokens]
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
    store, (token,) = load_project(url, 1, 10, 1, lease_seconds=600)
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
