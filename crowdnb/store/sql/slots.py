"""A worker's slot of a task (an assignment: leased, done, skipped, rework) and the task's count
of active slots, which decides whether the task still takes workers."""

from __future__ import annotations

from collections import Counter

import sqlalchemy as sa

from crowdnb.store.schema import assignments, tasks, utc_after, utcnow

LEASED = sa.literal_column("'leased'")  # inline, so that PostgreSQL can use the partial expiry index


def shift_active(conn: sa.Connection, task_ids: list[int], delta: int, overlap: int) -> None:
    """Change the number of active slots of tasks and whether they still take workers."""
    if not task_ids:
        return
    active = tasks.c.n_active + delta
    conn.execute(
        tasks.update()
        .where(tasks.c.id.in_(task_ids))
        .values(n_active=active, is_open=active < sa.func.coalesce(tasks.c.overlap, overlap))
    )


def expire_leases(conn: sa.Connection, project_id: int, overlap: int) -> None:
    """Return slots whose lease ran out (by the store's clock) to the pool."""
    expired = list(
        conn.scalars(
            sa.select(assignments.c.id).where(
                assignments.c.project_id == project_id,
                assignments.c.status == LEASED,
                assignments.c.expires_at < utcnow(),
            )
        )
    )
    if not expired:
        return
    # The conditions are checked again by the DELETE itself: a label that arrived meanwhile
    # turned its lease into 'done', and that slot must stay taken.
    task_ids = conn.scalars(
        sa.delete(assignments)
        .where(assignments.c.id.in_(expired), assignments.c.status == LEASED, assignments.c.expires_at < utcnow())
        .returning(assignments.c.task_id)
    )
    by_count: dict[int, list[int]] = {}
    for task_id, count in Counter(task_ids).items():  # several leases of one task may expire
        by_count.setdefault(count, []).append(task_id)
    for count, ids in by_count.items():
        shift_active(conn, ids, -count, overlap)


def extend(conn: sa.Connection, project_id: int, worker_id: int, task_ids: list[int], lease_seconds: int) -> int:
    """Restart the lease clock of a worker's live leases among `task_ids`."""
    if not task_ids:
        return 0
    return conn.execute(
        assignments.update()
        .where(
            assignments.c.project_id == project_id, assignments.c.worker_id == worker_id,
            assignments.c.status == "leased", assignments.c.task_id.in_(task_ids),
        )
        .values(expires_at=utc_after(lease_seconds))
    ).rowcount


def slot(conn: sa.Connection, task_id: int, worker_id: int) -> str | None:
    """The status of a worker's assignment of a task (None: none), locked on PostgreSQL so
    that lease expiry cannot take it from under the caller."""
    query = sa.select(assignments.c.status).where(assignments.c.task_id == task_id, assignments.c.worker_id == worker_id)
    return conn.scalar(query.with_for_update() if conn.dialect.name == "postgresql" else query)


def settle(
    conn: sa.Connection, project_id: int, worker_id: int, task_id: int, status: str, overlap: int, before: str | None
) -> None:
    """Move a worker's assignment of a task from `before` (see `slot`) to `status` ('done' or
    'skipped'), keeping the task's active-slot count in step."""
    if before == status or (before == "done" and status == "skipped"):
        return
    if before is None:
        conn.execute(
            assignments.insert().values(project_id=project_id, task_id=task_id, worker_id=worker_id, status=status)
        )
    else:
        conn.execute(
            assignments.update()
            .where(assignments.c.task_id == task_id, assignments.c.worker_id == worker_id)
            .values(status=status, expires_at=None)
        )
    counted_before = before in ("leased", "done", "rework")
    counted_after = status == "done"
    if counted_before != counted_after:
        shift_active(conn, [task_id], +1 if counted_after else -1, overlap)
