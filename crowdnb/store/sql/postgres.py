"""PostgreSQL claims and submits for the common case: one statement each, grouped across threads.

Most claims and submits in a busy project are plain: the project has no quality policy, the
worker is active; a claiming worker has no rework waiting and no forgotten leases, and no lease
of the project has expired; a label arrives on the worker's lease. A plain claim is one SQL
statement with data-modifying CTEs; plain labels are one statement for any number of them.
Claims (and, apart, labels) that threads make at the same moment share one durable transaction
(`GroupCommit`), and each caller returns once it committed. When a statement finds the case is
not plain (its gate returns nothing for a claim or a label), `Store` runs its general path,
which handles every case in one explicit transaction; they are meant to agree on every outcome
(tests/store/test_postgres.py replays a session both ways).

Why hand-written SQL: the general path's ~7 statements per submit and ~18 per claim through
SQLAlchemy cost ~4 ms of CPU per label with 50 worker threads; one statement per call (prepared
by psycopg after a few calls) is what the plain-SQL reference in benchmarks/crowd_bench.py does.
Why groups: with 50 workers the durable commit per call was the limit (a transaction, its round
trips and its wait for the write-ahead log each); a group pays them once for ~17 labels or a
few claims (benchmarks/README.md has the numbers). Values are always bound as parameters.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import psycopg
import sqlalchemy as sa

# When the plain path may serve a worker in project `p`: the project has no quality policy
# (stored as SQL or JSON null) and the worker's standing is active (or they have none yet).
# `{worker}` is the worker's id: a parameter in a claim, a column in a group of labels.
PLAIN_GATE = """jsonb_typeof(p.quality) IS DISTINCT FROM 'object'
      AND NOT EXISTS (SELECT 1 FROM project_workers s
                      WHERE s.project_id = p.id AND s.worker_id = {worker} AND s.status <> 'active')"""

PLAIN_PROJECT = f"""
    SELECT p.id, p.overlap, p.lease_seconds, p.review_rate, p.price FROM projects p
    WHERE p.id = %(project)s AND {PLAIN_GATE.format(worker="%(worker)s")}"""

# "The worker has no slot of the task" is a scalar subquery on purpose: as a NOT EXISTS it is
# planned as an anti join that reads all of the worker's slots (or all slots) per claim; as a
# scalar it stays one probe of (task_id, worker_id) per candidate task.
# Held leases are renewed unless another transaction is writing them (their label, in a group):
# waiting there could close a cycle with that group, which PostgreSQL breaks only after a second.
# A claim also leaves the plain path when the worker has rework or own leases not held by the
# caller, or any lease in the project has expired (the general path sweeps those first). Each
# status is its own probe of (project_id, worker_id, status): with `status IN (...)` the planner
# read all of the worker's slots and filtered them (500 rows for a worker with 500 labels).
CLAIM = f"""
WITH project AS ({PLAIN_PROJECT}
      AND NOT EXISTS (SELECT 1 FROM assignments a
                      WHERE a.project_id = p.id AND a.worker_id = %(worker)s AND a.status = 'rework')
      AND NOT EXISTS (SELECT 1 FROM assignments a
                      WHERE a.project_id = p.id AND a.worker_id = %(worker)s AND a.status = 'leased'
                        AND a.task_id <> ALL(%(held)s::bigint[]))
      AND NOT EXISTS (SELECT 1 FROM assignments a
                      WHERE a.project_id = p.id AND a.status = 'leased'
                        AND a.expires_at < statement_timestamp())
), free AS (  -- held leases nobody else is writing (a label on its way makes one done anyway)
    SELECT a.id FROM assignments a
    WHERE a.project_id = %(project)s AND a.worker_id = %(worker)s AND a.status = 'leased'
      AND a.task_id = ANY(%(held)s::bigint[])
    FOR UPDATE SKIP LOCKED
), renewed AS (
    UPDATE assignments a SET expires_at = statement_timestamp() + make_interval(secs => project.lease_seconds)
    FROM project, free
    WHERE a.id = free.id
), picked AS (
    SELECT t.id FROM tasks t
    WHERE t.project_id = %(project)s AND t.is_open AND EXISTS (SELECT 1 FROM project)
      AND (SELECT count(*) FROM assignments a WHERE a.task_id = t.id AND a.worker_id = %(worker)s) = 0
      AND t.id <> ALL(%(held)s::bigint[])  -- held on the caller's page, its lease lapsed
    ORDER BY t.priority DESC, t.position
    LIMIT %(n)s
    FOR UPDATE OF t SKIP LOCKED
), taken AS (
    UPDATE tasks t SET n_active = t.n_active + 1,
                       is_open = t.n_active + 1 < coalesce(t.overlap, project.overlap)
    FROM picked, project
    WHERE t.id = picked.id
    RETURNING t.id, t.external_id, t.payload, t.meta, t.priority, t.position
), leased AS (
    INSERT INTO assignments (project_id, task_id, worker_id, status, expires_at)
    SELECT project.id, taken.id, %(worker)s, 'leased',
           statement_timestamp() + make_interval(secs => project.lease_seconds)
    FROM taken, project
)
SELECT (SELECT count(*) FROM project) AS plain, taken.id, taken.external_id, taken.payload, taken.meta
FROM (SELECT 1) AS one LEFT JOIN taken ON true
ORDER BY taken.priority DESC, taken.position
"""

# Labels (of any workers and projects), each on its worker's lease (live, or expired but not
# yet swept: the general path takes those too) in a plain project, in one statement: the slots
# become done, the labels are stored (sampled for inspection by their draw against the
# project's rate), and approved labels are paid once per worker and task. The rows arrive as
# one JSON array (one parameter, one json.dumps); the statement returns the stored ones.
SUBMIT = f"""
WITH input AS (
    SELECT * FROM jsonb_to_recordset(%(rows)s::jsonb)
                  AS i (project int, worker int, task bigint, id text, label jsonb, duration int, draw float8)
), eligible AS (
    SELECT i.*, p.review_rate, p.price FROM input i JOIN projects p ON p.id = i.project
    WHERE {PLAIN_GATE.format(worker="i.worker")}
), slot AS (
    UPDATE assignments a SET status = 'done', expires_at = NULL
    FROM eligible e
    WHERE a.task_id = e.task AND a.worker_id = e.worker AND a.project_id = e.project AND a.status = 'leased'
    RETURNING a.task_id, a.worker_id
), stored AS (
    INSERT INTO annotations (id, project_id, task_id, worker_id, label, duration_ms, status)
    SELECT e.id, e.project, e.task, e.worker, coalesce(e.label, 'null'::jsonb), e.duration,
           CASE WHEN e.draw < e.review_rate THEN 'submitted' ELSE 'approved' END
    FROM eligible e JOIN slot ON slot.task_id = e.task AND slot.worker_id = e.worker
    RETURNING id, project_id, task_id, worker_id, status, submitted_at
), paid AS (
    INSERT INTO ledger (worker_id, project_id, amount, reason, key, annotation_id)
    SELECT s.worker_id, s.project_id, e.price, 'label', 'label:' || s.task_id || ':' || s.worker_id, s.id
    FROM stored s JOIN eligible e ON e.id = s.id
    WHERE s.status = 'approved' AND e.price > 0
    ON CONFLICT (key) DO NOTHING
)
SELECT id, submitted_at FROM stored
"""

# Groups written at once (each on a pooled connection) and their sizes at most. Measured with
# 50 workers on 2 cores: 2 label groups gave the most labels/s (1, 3, 4 and 6 fewer); 4 claim
# groups as many labels/s as 2, with claims waiting less than half as long (p50 5 ms, not 12).
LABEL_LEADERS = 2
LABEL_GROUP_MAX = 200
CLAIM_LEADERS = 4
CLAIM_GROUP_MAX = 32

In = TypeVar("In")
Out = TypeVar("Out")

PAYLOADS = "SELECT id, payload FROM tasks WHERE project_id = %(project)s AND id = ANY(%(tasks)s::bigint[])"


@dataclass(frozen=True)
class PlainLabel:
    """A validated label for the grouped submit; `draw` is its inspection draw."""

    task_id: int
    annotation_id: str
    label: Any
    duration_ms: int | None
    draw: float


class PlainPath:
    """The one-statement claim and the grouped submit on a PostgreSQL store; each answers None
    where the case is not plain, and then nothing of it was changed."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._labels: GroupCommit[tuple[int, int, PlainLabel], datetime | None] = GroupCommit(
            self._write_labels, leaders=LABEL_LEADERS, max_items=LABEL_GROUP_MAX
        )
        self._claims: GroupCommit[dict[str, Any], list[Any] | None] = GroupCommit(
            self._write_claims, leaders=CLAIM_LEADERS, max_items=CLAIM_GROUP_MAX
        )

    @contextmanager
    def _driver(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled psycopg connection in autocommit: one statement is one transaction, with no
        BEGIN/COMMIT round trips (SQLAlchemy's connection and result layers are left out too:
        they cost ~0.1 ms per call, a third of a label's cost here). When the database cannot
        be reached or the connection is lost, SQLAlchemy's error is raised, as on the general
        path (the server answers 503), and a lost connection leaves the pool."""
        try:
            pooled = self.engine.raw_connection()
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:  # not wrapped by the pool
            raise _unavailable(exc, lost=False) from exc
        driver: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
        try:
            driver.autocommit = True
            try:
                yield driver
            finally:
                if not (driver.closed or driver.broken):
                    driver.autocommit = False  # as the pool hands it to the general path
        except psycopg.errors.DeadlockDetected:
            raise  # the callers hand the case to the general path
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            # A statement whose answer was lost may have committed: its callers hear an error
            # all the same, and a retry (the same annotation id) gets the stored receipt.
            lost = driver.closed or driver.broken
            if lost:
                pooled.invalidate(exc)
            raise _unavailable(exc, lost=lost) from exc
        finally:
            pooled.close()

    def claim(self, project_id: int, worker_id: int, n: int, held: list[int]) -> list[tuple[Any, ...]] | None:
        """The leased tasks' (id, external_id, payload, meta) in hand-out order, held leases
        renewed; None when the case is not plain. The claim shares one transaction with those
        other threads make at the same moment (see `GroupCommit`)."""
        params = {"project": project_id, "worker": worker_id, "n": n, "held": _id_array(held)}
        (rows,) = self._claims.run([params])
        if rows is None or not rows[0][0]:
            return None
        return [tuple(row[1:]) for row in rows if row[1] is not None]

    def _write_claims(self, items: list[dict[str, Any]]) -> list[list[Any] | None]:
        """The CLAIM statements of a group, pipelined in one transaction: each sees the slots
        the ones before it took. If one fails on a key (the same worker claiming twice at once)
        or a deadlock (a lease renewed while a group writes its label), all answer None and
        the general path decides each."""
        try:
            with self._driver() as driver:
                if len(items) == 1:
                    with driver.cursor() as cursor:
                        return [cursor.execute(CLAIM, items[0]).fetchall()]
                with driver.transaction(), driver.pipeline():
                    cursors = [driver.cursor().execute(CLAIM, params) for params in items]
                return [cursor.fetchall() for cursor in cursors]
        except (psycopg.errors.IntegrityError, psycopg.errors.DeadlockDetected):
            return [None] * len(items)

    def submit(self, project_id: int, worker_id: int, labels: list[PlainLabel]) -> list[datetime | None]:
        """Each label's submitted_at, or None where its case is not plain (then nothing of it
        was stored). The labels share one transaction with those other threads submit at the
        same moment (see `GroupCommit`); if the statement fails outright (an annotation id used
        before, a deadlock), none of the group is stored and all get None."""
        return self._labels.run([(project_id, worker_id, row) for row in labels]) if labels else []

    def _write_labels(self, items: list[tuple[int, int, PlainLabel]]) -> list[datetime | None]:
        """One SUBMIT for a group. A label whose annotation id, or worker and task, came earlier
        in the group is left to the general path (which then sees the first one stored)."""
        seen: set[Any] = set()
        first = []
        for project_id, worker_id, row in items:
            keys = (row.annotation_id, (row.task_id, worker_id))
            first.append(not seen.intersection(keys))
            seen.update(keys)
        rows = [
            {"project": project_id, "worker": worker_id, "task": row.task_id, "id": row.annotation_id,
             "label": row.label, "duration": row.duration_ms, "draw": row.draw}
            for (project_id, worker_id, row), ok in zip(items, first, strict=True)
            if ok
        ]
        try:
            stored = dict(self._run(SUBMIT, {"rows": json.dumps(rows)}))
        except (TypeError, ValueError, psycopg.DataError, psycopg.errors.IntegrityError, psycopg.errors.DeadlockDetected):
            # One label the statement cannot take (a value JSON or jsonb refuses, an annotation
            # id used before) or a deadlock: nothing of the group is stored, and the general
            # path takes each label on its own, so only that label's caller hears of it.
            return [None] * len(items)
        return [
            at.astimezone(timezone.utc) if ok and (at := stored.get(row.annotation_id)) is not None else None
            for (_, _, row), ok in zip(items, first, strict=True)
        ]

    def payloads(self, project_id: int, task_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Payloads of those of `task_ids` that are tasks of the project, in one query."""
        return dict(self._run(PAYLOADS, {"project": project_id, "tasks": _id_array(task_ids)}))

    def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self._driver() as driver, driver.cursor() as cursor:
            return cursor.execute(sql, params).fetchall()


def _held_lock() -> threading.Lock:
    """A lock already held: a waiter blocks on it until another thread releases it (cheaper to
    wake than an Event, which matters when one leader wakes a whole group)."""
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass(eq=False)  # tickets are told apart by identity
class _Ticket(Generic[In, Out]):
    """One caller's items in a `GroupCommit`, and what became of them."""

    items: list[In]
    done: threading.Lock = field(default_factory=_held_lock)  # released once answered or handed the lead
    results: list[Out] | None = None
    error: BaseException | None = None
    leads: bool = False  # handed the lead by a finishing leader instead of results

    def answer(self) -> list[Out]:
        if self.error is not None:
            raise self.error
        assert self.results is not None
        return self.results


class GroupCommit(Generic[In, Out]):
    """Group commit: items that several threads hand in at the same moment are written by one
    of them in one transaction, and every caller returns only once that transaction committed.

    A thread that arrives while fewer than `leaders` groups are being written leads: it writes
    its items together with everything queued (up to `max_items`) and hands the results out.
    Otherwise it queues and waits. A leader that finishes while items are queued hands its lead
    to the oldest waiter, so no caller writes for others more than once. A lone caller writes at
    once, alone.

    Why: with many workers the store's limit is the durable commit (each waits for the
    write-ahead log to reach the disk, and each is a transaction and round trips of its own);
    PostgreSQL groups the disk flushes, this groups the transactions (of labels, and of claims).
    Written here because no kept library offers it for a psycopg connection.
    """

    def __init__(
        self, write: Callable[[list[In]], list[Out]], *, leaders: int, max_items: int
    ) -> None:
        self._write = write
        self._leaders = leaders
        self._max_items = max_items
        self._lock = threading.Lock()
        self._queue: deque[_Ticket[In, Out]] = deque()
        self._active = 0
        self.groups = 0  # groups written so far

    def run(self, items: list[In]) -> list[Out]:
        """Write `items`, in one transaction with whatever else is queued, and return their
        results in order (or raise what the write raised)."""
        ticket: _Ticket[In, Out] = _Ticket(items)
        with self._lock:
            leads = self._active < self._leaders
            if leads:
                self._active += 1
            else:
                self._queue.append(ticket)
        if not leads:
            try:
                ticket.done.acquire()
            except BaseException:  # interrupted while waiting (e.g. a notebook's interrupt)
                self._abandon(ticket)
                raise
            if not ticket.leads:
                return ticket.answer()
        self._lead(ticket)
        return ticket.answer()

    def _abandon(self, ticket: _Ticket[In, Out]) -> None:
        """Forget a waiter who stopped waiting: out of the queue if still there, and a lead
        handed to it passes on (else the queue would wait for a leader that never comes)."""
        with self._lock:
            if ticket in self._queue:
                self._queue.remove(ticket)
                return
            if not ticket.leads:
                return  # its items are being written; the results go unread
            successor = self._next_leader()
        if successor is not None:
            successor.done.release()

    def _next_leader(self) -> _Ticket[In, Out] | None:
        """The oldest waiter, now leading; or None, one leader fewer. Called holding the lock."""
        if not self._queue:
            self._active -= 1
            return None
        successor = self._queue.popleft()
        successor.leads = True
        return successor

    def _lead(self, own: _Ticket[In, Out]) -> None:
        group, size = [own], len(own.items)
        with self._lock:
            while self._queue and size + len(self._queue[0].items) <= self._max_items:
                group.append(self._queue.popleft())
                size += len(group[-1].items)
        try:
            results = self._write([item for ticket in group for item in ticket.items])
            start = 0
            for ticket in group:
                ticket.results = results[start : start + len(ticket.items)]
                start += len(ticket.items)
        except Exception as exc:  # every caller of the group hears of it
            for ticket in group:
                ticket.error = exc
        except BaseException:  # the leader was interrupted: it raises, the others hear of it
            for ticket in group[1:]:
                ticket.error = RuntimeError("the transaction holding these labels was interrupted; submit them again")
            raise
        finally:
            with self._lock:
                self.groups += 1
                successor = self._next_leader()
            for ticket in group[1:]:
                ticket.done.release()
            if successor is not None:
                successor.done.release()


def _unavailable(exc: psycopg.Error, *, lost: bool) -> sa.exc.DBAPIError:
    """A driver error of the plain path as SQLAlchemy raises it on the general path."""
    kind = sa.exc.InterfaceError if isinstance(exc, psycopg.InterfaceError) else sa.exc.OperationalError
    return kind(None, None, exc, connection_invalidated=lost)


def _id_array(ids: list[int]) -> str:
    """Ids as a PostgreSQL array literal, bound as one parameter (psycopg's list adaptation
    costs ~0.8 ms for a thousand ids)."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"
