"""Adding checked tasks (`crowdnb.intake.TaskTable`) to a project: all or nothing, in one
transaction, ids unique per project.

The rows go in by each back end's bulk path, a slice at a time: PostgreSQL's ``COPY`` (a writer
thread sends the rows while the next are written), SQLite's ``executemany``. Ids already in the
project are found by SQL over the new ids, a slice at a time, and only when the project has tasks,
so its ids are never loaded into Python.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crowdnb.errors import Problem, ValidationError
from crowdnb.intake import CHUNK, TaskTable
from crowdnb.store.schema import tasks

ON_DUPLICATE = ("error", "skip")
ANALYZE_AFTER = 500  # tasks added at once after which PostgreSQL's statistics are refreshed
COLUMNS = ("project_id", "external_id", "position", "payload", "meta", "known_answer", "is_control", "priority")
COPY = f"COPY tasks ({', '.join(COLUMNS)}) FROM STDIN"
INSERT = f"INSERT INTO tasks ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"

Row = tuple[int, str, int, str, str, str | None, bool, float]


def insert_tasks(
    conn: sa.Connection,
    project_id: int,
    table: TaskTable,
    *,
    on_duplicate: str = "error",
    progress: Callable[[int], None] | None = None,
) -> int:
    """Insert the tasks of `table`; returns how many were added.

    Ids already in the project raise `ValidationError` naming row and id
    (`on_duplicate="error"`) or are left as they are (`"skip"`, with a warning when their content
    differs from what is stored). `progress` is called with the number of rows done (stored or
    skipped)."""
    if on_duplicate not in ON_DUPLICATE:
        raise ValueError(f"on_duplicate must be one of {list(ON_DUPLICATE)}, got {on_duplicate!r}")
    last = conn.scalar(sa.select(sa.func.max(tasks.c.position)).where(tasks.c.project_id == project_id))
    again = np.empty(0, dtype=np.int64) if last is None else _stored(conn, project_id, table)
    if len(again) and on_duplicate == "error":
        raise ValidationError([
            Problem(row, "id", f"task id {task_id!r} is already in the project (on_duplicate='skip' leaves it)")
            for row, task_id in zip(table.rows(again), table.ids.iloc[again].tolist(), strict=True)
        ])
    changed = _changed(conn, project_id, table, again)
    if changed:
        warnings.warn(
            f"{len(changed)} task(s) already in the project with other content were left as they are "
            f"(e.g. {changed[:3]}); give them new ids to add them as new tasks",
            stacklevel=4,
        )
    if progress is not None and len(again):
        progress(len(again))
    fresh = np.ones(len(table), dtype=bool)
    fresh[again] = False
    rows = _rows(project_id, table, fresh, -1 if last is None else last)
    write = _copy if conn.dialect.name == "postgresql" else _executemany
    added = write(conn, rows, progress or (lambda n: None))
    if added >= ANALYZE_AFTER and conn.dialect.name == "postgresql":
        # Fresh statistics, or the planner takes a new project's queue for a few rows and reads
        # all of it to hand out ten tasks (31 ms per claim at 3,000 tasks). Inside the
        # transaction, ANALYZE counts its own new rows, and the statistics commit with them.
        conn.exec_driver_sql("ANALYZE tasks")
    return added


def _stored(conn: sa.Connection, project_id: int, table: TaskTable) -> np.ndarray:
    """Positions in `table` of the ids the project already has."""
    found: list[int] = []
    for start in range(0, len(table), CHUNK):
        ids = table.ids.iloc[start : start + CHUNK].tolist()
        stored = set(conn.scalars(sa.select(tasks.c.external_id).where(tasks.c.project_id == project_id, _among(conn, ids))))
        found.extend(n for n, task_id in enumerate(ids, start) if task_id in stored)
    return np.array(found, dtype=np.int64)


def _among(conn: sa.Connection, ids: list[str]) -> sa.ColumnElement[bool]:
    """Whether a task's id is one of `ids`, bound as one parameter: an array on PostgreSQL, a
    JSON array on SQLite (as many bound parameters would cost more to write than to run)."""
    if conn.dialect.name == "postgresql":
        return tasks.c.external_id == sa.any_(sa.bindparam("ids", ids, type_=postgresql.ARRAY(sa.String)))
    listed = sa.func.json_each(json.dumps(ids)).table_valued("value")
    return tasks.c.external_id.in_(sa.select(listed.c.value))


def _changed(conn: sa.Connection, project_id: int, table: TaskTable, again: np.ndarray) -> list[str]:
    """Ids of the rows at positions `again` whose stored content (payload, metadata, answer,
    priority) differs from theirs. The stored JSON is read as text, so the same text is the same
    content without decoding it; other text is compared as values (it may be written otherwise)."""
    as_text = [sa.cast(column, sa.Text) for column in (tasks.c.payload, tasks.c.meta, tasks.c.known_answer)]
    out: list[str] = []
    for start in range(0, len(table), CHUNK):
        inside = again[(again >= start) & (again < start + CHUNK)] - start
        if not len(inside):
            continue
        rows = list(table.json(start, min(start + CHUNK, len(table))))
        new = {rows[n][0]: rows[n][1:] for n in inside}
        stored = conn.execute(
            sa.select(tasks.c.external_id, *as_text, tasks.c.priority)
            .where(tasks.c.project_id == project_id, _among(conn, list(new)))
        )
        for task_id, *content in stored:
            *texts, priority = new[task_id]
            if content[-1] != priority or not all(map(_same, content[:-1], texts)):
                out.append(task_id)
    return out


def _same(stored: str | None, new: str | None) -> bool:
    """Whether two JSON texts hold the same value (None, SQL's NULL, as JSON's null)."""
    return stored == new or _loads(stored) == _loads(new)


def _loads(text: str | None) -> object:
    return None if text is None else json.loads(text)


def _rows(project_id: int, table: TaskTable, fresh: np.ndarray, last: int) -> Iterator[list[Row]]:
    """The `fresh` rows of `table` as rows of the tasks table, a slice at a time, their positions
    following `last`."""
    position = last + 1
    for start in range(0, len(table), CHUNK):
        stop = min(start + CHUNK, len(table))
        rows: list[Row] = []
        for (task_id, payload, meta, answer, priority), keep in zip(table.json(start, stop), fresh[start:stop], strict=True):
            if keep:
                rows.append((project_id, task_id, position, payload, meta, answer, answer is not None, priority))
                position += 1
        yield rows


def _copy(conn: sa.Connection, slices: Iterator[list[Row]], progress: Callable[[int], None]) -> int:
    """PostgreSQL: one COPY of every row, sent by a writer thread while the next are written.
    The driver's errors are raised as SQLAlchemy's, as for any other statement of the store."""
    import psycopg
    from psycopg.copy import QueuedLibpqWriter

    driver: psycopg.Connection = conn.connection.driver_connection  # type: ignore[assignment]
    cursor = driver.cursor()
    added = 0
    try:
        with cursor.copy(COPY, writer=QueuedLibpqWriter(cursor)) as copy:
            for rows in slices:
                for row in rows:
                    copy.write_row(row)
                added += len(rows)
                progress(len(rows))
    except psycopg.Error as exc:
        if driver.broken:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(COPY, None, exc, psycopg.Error, connection_invalidated=driver.broken) from exc
    return added


def _executemany(conn: sa.Connection, slices: Iterator[list[Row]], progress: Callable[[int], None]) -> int:
    """SQLite: one prepared INSERT run over each slice of rows."""
    added = 0
    for rows in slices:
        if rows:
            conn.exec_driver_sql(INSERT, rows)
        added += len(rows)
        progress(len(rows))
    return added
