"""Hand-out by the general path: leases of new tasks in priority order (control tasks mixed in
at the policy's rate), rework and the worker's own leases first, and skips."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from crowdnb.errors import Conflict, NotFound
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store.schema import assignments, projects, tasks, utc_after
from crowdnb.store.sql import quality, review, slots
from crowdnb.store.types import Task


def claim(conn: sa.Connection, project_id: int, worker_id: int, n: int, held: list[int]) -> list[Task]:
    """Lease up to `n` tasks to a worker: rework first, then their unexpired leases not in
    `held` (renewing those in `held`), then new tasks; nothing for a worker who is not active."""
    project = conn.execute(
        sa.select(projects.c.overlap, projects.c.lease_seconds, projects.c.quality).where(projects.c.id == project_id)
    ).one()
    slots.expire_leases(conn, project_id, project.overlap)
    if quality.status(conn, project_id, worker_id) != "active":
        return []
    rows = conn.execute(
        sa.select(assignments.c.task_id, assignments.c.status)
        .where(
            assignments.c.project_id == project_id,
            assignments.c.worker_id == worker_id,
            assignments.c.status.in_(("rework", "leased")),
            assignments.c.task_id.not_in(held),
        )
        .order_by(assignments.c.status.desc(), assignments.c.id)  # 'rework' before 'leased'
        .limit(n)
    ).all()
    own = [row.task_id for row in rows]
    rework = [row.task_id for row in rows if row.status == "rework"]
    slots.extend(conn, project_id, worker_id, held + own, project.lease_seconds)
    fresh = _lease_new(conn, project_id, worker_id, n - len(own), project, held)
    reasons = review.rework_reasons(conn, worker_id, rework)
    return [replace(t, rework=reasons.get(t.id)) for t in _load(conn, own + fresh)]


def renew(conn: sa.Connection, project_id: int, worker_id: int, task_ids: list[int]) -> int:
    """Extend a worker's leases; returns how many."""
    lease = conn.scalar(sa.select(projects.c.lease_seconds).where(projects.c.id == project_id))
    return slots.extend(conn, project_id, worker_id, task_ids, lease)


def skip(conn: sa.Connection, project_id: int, worker_id: int, task_id: int) -> None:
    """Give a task back: it goes to other workers, not again to this one. Under a policy with
    `max_skips_in_row`, one skip too many raises `Conflict` (label this task first)."""
    project = conn.execute(sa.select(projects.c.overlap, projects.c.quality).where(projects.c.id == project_id)).one()
    if conn.scalar(sa.select(tasks.c.id).where(tasks.c.id == task_id, tasks.c.project_id == project_id)) is None:
        raise NotFound(f"task {task_id} is not in project {project_id}")
    limit = QualityPolicy.from_dict(project.quality).max_skips_in_row
    if limit is not None:
        skips = quality.standing(conn, project_id, worker_id).skips_in_row
        if skips >= limit:
            raise Conflict(f"{skips} skips in a row, the most this project allows; label this task to go on")
        quality.update_standing(conn, project_id, worker_id, skips_in_row=skips + 1)
    slots.settle(conn, project_id, worker_id, task_id, "skipped", project.overlap, slots.slot(conn, task_id, worker_id))


def _lease_new(
    conn: sa.Connection, project_id: int, worker_id: int, n: int, project: sa.Row[Any], held: list[int]
) -> list[int]:
    """Lease up to `n` tasks the worker has no slot of and does not hold (a held task whose
    lease ran out and was returned to the pool is still on the worker's page: not twice)."""
    policy = QualityPolicy.from_dict(project.quality)
    n = quality.paced(conn, project_id, worker_id, n, policy)
    if n <= 0:
        return []
    seen = sa.exists().where(assignments.c.task_id == tasks.c.id, assignments.c.worker_id == worker_id)
    where = [tasks.c.project_id == project_id, ~seen, tasks.c.id.not_in(held)]
    wanted = quality.control_slots(conn, project_id, worker_id, n, policy) if policy.control_rate > 0 else []
    controls: list[int] = []
    if wanted:
        controls = list(
            conn.scalars(sa.select(tasks.c.id).where(*where, tasks.c.is_control).order_by(tasks.c.position).limit(len(wanted)))
        )
        where.append(~tasks.c.is_control)
    query = (
        sa.select(tasks.c.id)
        .where(*where, tasks.c.is_open)
        .order_by(tasks.c.priority.desc(), tasks.c.position)
        .limit(n - len(controls))
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=tasks)
    ids = interleave(list(conn.scalars(query)), controls, wanted)
    if not ids:
        return []
    conn.execute(
        assignments.insert().values(
            project_id=project_id, worker_id=worker_id, status="leased", expires_at=utc_after(project.lease_seconds),
        ),
        [{"task_id": task_id} for task_id in ids],
    )
    slots.shift_active(conn, ids, +1, project.overlap)
    return ids


def _load(conn: sa.Connection, ids: list[int]) -> list[Task]:
    if not ids:
        return []
    rows = conn.execute(sa.select(tasks.c.id, tasks.c.external_id, tasks.c.payload, tasks.c.meta).where(tasks.c.id.in_(ids)))
    by_id = {row.id: Task(row.id, row.external_id, row.payload, row.meta) for row in rows}
    return [by_id[i] for i in ids]


def interleave(regular: list[int], controls: list[int], wanted: list[int]) -> list[int]:
    """Regular task ids with control task ids placed at the wanted positions, as far as there
    are control tasks (and regular ones: when either runs out, the other fills in)."""
    out: list[int] = []
    regular, controls, positions = list(regular), list(controls), set(wanted)
    while regular or controls:
        take_control = bool(controls) and (len(out) in positions or not regular)
        out.append(controls.pop(0) if take_control else regular.pop(0))
    return out
