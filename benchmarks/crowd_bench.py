"""Crowd throughput benchmark: many workers claim and label one project at once, overlap k.

Every variant labels the same work: ``--tasks`` text tasks, each to be labeled by ``--overlap``
distinct workers, by ``--workers`` concurrent workers that claim a batch, label it, and claim again
until nothing is left. PostgreSQL is one throwaway server (``tests/support/pgcluster.py``,
``Cluster(durable=True)``: fsync and synchronous_commit on, the defaults), a fresh database per
variant. Variants, all in one run:

1. ``crowdnb store, PostgreSQL``: crowdnb's ``SqlStore`` shared by ``--workers`` threads, each its
   own worker id; ``SqlStore.claim(n=10)``, then ``SqlStore.submit`` of each task (each call returns
   once it is durable; calls that threads make at the same moment share a transaction on
   PostgreSQL). A worker labels its whole batch before claiming again, so it holds
   nothing to pass as ``exclude``; the store itself never hands a worker a task twice.
2. ``crowdnb store, SQLite``: the same on a SQLite file in a temporary directory, 8 threads.
3. ``crowdnb HTTP single-label calls``: what a labeling page does. Two ``crowdnb serve``
   processes on one PostgreSQL database, the worker threads split across them, each with its own
   token and a kept-alive ``http.client`` connection: ``POST /claim`` with ``n=1``, then
   ``POST /submit`` of its label; a label counts as acknowledged when the server answered 200.
   ``crowdnb HTTP one call per label``: the same, the way a page that prefetches works: after a
   first claim of 10, each ``POST /submit-and-claim`` stores one label, and the last of the ten
   leases the next ten; one request per label, one claim per ten.
4. ``crowdnb HTTP batched client``: the same servers, each worker with
   ``crowdnb.connect(url, token, outbox=<own file>)``: ``HttpStore.claim(pid, wid, 10)``,
   ``HttpStore.submit`` per task, ``remote.flush()`` after each batch; a label counts as
   acknowledged when ``flush`` returned with the outbox empty. The outboxes are on tmpfs
   (``--outbox-dir``) by default: each is durable (one fsync per label queued and one per batch
   sent), and the fifty clients here share one disk where a crowd's workers each have their
   own, so on disk this row measures this machine's fsync queue rather than the server
   (1,044 against 1,668 labels/s in one run at load 8).
5. ``plain SQL``: a reference written here with psycopg 3 on its own two tables: claim free slots
   with ``SELECT ... FOR UPDATE SKIP LOCKED`` (skipping tasks this worker labeled) in one
   transaction, insert each label in another; with 1 and with 10 slots per claim. Its claim plan
   is checked with ``EXPLAIN ANALYZE`` half way through the 1-slot run. It has no leases (a slot
   claimed by a worker who dies is lost): it shows what the machine allows, not a product.
6. ``superintendent 0.6.0``: its ``DatabaseQueue`` on the same PostgreSQL, run by a script in a
   separate virtualenv (``--superintendent-venv``, made with pinned versions when missing).
   It has no overlap, so each task is enqueued ``--overlap`` times with the copy number as
   priority; every thread is a worker with its own queue, as its widget would be: ``pop()``,
   ``submit()``. Its pop is a plain SELECT then UPDATE, so an item can go to several workers at
   once; those are counted, and labels overwritten by another worker's submit count as lost.

Per variant: labels/s (acknowledged labels found in the store at the end) and fully labeled
tasks/s, both up to the last acknowledgement; claim and submit latency p50/p99 (HTTP: submit is
the whole batch until ``flush`` returned); double hand-outs (a task given twice to one worker,
more than ``--overlap`` labels on a task, or, for superintendent, an item popped by two workers);
lost acknowledged labels; and the check that every task ended with exactly ``--overlap`` labels
from as many distinct workers. Targets are printed with PASS/FAIL at the end.

The default is the issue's 20,000 tasks for every variant but superintendent, which gets
``--superintendent-tasks`` (5,000): its pop reads the whole queue, so its time grows faster than
linearly (257 s for 5,000 tasks here); its rate and its share of items handed out twice are what
the row shows.

    python benchmarks/crowd_bench.py [--tasks 20000] [--workers 50] [--overlap 3]
                                     [--variants store-pg,store-sqlite,http-single,http-page,http-batched,sql-1,sql-10,superintendent]
                                     [--superintendent-tasks 5000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from pgcluster import Cluster
from servers import Server

import crowdnb
from crowdnb.store import NewTask, SqlStore, Submission

CLASSES = ["a", "b"]
BATCH = 10  # tasks per claim (the widget prefetches anyway)
SQLITE_WORKERS = 8
EMPTY_ROUNDS = 3  # empty claims in a row (0.1 s apart) before a worker stops
SQL_TARGET_SHARE = 0.8
HTTP_SINGLE_SHARE = 0.3  # of plain SQL with 10 slots per claim, in the same run
HTTP_BATCHED_SHARE = 0.5
SUPERINTENDENT_PINS = ("superintendent==0.6.0", "sqlmodel==0.0.44", "SQLAlchemy>=2,<2.1", "psycopg2-binary")
VARIANTS = ("store-pg", "store-sqlite", "http-single", "http-page", "http-batched", "sql-1", "sql-10", "superintendent")


@dataclass
class Tally:
    """What one worker thread saw."""

    claim_s: list[float] = field(default_factory=list)
    submit_s: list[float] = field(default_factory=list)
    acked: list[Any] = field(default_factory=list)  # acknowledged labels, as the variant keys them
    last_ack: float = 0.0
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The store's state after a run, judged against what the workers were told."""

    kept: int  # acknowledged labels found in the store
    full_tasks: int
    double: int
    lost: int  # acknowledged labels not in the store
    exact: bool


