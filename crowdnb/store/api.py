"""The store: projects, tasks, workers, hand-out with leases, and durable, idempotent submits.

One implementation for SQLite (the embedded default) and PostgreSQL (a shared team store). Every
write runs in one transaction that is committed before the call returns, so a returned receipt
means the label is on disk. Hand-out takes a write lock up front (SQLite: BEGIN IMMEDIATE;
PostgreSQL: row locks with SKIP LOCKED), so one task slot is never leased twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crowdnb import kinds
from crowdnb.errors import Conflict, NotFound, Problem, ValidationError
from crowdnb.store import engine as engines
from crowdnb.store.schema import annotations, assignments, projects, tasks, utc_after, utcnow, workers

INSERT_CHUNK = 5_000


@dataclass(frozen=True)
class ProjectInfo:
    """A project as stored."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    overlap: int
    price: int
    lease_seconds: int
    created_at: datetime


@dataclass(frozen=True)
class NewTask:
    """A task to add: an id unique within its project, the payload shown to workers, metadata."""

    external_id: str
    payload: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    known_answer: Any = None
    priority: float = 0.0


@dataclass(frozen=True)
class Task:
    """A task handed out to a worker."""

    id: int
    external_id: str
    payload: dict[str, Any]
    meta: dict[str, Any]


@dataclass(frozen=True)
class Submission:
    """A label from a worker. `annotation_id` is made by the client, so a retry is recognized."""

    annotation_id: str
    task_id: int
    label: Any
    duration_ms: int | None = None


@dataclass(frozen=True)
class Receipt:
    """Proof that a submission is committed; `duplicate` tells a retry of an earlier submit."""

    annotation_id: str
    submitted_at: datetime
    duplicate: bool


