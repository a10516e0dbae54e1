"""Reads of a project: tasks, labels and a worker's progress as DataFrames, and the one task a
caller may see."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa

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


def task_frame(conn: sa.Connection, project_id: int) -> pd.DataFrame:
    """All tasks of a project in order: id, payload, meta, known_answer, priority, n_labels,
    and overlap (the task's own, raised by dynamic overlap, else the project's)."""
    n_labels = (
        sa.select(sa.func.count())
        .where(annotations.c.task_id == tasks.c.id, annotations.c.status != "superseded")
        .scalar_subquery()
    )
    query = (
        sa.select(
            tasks.c.external_id.label("id"),
            tasks.c.payload,
            tasks.c.meta,
            tasks.c.known_answer,
            tasks.c.priority,
            n_labels.label("n_labels"),
            sa.func.coalesce(tasks.c.overlap, projects.c.overlap).label("overlap"),
        )
        .join(projects, projects.c.id == tasks.c.project_id)
        .where(tasks.c.project_id == project_id)
        .order_by(tasks.c.position)
    )
    return frame(conn, query)


def count_tasks(conn: sa.Connection, project_id: int) -> int:
    """Number of tasks in a project."""
    return int(conn.scalar(sa.select(sa.func.count()).where(tasks.c.project_id == project_id)))


def label_frame(conn: sa.Connection, project_id: int) -> pd.DataFrame:
    """Current labels (superseded ones left out), in task order, then time; see `LABEL_COLUMNS`.
    `flag` is set by quality rules (e.g. 'too_fast'); `prediction_accepted` tells whether the
    label is the task's model pre-label unchanged (None when the task had none)."""
    query = (
        sa.select(
            tasks.c.external_id.label("task"),
            workers.c.name.label("worker"),
            annotations.c.label,
            annotations.c.submitted_at,
            annotations.c.duration_ms,
            annotations.c.status,
            annotations.c.id.label("annotation_id"),
            annotations.c.flag,
            tasks.c.payload["prediction"].label("prediction"),
        )
        .join(tasks, tasks.c.id == annotations.c.task_id)
        .join(workers, workers.c.id == annotations.c.worker_id)
        .where(annotations.c.project_id == project_id, annotations.c.status != "superseded")
        .order_by(tasks.c.position, annotations.c.submitted_at)
    )
    table = frame(conn, query)
    table["prediction_accepted"] = pd.Series(
        [None if p is None else p == label for p, label in zip(table.pop("prediction"), table["label"], strict=True)],
        dtype=object,
    )
    table["flag"] = table["flag"].astype(object).where(table["flag"].notna(), None)
    table["duration_ms"] = table["duration_ms"].astype("Int64")
    table["submitted_at"] = pd.to_datetime(table["submitted_at"], utc=True)
    return table[LABEL_COLUMNS]


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