@dataclass(frozen=True)
class Result:
    """One table row."""

    name: str
    workers: int
    labels: int = 0
    seconds: float = float("nan")
    full_tasks: int = 0
    claim_s: tuple[float, ...] = ()
    submit_s: tuple[float, ...] = ()
    double: int | None = None
    lost: int | None = None
    check: str = "-"
    note: str = ""
    load: float = float("nan")  # 1-minute load average when the variant finished

    @property
    def rate(self) -> float:
        return self.labels / self.seconds if self.labels else 0.0


# -- running worker threads -----------------------------------------------------------------


def crowd(
    n: int, work: Callable[[int, Tally], None], during: Callable[[Callable[[], bool]], None] | None = None
) -> tuple[list[Tally], float]:
    """Run `work(i, tally)` in `n` threads started together; returns the tallies and the
    seconds from the start to the last acknowledged label. `during(busy)` runs in this thread
    meanwhile; `busy()` tells whether any worker is still running."""
    tallies = [Tally() for _ in range(n)]
    gate = threading.Barrier(n + 1)

    def run(i: int) -> None:
        gate.wait()
        try:
            work(i, tallies[i])
        except Exception as exc:  # noqa: BLE001 - reported in the table
            tallies[i].error = f"{type(exc).__name__}: {exc}"

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    gate.wait()
    start = time.perf_counter()
    if during is not None:
        during(lambda: any(thread.is_alive() for thread in threads))
    for thread in threads:
        thread.join()
    return tallies, max(t.last_ack for t in tallies) - start


def label_until_done(
    claim: Callable[[], list[int]], label: Callable[[list[int], Tally], None], tally: Tally
) -> None:
    """The worker loop: claim a batch, label it, repeat until claims come back empty
    `EMPTY_ROUNDS` times in a row."""
    empty = 0
    while empty < EMPTY_ROUNDS:
        start = time.perf_counter()
        batch = claim()
        tally.claim_s.append(time.perf_counter() - start)
        if not batch:
            empty += 1
            time.sleep(0.1)
            continue
        empty = 0
        label(batch, tally)


def timed(tally: Tally, action: Callable[[], Any]) -> Any:
    """Run `action`, recording its latency as a submit and the time of its acknowledgement."""
    start = time.perf_counter()
    value = action()
    tally.last_ack = time.perf_counter()
    tally.submit_s.append(tally.last_ack - start)
    return value


def judge(
    per_task: Iterable[tuple[int, int]], n_tasks: int, overlap: int, double: int,
    acked: Iterable[Any], stored: Iterable[Any],
) -> Outcome:
    """`per_task` holds (labels, distinct workers) of every task."""
    counts = list(per_task)
    full = sum(n >= overlap for n, _ in counts)
    over = sum(n > overlap for n, _ in counts)
    exact = len(counts) == n_tasks and all(n == overlap and w == overlap for n, w in counts)
    told, found = set(acked), set(stored)
    return Outcome(len(told & found), full, double + over, len(told - found), exact)