class Store:
    """A label store at a SQLAlchemy URL (or a file path for SQLite), migrated on open."""

    def __init__(self, url: str | None = None) -> None:
        self.url = engines.as_url(url) if url is not None else engines.default_url()
        self.engine = engines.create_engine(self.url)
        self.dialect = self.engine.dialect.name
        engines.migrate(self.engine)

    def __repr__(self) -> str:
        return f"Store({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Release all pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A write transaction that holds the write lock from its start and commits on exit."""
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            with conn.begin():
                yield conn

    # -- projects and workers ---------------------------------------------------------------

    def create_project(
        self,
        name: str,
        kind: str,
        config: dict[str, Any],
        *,
        overlap: int = 1,
        price: int = 0,
        lease_seconds: int = 600,
    ) -> ProjectInfo:
        """Create a project; `Conflict` if the name is taken."""
        kinds.get(kind)
        if overlap < 1:
            raise ValueError(f"overlap must be at least 1, got {overlap}")
        if price < 0:
            raise ValueError(f"price must not be negative, got {price}")
        with self._write() as conn:
            if conn.scalar(sa.select(projects.c.id).where(projects.c.name == name)) is not None:
                raise Conflict(f"project {name!r} already exists")
            conn.execute(
                projects.insert().values(
                    name=name, kind=kind, config=config, overlap=overlap, price=price,
                    lease_seconds=lease_seconds,
                )
            )
        return self.project(name)

    def project(self, name: str) -> ProjectInfo:
        """The project called `name`; `NotFound` lists the existing ones otherwise."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(projects).where(projects.c.name == name)).mappings().first()
        if row is None:
            raise NotFound(f"no project {name!r} in {self!r}; existing: {self.project_names()}")
        return ProjectInfo(**row)

    def project_names(self) -> list[str]:
        """Names of all projects, oldest first."""
        with self.engine.connect() as conn:
            return list(conn.scalars(sa.select(projects.c.name).order_by(projects.c.id)))

    def worker_id(self, name: str, role: str = "worker") -> int:
        """The id of worker `name`, registering them with `role` on first use."""
        with self.engine.connect() as conn:
            found = conn.scalar(sa.select(workers.c.id).where(workers.c.name == name))
        if found is not None:
            return found
        with self._write() as conn:
            found = conn.scalar(sa.select(workers.c.id).where(workers.c.name == name))
            if found is None:
                found = conn.execute(workers.insert().values(name=name, role=role)).inserted_primary_key[0]
        return int(found)

    # -- tasks ------------------------------------------------------------------------------

    def add_tasks(
        self,
        project_id: int,
        new: Sequence[NewTask],
        *,
        on_duplicate: str = "error",
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Add tasks all or nothing; returns how many were added.

        Ids already in the project raise `ValidationError` naming them (`on_duplicate="error"`)
        or are left as they are (`"skip"`). `progress` is called with the number of rows written.
        """
        if on_duplicate not in ("error", "skip"):
            raise ValueError(f"on_duplicate must be 'error' or 'skip', got {on_duplicate!r}")
        with self._write() as conn:
            existing = set(
                conn.scalars(sa.select(tasks.c.external_id).where(tasks.c.project_id == project_id))
            )
            clashes = [t.external_id for t in new if t.external_id in existing]
            if clashes and on_duplicate == "error":
                raise ValidationError(
                    [Problem(c, "id", "a task with this id is already in the project") for c in clashes]
                )
            position = conn.scalar(
                sa.select(sa.func.coalesce(sa.func.max(tasks.c.position), -1)).where(
                    tasks.c.project_id == project_id
                )
            )
            rows = [
                {
                    "project_id": project_id,
                    "external_id": t.external_id,
                    "position": position + 1 + i,
                    "payload": t.payload,
                    "meta": t.meta,
                    "known_answer": t.known_answer,
                    "priority": t.priority,
                }
                for i, t in enumerate(t for t in new if t.external_id not in existing)
            ]
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = rows[start : start + INSERT_CHUNK]
                conn.execute(tasks.insert(), chunk)
                if progress is not None:
                    progress(len(chunk))
        return len(rows)

    def tasks(self, project_id: int) -> pd.DataFrame:
        """All tasks of a project in order: id, payload, meta, known_answer, priority, n_labels."""
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
            )
            .where(tasks.c.project_id == project_id)
            .order_by(tasks.c.position)
        )
        return self._frame(query)

    def count_tasks(self, project_id: int) -> int:
        """Number of tasks in a project."""
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).where(tasks.c.project_id == project_id)))

    # -- hand-out ---------------------------------------------------------------------------

    def claim(
        self, project_id: int, worker_id: int, n: int, *, exclude: Iterable[int] = ()
    ) -> list[Task]:
        """Lease up to `n` tasks to a worker, in priority order; the worker's own unexpired
        leases (e.g. from before a kernel restart) come first. `exclude` lists task ids the
        caller already holds."""
        held = list(exclude)
        with self._write() as conn:
            project = conn.execute(
                sa.select(projects.c.overlap, projects.c.lease_seconds).where(projects.c.id == project_id)
            ).one()
            self._expire_leases(conn, project_id, project.overlap)
            mine = assignments.c.project_id == project_id
            own = list(
                conn.scalars(
                    sa.select(assignments.c.task_id)
                    .where(
                        mine,
                        assignments.c.worker_id == worker_id,
                        assignments.c.status == "leased",
                        assignments.c.task_id.not_in(held),
                    )
                    .order_by(assignments.c.id)
                    .limit(n)
                )
            )
            if own:
                conn.execute(
                    assignments.update()
                    .where(assignments.c.worker_id == worker_id, assignments.c.task_id.in_(own))
                    .values(expires_at=utc_after(project.lease_seconds))
                )
            fresh = self._lease_new(conn, project_id, worker_id, n - len(own), project)
            return self._load_tasks(conn, own + fresh)

    def _lease_new(
        self, conn: sa.Connection, project_id: int, worker_id: int, n: int, project: sa.Row[Any]
    ) -> list[int]:
        if n <= 0:
            return []
        seen = sa.exists().where(assignments.c.task_id == tasks.c.id, assignments.c.worker_id == worker_id)
        query = (
            sa.select(tasks.c.id)
            .where(tasks.c.project_id == project_id, tasks.c.is_open, ~seen)
            .order_by(tasks.c.priority.desc(), tasks.c.position)
            .limit(n)
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=tasks)
        ids = list(conn.scalars(query))
        if not ids:
            return []
        conn.execute(
            assignments.insert().values(
                project_id=project_id, worker_id=worker_id, status="leased",
                expires_at=utc_after(project.lease_seconds),
            ),
            [{"task_id": task_id} for task_id in ids],
        )
        self._shift_active(conn, ids, +1, project.overlap)
        return ids

    @staticmethod
    def _shift_active(conn: sa.Connection, task_ids: list[int], delta: int, overlap: int) -> None:
        """Change the number of active slots of tasks and whether they still take workers."""
        if not task_ids:
            return
        active = tasks.c.n_active + delta
        conn.execute(
            tasks.update()
            .where(tasks.c.id.in_(task_ids))
            .values(n_active=active, is_open=active < sa.func.coalesce(tasks.c.overlap, overlap))
        )

    def _expire_leases(self, conn: sa.Connection, project_id: int, overlap: int) -> None:
        """Return slots whose lease ran out (by the store's clock) to the pool."""
        expired = list(
            conn.scalars(
                sa.select(assignments.c.id).where(
                    assignments.c.project_id == project_id,
                    assignments.c.status == "leased",
                    assignments.c.expires_at < utcnow(),
                )
            )
        )
        if not expired:
            return
        task_ids = list(
            conn.scalars(
                sa.delete(assignments).where(assignments.c.id.in_(expired)).returning(assignments.c.task_id)
            )
        )
        self._shift_active(conn, task_ids, -1, overlap)

    @staticmethod
    def _load_tasks(conn: sa.Connection, ids: list[int]) -> list[Task]:
        if not ids:
            return []
        rows = conn.execute(
            sa.select(tasks.c.id, tasks.c.external_id, tasks.c.payload, tasks.c.meta).where(
                tasks.c.id.in_(ids)
            )
        )
        by_id = {row.id: Task(row.id, row.external_id, row.payload, row.meta) for row in rows}
        return [by_id[i] for i in ids]

    # -- labels -----------------------------------------------------------------------------

    def submit(self, project_id: int, worker_id: int, submission: Submission) -> Receipt:
        """Store a label durably and return its receipt; a retried submission (same
        annotation id) returns the first receipt and stores nothing new. A new label from the
        same worker for the same task supersedes the previous one (kept for audit)."""
        with self._write() as conn:
            project = conn.execute(
                sa.select(projects.c.kind, projects.c.config, projects.c.overlap).where(
                    projects.c.id == project_id
                )
            ).one()
            earlier = self._receipt(conn, submission, worker_id)
            if earlier is not None:
                return earlier
            payload = conn.scalar(
                sa.select(tasks.c.payload).where(tasks.c.id == submission.task_id, tasks.c.project_id == project_id)
            )
            if payload is None:
                raise NotFound(f"task {submission.task_id} is not in project {project_id}")
            label = kinds.get(project.kind).validate_label(submission.label, project.config, payload)
            conn.execute(
                annotations.update()
                .where(
                    annotations.c.task_id == submission.task_id,
                    annotations.c.worker_id == worker_id,
                    annotations.c.status == "submitted",
                )
                .values(status="superseded")
            )
            submitted_at = conn.execute(
                annotations.insert()
                .values(
                    id=submission.annotation_id, project_id=project_id, task_id=submission.task_id,
                    worker_id=worker_id, label=label, duration_ms=submission.duration_ms,
                )
                .returning(annotations.c.submitted_at)
            ).scalar_one()
            self._settle(conn, project_id, worker_id, submission.task_id, "done", project.overlap)
        return Receipt(submission.annotation_id, submitted_at, duplicate=False)

    @staticmethod
    def _receipt(conn: sa.Connection, submission: Submission, worker_id: int) -> Receipt | None:
        row = conn.execute(
            sa.select(annotations.c.task_id, annotations.c.worker_id, annotations.c.submitted_at).where(
                annotations.c.id == submission.annotation_id
            )
        ).first()
        if row is None:
            return None
        if (row.task_id, row.worker_id) != (submission.task_id, worker_id):
            raise Conflict(f"annotation id {submission.annotation_id!r} was already used for another label")
        return Receipt(submission.annotation_id, row.submitted_at, duplicate=True)

    def skip(self, project_id: int, worker_id: int, task_id: int) -> None:
        """Give a task back: it goes to other workers, not again to this one."""
        with self._write() as conn:
            overlap = conn.scalar(sa.select(projects.c.overlap).where(projects.c.id == project_id))
            self._settle(conn, project_id, worker_id, task_id, "skipped", overlap)

    def _settle(
        self, conn: sa.Connection, project_id: int, worker_id: int, task_id: int, status: str, overlap: int
    ) -> None:
        """Move a worker's assignment of a task to `status` ('done' or 'skipped'), keeping the
        task's active-slot count in step."""
        where = (assignments.c.task_id == task_id, assignments.c.worker_id == worker_id)
        before = conn.scalar(sa.select(assignments.c.status).where(*where))
        if before == status or (before == "done" and status == "skipped"):
            return
        if before is None:
            conn.execute(
                assignments.insert().values(
                    project_id=project_id, task_id=task_id, worker_id=worker_id, status=status
                )
            )
        else:
            conn.execute(assignments.update().where(*where).values(status=status, expires_at=None))
        counted_before = before in ("leased", "done")
        counted_after = status == "done"
        if counted_before != counted_after:
            self._shift_active(conn, [task_id], +1 if counted_after else -1, overlap)

    def labels(self, project_id: int) -> pd.DataFrame:
        """Current labels (superseded ones left out): task, worker, label, submitted_at,
        duration_ms, status, annotation_id, and prediction_accepted (whether the label is the
        task's model pre-label unchanged; None when the task had none); in task order, then time."""
        query = (
            sa.select(
                tasks.c.external_id.label("task"),
                workers.c.name.label("worker"),
                annotations.c.label,
                annotations.c.submitted_at,
                annotations.c.duration_ms,
                annotations.c.status,
                annotations.c.id.label("annotation_id"),
                tasks.c.payload["prediction"].label("prediction"),
            )
            .join(tasks, tasks.c.id == annotations.c.task_id)
            .join(workers, workers.c.id == annotations.c.worker_id)
            .where(annotations.c.project_id == project_id, annotations.c.status != "superseded")
            .order_by(tasks.c.position, annotations.c.submitted_at)
        )
        frame = self._frame(query)
        frame["prediction_accepted"] = pd.Series(
            [None if p is None else p == label for p, label in zip(frame.pop("prediction"), frame["label"], strict=True)],
            dtype=object,
        )
        frame["duration_ms"] = frame["duration_ms"].astype("Int64")
        frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
        return frame

    def progress(self, project_id: int, worker_id: int) -> tuple[int, int]:
        """(tasks this worker has labeled, tasks in the project)."""
        with self.engine.connect() as conn:
            done = conn.scalar(
                sa.select(sa.func.count(sa.distinct(annotations.c.task_id))).where(
                    annotations.c.project_id == project_id,
                    annotations.c.worker_id == worker_id,
                    annotations.c.status != "superseded",
                )
            )
        return int(done), self.count_tasks(project_id)

    def _frame(self, query: sa.Select[Any]) -> pd.DataFrame:
        """Query results as a DataFrame; JSON columns stay Python objects (None stays None)."""
        with self.engine.connect() as conn:
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
