"""PostgreSQL hand-out and submit in one statement each, for the common case.

Most claims and submits in a busy project are plain: the project has no quality policy, the
worker is active; a claiming worker has no rework waiting and no forgotten leases, and no lease
of the project has expired; a label arrives on the worker's lease. Each of those is written here
as one SQL statement with data-modifying CTEs, run in autocommit (one round trip, one durable
transaction). When a statement finds the case is not plain (its gate returns nothing), `Store`
runs its general path, which handles every case in one explicit transaction; they are meant to
agree on every outcome (tests/store/test_postgres.py replays a session both ways).

Why hand-written SQL: the general path's ~7 statements per submit and ~18 per claim through
SQLAlchemy cost ~4 ms of CPU per label with 50 worker threads; one statement per call (prepared
by psycopg after a few calls) is what the plain-SQL reference in benchmarks/crowd_bench.py does.
Values are always bound as parameters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
import sqlalchemy as sa

# The project, when the plain path may serve this worker in it: no quality policy (stored as SQL
# or JSON null) and a worker whose standing is active (or who has none yet).
PLAIN_PROJECT = """
    SELECT p.id, p.overlap, p.lease_seconds, p.review_rate, p.price FROM projects p
    WHERE p.id = %(project)s AND jsonb_typeof(p.quality) IS DISTINCT FROM 'object'
      AND NOT EXISTS (SELECT 1 FROM project_workers s
                      WHERE s.project_id = p.id AND s.worker_id = %(worker)s AND s.status <> 'active')"""

# A claim also leaves the plain path when the worker has rework or own leases not held by the
# caller, or any lease in the project has expired (the general path sweeps those first).
CLAIM = f"""
WITH project AS ({PLAIN_PROJECT}
      AND NOT EXISTS (SELECT 1 FROM assignments a
                      WHERE a.project_id = p.id AND a.worker_id = %(worker)s
                        AND a.status IN ('rework', 'leased') AND a.task_id <> ALL(%(held)s::bigint[]))
      AND NOT EXISTS (SELECT 1 FROM assignments a
                      WHERE a.project_id = p.id AND a.status = 'leased'
                        AND a.expires_at < statement_timestamp())
), renewed AS (
    UPDATE assignments a SET expires_at = statement_timestamp() + make_interval(secs => project.lease_seconds)
    FROM project
    WHERE a.project_id = project.id AND a.worker_id = %(worker)s AND a.status = 'leased'
      AND a.task_id = ANY(%(held)s::bigint[])
), picked AS (
    SELECT t.id FROM tasks t
    WHERE t.project_id = %(project)s AND t.is_open AND EXISTS (SELECT 1 FROM project)
      AND NOT EXISTS (SELECT 1 FROM assignments a WHERE a.task_id = t.id AND a.worker_id = %(worker)s)
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

# A label on the worker's lease (live, or expired but not yet swept: the general path takes
# those too) in a plain project: the slot becomes done, the label is stored (sampled for
# inspection by the caller's draw against the project's rate), and an approved label is paid
# once per worker and task.
SUBMIT = f"""
WITH project AS ({PLAIN_PROJECT}
), slot AS (
    UPDATE assignments a SET status = 'done', expires_at = NULL
    FROM project
    WHERE a.task_id = %(task)s AND a.worker_id = %(worker)s AND a.project_id = project.id
      AND a.status = 'leased'
    RETURNING a.task_id
), stored AS (
    INSERT INTO annotations (id, project_id, task_id, worker_id, label, duration_ms, status)
    SELECT %(id)s, project.id, slot.task_id, %(worker)s, %(label)s::jsonb, %(duration)s,
           CASE WHEN %(draw)s < project.review_rate THEN 'submitted' ELSE 'approved' END
    FROM project, slot
    RETURNING id, status, submitted_at
), paid AS (
    INSERT INTO ledger (worker_id, project_id, amount, reason, key, annotation_id)
    SELECT %(worker)s, project.id, project.price, 'label', %(pay_key)s, stored.id
    FROM project, stored
    WHERE stored.status = 'approved' AND project.price > 0
    ON CONFLICT (key) DO NOTHING
)
SELECT submitted_at FROM stored
"""

PAYLOADS = "SELECT id, payload FROM tasks WHERE project_id = %(project)s AND id = ANY(%(tasks)s::bigint[])"


@dataclass(frozen=True)
class PlainLabel:
    """A validated label for the one-statement submit; `draw` is its inspection draw."""

    task_id: int
    annotation_id: str
    label: Any
    duration_ms: int | None
    draw: float


class PlainPath:
    """The one-statement claim and submit on a PostgreSQL store; each returns None when the
    case is not plain, and then nothing was changed."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @contextmanager
    def _driver(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled psycopg connection in autocommit: one statement is one transaction, with no
        BEGIN/COMMIT round trips (SQLAlchemy's connection and result layers are left out too:
        they cost ~0.1 ms per call, a third of a label's cost here)."""
        pooled = self.engine.raw_connection()
        driver: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
        try:
            driver.autocommit = True
            try:
                yield driver
            finally:
                if not driver.closed:
                    driver.autocommit = False  # as the pool hands it to the general path
        finally:
            pooled.close()

    def claim(self, project_id: int, worker_id: int, n: int, held: list[int]) -> list[tuple[Any, ...]] | None:
        """The leased tasks' (id, external_id, payload, meta) in hand-out order, held leases
        renewed; None when the case is not plain."""
        params = {"project": project_id, "worker": worker_id, "n": n, "held": _id_array(held)}
        try:
            rows = self._run(CLAIM, params)
        except psycopg.errors.IntegrityError:  # the same worker claimed twice at once: let the general path decide
            return None
        if not rows[0][0]:
            return None
        return [tuple(row[1:]) for row in rows if row[1] is not None]

    def submit(self, project_id: int, worker_id: int, labels: list[PlainLabel]) -> list[datetime | None]:
        """Each label's submitted_at, or None where its case is not plain (then nothing of it
        was stored). Several labels share one transaction, their statements pipelined; if one
        fails outright (an annotation id used before), none is stored and all get None."""
        if not labels:
            return []
        params = [
            {
                "project": project_id, "worker": worker_id, "task": row.task_id, "id": row.annotation_id,
                "label": json.dumps(row.label), "duration": row.duration_ms, "draw": row.draw,
                "pay_key": f"label:{row.task_id}:{worker_id}",
            }
            for row in labels
        ]
        try:
            with self._driver() as driver:
                results = self._submit_all(driver, params)
        except psycopg.errors.IntegrityError:  # the general path explains, label by label
            return [None] * len(labels)
        return [rows[0][0].astimezone(timezone.utc) if rows else None for rows in results]

    @staticmethod
    def _submit_all(driver: psycopg.Connection[Any], params: list[dict[str, Any]]) -> list[list[Any]]:
        if len(params) == 1:
            with driver.cursor() as cursor:
                return [cursor.execute(SUBMIT, params[0]).fetchall()]
        with driver.transaction(), driver.pipeline():
            cursors = [driver.cursor().execute(SUBMIT, p) for p in params]
        results = []
        for cursor in cursors:
            results.append(cursor.fetchall())
            cursor.close()
        return results

    def payloads(self, project_id: int, task_ids: list[int]) -> dict[int, dict[str, Any]]:
        """Payloads of those of `task_ids` that are tasks of the project, in one query."""
        return dict(self._run(PAYLOADS, {"project": project_id, "tasks": _id_array(task_ids)}))

    def _run(self, sql: str, params: dict[str, Any]) -> list[Any]:
        with self._driver() as driver, driver.cursor() as cursor:
            return cursor.execute(sql, params).fetchall()


def _id_array(ids: list[int]) -> str:
    """Ids as a PostgreSQL array literal, bound as one parameter (psycopg's list adaptation
    costs ~0.8 ms for a thousand ids)."""
    return "{" + ",".join(str(int(i)) for i in ids) + "}"
