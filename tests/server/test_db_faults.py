"""Faults of the database under load: PostgreSQL (fsync on) killed with kill -9, and restarted
while workers' outboxes flush. Meanwhile the server answers 503 with a Retry-After, never a
500 or a hanging request; afterwards it reconnects by itself, every worker finishes, every task
has exactly `overlap` labels and no acknowledged label is lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from crowdload import (
    OutboxWorker,
    Outcome,
    PageWorker,
    check_labels,
    load_project,
    wait_until_labeled,
)
from pgcluster import Cluster
from servers import Server

import crowdnb
from crowdnb import SqlStore
from crowdnb.store import Submission

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]


@dataclass
class Faulty:
    """A PostgreSQL server of this module's own (the tests crash it), fsync and synchronous
    commit on, so that an acknowledged label must survive; a crowdnb server on one database."""

    cluster: Cluster
    url: str
    server: Server


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Faulty]:
    folder = tmp_path_factory.mktemp("faulty")
    cluster = Cluster(durable=True).start()
    try:
        url = cluster.new_database()
        SqlStore(url).close()  # migrated
        server = Server(url, folder, folder / "server.log").start()
        try:
            yield Faulty(cluster, url, server)
        finally:
            server.stop()
    finally:
        cluster.stop()


def _wait_for(condition: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _server_log(server: Server) -> str:
    """The server's log, which shows no unhandled error."""
    log = server.log.read_text()
    assert "Traceback" not in log and "500 Internal" not in log, log[-3000:]
    return log


def test_a_postmaster_killed_under_load_loses_no_acknowledged_label(faulty: Faulty, tmp_path: Path) -> None:
    n_tasks, overlap, url = 150, 3, faulty.server.url
    store, tokens = load_project(faulty.url, 16, n_tasks, overlap, lease_seconds=60, name="killed")
    stop = threading.Event()
    pages = [PageWorker(url, token, stop, project="killed", seed=i) for i, token in enumerate(tokens[:10])]
    outboxes = [OutboxWorker(url, token, tmp_path, quit_when=stop.is_set, project="killed") for token in tokens[10:]]
    try:
        for worker in [*pages, *outboxes]:
            worker.start()
        _wait_for(lambda: len(store.labels(store.project("killed").id)) >= n_tasks // 2)  # a sixth of the work
        faulty.cluster.kill9()
        probe = httpx.get(f"{url}/api/v1/projects/killed/progress", headers={"Authorization": f"Bearer {tokens[0]}"}, timeout=10)
        assert probe.status_code == 503
        assert probe.json() == {"detail": "the store's database is unavailable; try again shortly", "problems": []}
        assert int(probe.headers["Retry-After"]) >= 1
        time.sleep(1.0)  # workers meet the outage
        faulty.cluster.restart()  # crash recovery from the write-ahead log
        wait_until_labeled(store, "killed", overlap, n_tasks, timeout=90)
        stop.set()
        for worker in [*pages, *outboxes]:
            worker.join(timeout=60)
        assert not any(w.is_alive() for w in [*pages, *outboxes])
        check_labels(store, "killed", n_tasks, overlap, [w.outcome() for w in [*pages, *outboxes]])
        assert sum(p.statuses[503] for p in pages) > 0  # the outage was met under load
        assert all(set(p.statuses) <= {200, 503} for p in pages), [p.statuses for p in pages]
        assert "/projects/killed/claim: the database is unavailable" in _server_log(faulty.server)
    finally:
        stop.set()
        store.close()


def test_a_database_restart_during_outbox_flushes_loses_no_label(faulty: Faulty, tmp_path: Path) -> None:
    n_tasks, overlap, url = 120, 2, faulty.server.url
    store, tokens = load_project(faulty.url, 7, n_tasks, overlap, lease_seconds=60, name="restarted")
    stop = threading.Event()
    workers = [OutboxWorker(url, token, tmp_path, quit_when=stop.is_set, project="restarted") for token in tokens[1:]]
    remote = crowdnb.connect(url, tokens[0], outbox=tmp_path / "flushing.sqlite")
    try:
        info, me = remote.project("restarted"), remote.me()["id"]
        mine = remote.claim(info.id, me, 20)
        for worker in workers:
            worker.start()
        _wait_for(lambda: len(store.labels(info.id)) >= n_tasks // 2)
        restart = threading.Thread(target=faulty.cluster.restart, kwargs={"pause": 1.0})
        restart.start()  # a clean restart: sessions end with an error, then a second without a database
        _wait_for(lambda: not faulty.cluster.accepts_connections(), timeout=20)
        sent = [remote.submit(info.id, me, Submission(uuid.uuid4().hex, t.id, "a")).annotation_id for t in mine]
        assert remote.flush(timeout=90) == 0  # returns once the database is back and every label is stored
        restart.join()
        assert remote.failures == []
        wait_until_labeled(store, "restarted", overlap, n_tasks, timeout=60)
        stop.set()
        for worker in workers:
            worker.join(timeout=90)
        assert not any(w.is_alive() for w in workers)
        check_labels(store, "restarted", n_tasks, overlap, [w.outcome() for w in workers] + [Outcome(sent, 0, set(sent))])
        assert "/projects/restarted/submit-many: the database is unavailable" in _server_log(faulty.server)
    finally:
        stop.set()
        remote.close()
        store.close()


def test_after_a_crash_the_server_hears_of_revoked_tokens_again(faulty: Faulty) -> None:
    """A token in the server's memory before the crash, revoked after the restart, stops working
    at once (whether the listener is back or the server trusts nothing until it is)."""
    store = SqlStore(faulty.url)
    try:
        token = store.issue_token("listener-check")
        me = f"{faulty.server.url}/api/v1/me"
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(me, headers=headers).status_code == 200  # now in memory
        faulty.cluster.kill9()
        faulty.cluster.restart()
        deadline = time.monotonic() + 30
        while httpx.get(me, headers=headers, timeout=10).status_code != 200:  # 503 until reconnected
            assert time.monotonic() < deadline, "the server did not reconnect"
            time.sleep(0.2)
        time.sleep(1.5)  # the listener is back (it retries every second) and trusts its memory again
        assert httpx.get(me, headers=headers).status_code == 200
        store.remove_worker("listener-check")
        deadline = time.monotonic() + 2
        while httpx.get(me, headers=headers).status_code != 401:
            assert time.monotonic() < deadline, "a revoked token still works after the restart"
            time.sleep(0.02)
    finally:
        store.close()
