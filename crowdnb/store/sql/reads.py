"""Reads of a project: tasks, labels and a worker's progress as DataFrames, and the one task a
caller may see."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from crowdnb.store.schema import annotations, assignments, projects, tasks, workers
from crowdnb.store.sql import columns
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


UTC_MICROS = pa.timestamp("us", "UTC")
TASK_TYPES = {
    "id": pa.string(), "payload": pa.string(), "meta": pa.string(), "known_answer": pa.string(),
    "priority": pa.float64(), "n_labels": pa.int64(), "overlap": pa.int64(),
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
    frame = pd.DataFrame({"id": found["id"].to_pandas()})
    for name in ("payload", "meta", "known_answer"):
        frame[name] = decoded(found[name])
    frame["priority"] = found["priority"].to_numpy()
    frame["n_labels"] = found["n_labels"].to_numpy()
    frame["overlap"] = found["overlap"].to_numpy()
    return frame


def count_tasks(conn: sa.Connection, project_id: int) -> int:
    """Number of tasks in a project."""
    return int(conn.scalar(sa.select(sa.func.count()).where(tasks.c.project_id == project_id)))


@dataclass(frozen=True)
class TaskOrder:
    """A project's tasks in order: store ids, positions and own ids, to turn the task ids that
    label reads send into names and order."""

    ids: np.ndarray
    positions: np.ndarray
    external: pa.Array
    by_id: np.ndarray  # the order that sorts `ids`

    @classmethod
    def read(cls, conn: sa.Connection, project_id: int) -> TaskOrder:
        query = sa.select(tasks.c.id, tasks.c.position, tasks.c.external_id).where(tasks.c.project_id == project_id)
        found = columns.table(conn, query.order_by(tasks.c.position), {"id": pa.int64(), "position": pa.int64(), "external_id": pa.string()})
        ids = found["id"].to_numpy()
        return cls(ids, found["position"].to_numpy(), _whole(found["external_id"]), np.argsort(ids, kind="stable"))

    def rows(self, task_ids: np.ndarray) -> np.ndarray:
        """The place in task order of each task id (all must be the project's): looked up in a
        table by id when the project's ids are dense enough (at most 8 slots per task), else by
        binary search."""
        if not len(task_ids):
            return np.zeros(0, dtype=np.int64)
        low, span = int(self.ids.min()), int(self.ids.max()) - int(self.ids.min()) + 1
        if span <= 8 * len(self.ids) and int(task_ids.min()) >= low and int(task_ids.max()) < low + span:
            place = np.full(span, -1, dtype=np.int64)
            place[self.ids - low] = np.arange(len(self.ids))
            found = place[task_ids - low]
            missing = bool((found < 0).any())
        else:
            order = self.by_id
            at = np.minimum(np.searchsorted(self.ids[order], task_ids), len(order) - 1)
            found, missing = order[at], not np.array_equal(self.ids[order][at], task_ids)
        if missing:
            raise RuntimeError("labels refer to tasks missing from the same read; the store is inconsistent")
        return found


@dataclass(frozen=True)
class WorkerNames:
    """Every worker's name by id."""

    lookup: np.ndarray  # worker id -> index into names
    names: pa.Array

    @classmethod
    def read(cls, conn: sa.Connection) -> WorkerNames:
        found = columns.table(conn, sa.select(workers.c.id, workers.c.name), {"id": pa.int64(), "name": pa.string()})
        ids = found["id"].to_numpy()
        lookup = np.full(int(ids.max(initial=0)) + 1, -1, dtype=np.int64)
        lookup[ids] = np.arange(len(ids))
        return cls(lookup, _whole(found["name"]))

    def of(self, worker_ids: np.ndarray) -> pd.Series:
        return self.names.take(pa.array(self.lookup[worker_ids])).to_pandas()


def label_query(
    project_id: int, names: Sequence[str], *, class_labels: bool, dialect: str, predicted: bool
) -> tuple[sa.Select[Any], dict[str, pa.DataType]]:
    """The current labels of a project (superseded ones left out) as the columns that give
    `names` (of `LABEL_COLUMNS`), and their Arrow types: always the task's store id and the time
    (`at`), the worker's id for `worker`. `class_labels`: labels are
    class names, read as text (else as JSON text). PostgreSQL compares labels with predictions;
    SQLite sends the prediction's JSON text and the label (compared by `_accepted`).
    `predicted`: some task of the project has a prediction (`has_predictions`); if not, the
    query leaves predictions out and `prediction_accepted` is None for every label."""
    unknown = [n for n in names if n not in LABEL_COLUMNS]
    if unknown:
        raise ValueError(f"unknown label column(s) {unknown}; columns: {LABEL_COLUMNS}")
    label = columns.json_text(annotations.c.label) if class_labels else as_text(annotations.c.label)
    chosen: dict[str, tuple[sa.ColumnElement[Any], pa.DataType]] = {
        "task_id": (annotations.c.task_id, pa.int64()), "at": (columns.utc_time(annotations.c.submitted_at), UTC_MICROS),
    }
    sources: dict[str, dict[str, tuple[sa.ColumnElement[Any], pa.DataType]]] = {
        "worker": {"worker_id": (annotations.c.worker_id, pa.int64())},
        "label": {"label": (label, pa.string())},
        "duration_ms": {"duration_ms": (annotations.c.duration_ms, pa.int64())},
        "status": {"status": (annotations.c.status, pa.string())},
        "annotation_id": {"annotation_id": (annotations.c.id, pa.string())},
        "flag": {"flag": (annotations.c.flag, pa.string())},
    }
    # The tasks that have a prediction, with it (a hash join on these alone, not on every payload).
    predictions = _predictions(project_id, dialect)
    joined = predicted and "prediction_accepted" in names
    if joined and dialect == "postgresql":
        sources["prediction_accepted"] = {"accepted": (predictions.c.prediction == annotations.c.label, pa.bool_())}
    elif joined:
        sources["prediction_accepted"] = {"label": (label, pa.string()), "prediction": (predictions.c.prediction, pa.string())}
    for name in names:
        chosen.update(sources.get(name, {}))
    query = sa.select(*(column.label(key) for key, (column, _) in chosen.items()))
    if joined:
        query = query.outerjoin(predictions, predictions.c.id == annotations.c.task_id)
    query = query.where(annotations.c.project_id == project_id, annotations.c.status != "superseded")
    return query, {key: kind for key, (_, kind) in chosen.items()}


def label_frame(
    conn: sa.Connection, project_id: int, names: Sequence[str] | None = None, *, class_labels: bool = False,
    where: Sequence[sa.ColumnElement[bool]] = (),
) -> pd.DataFrame:
    """Current labels (superseded ones left out, and those not meeting `where`), in task
    order, then time; the columns `names` (default all of `LABEL_COLUMNS`). `flag` is set by
    quality rules (e.g. 'too_fast'); `prediction_accepted` tells whether the label is the task's
    model pre-label unchanged (None when the task had none)."""
    names = list(LABEL_COLUMNS if names is None else names)
    query, types = _labels_of(conn, project_id, names, class_labels)
    order, named = TaskOrder.read(conn, project_id), WorkerNames.read(conn) if "worker" in names else None
    return _in_order(columns.table(conn, query.where(*where), types), order, named, names, class_labels)


def label_batches(
    conn: sa.Connection, project_id: int, names: Sequence[str] | None = None, *, class_labels: bool = False,
    tasks_per_batch: int = 50_000,
) -> Iterator[pd.DataFrame]:
    """`label_frame` in pieces of `tasks_per_batch` tasks each (in task order, then time), so
    that memory holds one piece at a time."""
    names = list(LABEL_COLUMNS if names is None else names)
    query, types = _labels_of(conn, project_id, names, class_labels)
    order, named = TaskOrder.read(conn, project_id), WorkerNames.read(conn) if "worker" in names else None
    for start in range(0, len(order.ids), tasks_per_batch):
        found = columns.table(conn, label_piece(query, project_id, order, start, start + tasks_per_batch), types)
        if found.num_rows:
            yield _in_order(found, order, named, names, class_labels)


def label_piece(query: sa.Select[Any], project_id: int, order: TaskOrder, start: int, stop: int) -> sa.Select[Any]:
    """`query` (a `label_query`) narrowed to the tasks `start:stop` in task order. Besides their
    positions, the range of their store ids bounds the labels' task ids, so the database reads
    the piece's labels through the (task, worker) index instead of scanning every label: ids
    follow positions when tasks are added in order (the usual case); when they do not, the range
    is wider but the rows are the same."""
    ids, positions = order.ids[start:stop], order.positions[start:stop]
    return query.join(tasks, tasks.c.id == annotations.c.task_id).where(
        tasks.c.project_id == project_id,
        tasks.c.position.between(int(positions[0]), int(positions[-1])),
        annotations.c.task_id.between(int(ids.min()), int(ids.max())),
    )


def has_predictions(conn: sa.Connection, project_id: int) -> bool:
    """Whether any task of the project has a model prediction."""
    return bool(conn.scalar(sa.select(sa.exists(_predictions(project_id, conn.dialect.name).select()))))


def _labels_of(conn: sa.Connection, project_id: int, names: Sequence[str], class_labels: bool) -> tuple[sa.Select[Any], dict[str, pa.DataType]]:
    """`label_query` for this connection, joining predictions only when some task has one
    (the planner cannot estimate how many tasks do, and a join of nothing costs seconds)."""
    predicted = "prediction_accepted" in names and has_predictions(conn, project_id)
    return label_query(project_id, names, class_labels=class_labels, dialect=conn.dialect.name, predicted=predicted)


def _predictions(project_id: int, dialect: str) -> sa.Subquery:
    """The tasks of the project that have a prediction (not JSON null), with it: `id`, `prediction`
    (JSONB on PostgreSQL, JSON text on SQLite)."""
    predicted = tasks.c.payload["prediction"] if dialect == "postgresql" else tasks.c.payload.op("->", return_type=sa.Text)(sa.literal_column("'$.prediction'"))
    return (
        sa.select(tasks.c.id, predicted.label("prediction"))
        .where(tasks.c.project_id == project_id, predicted.is_not(None), _json_not_null(predicted, dialect))
        .subquery("predictions")
    )


def _in_order(found: pa.Table, order: TaskOrder, named: WorkerNames | None, names: Sequence[str], class_labels: bool) -> pd.DataFrame:
    """Labels read by `label_query`, sorted by task, then time, as `labels()` gives them."""
    # Each column in one piece first (PostgreSQL's come so): a take over one array is 10x
    # faster than over many chunks.
    found = pa.table([_whole(column) for column in found.columns], schema=found.schema)
    rows = order.rows(found["task_id"].to_numpy())
    keys = pa.table({"row": rows, "at": found["at"]})
    sort = pc.sort_indices(keys, sort_keys=[("row", "ascending"), ("at", "ascending")])
    found, rows = found.take(sort), rows[sort.to_numpy()]
    frame = pd.DataFrame(index=pd.RangeIndex(found.num_rows))
    for name in names:
        if name == "task":
            frame[name] = order.external.take(pa.array(rows)).to_pandas()
        elif name == "worker":
            assert named is not None
            frame[name] = named.of(found["worker_id"].to_numpy())
        elif name == "label":
            frame[name] = _values(found["label"], class_labels)
        elif name == "submitted_at":
            frame[name] = found["at"].to_pandas()
        elif name == "duration_ms":
            frame[name] = pd.array(found["duration_ms"].to_pandas(), dtype="Int64")
        elif name == "flag":
            frame[name] = pd.Series(found["flag"].to_numpy(zero_copy_only=False), dtype=object)
        elif name == "prediction_accepted":
            frame[name] = _accepted(found, class_labels)
        else:
            frame[name] = found[name].to_pandas()
    return frame


def _whole(column: pa.ChunkedArray) -> pa.Array:
    """The column as one array (`combine_chunks` copies even a single chunk)."""
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def _json_not_null(value: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[bool]:
    """A JSON value that is not JSON null."""
    null = "'null'::jsonb" if dialect == "postgresql" else "'null'"
    return value != sa.literal_column(null)


def _values(column: pa.ChunkedArray, class_labels: bool) -> pd.Series:
    """Labels: class names as pandas strings (no Python object per label), anything else as
    Python values decoded from JSON."""
    return column.to_pandas() if class_labels else decoded(column)


def _accepted(found: pa.Table, class_labels: bool) -> pd.Series:
    """Whether each label is its task's prediction (None: the task had none), from the
    database's comparison (PostgreSQL) or from the prediction's JSON text (SQLite)."""
    if "accepted" in found.column_names:
        return pd.Series(found["accepted"].to_numpy(zero_copy_only=False), dtype=object)
    if "prediction" not in found.column_names:  # no task has a prediction
        return pd.Series(np.full(found.num_rows, None, dtype=object))
    given = _values(found["label"], class_labels)
    return pd.Series(
        [None if p is None else json.loads(p) == g for p, g in zip(found["prediction"].to_pylist(), given, strict=True)],
        dtype=object,
    )


def as_text(column: sa.ColumnElement[Any]) -> sa.ColumnElement[str]:
    """A JSON column as its JSON text (not decoded)."""
    return sa.cast(column, sa.Text)


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
