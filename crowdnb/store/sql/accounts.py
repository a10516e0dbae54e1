"""Workers' accounts: roles, access tokens (kept only as hashes) and project membership."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa

from crowdnb import values
from crowdnb.errors import Conflict, NotFound, check_name
from crowdnb.store.schema import annotations, assignments, project_workers, projects, workers
from crowdnb.store.types import Account

ROLES = ("worker", "inspector", "manager")
TOKEN_PREFIX = "cnb_"


# PostgreSQL's triggers (migration 0007) notify this channel when access is taken away; the
# servers listen there to forget what they cached (`crowdnb.server.caches`).
ACCESS_CHANNEL = "crowdnb_access"


def token_hash(token: str) -> str:
    """The stored form of a token. Tokens are 256-bit random strings, so one SHA-256 is enough
    (slow password hashes exist for guessable secrets)."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_role(role: str | None) -> None:
    """Refuse a role that does not exist."""
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles: {list(ROLES)}")


def worker_id(conn: sa.Connection, name: str, role: str = "worker") -> int:
    """The id of worker `name`, registering them with `role` on first use."""
    values.refuse(name, "worker name")
    found = conn.scalar(sa.select(workers.c.id).where(workers.c.name == name))
    if found is None:
        check_name(name, "worker")
        check_role(role)
        found = conn.execute(workers.insert().values(name=name, role=role)).inserted_primary_key[0]
    return int(found)


def issue_token(conn: sa.Connection, name: str, role: str | None = None) -> str:
    """Create worker `name` (or update their role) and give them a new token, returned once;
    an earlier token stops working."""
    values.refuse(name, "worker name")
    check_name(name, "worker")
    check_role(role)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    changes = {"token_hash": token_hash(token), **({"role": role} if role else {})}
    found = conn.scalar(sa.select(workers.c.id).where(workers.c.name == name))
    if found is None:
        conn.execute(workers.insert().values(name=name, role=role or "worker", token_hash=changes["token_hash"]))
    else:
        conn.execute(workers.update().where(workers.c.id == found).values(**changes))
    return token


def authenticate(conn: sa.Connection, token: str) -> Account | None:
    """The account a token belongs to, or None."""
    row = conn.execute(
        sa.select(workers.c.id, workers.c.name, workers.c.role).where(workers.c.token_hash == token_hash(token))
    ).first()
    return Account(row.id, row.name, row.role) if row else None


def project_access(conn: sa.Connection, worker_id: int, project: str) -> tuple[dict[str, object] | None, bool]:
    """The project called `project` (None if there is none) and whether the worker belongs to
    it, in one query (the server asks this once its token is known)."""
    values.refuse(project, "project name")
    member = (
        sa.select(sa.func.count())
        .where(project_workers.c.project_id == projects.c.id, project_workers.c.worker_id == worker_id)
        .scalar_subquery()
    )
    row = conn.execute(sa.select(projects, member.label("is_member")).where(projects.c.name == project)).mappings().first()
    if row is None:
        return None, False
    columns = dict(row)
    return columns, bool(columns.pop("is_member"))


def account(conn: sa.Connection, name: str) -> Account:
    """The account called `name`."""
    values.refuse(name, "worker name")
    row = conn.execute(sa.select(workers.c.id, workers.c.name, workers.c.role).where(workers.c.name == name)).first()
    if row is None:
        raise NotFound(f"no worker {name!r}")
    return Account(row.id, row.name, row.role)


def add_member(conn: sa.Connection, project_id: int, worker_id: int) -> None:
    """Let a worker work on (or inspect) a project; adding twice is harmless."""
    exists = conn.scalar(
        sa.select(sa.func.count()).where(project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id)
    )
    if not exists:
        conn.execute(project_workers.insert().values(project_id=project_id, worker_id=worker_id))


def takes_part(conn: sa.Connection, project_id: int, worker_id: int) -> bool:
    """Whether a worker belongs to a project or has had a task of it (a lease or a label): a
    standing there is theirs."""
    member = sa.exists().where(project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id)
    handed = sa.exists().where(assignments.c.project_id == project_id, assignments.c.worker_id == worker_id)
    return bool(conn.scalar(sa.select(member | handed)))


def member_projects(conn: sa.Connection, worker_id: int) -> list[str]:
    """Names of the projects a worker belongs to."""
    return list(
        conn.scalars(
            sa.select(projects.c.name)
            .join(project_workers, project_workers.c.project_id == projects.c.id)
            .where(project_workers.c.worker_id == worker_id)
            .order_by(projects.c.id)
        )
    )


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


def list_workers(conn: sa.Connection) -> list[WorkerSummary]:
    """Every worker, by name, with the projects they are members of (oldest project first)."""
    return _summaries(conn, None)


def find_worker(conn: sa.Connection, name: str) -> WorkerSummary | None:
    """The worker called `name`, or None."""
    values.refuse(name, "worker name")
    found = _summaries(conn, name)
    return found[0] if found else None


def remove_worker(conn: sa.Connection, name: str, *, force: bool = False) -> Removal:
    """Revoke worker `name`'s token and end their project memberships; labels stay.

    A worker with labels is refused (`Conflict`) unless `force`. Then, in projects where they
    have labels, their membership row is kept: it also holds their standing there (a ban, their
    control answers and skill), which decides how their labels count in results. With the token
    revoked they cannot reach any project; a new token (``issue_token``) would give those back.
    """
    values.refuse(name, "worker name")
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


def _summaries(conn: sa.Connection, name: str | None) -> list[WorkerSummary]:
    query = (
        sa.select(
            workers.c.id, workers.c.name, workers.c.role, workers.c.token_hash.is_not(None).label("has_token"),
            projects.c.name.label("project"),
        )
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
    for row in conn.execute(query):
        known = summaries.get(row.id)
        joined = (row.project,) if row.project is not None else ()
        summaries[row.id] = (
            WorkerSummary(row.id, row.name, row.role, bool(row.has_token), joined)
            if known is None
            else WorkerSummary(known.id, known.name, known.role, known.has_token, known.projects + joined)
        )
    return list(summaries.values())
