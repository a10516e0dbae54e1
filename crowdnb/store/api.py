"""The store: projects, tasks, workers, hand-out with leases, and durable, idempotent submits.

One implementation for SQLite (the embedded default) and PostgreSQL (a shared team store). Every
write runs in one transaction that is committed before the call returns, so a returned receipt
means the label is on disk. Hand-out takes a write lock up front (SQLite: BEGIN IMMEDIATE;
PostgreSQL: row locks with SKIP LOCKED), so one task slot is never leased twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from crowdnb import kinds
from crowdnb.errors import Conflict, CrowdnbError, LabelError, NotFound, Problem, ValidationError
from crowdnb.aggregation.methods import SINGLE_CHOICE
from crowdnb.quality.overlap import task_posterior
from crowdnb.quality.rules import STATUSES, QualityPolicy, Status, Track
from crowdnb.store import engine as engines
from crowdnb.store.accounts import AccountsMixin
from crowdnb.store.ledger import LedgerMixin
from crowdnb.store.postgres import PlainLabel, PlainPath
from crowdnb.store.review import ReviewMixin, review_draw
from crowdnb.store.schema import (
    annotations,
    assignments,
    project_workers,
    projects,
    tasks,
    utc_after,
    utcnow,
    workers,
)

INSERT_CHUNK = 5_000
ANNOTATION_ID_LENGTH = annotations.c.id.type.length  # PostgreSQL would trim longer ids ending in spaces
LEASED = sa.literal_column("'leased'")  # inline, so that PostgreSQL can use the partial expiry index
ANALYZE_AFTER = 500  # tasks added at once after which PostgreSQL's statistics are refreshed


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
    quality: dict[str, Any] | None = None
    review_rate: float = 0.0
    review_window_seconds: int | None = None


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
    rework: str | None = None  # the inspector's reason when the task came back to its worker


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


class Store(AccountsMixin, ReviewMixin, LedgerMixin):
    """A label store at a SQLAlchemy URL (or a file path for SQLite), migrated on open."""

    def __init__(self, url: str | None = None) -> None:
        self.url = engines.as_url(url) if url is not None else engines.default_url()
        self.engine = engines.create_engine(self.url)
        self.dialect = self.engine.dialect.name
        engines.migrate(self.engine)
        # PostgreSQL: reads in autocommit (one round trip, no BEGIN/ROLLBACK), and the common
        # claims and submits by the plain path (see store/postgres.py); same connection pool.
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self.dialect == "postgresql" else self.engine
        self._plain = PlainPath(self.engine) if self.dialect == "postgresql" else None
        self._label_rules: dict[int, tuple[kinds.Kind, dict[str, Any]]] = {}

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
        quality: QualityPolicy | None = None,
    ) -> ProjectInfo:
        """Create a project; `Conflict` if the name is taken."""
        _check_policy(kind, config, quality)
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
                    lease_seconds=lease_seconds, quality=quality.to_dict() if quality else None,
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
                    "is_control": t.known_answer is not None,
                    "priority": t.priority,
                }
                for i, t in enumerate(t for t in new if t.external_id not in existing)
            ]
            for start in range(0, len(rows), INSERT_CHUNK):
                chunk = rows[start : start + INSERT_CHUNK]
                conn.execute(tasks.insert(), chunk)
                if progress is not None:
                    progress(len(chunk))
        if len(rows) >= ANALYZE_AFTER and self.dialect == "postgresql":
            # Fresh statistics, or the planner takes a new project's queue for a few rows and
            # reads all of it to hand out ten tasks (31 ms per claim at 3,000 tasks).
            with self.reader.connect() as conn:
                conn.exec_driver_sql("ANALYZE tasks")
        return len(rows)

    def tasks(self, project_id: int) -> pd.DataFrame:
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
        return self._frame(query)

    def count_tasks(self, project_id: int) -> int:
        """Number of tasks in a project."""
        with self.engine.connect() as conn:
            return int(conn.scalar(sa.select(sa.func.count()).where(tasks.c.project_id == project_id)))

    # -- hand-out ---------------------------------------------------------------------------

    def claim(
        self, project_id: int, worker_id: int, n: int, *, exclude: Iterable[int] = ()
    ) -> list[Task]:
        """Lease up to `n` tasks to a worker, in priority order; tasks sent back for rework, then
        the worker's own unexpired leases (e.g. from before a kernel restart) come first.
        `exclude` lists task ids the caller already holds; their leases are renewed. Under a
        quality policy, control tasks are mixed in at its rate, and a suspended or banned
        worker gets nothing."""
        held = list(exclude)
        if self._plain is not None:
            plain = self._plain.claim(project_id, worker_id, n, held)
            if plain is not None:
                return [Task(*row) for row in plain]
        with self._write() as conn:
            project = conn.execute(
                sa.select(projects.c.overlap, projects.c.lease_seconds, projects.c.quality).where(
                    projects.c.id == project_id
                )
            ).one()
            self._expire_leases(conn, project_id, project.overlap)
            if self._status(conn, project_id, worker_id) != "active":
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
            self._extend(conn, project_id, worker_id, held + own, project.lease_seconds)
            fresh = self._lease_new(conn, project_id, worker_id, n - len(own), project)
            reasons = self._rework_reasons(conn, worker_id, rework)
            return [replace(t, rework=reasons.get(t.id)) for t in self._load_tasks(conn, own + fresh)]

    def renew(self, project_id: int, worker_id: int, task_ids: Sequence[int]) -> int:
        """Extend a worker's leases (while their widget shows the tasks); returns how many."""
        with self._write() as conn:
            lease = conn.scalar(sa.select(projects.c.lease_seconds).where(projects.c.id == project_id))
            return self._extend(conn, project_id, worker_id, list(task_ids), lease)

    @staticmethod
    def _extend(conn: sa.Connection, project_id: int, worker_id: int, task_ids: list[int], lease_seconds: int) -> int:
        """Restart the lease clock of a worker's live leases among `task_ids`."""
        if not task_ids:
            return 0
        return conn.execute(
            assignments.update()
            .where(
                assignments.c.project_id == project_id, assignments.c.worker_id == worker_id,
                assignments.c.status == "leased", assignments.c.task_id.in_(task_ids),
            )
            .values(expires_at=utc_after(lease_seconds))
        ).rowcount

    def _lease_new(
        self, conn: sa.Connection, project_id: int, worker_id: int, n: int, project: sa.Row[Any]
    ) -> list[int]:
        if n <= 0:
            return []
        policy = QualityPolicy.from_dict(project.quality)
        seen = sa.exists().where(assignments.c.task_id == tasks.c.id, assignments.c.worker_id == worker_id)
        where = [tasks.c.project_id == project_id, ~seen]
        slots = self._control_slots(conn, project_id, worker_id, n, policy) if policy.control_rate > 0 else []
        controls: list[int] = []
        if slots:
            controls = list(
                conn.scalars(
                    sa.select(tasks.c.id).where(*where, tasks.c.is_control).order_by(tasks.c.position).limit(len(slots))
                )
            )
            where.append(~tasks.c.is_control)
        query = (
            sa.select(tasks.c.id)
            .where(*where, tasks.c.is_open)
            .order_by(tasks.c.priority.desc(), tasks.c.position)
            .limit(n - len(controls))
        )
        if self.dialect == "postgresql":
            query = query.with_for_update(skip_locked=True, of=tasks)
        ids = _interleave(list(conn.scalars(query)), controls, slots)
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
                    assignments.c.status == LEASED,
                    assignments.c.expires_at < utcnow(),
                )
            )
        )
        if not expired:
            return
        # The conditions are checked again by the DELETE itself: a label that arrived meanwhile
        # turned its lease into 'done', and that slot must stay taken.
        task_ids = conn.scalars(
            sa.delete(assignments)
            .where(
                assignments.c.id.in_(expired),
                assignments.c.status == LEASED,
                assignments.c.expires_at < utcnow(),
            )
            .returning(assignments.c.task_id)
        )
        by_count: dict[int, list[int]] = {}
        for task_id, count in Counter(task_ids).items():  # several leases of one task may expire
            by_count.setdefault(count, []).append(task_id)
        for count, ids in by_count.items():
            self._shift_active(conn, ids, -count, overlap)

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
        same worker for the same task supersedes the previous one (kept for audit).

        A label is approved at once (and the worker paid) unless the project samples it for
        inspection, or it redoes rejected work; then it waits for an inspector."""
        plain = self._submit_plain(project_id, worker_id, [submission])
        return plain[0] if plain else self._submit(project_id, worker_id, submission)

    def submit_many(
        self, project_id: int, worker_id: int, submissions: Sequence[Submission]
    ) -> list[Receipt | CrowdnbError]:
        """Store a worker's labels, each as `submit` would: its receipt, or the error that
        refused it (one refusal stops nothing). On PostgreSQL the plain ones (see
        store/postgres.py) share one transaction and one durable commit, with whatever other
        threads submit at the same moment; the others take one each."""
        plain = self._submit_plain(project_id, worker_id, submissions)
        outcomes: list[Receipt | CrowdnbError] = []
        for i, submission in enumerate(submissions):
            if i in plain:
                outcomes.append(plain[i])
                continue
            try:
                outcomes.append(self._submit(project_id, worker_id, submission))
            except CrowdnbError as exc:
                outcomes.append(exc)
        return outcomes

    def _submit_plain(self, project_id: int, worker_id: int, submissions: Sequence[Submission]) -> dict[int, Receipt]:
        """Receipts of the submissions stored by the grouped path on PostgreSQL (valid labels on
        live leases, no quality policy), by position; the others were not touched."""
        if self._plain is None or not submissions:
            return {}
        kind, config = self._rules(project_id)
        payloads = self._plain.payloads(project_id, [s.task_id for s in submissions]) if kind.label_uses_payload else {}
        rows: dict[int, PlainLabel] = {}
        for i, submission in enumerate(submissions):
            payload = payloads.get(submission.task_id) if kind.label_uses_payload else {}
            if payload is None or not _id_fits(submission.annotation_id):
                continue  # not a task of the project, or an id that cannot be one: the general path says so
            try:
                label = kind.validate_label(submission.label, config, payload)
            except LabelError:  # the general path reports it, unless this is a retry of a stored label
                continue
            rows[i] = PlainLabel(
                submission.task_id, submission.annotation_id, label, submission.duration_ms,
                review_draw(submission.annotation_id),
            )
        stored = self._plain.submit(project_id, worker_id, list(rows.values()))
        return {
            i: Receipt(row.annotation_id, at, duplicate=False)
            for (i, row), at in zip(rows.items(), stored, strict=True)
            if at is not None
        }

    def _rules(self, project_id: int) -> tuple[kinds.Kind, dict[str, Any]]:
        """A project's kind and label configuration (fixed at creation, so kept once read)."""
        if project_id not in self._label_rules:
            with self.reader.connect() as conn:
                row = conn.execute(sa.select(projects.c.kind, projects.c.config).where(projects.c.id == project_id)).first()
            if row is None:
                raise NotFound(f"no project with id {project_id} in {self!r}")
            self._label_rules[project_id] = (kinds.get(row.kind), row.config)
        return self._label_rules[project_id]

    def _submit(self, project_id: int, worker_id: int, submission: Submission) -> Receipt:
        """The general submit: every case, in one explicit transaction."""
        if not _id_fits(submission.annotation_id):
            raise ValidationError([Problem(
                submission.annotation_id[:20], "annotation_id",
                f"{len(submission.annotation_id)} characters; an annotation id has 1 to {ANNOTATION_ID_LENGTH}",
            )])
        with self._write() as conn:
            in_project = (tasks.c.project_id == projects.c.id) & (tasks.c.id == submission.task_id)
            project = task = conn.execute(  # the project, and the task if it belongs to it
                sa.select(
                    projects.c.kind, projects.c.config, projects.c.overlap, projects.c.quality, projects.c.review_rate,
                    projects.c.price, tasks.c.id.label("task_id"), tasks.c.payload, tasks.c.is_control,
                )
                .select_from(projects.outerjoin(tasks, in_project))
                .where(projects.c.id == project_id)
            ).one()
            earlier = self._receipt(conn, submission, worker_id)
            if earlier is not None:
                return earlier
            if task.task_id is None:
                raise NotFound(f"task {submission.task_id} is not in project {project_id}")
            policy = QualityPolicy.from_dict(project.quality)
            status = self._status(conn, project_id, worker_id)
            if status == "banned":
                raise Conflict(f"worker {worker_id} is banned from project {project_id}; the label was not stored")
            label = kinds.get(project.kind).validate_label(submission.label, project.config, task.payload)
            before = self._slot(conn, submission.task_id, worker_id)
            if status == "suspended" and before in (None, "skipped"):  # no new work, by any route
                raise Conflict(
                    f"worker {worker_id} is suspended in project {project_id} and holds no slot of task "
                    f"{submission.task_id}; the label was not stored"
                )
            if before == "done":  # a new label for a task this worker labeled: it replaces the old one
                conn.execute(
                    annotations.update()
                    .where(
                        annotations.c.task_id == submission.task_id,
                        annotations.c.worker_id == worker_id,
                        annotations.c.status.in_(("submitted", "approved")),
                    )
                    .values(status="superseded")
                )
            if before in (None, "skipped"):
                self._take_free_slot(conn, submission.task_id)
            # The slot first: the annotation refers to it.
            self._settle(conn, project_id, worker_id, submission.task_id, "done", project.overlap, before)
            inspect = before == "rework" or review_draw(submission.annotation_id) < project.review_rate
            submitted_at = conn.execute(
                annotations.insert()
                .values(
                    id=submission.annotation_id, project_id=project_id, task_id=submission.task_id,
                    worker_id=worker_id, label=label, duration_ms=submission.duration_ms,
                    flag="too_fast" if policy.is_too_fast(submission.duration_ms) else None,
                    status="submitted" if inspect else "approved",
                )
                .returning(annotations.c.submitted_at)
            ).scalar_one()
            if not inspect and project.price:
                self._pay(conn, project_id, worker_id, submission.task_id, submission.annotation_id, project.price)
            if project.quality:
                self._after_label(conn, project_id, worker_id, submission.task_id, task.is_control, project, policy)
        return Receipt(submission.annotation_id, submitted_at, duplicate=False)

    def _take_free_slot(self, conn: sa.Connection, task_id: int) -> None:
        """A label from a worker who holds no slot (their lease ran out, or they skipped) is
        taken only while the task still needs labels, so no task gets more than its overlap."""
        query = sa.select(tasks.c.is_open).where(tasks.c.id == task_id)
        if self.dialect == "postgresql":
            query = query.with_for_update()
        if not conn.scalar(query):
            raise Conflict(
                f"task {task_id} already has all its labels (your lease on it ran out); this label was not stored"
            )

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
        """Give a task back: it goes to other workers, not again to this one. Under a policy
        with `max_skips_in_row`, one skip too many raises `Conflict` (label this task first)."""
        with self._write() as conn:
            project = conn.execute(
                sa.select(projects.c.overlap, projects.c.quality).where(projects.c.id == project_id)
            ).one()
            if conn.scalar(sa.select(tasks.c.id).where(tasks.c.id == task_id, tasks.c.project_id == project_id)) is None:
                raise NotFound(f"task {task_id} is not in project {project_id}")
            limit = QualityPolicy.from_dict(project.quality).max_skips_in_row
            if limit is not None:
                skips = self._standing(conn, project_id, worker_id).skips_in_row
                if skips >= limit:
                    raise Conflict(f"{skips} skips in a row, the most this project allows; label this task to go on")
                self._update_standing(conn, project_id, worker_id, skips_in_row=skips + 1)
            self._settle(conn, project_id, worker_id, task_id, "skipped", project.overlap, self._slot(conn, task_id, worker_id))

    def _slot(self, conn: sa.Connection, task_id: int, worker_id: int) -> str | None:
        """The status of a worker's assignment of a task (None: none), locked on PostgreSQL so
        that lease expiry cannot take it from under the caller."""
        query = sa.select(assignments.c.status).where(assignments.c.task_id == task_id, assignments.c.worker_id == worker_id)
        return conn.scalar(query.with_for_update() if self.dialect == "postgresql" else query)

    def _settle(
        self, conn: sa.Connection, project_id: int, worker_id: int, task_id: int, status: str, overlap: int,
        before: str | None,
    ) -> None:
        """Move a worker's assignment of a task from `before` (see `_slot`) to `status` ('done'
        or 'skipped'), keeping the task's active-slot count in step."""
        where = (assignments.c.task_id == task_id, assignments.c.worker_id == worker_id)
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
        counted_before = before in ("leased", "done", "rework")
        counted_after = status == "done"
        if counted_before != counted_after:
            self._shift_active(conn, [task_id], +1 if counted_after else -1, overlap)

    def labels(self, project_id: int) -> pd.DataFrame:
        """Current labels (superseded ones left out): task, worker, label, submitted_at,
        duration_ms, status, annotation_id, flag (set by quality rules, e.g. 'too_fast'), and
        prediction_accepted (whether the label is the
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
                annotations.c.flag,
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
        frame["flag"] = frame["flag"].astype(object).where(frame["flag"].notna(), None)
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

    # -- quality control --------------------------------------------------------------------

    def set_quality(self, project_id: int, policy: QualityPolicy | None) -> None:
        """Set the project's quality policy (None: no quality control)."""
        with self._write() as conn:
            project = conn.execute(sa.select(projects.c.kind, projects.c.config).where(projects.c.id == project_id)).one()
            _check_policy(project.kind, project.config, policy)
            conn.execute(
                projects.update().where(projects.c.id == project_id).values(quality=policy.to_dict() if policy else None)
            )

    def quality(self, project_id: int) -> QualityPolicy:
        """The project's quality policy (all rules off when none was set)."""
        with self.engine.connect() as conn:
            return QualityPolicy.from_dict(conn.scalar(sa.select(projects.c.quality).where(projects.c.id == project_id)))

    def worker_standing(self, project_id: int) -> pd.DataFrame:
        """Each worker with labels or a standing in the project: worker, status, n_control,
        n_correct, skill (from control answers and labels on confidently closed tasks, with the
        policy's prior: the one the rules and dynamic overlap use), n_consensus and n_agreed
        (labels on confidently closed tasks, agreeing ones), skips_in_row."""
        policy = self.quality(project_id)
        involved = sa.select(annotations.c.worker_id).where(annotations.c.project_id == project_id).union(
            sa.select(project_workers.c.worker_id).where(project_workers.c.project_id == project_id)
        ).subquery()
        standing = project_workers.c
        query = (
            sa.select(
                workers.c.name.label("worker"),
                sa.func.coalesce(standing.status, "active").label("status"),
                sa.func.coalesce(standing.n_control, 0).label("n_control"),
                sa.func.coalesce(standing.n_correct, 0).label("n_correct"),
                sa.func.coalesce(standing.n_consensus, 0).label("n_consensus"),
                sa.func.coalesce(standing.n_agreed, 0).label("n_agreed"),
                sa.func.coalesce(standing.skips_in_row, 0).label("skips_in_row"),
            )
            .select_from(involved)
            .join(workers, workers.c.id == involved.c.worker_id)
            .outerjoin(project_workers, (standing.project_id == project_id) & (standing.worker_id == workers.c.id))
            .order_by(workers.c.name)
        )
        frame = self._frame(query)
        tracks = zip(frame["n_control"], frame["n_correct"], frame["n_consensus"], frame["n_agreed"], strict=True)
        frame.insert(4, "skill", [policy.worker_skill(Track(*map(int, t))) for t in tracks])
        return frame

    def set_worker_status(self, project_id: int, worker_id: int, status: Status) -> None:
        """Suspend, ban or reinstate a worker by hand (a manager's decision)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}, got {status!r}")
        with self._write() as conn:
            overlap = conn.scalar(sa.select(projects.c.overlap).where(projects.c.id == project_id))
            self._change_status(conn, project_id, worker_id, status, overlap)

    @staticmethod
    def _status(conn: sa.Connection, project_id: int, worker_id: int) -> Status:
        """The worker's status in the project (active when they have no standing yet)."""
        status = conn.scalar(
            sa.select(project_workers.c.status).where(
                project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id
            )
        )
        return status or "active"

    def _standing(self, conn: sa.Connection, project_id: int, worker_id: int) -> sa.Row[Any]:
        """The worker's standing row, created (active, nothing answered) on first use; two
        transactions creating it at once both succeed."""
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        conn.execute(insert(project_workers).values(project_id=project_id, worker_id=worker_id).on_conflict_do_nothing())
        return conn.execute(
            sa.select(project_workers).where(
                project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id
            )
        ).one()

    @staticmethod
    def _update_standing(conn: sa.Connection, project_id: int, worker_id: int, **values: Any) -> None:
        conn.execute(
            project_workers.update()
            .where(project_workers.c.project_id == project_id, project_workers.c.worker_id == worker_id)
            .values(**values, updated_at=utcnow())
        )

    def _change_status(self, conn: sa.Connection, project_id: int, worker_id: int, status: Status, overlap: int) -> None:
        """Set a worker's status. Leaving `active` gives their leased slots back; entering or
        leaving `banned` also gives back (or takes again) the slots of the tasks they labeled,
        since a banned worker's labels do not count."""
        before = self._standing(conn, project_id, worker_id).status
        if before == status:
            return
        self._update_standing(conn, project_id, worker_id, status=status)
        mine = (assignments.c.project_id == project_id, assignments.c.worker_id == worker_id)
        if before == "active":
            leased = list(
                conn.scalars(sa.delete(assignments).where(*mine, assignments.c.status == "leased").returning(assignments.c.task_id))
            )
            self._shift_active(conn, leased, -1, overlap)
        if "banned" in (before, status):
            done = list(conn.scalars(sa.select(assignments.c.task_id).where(*mine, assignments.c.status == "done")))
            self._shift_active(conn, done, -1 if status == "banned" else +1, overlap)

    def _control_slots(self, conn: sa.Connection, project_id: int, worker_id: int, n: int, policy: QualityPolicy) -> list[int]:
        """Which of the worker's next `n` tasks (by position) should be control tasks."""
        counts = conn.execute(
            sa.select(sa.func.count(), sa.func.count().filter(tasks.c.is_control))
            .select_from(assignments.join(tasks, tasks.c.id == assignments.c.task_id))
            .where(assignments.c.project_id == project_id, assignments.c.worker_id == worker_id)
        ).one()
        handed, controls = int(counts[0]), int(counts[1])
        slots = []
        for i in range(n):
            if policy.wants_control(controls, handed + i):
                slots.append(i)
                controls += 1
        return slots

    def _after_label(
        self, conn: sa.Connection, project_id: int, worker_id: int, task_id: int, is_control: bool,
        project: sa.Row[Any], policy: QualityPolicy,
    ) -> None:
        """Apply the quality policy after a stored label: skip streak, control answers and the
        worker's status, dynamic overlap."""
        standing = self._standing(conn, project_id, worker_id)
        if is_control:
            answers = conn.execute(
                sa.select(annotations.c.label, tasks.c.known_answer)
                .join(tasks, tasks.c.id == annotations.c.task_id)
                .where(
                    annotations.c.project_id == project_id,
                    annotations.c.worker_id == worker_id,
                    annotations.c.status != "superseded",
                    tasks.c.is_control,
                )
            ).all()
            kind = kinds.get(project.kind)
            correct = sum(kind.matches(a.label, a.known_answer, project.config) for a in answers)
            self._update_standing(conn, project_id, worker_id, n_control=len(answers), n_correct=correct, skips_in_row=0)
            track = Track(len(answers), correct, standing.n_consensus, standing.n_agreed)
            self._change_status(conn, project_id, worker_id, policy.verdict(track, standing.status), project.overlap)
        elif standing.skips_in_row:
            self._update_standing(conn, project_id, worker_id, skips_in_row=0)
        if policy.dynamic_overlap and not is_control:
            self._adjust_overlap(conn, project_id, task_id, project, policy)

    def _adjust_overlap(
        self, conn: sa.Connection, project_id: int, task_id: int, project: sa.Row[Any], policy: QualityPolicy
    ) -> None:
        """When a task's counted labels reach its overlap, compute the label's posterior with
        the workers' skills: below the target, raise the overlap by one (up to the policy's
        maximum); at the target, count for each worker whether they agreed with the answer (once
        per task, even if a ban reopens it), and apply the rules with their updated skill."""
        standing = project_workers.c
        rows = conn.execute(
            sa.select(
                annotations.c.worker_id, annotations.c.label, annotations.c.flag, standing.status,
                standing.n_control, standing.n_correct, standing.n_consensus, standing.n_agreed,
            )
            .outerjoin(
                project_workers,
                (standing.project_id == project_id) & (standing.worker_id == annotations.c.worker_id),
            )
            .where(annotations.c.task_id == task_id, annotations.c.status != "superseded")
        ).all()
        counted = [r for r in rows if r.status != "banned"]
        current, confident_at = conn.execute(
            sa.select(sa.func.coalesce(tasks.c.overlap, project.overlap), tasks.c.confident_at).where(tasks.c.id == task_id)
        ).one()
        assert policy.max_overlap is not None and policy.target_confidence is not None
        if len(counted) != current or confident_at is not None:  # not full, or its agreement already counted
            return
        usable = [r for r in counted if r.flag is None]
        tracks = [Track(r.n_control or 0, r.n_correct or 0, r.n_consensus or 0, r.n_agreed or 0) for r in usable]
        label, confidence = task_posterior(
            [r.label for r in usable], [policy.worker_skill(t) for t in tracks], project.config["classes"]
        )
        if confidence >= policy.target_confidence:
            conn.execute(tasks.update().where(tasks.c.id == task_id).values(confident_at=utcnow()))
            for r, track in zip(usable, tracks, strict=True):
                agreed = int(r.label == label)
                self._standing(conn, project_id, r.worker_id)
                self._update_standing(
                    conn, project_id, r.worker_id,
                    n_consensus=standing.n_consensus + 1, n_agreed=standing.n_agreed + agreed,
                )
                status = r.status or "active"
                measured = replace(track, n_consensus=track.n_consensus + 1, n_agreed=track.n_agreed + agreed)
                verdict = policy.verdict(measured, status)
                if verdict != status:
                    self._change_status(conn, project_id, r.worker_id, verdict, project.overlap)
        elif current < policy.max_overlap:
            conn.execute(
                tasks.update()
                .where(tasks.c.id == task_id)
                .values(overlap=current + 1, is_open=tasks.c.n_active < current + 1)
            )

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


def _id_fits(annotation_id: str) -> bool:
    """Whether an annotation id has 1 to ANNOTATION_ID_LENGTH characters."""
    return 0 < len(annotation_id) <= ANNOTATION_ID_LENGTH


def _check_policy(kind: str, config: dict[str, Any], policy: QualityPolicy | None) -> None:
    """Refuse a policy the kind cannot follow (dynamic overlap needs single-choice classes)."""
    definition = kinds.get(kind)
    if policy is not None and policy.dynamic_overlap and definition.aggregator not in SINGLE_CHOICE:
        raise ValueError(f"dynamic overlap needs a single-choice classification kind, not {kind!r}")


def _interleave(regular: list[int], controls: list[int], slots: list[int]) -> list[int]:
    """Regular task ids with control task ids placed at the wanted positions, as far as there
    are control tasks (and regular ones: when either runs out, the other fills in)."""
    out: list[int] = []
    regular, controls, wanted = list(regular), list(controls), set(slots)
    while regular or controls:
        take_control = bool(controls) and (len(out) in wanted or not regular)
        out.append(controls.pop(0) if take_control else regular.pop(0))
    return out