def result(name: str, tallies: list[Tally], seconds: float, outcome: Outcome, note: str = "") -> Result:
    errors = [t.error for t in tallies if t.error]
    if errors:
        note = f"{len(errors)} worker errors, first: {errors[0][:200]}; {note}"
    return Result(
        name, len(tallies), outcome.kept, seconds, outcome.full_tasks,
        quantiles_ms([s for t in tallies for s in t.claim_s]),
        quantiles_ms([s for t in tallies for s in t.submit_s]),
        outcome.double, outcome.lost, "PASS" if outcome.exact and not errors else "FAIL", note.strip("; "),
    )


def quantiles_ms(seconds: list[float]) -> tuple[float, ...]:
    return tuple(float(q) * 1000 for q in np.quantile(seconds, (0.5, 0.99))) if seconds else ()


# -- crowdnb --------------------------------------------------------------------------------


def crowdnb_project(store: SqlStore, n_tasks: int, overlap: int) -> int:
    info = store.create_project("crowd", "text-class", {"classes": CLASSES}, overlap=overlap)
    store.insert_tasks(info.id, [NewTask(f"t{i:06d}", {"text": f"task {i}"}) for i in range(n_tasks)])
    return info.id


def crowdnb_outcome(store: SqlStore, project_id: int, n_tasks: int, overlap: int, acked: Iterable[str]) -> Outcome:
    with store.engine.connect() as conn:
        per_task = conn.execute(sa.text(
            "SELECT count(a.id), count(DISTINCT a.worker_id) FROM tasks t"
            " LEFT JOIN annotations a ON a.task_id = t.id WHERE t.project_id = :p GROUP BY t.id"
        ), {"p": project_id}).all()
        twice = conn.execute(sa.text(
            "SELECT count(*) FROM (SELECT 1 FROM annotations WHERE project_id = :p"
            " GROUP BY task_id, worker_id HAVING count(*) > 1) AS d"
        ), {"p": project_id}).scalar_one()
        stored = conn.execute(sa.text("SELECT id FROM annotations WHERE project_id = :p"), {"p": project_id}).scalars()
        return judge(per_task, n_tasks, overlap, twice, acked, stored)


def crowdnb_run(
    name: str, store: SqlStore, project_id: int, n_tasks: int, overlap: int, n_workers: int,
    work: Callable[[int, Tally], None], note: str = "",
) -> Result:
    """Run `work` in `n_workers` threads against a crowdnb project, and judge the store after."""
    tallies, seconds = crowd(n_workers, work)
    acked = [a for t in tallies for a in t.acked]
    return result(name, tallies, seconds, crowdnb_outcome(store, project_id, n_tasks, overlap, acked), note)


def run_store(name: str, url: str, n_tasks: int, n_workers: int, overlap: int) -> Result:
    """crowdnb's SqlStore used directly, one thread per worker."""
    with SqlStore(url) as store:
        project_id = crowdnb_project(store, n_tasks, overlap)
        worker_ids = [store.worker_id(f"w{i:03d}") for i in range(n_workers)]

        def work(i: int, tally: Tally) -> None:
            def claim() -> list[int]:
                return [t.id for t in store.claim(project_id, worker_ids[i], BATCH)]

            def label(batch: list[int], tally: Tally) -> None:
                for task_id in batch:
                    submission = Submission(uuid.uuid4().hex, task_id, random.choice(CLASSES), 1500)
                    receipt = timed(tally, lambda: store.submit(project_id, worker_ids[i], submission))
                    tally.acked.append(receipt.annotation_id)

            label_until_done(claim, label, tally)

        return crowdnb_run(name, store, project_id, n_tasks, overlap, n_workers, work)


@contextmanager
def http_crowd(url: str, n_tasks: int, n_workers: int, overlap: int, tmp: Path) -> Iterator[tuple[SqlStore, int, list[str], list[Server]]]:
    """A project with a token per worker, served by two `crowdnb serve` processes."""
    with SqlStore(url) as store:
        project_id = crowdnb_project(store, n_tasks, overlap)
        tokens = []
        for i in range(n_workers):
            tokens.append(store.issue_token(f"w{i:03d}"))
            store.add_member(project_id, f"w{i:03d}")
        media = tmp / "media"
        media.mkdir(exist_ok=True)
        servers = [Server(url, media, tmp / f"server{i}.log").start() for i in range(2)]
        try:
            yield store, project_id, tokens, servers
        finally:
            for server in servers:
                server.stop()


