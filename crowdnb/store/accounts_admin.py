"""Administering workers' accounts from the command line: list them, look one up, remove one.

Functions on a `Store` (SQLAlchemy Core on the store's tables), to be folded into the store's
accounts module. Labels are never deleted: removing a worker revokes their token and ends their
project memberships, except where they have labels (see `remove_worker`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from crowdnb.errors import Conflict, NotFound
from crowdnb.store.schema import annotations, project_workers, projects, workers

if TYPE_CHECKING:
    from crowdnb.store import Store


@dataclass(frozen=True)
class WorkerSummary:
    """A worker as an administrator sees them: role, whether a token is set, their projects."""

    id: int
    name: str
    role: str
    has_token: bool
    projects: tuple[str, ...]


@dataclass(frozen=True)
class Removal:
    """What `remove_worker` did: whether a token was revoked, the projects the worker left, and
    the projects (with their label counts) where their standing was kept."""

    revoked: bool
    left: tuple[str, ...]
    kept: dict[str, int] = field(default_factory=dict)


def list_workers(store: Store) -> list[WorkerSummary]:
    """Every worker, by name, with the projects they are members of (oldest project first)."""
    return _summaries(store, None)


def find_worker(store: Store, name: str) -> WorkerSummary | None:
    """The worker called `name`, or None."""
    found = _summaries(store, name)
    return found[0] if found else None


def labels_by_project(store: Store, worker_id: int) -> dict[str, int]:
    """How many labels (of any status) a worker has in each project where they have any."""
    query = (
        sa.select(projects.c.name, sa.func.count())
        .select_from(annotations.join(projects, projects.c.id == annotations.c.project_id))
        .where(annotations.c.worker_id == worker_id)
        .group_by(projects.c.id, projects.c.name)
        .order_by(projects.c.id)
    )
    with store.engine.connect() as conn:
        return {name: int(n) for name, n in conn.execute(query)}


def remove_worker(store: Store, name: str, *, force: bool = False) -> Removal:
    """Revoke worker `name`'s token and end their project memberships; labels stay.

    A worker with labels is refused (`Conflict`) unless `force`. Then, in projects where they
    have labels, their membership row is kept: it also holds their standing there (a ban, their
    control answers and skill), which decides how their labels count in results. With the token
    revoked they cannot reach any project; a new token (``issue_token``) would give those back.
    """
    with store.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
        row = conn.execute(sa.select(workers.c.id, workers.c.token_hash).where(workers.c.name == name)).first()
        if row is None:
            raise NotFound(f"no worker {name!r}")
        counts = dict(
            conn.execute(
                sa.select(annotations.c.project_id, sa.func.count())
                .where(annotations.c.worker_id == row.id)
                .group_by(annotations.c.project_id)
            ).all()
        )
        names = dict(conn.execute(sa.select(projects.c.id, projects.c.name)).all())
        if counts and not force:
            where = ", ".join(f"{names[p]}: {n}" for p, n in sorted(counts.items()))
            raise Conflict(
                f"worker {name!r} has {sum(counts.values())} label(s) ({where}); labels are never deleted, "
                "so removing only revokes the token and ends memberships: give force=True (--force) for that"
            )
        member_of = list(conn.scalars(sa.select(project_workers.c.project_id).where(project_workers.c.worker_id == row.id)))
        leaving = [p for p in member_of if p not in counts]
        if leaving:
            conn.execute(
                project_workers.delete().where(
                    project_workers.c.worker_id == row.id, project_workers.c.project_id.in_(leaving)
                )
            )
        revoked = row.token_hash is not None
        if revoked:
            conn.execute(workers.update().where(workers.c.id == row.id).values(token_hash=None))
    return Removal(
        revoked=revoked,
        left=tuple(names[p] for p in sorted(leaving)),
        kept={names[p]: counts[p] for p in sorted(member_of) if p in counts},
    )


def _summaries(store: Store, name: str | None) -> list[WorkerSummary]:
    query = (
        sa.select(workers.c.id, workers.c.name, workers.c.role, workers.c.token_hash.is_not(None).label("has_token"), projects.c.name.label("project"))
        .select_from(
            workers.outerjoin(project_workers, project_workers.c.worker_id == workers.c.id).outerjoin(
                projects, projects.c.id == project_workers.c.project_id
            )
        )
        .order_by(workers.c.name, projects.c.id)
    )
    if name is not None:
        query = query.where(workers.c.name == name)
    summaries: dict[int, WorkerSummary] = {}
    with store.engine.connect() as conn:
        for row in conn.execute(query):
            known = summaries.get(row.id)
            joined = (row.project,) if row.project is not None else ()
            summaries[row.id] = (
                WorkerSummary(row.id, row.name, row.role, bool(row.has_token), joined)
                if known is None
                else WorkerSummary(known.id, known.name, known.role, known.has_token, known.projects + joined)
            )
    return list(summaries.values())
