"""Adding validated tasks to a project: all or nothing, in chunks, ids unique per project."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Sequence

import sqlalchemy as sa

from crowdnb import values
from crowdnb.errors import Problem, ValidationError
from crowdnb.store.schema import tasks
from crowdnb.store.types import NewTask

INSERT_CHUNK = 5_000
CHECK_CHUNK = 500  # ids per query when comparing re-added tasks (SQLite limits bound parameters)
ON_DUPLICATE = ("error", "skip")


def insert_tasks(
    conn: sa.Connection,
    project_id: int,
    rows: Sequence[Hashable],
    new: Sequence[NewTask],
    *,
    on_duplicate: str = "error",
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert `new` (from input rows `rows`, named in errors); returns how many were added.

    Values the store cannot keep (`crowdnb.values`) raise `ValidationError` naming row and
    column. Ids already in the project raise `ValidationError` naming row and id
    (`on_duplicate="error"`) or are left as they are (`"skip"`, with a warning when their content
    differs from what is stored). `progress` is called with the number of rows done (stored or
    skipped)."""
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {list(ON_DUPLICATE)}, got {on_duplicate!r}")
    unstorable = _unstorable(rows, new)
    if unstorable:
        raise ValidationError(unstorable)
    stored = set(conn.scalars(sa.select(tasks.c.external_id).where(tasks.c.project_id == project_id)))
    clashes = [(row, t) for row, t in zip(rows, new, strict=True) if t.external_id in stored]
    if clashes and on_duplicate == "error":
        raise ValidationError([
            Problem(row, "id", f"task id {t.external_id!r} is already in the project (on_duplicate='skip' leaves it)")
            for row, t in clashes
        ])
    changed = _changed(conn, project_id, [t for _, t in clashes])
    if changed:
        warnings.warn(
            f"{len(changed)} task(s) already in the project with other content were left as they are "
            f"(e.g. {changed[:3]}); give them new ids to add them as new tasks",
            stacklevel=4,
        )
    if progress is not None and clashes:
        progress(len(clashes))
    position = conn.scalar(
        sa.select(sa.func.coalesce(sa.func.max(tasks.c.position), -1)).where(tasks.c.project_id == project_id)
    )
    fresh = [
        {
            "project_id": project_id,
            "external_id": t.external_id,
            "position": position + 1 + i,
            "payload": t.payload,
            "meta": t.meta,
            "known_answer": t.known_answer,
            "is_control": t.known_answer is not None,
            "priority": t.priority,
        }
        for i, t in enumerate(t for t in new if t.external_id not in stored)
    ]
    for start in range(0, len(fresh), INSERT_CHUNK):
        chunk = fresh[start : start + INSERT_CHUNK]
        conn.execute(tasks.insert(), chunk)
        if progress is not None:
            progress(len(chunk))
    return len(fresh)


def _unstorable(rows: Sequence[Hashable], new: Sequence[NewTask]) -> list[Problem]:
    """What the store cannot keep in the tasks (`crowdnb.values`), by row and column (a path
    inside a column's value when nested)."""
    return [
        Problem(row, flaw.where, flaw.message)
        for row, t in zip(rows, new, strict=True)
        for where, value in (("id", t.external_id), ("", t.payload), ("", t.meta), ("answer", t.known_answer))
        for flaw in values.flaws(value, where)
    ]


def _changed(conn: sa.Connection, project_id: int, again: list[NewTask]) -> list[str]:
    """Ids of the tasks in `again` whose stored content (payload, metadata, answer, priority)
    differs from theirs."""
    out: list[str] = []
    for start in range(0, len(again), CHECK_CHUNK):
        chunk = {t.external_id: t for t in again[start : start + CHECK_CHUNK]}
        rows = conn.execute(
            sa.select(tasks.c.external_id, tasks.c.payload, tasks.c.meta, tasks.c.known_answer, tasks.c.priority).where(
                tasks.c.project_id == project_id, tasks.c.external_id.in_(list(chunk))
            )
        )
        for row in rows:
            t = chunk[row.external_id]
            if (row.payload, row.meta, row.known_answer, row.priority) != (t.payload, t.meta, t.known_answer, t.priority):
                out.append(row.external_id)
    return out