def run_http_single(url: str, n_tasks: int, n_workers: int, overlap: int, tmp: Path, *, one_call: bool = False) -> Result:
    """What a labeling page does: claim one task, submit its label, one HTTP call each, over a
    kept-alive connection (the standard library's http.client, the cheapest Python client, so
    that the clients sharing this machine take as little of it as they can). With `one_call`,
    the page's own way: it holds `BATCH` tasks, and the `submit-and-claim` of the last of them
    leases the next `BATCH`, so each label is one call and a claim serves ten labels."""
    with http_crowd(url, n_tasks, n_workers, overlap, tmp) as (store, project_id, tokens, servers):

        def work(i: int, tally: Tally) -> None:
            server = servers[i % 2]
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            headers = {"Authorization": f"Bearer {tokens[i]}", "Content-Type": "application/json"}
            waiting: list[int] = []  # leased by the last submit-and-claim

            def call(path: str, body: dict[str, Any]) -> Any:
                conn.request("POST", f"/api/v1/projects/crowd/{path}", json.dumps(body), headers)
                response = conn.getresponse()
                data = response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status} {data[:200]!r}")
                return json.loads(data)

            def claim() -> list[int]:
                if waiting:
                    batch, waiting[:] = list(waiting), []
                    return batch
                return [t["task_id"] for t in call("claim", {"n": BATCH if one_call else 1})]

            def label(batch: list[int], tally: Tally) -> None:
                for i, task_id in enumerate(batch):
                    body = {"annotation_id": uuid.uuid4().hex, "task_id": task_id, "label": random.choice(CLASSES), "duration_ms": 1500}
                    if one_call:  # the last label of the batch asks for the next batch
                        answer = timed(tally, lambda: call("submit-and-claim", {**body, "n": BATCH if i == len(batch) - 1 else 0}))
                        waiting.extend(t["task_id"] for t in answer["tasks"])
                    else:
                        answer = timed(tally, lambda: call("submit", body))
                    tally.acked.append(answer["annotation_id"])

            try:
                label_until_done(claim, label, tally)
            finally:
                conn.close()

        if one_call:
            note = f"submit-and-claim; the last of {BATCH} held leases the next {BATCH}; 2 servers"
            return crowdnb_run("crowdnb HTTP one call per label", store, project_id, n_tasks, overlap, n_workers, work, note)
        note = "claim 1, submit 1 per call; 2 servers"
        return crowdnb_run("crowdnb HTTP single-label calls", store, project_id, n_tasks, overlap, n_workers, work, note)


def run_http_batched(url: str, n_tasks: int, n_workers: int, overlap: int, tmp: Path, outboxes: Path) -> Result:
    """The client library (`crowdnb.connect`, its outbox included): claim 10, submit each, flush.
    Each worker's outbox is a file in `outboxes`."""
    with http_crowd(url, n_tasks, n_workers, overlap, tmp) as (store, project_id, tokens, servers):

        def work(i: int, tally: Tally) -> None:
            remote = crowdnb.connect(servers[i % 2].url, tokens[i], outbox=outboxes / f"outbox-{i:03d}.sqlite")
            try:
                pid = remote.project("crowd").id
                wid = remote.worker_id(remote.current_worker())

                def claim() -> list[int]:
                    return [t.id for t in remote.claim(pid, wid, BATCH)]

                def label(batch: list[int], tally: Tally) -> None:
                    def send() -> list[str]:
                        ids = [
                            remote.submit(pid, wid, Submission(uuid.uuid4().hex, task_id, random.choice(CLASSES), 1500)).annotation_id
                            for task_id in batch
                        ]
                        if left := remote.flush(timeout=120):
                            raise RuntimeError(f"{left} labels still in the outbox after 120 s")
                        return ids

                    tally.acked.extend(timed(tally, send))
                    if remote.failures:
                        raise RuntimeError(f"server refused labels: {remote.failures[:3]}")

                label_until_done(claim, label, tally)
            finally:
                remote.close()

        note = f"submit = batch of 10 until flush(); 2 servers; outboxes on {filesystem(outboxes)}"
        return crowdnb_run("crowdnb HTTP batched client", store, project_id, n_tasks, overlap, n_workers, work, note)


# -- plain SQL reference --------------------------------------------------------------------

