"""Projects: creation with their label configuration, lookup by name, settings."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from crowdnb import values
from crowdnb.errors import Conflict, NotFound, check_name
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store.schema import projects
from crowdnb.store.sql.quality import check_policy
from crowdnb.store.types import ProjectInfo


def create(
    conn: sa.Connection, name: str, kind: str, config: dict[str, Any], *, overlap: int, price: int,
    lease_seconds: int, quality: QualityPolicy | None, review_rate: float, review_window_seconds: int | None,
) -> None:
    """Insert a project; `Conflict` if the name is taken, ValueError for bad settings."""
    values.refuse(name, "project name")
    check_name(name, "project")
    values.refuse(config, "config")
    check_policy(kind, quality)
    if overlap < 1:
        raise ValueError(f"overlap must be at least 1, got {overlap}")
    if price < 0:
        raise ValueError(f"price must not be negative, got {price}")
    if not 0 <= review_rate <= 1:
        raise ValueError(f"review rate must be between 0 and 1, got {review_rate}")
    if review_window_seconds is not None and not 0 < review_window_seconds < 2**31:
        raise ValueError(f"review window must be a positive number of seconds below 2**31, got {review_window_seconds}")
    if conn.scalar(sa.select(projects.c.id).where(projects.c.name == name)) is not None:
        raise Conflict(f"project {name!r} already exists")
    conn.execute(
        projects.insert().values(
            name=name, kind=kind, config=config, overlap=overlap, price=price, lease_seconds=lease_seconds,
            quality=quality.to_dict() if quality else None, review_rate=review_rate,
            review_window_seconds=review_window_seconds,
        )
    )


def find(conn: sa.Connection, name: str) -> ProjectInfo | None:
    """The project called `name`, or None."""
    values.refuse(name, "project name")
    row = conn.execute(sa.select(projects).where(projects.c.name == name)).mappings().first()
    return None if row is None else ProjectInfo(**row)


def get(conn: sa.Connection, name: str, where: str) -> ProjectInfo:
    """The project called `name`; `NotFound` lists the existing ones (in store `where`)."""
    found = find(conn, name)
    if found is None:
        raise NotFound(f"no project {name!r} in {where}; existing: {names(conn)}")
    return found


def names(conn: sa.Connection) -> list[str]:
    """Names of all projects, oldest first."""
    return list(conn.scalars(sa.select(projects.c.name).order_by(projects.c.id)))


def set_quality(conn: sa.Connection, project_id: int, policy: QualityPolicy | None) -> None:
    """Set the project's quality policy (None: no quality control)."""
    kind = conn.scalar(sa.select(projects.c.kind).where(projects.c.id == project_id))
    if kind is None:
        raise NotFound(f"no project with id {project_id}")
    check_policy(kind, policy)
    conn.execute(projects.update().where(projects.c.id == project_id).values(quality=policy.to_dict() if policy else None))
