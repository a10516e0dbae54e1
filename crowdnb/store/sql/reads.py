"""Reads of a project: tasks, labels and a worker's progress as DataFrames, and the one task a
caller may see."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from crowdnb.store.sql import columns
from crowdnb.store.schema import annotations, assignments, projects, tasks, workers
from crowdnb.store.types import LABEL_COLUMNS, Account


def frame(conn: sa.Connection, query: sa.Select[Any]) -> pd.DataFrame:
    """Query results as a DataFrame; JSON columns stay Python objects (None stays None)."""
    result = conn.execute(query)
    names = list(result.keys())
    columns = list(zip(*result.all(), strict=True)) or [()] * len(names)
    json_columns = {c.name for c in query.selected_columns if isinstance(c.type, sa.JSON)}
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object) if name in json_columns else pd.Series(values)
            for name, values in zip(names, columns, strict=True)
        }
    )


TASK_TYPES = {
    "id": pa.string(), "payload": pa.string(), "meta": pa.string(), "known_answer": pa.string(),
    "priority": pa.float64(), "n_labels": pa.int64(), "overlap": pa.int64(),
}
LABEL_TYPES = {
    "task": pa.string(), "worker": pa.string(), "label": pa.string(), "submitted_at": pa.int64(),
    "duration_ms": pa.int64(), "status": pa.string(), "annotation_id": pa.string(), "flag": pa.string(),
    "prediction_accepted": pa.bool_(),
}


def task_frame(conn: sa.Connection, project_id: int) -> pd.DataFrame:
    """All tasks of a project in order: id, payload, meta, known_answer, priority, n_labels,
    and overlap (the task's own, raised by dynamic overlap, else the project's)."""
    counted = (
        sa.select(annotations.c.task_id, sa.func.count().label("n"))
        .where(annotations.c.project_id == project_id, annotations.c.status != "superseded")
        .group_by(annotations.c.task_id)
        .subquery()
    )
    query = (
        sa.select(
            tasks.c.external_id.label("id"),
            as_text(tasks.c.payload).label("payload"),
            as_text(tasks.c.meta).label("meta"),
            as_text(tasks.c.known_answer).label("known_answer"),
            tasks.c.priority,
            sa.func.coalesce(counted.c.n, 0).label("n_labels"),
            sa.func.coalesce(tasks.c.overlap, projects.c.overlap).label("overlap"),
        )
        .join(projects, projects.c.id == tasks.c.project_id)
        .outerjoin(counted, counted.c.task_id == tasks.c.id)
        .where(tasks.c.project_id == project_id)
        .order_by(tasks.c.position)
    )
    found = columns.table(conn, query, TASK_TYPES)
    frame = pd.DataFrame({"id": _strings(found["id"])})
    for name in ("payload", "meta", "known_answer"):
        frame[name] = decoded(found[name])
    frame["priority"] = found["priority"].to_numpy()
    frame["n_labels"] = found["n_labels"].to_numpy()
    frame["overlap"] = found["overlap"].to_numpy()
    return frame


def count_tasks(conn: sa.Connection, project_id: int) -> int:
    """Number of tasks in a project."""
    return int(conn.scalar(sa.select(sa.func.count()).where(tasks.c.project_id == project_id)))


def label_query(project_id: int, names: Sequence[str], *, class_labels: bool, dialect: str) -> sa.Select[Any]:
    """The current labels of a project (superseded ones left out) with the columns `names` (of
    `LABEL_TYPES`), plus the task's position; `class_labels`: labels are class names, read as
    text (else as JSON text). `submitted_at` comes as microseconds since 1970; on SQLite,
    `prediction_accepted` comes as the prediction's JSON text (compared by `label_columns`)."""
    label = columns.json_text(annotations.c.label) if class_labels else as_text(annotations.c.label)
    if dialect == "postgresql":
        prediction = sa.func.nullif(tasks.c.payload["prediction"], sa.literal_column("'null'::jsonb"))
        accepted: sa.ColumnElement[Any] = prediction == annotations.c.label
    else:
        accepted = tasks.c.payload.op("->", return_type=sa.Text)(sa.literal_column("'$.prediction'"))
    available: dict[str, sa.ColumnElement[Any]] = {
        "task": tasks.c.external_id,
        "worker": workers.c.name,
        "label": label,
        "submitted_at": columns.epoch_us(annotations.c.submitted_at),
        "duration_ms": annotations.c.duration_ms,
        "status": annotations.c.status,
        "annotation_id": annotations.c.id,
        "flag": annotations.c.flag,
        "prediction_accepted": accepted,
    }
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(f"unknown label column(s) {unknown}; columns: {LABEL_COLUMNS}")
    query = sa.select(*(available[n].label(n) for n in names), tasks.c.position.label("position")).join(
        tasks, tasks.c.id == annotations.c.task_id
    )
    if "worker" in names:
        query = query.join(workers, workers.c.id == annotations.c.worker_id)
    return query.where(annotations.c.project_id == project_id, annotations.c.status != "superseded")


def label_frame(
    conn: sa.Connection, project_id: int, names: Sequence[str] | None = None, *, class_labels: bool = False
) -> pd.DataFrame:
    """Current labels (superseded ones left out), in task order, then time; the columns `names`
    (default all of `LABEL_COLUMNS`). `flag` is set by quality rules (e.g. 'too_fast');
    `prediction_accepted` tells whether the label is the task's model pre-label unchanged (None
    when the task had none)."""
    names = list(LABEL_COLUMNS if names is None else names)
    query = label_query(project_id, names, class_labels=class_labels, dialect=conn.dialect.name)
    types = {**{n: _read_type(n, conn.dialect.name) for n in names}, "position": pa.int64()}
    found = columns.table(conn, query, types)
    position = found["position"].to_numpy()
    if "submitted_at" in names:
        order = np.lexsort((found["submitted_at"].to_numpy(), position))
    else:
        order = np.argsort(position, kind="stable")
    return label_columns(found.take(order), names, class_labels=class_labels)