SQL_SCHEMA = """
CREATE TABLE tasks (id bigint PRIMARY KEY, remaining int NOT NULL, payload jsonb NOT NULL);
CREATE INDEX tasks_open ON tasks (id) WHERE remaining > 0;
CREATE TABLE labels (
    task_id bigint NOT NULL REFERENCES tasks, worker_id int NOT NULL, label text NOT NULL,
    submitted_at timestamptz NOT NULL DEFAULT now(), UNIQUE (task_id, worker_id));
"""
# "This worker has not labeled the task" is a scalar subquery on purpose: PostgreSQL turns a
# NOT EXISTS into an anti join, planned here as a merge join that scans the (task_id, worker_id)
# index from its start (~16 ms per claim at 4,500 labels, growing with the table). A scalar
# subquery stays a probe of that index per candidate task. The limit is written into the text,
# so that the plan is made for it.
SQL_PICK = """
SELECT t.id FROM tasks t
WHERE t.remaining > 0
  AND (SELECT count(*) FROM labels l WHERE l.task_id = t.id AND l.worker_id = %(worker)s) = 0
ORDER BY t.id LIMIT {n}
FOR UPDATE OF t SKIP LOCKED
"""
SQL_CLAIM = """
WITH picked AS ({pick})
UPDATE tasks SET remaining = remaining - 1 FROM picked WHERE tasks.id = picked.id RETURNING tasks.id
"""
SQL_LABEL = "INSERT INTO labels (task_id, worker_id, label) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"


def pg_conninfo(url: str) -> str:
    parsed = sa.make_url(url)
    return f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"


