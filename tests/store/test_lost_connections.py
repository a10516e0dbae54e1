"""PostgreSQL connections the server ends under the store, as in a restart: idle pooled ones
are replaced before use; a grouped submit whose connection is lost mid-statement fails, with
every label of its group, with SQLAlchemy's OperationalError (the server's 503: retry), never
hangs and acknowledges nothing that was not stored; the next groups get fresh connections, and
a retried label is stored once."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
import sqlalchemy as sa

from crowdnb.store import NewTask, SqlStore, Submission
from crowdnb.store.engine import create_engine

pytestmark = pytest.mark.postgres


def _admin(store: SqlStore) -> psycopg.Connection:
    url = store.engine.url
    return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True)


def _end_sessions(admin: psycopg.Connection, where: str = "true") -> int:
    """End the sessions of the store's database (but `admin`'s) that match `where`, and wait
    until they are gone."""
    pids = [pid for (pid,) in admin.execute(
        "SELECT pid FROM pg_stat_activity"
        f" WHERE datname = current_database() AND pid <> pg_backend_pid() AND {where}"
    )]
    for pid in pids:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    while admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids]).fetchone()[0]:
        time.sleep(0.01)
    return len(pids)


def _project(store: SqlStore, n_tasks: int, n_workers: int) -> tuple[int, list[int]]:
    info = store.create_project("p", "text-class", {"classes": ["a", "b"]}, overlap=1)
    store.insert_tasks(info.id, [NewTask(f"t{i}", {"text": "x"}) for i in range(n_tasks)])
    return info.id, [store.worker_id(f"w{i}") for i in range(n_workers)]


def test_idle_pooled_connections_the_server_ended_are_replaced_before_use(pg_cluster) -> None:
    with SqlStore(pg_cluster.new_database()) as store, _admin(store) as admin:
        pid, workers = _project(store, 40, 20)
        held = {w: store.claim(pid, w, 2) for w in workers}
        assert _end_sessions(admin) > 0
        labels = [(w, Submission(uuid.uuid4().hex, t.id, "a")) for w in workers for t in held[w]]
        for worker, label in labels:  # claims and submits, both paths: no error
            store.submit(pid, worker, label)
        assert _end_sessions(admin) > 0
        assert store.claim(pid, workers[0], 1) == []
        assert sorted(store.labels(pid)["annotation_id"]) == sorted(label.annotation_id for _, label in labels)


def test_a_group_whose_connection_is_lost_fails_as_a_whole_retryably_and_stores_nothing(pg_cluster) -> None:
    with SqlStore(pg_cluster.new_database()) as store, _admin(store) as admin, _admin(store) as blocker:
        pid, workers = _project(store, 10, 10)
        labels = {w: Submission(uuid.uuid4().hex, store.claim(pid, w, 1)[0].id, "a") for w in workers}
        outcomes: dict[int, object] = {}
        with blocker.transaction():
            blocker.execute("SELECT id FROM assignments FOR UPDATE")  # the submits' statements wait for it

            def submit(worker: int) -> None:
                try:
                    outcomes[worker] = store.submit(pid, worker, labels[worker])
                except Exception as exc:  # noqa: BLE001 - looked at below
                    outcomes[worker] = exc

            threads = [threading.Thread(target=submit, args=(w,)) for w in workers]
            for thread in threads:
                thread.start()
            ended, deadline = 0, time.monotonic() + 30
            while len(outcomes) < len(workers) and time.monotonic() < deadline:  # each group's connection, as it waits
                ended += _end_sessions(admin, "wait_event_type = 'Lock'")
                time.sleep(0.05)
            for thread in threads:
                thread.join(timeout=10)
        assert not any(t.is_alive() for t in threads)
        assert all(isinstance(o, sa.exc.OperationalError) for o in outcomes.values()), outcomes
        assert ended < len(workers)  # a lost connection failed the submits waiting in its group too
        assert store.labels(pid).empty
        for worker in workers:  # the client's retry, with the same annotation id, on fresh connections
            assert not store.submit(pid, worker, labels[worker]).duplicate
        assert set(store.labels(pid)["annotation_id"]) == {label.annotation_id for label in labels.values()}


def test_postgres_engines_give_up_connecting_and_notice_a_dead_peer_unless_the_url_says_otherwise() -> None:
    engine = create_engine("postgresql+psycopg://u@127.0.0.1:1/db")
    assert engine.url.query["connect_timeout"] == "10" and engine.url.query["keepalives_idle"] == "30"
    assert create_engine("postgresql+psycopg://u@127.0.0.1:1/db?connect_timeout=3").url.query["connect_timeout"] == "3"