def label_batches(
    conn: sa.Connection, project_id: int, names: Sequence[str] | None = None, *, class_labels: bool = False,
    tasks_per_batch: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """`label_frame` in pieces of `tasks_per_batch` tasks each (in task order, then time), so
    that memory holds one piece at a time."""
    names = list(LABEL_COLUMNS if names is None else names)
    base = label_query(project_id, names, class_labels=class_labels, dialect=conn.dialect.name)
    types = {**{n: _read_type(n, conn.dialect.name) for n in names}, "position": pa.int64()}
    bounds = sa.select(sa.func.min(tasks.c.position), sa.func.max(tasks.c.position)).where(tasks.c.project_id == project_id)
    low, high = conn.execute(bounds).one()
    if low is None:
        return
    for start in range(low, high + 1, tasks_per_batch):
        piece = base.where(tasks.c.project_id == project_id, tasks.c.position >= start, tasks.c.position < start + tasks_per_batch)
        found = columns.table(conn, piece, types)
        if found.num_rows:
            order_by = [found["position"].to_numpy()]
            if "submitted_at" in names:
                order_by.insert(0, found["submitted_at"].to_numpy())
            yield label_columns(found.take(np.lexsort(order_by)), names, class_labels=class_labels)


def label_columns(found: pa.Table, names: Sequence[str], *, class_labels: bool) -> pd.DataFrame:
    """Label columns read by `label_query` as the DataFrame that `labels()` returns."""
    frame = pd.DataFrame(index=pd.RangeIndex(found.num_rows))
    for name in names:
        column = found[name]
        if name == "label":
            frame[name] = _strings(column, objects=True) if class_labels else decoded(column)
        elif name == "submitted_at":
            frame[name] = pd.to_datetime(column.to_numpy(), unit="us", utc=True)
        elif name == "duration_ms":
            frame[name] = pd.array(column.to_pandas(), dtype="Int64")
        elif name == "flag":
            frame[name] = pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
        elif name == "prediction_accepted":
            frame[name] = _accepted(column, found["label"] if "label" in found.column_names else None, class_labels)
        else:
            frame[name] = _strings(column)
    return frame


def _accepted(column: pa.ChunkedArray, labels: pa.ChunkedArray | None, class_labels: bool) -> pd.Series:
    """Whether each label is its task's prediction (None: the task had none), from the
    database's comparison (PostgreSQL) or from the prediction's JSON text (SQLite)."""
    if pa.types.is_boolean(column.type):
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    if labels is None:
        raise ValueError("prediction_accepted needs the label column on this back end")
    given = labels.to_pylist() if class_labels else [None if v is None else json.loads(v) for v in labels.to_pylist()]
    return pd.Series(
        [None if p is None or p == "null" else json.loads(p) == g for p, g in zip(column.to_pylist(), given, strict=True)],
        dtype=object,
    )


def _read_type(name: str, dialect: str) -> pa.DataType:
    """The Arrow type a label column is read as (SQLite sends predictions as JSON text)."""
    if name == "prediction_accepted" and dialect != "postgresql":
        return pa.string()
    return LABEL_TYPES[name]


def as_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A JSON column as its JSON text (not decoded)."""
    return sa.cast(column, sa.Text)


def _strings(column: pa.ChunkedArray, *, objects: bool = False) -> pd.Series:
    """A text column as pandas strings (Arrow-backed where pandas does that), or as Python
    objects with None for null."""
    if objects:
        return pd.Series(column.to_pylist(), dtype=object)
    return column.to_pandas()


def decoded(column: pa.ChunkedArray) -> pd.Series:
    """A column of JSON texts as Python values (None for null)."""
    return pd.Series([None if v is None else json.loads(v) for v in column.to_pylist()], dtype=object)


def progress(conn: sa.Connection, project_id: int, worker_id: int) -> tuple[int, int]:
    """(tasks this worker has labeled, tasks in the project)."""
    done = conn.scalar(
        sa.select(sa.func.count(sa.distinct(annotations.c.task_id))).where(
            annotations.c.project_id == project_id,
            annotations.c.worker_id == worker_id,
            annotations.c.status != "superseded",
        )
    )
    return int(done), count_tasks(conn, project_id)


def visible_payload(conn: sa.Connection, project_id: int, task_id: int, viewer: Account) -> dict[str, Any] | None:
    """The payload of task `task_id` of the project if `viewer` may see it, else None (also for
    a task of another project, so ids do not leak). A manager sees every task; an inspector the
    tasks with a label (what they may be asked to review); a worker the tasks they hold a slot of
    (a lease the store has not taken back yet, a label, or rework) or have labeled before
    skipping, never a task not handed to them. One lookup by primary key and unique indexes."""
    query = sa.select(tasks.c.payload).where(tasks.c.id == task_id, tasks.c.project_id == project_id)
    if viewer.role == "inspector":
        query = query.where(sa.exists().where(annotations.c.task_id == tasks.c.id))
    elif viewer.role != "manager":
        labeled = sa.exists().where(
            annotations.c.task_id == assignments.c.task_id, annotations.c.worker_id == viewer.id
        )
        query = query.where(
            sa.exists().where(
                assignments.c.task_id == tasks.c.id, assignments.c.worker_id == viewer.id,
                sa.or_(assignments.c.status != "skipped", labeled),
            )
        )
    return conn.scalar(query)