def run_plain_sql(url: str, n_tasks: int, n_workers: int, overlap: int, per_claim: int) -> tuple[Result, str]:
    """The reference: two autocommit statements (two transactions) per label, `per_claim`
    slots per claim. Returns the row and, for the 1-slot run, the claim plan half way."""
    info = pg_conninfo(url)
    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(SQL_SCHEMA)
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO tasks (id, remaining, payload) VALUES (%s, %s, %s)",
                [(i, overlap, json.dumps({"text": f"task {i}"})) for i in range(n_tasks)],
            )
        conn.execute("ANALYZE")
    conflicts: list[int] = []
    plan: list[str] = []

    claim_sql = SQL_CLAIM.format(pick=SQL_PICK.format(n=per_claim))

    def work(i: int, tally: Tally) -> None:
        # Not prepared: each claim is planned for the table as it is then, as the EXPLAIN
        # below plans it, rather than reusing a plan made while `labels` was nearly empty.
        with psycopg.connect(info, autocommit=True, prepare_threshold=None) as conn:

            def claim() -> list[int]:
                return [row[0] for row in conn.execute(claim_sql, {"worker": i})]

            def label(batch: list[int], tally: Tally) -> None:
                for task_id in batch:
                    stored = timed(tally, lambda: conn.execute(SQL_LABEL, (task_id, i, random.choice(CLASSES))).rowcount)
                    if stored:
                        tally.acked.append((task_id, i))
                    else:
                        conflicts.append(task_id)  # this worker was handed a task it had labeled

            label_until_done(claim, label, tally)

    def explain_half_way(busy: Callable[[], bool]) -> None:
        plan.append(explain_claim(info, n_tasks * overlap // 2, busy))

    tallies, seconds = crowd(n_workers, work, explain_half_way if per_claim == 1 else None)
    with psycopg.connect(info) as conn:
        per_task = conn.execute(
            "SELECT count(l.task_id), count(DISTINCT l.worker_id) FROM tasks t"
            " LEFT JOIN labels l ON l.task_id = t.id GROUP BY t.id"
        ).fetchall()
        stored = conn.execute("SELECT task_id, worker_id FROM labels").fetchall()
    acked = [a for t in tallies for a in t.acked]
    outcome = judge(per_task, n_tasks, overlap, len(conflicts), acked, stored)
    name = f"plain SQL, {per_claim} slot{'s' if per_claim > 1 else ''}/claim"
    return result(name, tallies, seconds, outcome, "no leases"), "".join(plan)


def explain_claim(info: str, when_labels: int, busy: Callable[[], bool]) -> str:
    """EXPLAIN ANALYZE of worker 0's claim once `when_labels` labels are in (then rolled back):
    the labels index must be probed per candidate task, not scanned whole."""
    with psycopg.connect(info) as conn:
        while conn.execute("SELECT count(*) FROM labels").fetchone()[0] < when_labels:
            conn.rollback()
            if not busy():
                return f"plain SQL claim plan: not measured, the workers stopped before {when_labels:,} labels"
            time.sleep(0.2)
        own = conn.execute("SELECT count(*) FROM labels WHERE worker_id = 0").fetchone()[0]
        doc = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + SQL_PICK.format(n=1), {"worker": 0}).fetchone()[0]
        conn.rollback()
    nodes = list(plan_nodes(doc[0]["Plan"]))
    on_labels = [n for n in nodes if n.get("Relation Name") == "labels"]
    probed = bool(on_labels) and all(
        n["Node Type"] in ("Index Scan", "Index Only Scan")
        and all(column in n.get("Index Cond", "") for column in ("task_id", "worker_id"))
        for n in on_labels
    )
    whole = not probed or any(n["Node Type"] == "Seq Scan" for n in nodes)
    verdict = "FAIL (a whole scan)" if whole else "PASS (labels probed by (task_id, worker_id) per candidate task)"
    return (
        f"plain SQL claim plan at {when_labels:,} labels, worker 0 holding {own}:"
        f" {doc[0]['Execution Time']:.2f} ms, {plan_shape(doc[0]['Plan'])} -> {verdict}"
    )


def plan_shape(node: dict[str, Any]) -> str:
    """A plan on one line: node (rows x loops) [children]."""
    on = node.get("Index Name") or node.get("Relation Name")
    name = " ".join(filter(None, (node["Node Type"], node.get("Join Type"), on)))
    children = ", ".join(plan_shape(child) for child in node.get("Plans", []))
    return f"{name} ({node['Actual Rows']}x{node['Actual Loops']})" + (f" [{children}]" if children else "")


def plan_nodes(node: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


# -- superintendent -------------------------------------------------------------------------

SUPERINTENDENT_DRIVER = '''
"""Runs superintendent's DatabaseQueue with worker threads; written and started by crowd_bench.py."""
import json, random, sys, threading, time
from superintendent.db_queue import DatabaseQueue

url, n_tasks, overlap, n_workers, out = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5]
DatabaseQueue(url).enqueue(
    [{"task": t, "copy": c} for c in range(overlap) for t in range(n_tasks)],
    priorities=[c for c in range(overlap) for _ in range(n_tasks)],
)
queues = [DatabaseQueue(url, worker_id=f"w{i:03d}") for i in range(n_workers)]
gate = threading.Barrier(n_workers + 1)
seen = [dict(claim_s=[], submit_s=[], pops=[], acked=[], last_ack=0.0, error=None) for _ in queues]

def work(i):
    queue, me = queues[i], seen[i]
    gate.wait()
    try:
        while True:
            start = time.perf_counter()
            try:
                item, _data = queue.pop()
            except IndexError:
                return
            me["claim_s"].append(time.perf_counter() - start)
            me["pops"].append(item)
            start = time.perf_counter()
            queue.submit(item, random.choice("ab"))
            me["last_ack"] = time.perf_counter()
            me["submit_s"].append(me["last_ack"] - start)
            me["acked"].append(item)
    except Exception as exc:
        me["error"] = f"{type(exc).__name__}: {exc}"

threads = [threading.Thread(target=work, args=(i,)) for i in range(n_workers)]
for thread in threads:
    thread.start()
gate.wait()
start = time.perf_counter()
for thread in threads:
    thread.join()
for me in seen:
    me["last_ack"] -= start
with open(out, "w") as f:
    json.dump(seen, f)
'''


def superintendent_python(venv: Path) -> str:
    """The venv's python with superintendent 0.6.0 importable, made with pinned versions when
    missing; raises RuntimeError with pip's last words when it cannot be installed."""
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import superintendent; assert superintendent.__version__ == '0.6.0'"]
    if python.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return str(python)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", *SUPERINTENDENT_PINS], capture_output=True, text=True)
    if pip.returncode != 0 or subprocess.run(probe, capture_output=True).returncode != 0:
        raise RuntimeError("pip install failed: " + (pip.stderr.strip().splitlines() or ["?"])[-1])
    return str(python)


def run_superintendent(url: str, n_tasks: int, n_workers: int, overlap: int, venv: Path, tmp: Path) -> Result:
    name = "superintendent 0.6.0"
    try:
        python = superintendent_python(venv)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        return Result(name, n_workers, note=f"not run: could not install from the registry ({exc})")
    script, out = tmp / "superintendent_driver.py", tmp / "superintendent.json"
    script.write_text(SUPERINTENDENT_DRIVER)
    driver_url = url.replace("+psycopg:", "+psycopg2:")
    subprocess.run([python, str(script), driver_url, str(n_tasks), str(overlap), str(n_workers), str(out)], check=True)
    seen = json.loads(out.read_text())
    with psycopg.connect(pg_conninfo(url)) as conn:
        rows = conn.execute("SELECT id, input, worker_id FROM superintendentdata WHERE completed_at IS NOT NULL").fetchall()
    per_task: dict[int, list[str]] = {t: [] for t in range(n_tasks)}
    for _id, data, worker in rows:
        per_task[json.loads(data)["task"]].append(worker)
    pops = Counter(item for me in seen for item in me["pops"])
    shared = sum(n > 1 for n in pops.values())
    tallies = [
        Tally(me["claim_s"], me["submit_s"], [(item, f"w{i:03d}") for item in me["acked"]], me["last_ack"], me["error"])
        for i, me in enumerate(seen)
    ]
    stored = [(item_id, worker) for item_id, _data, worker in rows]
    acked = [a for t in tallies for a in t.acked]
    outcome = judge(((len(w), len(set(w))) for w in per_task.values()), n_tasks, overlap, shared, acked, stored)
    note = (
        f"{n_tasks:,} tasks; {shared / len(pops):.0%} of {len(pops):,} items handed out went to 2+ workers at once;"
        f" {len(acked):,} submits acknowledged, {outcome.lost:,} of them overwritten by another worker's;"
        f" no overlap: each task queued {overlap}x"
    )
    return result(name, tallies, max(t.last_ack for t in tallies), outcome, note)


# -- report ---------------------------------------------------------------------------------


def machine_facts(cluster: Cluster, tmp: Path) -> str:
    with psycopg.connect(pg_conninfo(cluster.url())) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in ("server_version", "fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
        }
    version = settings.pop("server_version")
    with sqlite3.connect(tmp / "probe.sqlite") as probe:
        journal = probe.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    repo = Path(__file__).resolve().parents[1]
    git = ["git", "-C", str(repo), "describe", "--always", "--dirty"]
    commit = subprocess.run(git, capture_output=True, text=True).stdout.strip()
    return "\n".join([
        f"crowdnb {crowdnb.__version__} at commit {commit or '?'}",
        f"cpus: {os.cpu_count()}   python {platform.python_version()}   {platform.platform()}",
        f"PostgreSQL {version}: " + ", ".join(f"{k}={v}" for k, v in settings.items()),
        f"SQLite {sqlite3.sqlite_version}: journal_mode={journal}, synchronous=FULL (set by crowdnb), file system of"
        f" {tmp}: {filesystem(tmp)}",
        f"uptime: {uptime()}",
    ])


def filesystem(path: Path) -> str:
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    return max((m for m in mounts if path.is_relative_to(m[1])), key=lambda m: len(m[1]))[2]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def table(results: Sequence[Result], n_tasks: int, overlap: int) -> str:
    head = ("variant", "workers", "labels", "s", "labels/s", "tasks/s", "claim p50", "p99",
            "submit p50", "p99", "double", "lost", f"exactly {overlap}", "load")
    rows = [head]
    for r in results:
        done = bool(r.labels)
        rows.append((
            r.name, str(r.workers), f"{r.labels:,}" if done else "-", f"{r.seconds:.1f}" if done else "-",
            f"{r.rate:,.0f}" if done else "-", f"{r.full_tasks / r.seconds:,.0f}" if done else "-",
            *millis(r.claim_s), *millis(r.submit_s),
            "-" if r.double is None else f"{r.double:,}", "-" if r.lost is None else f"{r.lost:,}", r.check,
            f"{r.load:.1f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    notes = [f"  {r.name}: {r.note}" for r in results if r.note]
    return "\n".join([*lines, f"({n_tasks:,} tasks x overlap {overlap}; latencies in ms)", *notes])


def millis(quantiles: tuple[float, ...]) -> list[str]:
    return [f"{q:.1f}" for q in quantiles] if quantiles else ["-", "-"]


def targets(results: Sequence[Result]) -> list[str]:
    by_name = {r.name: r for r in results}
    store = by_name.get("crowdnb store, PostgreSQL")
    sql = [r for r in results if r.name.startswith("plain SQL") and r.labels]
    sql10 = by_name.get(f"plain SQL, {BATCH} slots/claim")
    lines = []
    if store and sql:
        best = max(sql, key=lambda r: r.rate)
        ok = store.rate >= SQL_TARGET_SHARE * best.rate
        lines.append(f"{'PASS' if ok else 'FAIL'}  crowdnb store (PostgreSQL) {store.rate:,.0f} labels/s >= "
                     f"{SQL_TARGET_SHARE:.0%} of {best.name} ({best.rate:,.0f}): {store.rate / best.rate:.0%}")
    shares = (
        ("crowdnb HTTP single-label calls", HTTP_SINGLE_SHARE), ("crowdnb HTTP one call per label", HTTP_SINGLE_SHARE),
        ("crowdnb HTTP batched client", HTTP_BATCHED_SHARE),
    )
    for name, share in shares:
        row = by_name.get(name)
        if row and sql10 and sql10.labels:
            ok = row.rate >= share * sql10.rate
            lines.append(f"{'PASS' if ok else 'FAIL'}  {name} {row.rate:,.0f} labels/s >= {share:.0%} of "
                         f"{sql10.name} ({sql10.rate:,.0f}): {row.rate / sql10.rate:.0%}")
    ours = [r for r in results if r.name.startswith("crowdnb")]
    if ours:
        ok = all(r.double == 0 and r.lost == 0 and r.check == "PASS" for r in ours)
        each = ", ".join(f"{r.name}: {r.double}/{r.lost}/{r.check}" for r in ours)
        lines.append(f"{'PASS' if ok else 'FAIL'}  crowdnb: zero double hand-outs, zero lost acknowledged labels,"
                     f" exact overlap (double/lost/check: {each})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--overlap", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"a subset of {','.join(VARIANTS)}")
    parser.add_argument(
        "--outbox-dir", type=Path, default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
        help="where the batched clients keep their outboxes (default: tmpfs; see the docstring)",
    )
    parser.add_argument("--superintendent-venv", type=Path, default=Path("/tmp/supvenv"))
    parser.add_argument("--superintendent-tasks", type=int, default=5_000, help="tasks for superintendent's row")
    args = parser.parse_args()
    chosen = args.variants.split(",")
    if unknown := set(chosen) - set(VARIANTS):
        parser.error(f"unknown variants: {sorted(unknown)}")
    if args.overlap > min(args.workers, SQLITE_WORKERS if "store-sqlite" in chosen else args.workers):
        parser.error("--overlap must not exceed the number of workers")

    began = time.perf_counter()
    cluster = Cluster(durable=True).start()
    results: list[Result] = []
    plans: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="crowd-bench-") as folder:
            tmp = Path(folder)
            print(machine_facts(cluster, tmp), flush=True)
            n, k, w = args.tasks, args.overlap, args.workers
            outboxes = Path(tempfile.mkdtemp(prefix="crowd-bench-outboxes-", dir=args.outbox_dir))
            runs: dict[str, Callable[[], Result]] = {
                "store-pg": lambda: run_store("crowdnb store, PostgreSQL", cluster.new_database(), n, w, k),
                "store-sqlite": lambda: run_store(
                    "crowdnb store, SQLite", f"sqlite:///{tmp}/crowd.sqlite", n, SQLITE_WORKERS, k
                ),
                "http-single": lambda: run_http_single(cluster.new_database(), n, w, k, tmp),
                "http-page": lambda: run_http_single(cluster.new_database(), n, w, k, tmp, one_call=True),
                "http-batched": lambda: run_http_batched(cluster.new_database(), n, w, k, tmp, outboxes),
                "sql-1": lambda: keep_plan(run_plain_sql(cluster.new_database(), n, w, k, 1), plans),
                "sql-10": lambda: keep_plan(run_plain_sql(cluster.new_database(), n, w, k, BATCH), plans),
                "superintendent": lambda: run_superintendent(
                    cluster.new_database(), min(n, args.superintendent_tasks), w, k, args.superintendent_venv, tmp
                ),
            }
            for variant in chosen:
                start = time.perf_counter()
                results.append(replace(runs[variant](), load=os.getloadavg()[0]))
                print(f"  {results[-1].name}: done in {time.perf_counter() - start:.0f} s (setup included);"
                      f" load avg {os.getloadavg()[0]:.2f}", flush=True)
            shutil.rmtree(outboxes)
    finally:
        cluster.stop()
    print()
    print(table(results, args.tasks, args.overlap))
    for plan in plans:
        print(plan)
    print()
    print("\n".join(targets(results)))
    print(f"\ntotal runtime: {time.perf_counter() - began:.0f} s   uptime: {uptime()}")


def keep_plan(outcome: tuple[Result, str], plans: list[str]) -> Result:
    row, plan = outcome
    if plan:
        plans.append(plan)
    return row


if __name__ == "__main__":
    main()
