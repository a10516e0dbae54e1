"""`SqlStore`: the store interface on SQLite (the embedded default) or PostgreSQL (a team's).

Every write runs in one transaction that is committed before the call returns, so a returned
receipt means the label is on disk. Hand-out takes a write lock up front (SQLite: BEGIN
IMMEDIATE; PostgreSQL: row locks with SKIP LOCKED), so one task slot is never leased twice. The
SQL of each concern lives in its module (projects, intake, handout, submit, quality, review,
ledger, accounts); this class opens the transactions. On PostgreSQL the common claims and
submits take the one-statement path of `postgres.py`, loaded only there.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import sqlalchemy as sa

from crowdnb import kinds, values
from crowdnb.aggregation.methods import SINGLE_CHOICE, estimator_class, method_name
from crowdnb.errors import CrowdnbError, LabelError, NotFound
from crowdnb.intake import tasks_from_frame, tasks_from_new
from crowdnb.quality.rules import STATUSES, QualityPolicy, Status
from crowdnb.store import engine as engines
from crowdnb.store.schema import projects, workers
from crowdnb.store.sql import (
    accounts,
    handout,
    intake,
    ledger,
    quality,
    reads,
    results,
    review,
    submit,
)
from crowdnb.store.sql import projects as project_rows
from crowdnb.store.types import Account, NewTask, ProjectInfo, Receipt, Submission, Task

if TYPE_CHECKING:
    from crowdnb.store.sql.postgres import PlainPath

WORKER_ENV = "CROWDNB_WORKER"


class SqlStore:
    """A label store at a SQLAlchemy URL (or a file path for SQLite), migrated on open."""

    def __init__(self, url: str | os.PathLike[str] | None = None) -> None:
        self.url = engines.as_url(url) if url is not None else engines.default_url()
        self.engine = engines.create_engine(self.url)
        self.dialect = self.engine.dialect.name
        engines.migrate(self.engine)
        # PostgreSQL: reads in autocommit (one round trip, no BEGIN/ROLLBACK), and the common
        # claims and submits by the plain path (see sql/postgres.py); same connection pool.
        postgres = self.dialect == "postgresql"
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT") if postgres else self.engine
        self._plain: PlainPath | None = None
        if postgres:
            from crowdnb.store.sql.postgres import PlainPath

            self._plain = PlainPath(self.engine)
        self._label_rules: dict[int, tuple[kinds.Kind, dict[str, Any]]] = {}

    def __repr__(self) -> str:
        return f"SqlStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def close(self) -> None:
        """Release all pooled connections."""
        self.engine.dispose()

    def __enter__(self) -> SqlStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        """A write transaction that holds the write lock from its start and commits on exit."""
        with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            with conn.begin():
                yield conn

    def _read(self) -> sa.Connection:
        """A connection for reads (autocommit on PostgreSQL)."""
        return self.reader.connect()

    @contextmanager
    def _snapshot(self) -> Iterator[sa.Connection]:
        """A read-only transaction whose reads all see the same state of the store."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            with conn.begin():  # SQLite (WAL): a deferred transaction reads one snapshot
                yield conn

    # Projects

    def create_project(
        self, name: str, kind: str, config: dict[str, Any], *, overlap: int = 1, price: int = 0,
        lease_seconds: int = 600, quality: QualityPolicy | None = None, review_rate: float = 0.0,
        review_window_seconds: int | None = None,
    ) -> ProjectInfo:
        """Create a project; `Conflict` if the name is taken."""
        with self._write() as conn:
            project_rows.create(
                conn, name, kind, config, overlap=overlap, price=price, lease_seconds=lease_seconds, quality=quality,
                review_rate=review_rate, review_window_seconds=review_window_seconds,
            )
        return self.project(name)

    def project(self, name: str) -> ProjectInfo:
        """The project called `name`; `NotFound` lists the existing ones otherwise."""
        with self._read() as conn:
            return project_rows.get(conn, name, repr(self))

    def project_names(self) -> list[str]:
        """Names of all projects, oldest first."""
        with self._read() as conn:
            return project_rows.names(conn)

    def set_quality(self, project_id: int, policy: QualityPolicy | None) -> None:
        """Set the project's quality policy (None: no quality control)."""
        with self._write() as conn:
            project_rows.set_quality(conn, project_id, policy)

    def quality(self, project_id: int) -> QualityPolicy:
        """The project's quality policy (all rules off when none was set)."""
        with self._read() as conn:
            return quality.policy_of(conn, project_id)

    def set_review(self, project_id: int, rate: float, window_seconds: int | None = None) -> None:
        """Send a share `rate` of new labels to inspectors; approve unreviewed ones after
        `window_seconds` (None: wait for an inspector)."""
        with self._write() as conn:
            review.set_review(conn, project_id, rate, window_seconds)

    # Tasks

    def add_tasks(
        self, project_id: int, frame: pd.DataFrame, *, on_duplicate: str = "error",
        progress: Callable[[str, int], None] | None = None,
    ) -> int:
        """Validate one task per row of `frame` (see `crowdnb.intake`) and add them all or
        nothing; returns how many were added. `progress(phase, rows)` is told of rows checked
        (phase ``"checking"``) and stored or skipped (``"storing"``)."""
        if on_duplicate not in intake.ON_DUPLICATE:
            raise ValueError(f"on_duplicate must be one of {list(intake.ON_DUPLICATE)}, got {on_duplicate!r}")
        kind, config = self._rules(project_id)
        checked = (lambda n: progress("checking", n)) if progress else None
        stored = (lambda n: progress("storing", n)) if progress else None
        table = tasks_from_frame(frame, kind, config, tick=checked)
        with self._write() as conn:
            return intake.insert_tasks(conn, project_id, table, on_duplicate=on_duplicate, progress=stored)

    def insert_tasks(
        self, project_id: int, new: Sequence[NewTask], *, rows: Sequence[Hashable] | None = None,
        on_duplicate: str = "error", progress: Callable[[int], None] | None = None,
    ) -> int:
        """Add tasks already validated (`NewTask`s) all or nothing; `rows` names them in errors
        (default: their ids). See `sql.intake.insert_tasks`."""
        table = tasks_from_new(new, list(rows) if rows is not None else [t.external_id for t in new])
        with self._write() as conn:
            return intake.insert_tasks(conn, project_id, table, on_duplicate=on_duplicate, progress=progress)

    def tasks(self, project_id: int) -> pd.DataFrame:
        """All tasks of a project in order: id, payload, meta, known_answer, priority, n_labels,
        and overlap (the task's own, raised by dynamic overlap, else the project's)."""
        with self._read() as conn:
            return reads.task_frame(conn, project_id)

    def count_tasks(self, project_id: int) -> int:
        """Number of tasks in a project."""
        with self._read() as conn:
            return reads.count_tasks(conn, project_id)

    def visible_payload(self, project_id: int, task_id: int, viewer: Account) -> dict[str, Any] | None:
        """The payload of a task of the project that `viewer` may see (their own slots for a
        worker, labeled tasks for an inspector, any for a manager), else None."""
        with self._read() as conn:
            return reads.visible_payload(conn, project_id, task_id, viewer)

    def media(self, project_id: int, payload: dict[str, Any]) -> tuple[bytes, str] | None:
        """What the widget shows of a task beyond its text: an image's bytes from the local disk
        and their MIME type, by the kind's media adapter."""
        return self._rules(project_id)[0].media.shown(payload)

    # Workers

    def current_worker(self) -> str:
        """`$CROWDNB_WORKER`, else the local user name."""
        return os.environ.get(WORKER_ENV) or getpass.getuser()

    def worker_id(self, name: str, role: str = "worker") -> int:
        """The id of worker `name`, registering them with `role` on first use."""
        values.refuse(name, "worker name")
        with self._read() as conn:
            found = conn.scalar(sa.select(workers.c.id).where(workers.c.name == name))
        if found is not None:
            return int(found)
        with self._write() as conn:
            return accounts.worker_id(conn, name, role)

    def add_member(self, project_id: int, worker: str) -> None:
        """Let worker `worker` work on (or inspect) a project; adding twice is harmless."""
        with self._write() as conn:
            accounts.add_member(conn, project_id, accounts.account(conn, worker).id)

    def takes_part(self, project_id: int, worker_id: int) -> bool:
        """Whether a worker belongs to a project or has had a task of it."""
        with self._read() as conn:
            return accounts.takes_part(conn, project_id, worker_id)

    def member_projects(self, worker_id: int) -> list[str]:
        """Names of the projects a worker belongs to."""
        with self._read() as conn:
            return accounts.member_projects(conn, worker_id)

    def issue_token(self, name: str, role: str | None = None) -> str:
        """Create worker `name` (or update their role) and give them a new token, returned
        once; an earlier token stops working."""
        with self._write() as conn:
            return accounts.issue_token(conn, name, role)

    def authenticate(self, token: str) -> Account | None:
        """The account a token belongs to, or None."""
        with self._read() as conn:
            return accounts.authenticate(conn, token)

    def project_access(self, worker_id: int, project: str) -> tuple[dict[str, object] | None, bool]:
        """The project called `project` as a row (None if there is none) and whether the
        worker belongs to it, in one query."""
        with self._read() as conn:
            return accounts.project_access(conn, worker_id, project)

    def account(self, name: str) -> Account:
        """The account called `name`; `NotFound` otherwise."""
        with self._read() as conn:
            return accounts.account(conn, name)

    def list_workers(self) -> list[accounts.WorkerSummary]:
        """Every worker, by name, with their role, whether a token is set, and their projects."""
        with self._read() as conn:
            return accounts.list_workers(conn)

    def find_worker(self, name: str) -> accounts.WorkerSummary | None:
        """The worker called `name` as `list_workers` shows them, or None."""
        with self._read() as conn:
            return accounts.find_worker(conn, name)

    def remove_worker(self, name: str, *, force: bool = False) -> accounts.Removal:
        """Revoke a worker's token and end their memberships; labels stay (see
        `accounts.remove_worker`)."""
        with self._write() as conn:
            return accounts.remove_worker(conn, name, force=force)

    def worker_standing(self, project_id: int) -> pd.DataFrame:
        """Each worker's standing in the project (see `quality.worker_standing`)."""
        with self._read() as conn:
            return quality.worker_standing(conn, project_id)

    def set_worker_status(self, project_id: int, worker_id: int, status: Status) -> None:
        """Suspend, ban or reinstate a worker by hand (a manager's decision)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {list(STATUSES)}, got {status!r}")
        with self._write() as conn:
            overlap = conn.scalar(sa.select(projects.c.overlap).where(projects.c.id == project_id))
            if overlap is None or conn.scalar(sa.select(workers.c.id).where(workers.c.id == worker_id)) is None:
                raise NotFound(f"no worker {worker_id} or no project {project_id} in {self!r}")
            quality.change_status(conn, project_id, worker_id, status, overlap)

    # Hand-out

    def claim(self, project_id: int, worker_id: int, n: int, *, exclude: Iterable[int] = ()) -> list[Task]:
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
            return handout.claim(conn, project_id, worker_id, n, held)

    def renew(self, project_id: int, worker_id: int, task_ids: Sequence[int]) -> int:
        """Extend a worker's leases (while their widget shows the tasks); returns how many."""
        with self._write() as conn:
            return handout.renew(conn, project_id, worker_id, list(task_ids))

    def skip(self, project_id: int, worker_id: int, task_id: int) -> None:
        """Give a task back: it goes to other workers, not again to this one."""
        with self._write() as conn:
            handout.skip(conn, project_id, worker_id, task_id)

    def progress(self, project_id: int, worker_id: int) -> tuple[int, int]:
        """(tasks this worker has labeled, tasks in the project)."""
        with self._read() as conn:
            return reads.progress(conn, project_id, worker_id)

    # Labels

    def submit(self, project_id: int, worker_id: int, submission: Submission) -> Receipt:
        """Store a label durably and return its receipt; a retried submission (same
        annotation id) returns the first receipt and stores nothing new (see `sql.submit`)."""
        plain = self._submit_plain(project_id, worker_id, [submission])
        if plain:
            return plain[0]
        return self._submit_general(project_id, worker_id, submission)

    def submit_many(self, project_id: int, worker_id: int, submissions: Sequence[Submission]) -> list[Receipt | CrowdnbError]:
        """Store a worker's labels, each as `submit` would: its receipt, or the error that
        refused it (one refusal stops nothing). On PostgreSQL the plain ones share one
        transaction and one durable commit, with whatever other threads submit at the same
        moment; the others take one each."""
        plain = self._submit_plain(project_id, worker_id, submissions)
        outcomes: list[Receipt | CrowdnbError] = []
        for i, submission in enumerate(submissions):
            if i in plain:
                outcomes.append(plain[i])
                continue
            try:
                outcomes.append(self._submit_general(project_id, worker_id, submission))
            except CrowdnbError as exc:
                outcomes.append(exc)
        return outcomes

    def _submit_general(self, project_id: int, worker_id: int, submission: Submission) -> Receipt:
        """One label by the general path, in a transaction of its own. A retry that arrives
        while the first attempt is still being written (a client that gave up waiting) collides
        with it on the annotation id once that commits; it is then answered with the first
        attempt's receipt, as any retry is."""
        try:
            with self._write() as conn:
                return submit.submit(conn, project_id, worker_id, submission)
        except sa.exc.IntegrityError:
            with self._read() as conn:
                earlier = submit.receipt(conn, submission, worker_id)
            if earlier is None:
                raise
            return earlier

    def notices(self) -> list[str]:
        """Nothing: a local store refuses a label at once, when it is submitted."""
        return []

    def _submit_plain(self, project_id: int, worker_id: int, submissions: Sequence[Submission]) -> dict[int, Receipt]:
        """Receipts of the submissions stored by the grouped path on PostgreSQL (valid labels on
        live leases, no quality policy), by position; the others were not touched."""
        if self._plain is None or not submissions:
            return {}
        from crowdnb.store.sql.postgres import PlainLabel

        kind, config = self._rules(project_id)
        payloads = self._plain.payloads(project_id, [s.task_id for s in submissions]) if kind.label_uses_payload else {}
        rows: dict[int, PlainLabel] = {}
        for i, submission in enumerate(submissions):
            payload = payloads.get(submission.task_id) if kind.label_uses_payload else {}
            if payload is None or not submit.fits(submission):
                continue  # not the project's task, or an unstorable id or label: the general path says so
            try:
                label = kind.validate_label(submission.label, config, payload)
            except LabelError:  # the general path reports it, unless this is a retry of a stored label
                continue
            rows[i] = PlainLabel(
                submission.task_id, submission.annotation_id, label, submission.duration_ms,
                review.review_draw(submission.annotation_id),
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
            with self._read() as conn:
                row = conn.execute(sa.select(projects.c.kind, projects.c.config).where(projects.c.id == project_id)).first()
            if row is None:
                raise NotFound(f"no project with id {project_id} in {self!r}")
            self._label_rules[project_id] = (kinds.get(row.kind), row.config)
        return self._label_rules[project_id]

    def labels(self, project_id: int, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Current labels (superseded ones left out), in task order, then time; only `columns`
        (of `LABEL_COLUMNS`) when given, which costs memory for those alone."""
        with self._snapshot() as conn:  # tasks, workers and labels read apart must agree
            return reads.label_frame(conn, project_id, columns, class_labels=self._class_labels(project_id))

    def label_batches(
        self, project_id: int, columns: Sequence[str] | None = None, *, tasks_per_batch: int = 50_000
    ) -> Iterator[pd.DataFrame]:
        """`labels` in pieces of `tasks_per_batch` tasks each, read from one snapshot; memory
        holds one piece at a time."""
        with self._snapshot() as conn:
            yield from reads.label_batches(
                conn, project_id, columns, class_labels=self._class_labels(project_id), tasks_per_batch=tasks_per_batch
            )

    def _class_labels(self, project_id: int) -> bool:
        """Whether the project's labels are class names (a single-choice kind)."""
        return self._rules(project_id)[0].aggregator in SINGLE_CHOICE

    def worker_labels(self, project_id: int, worker_id: int) -> pd.DataFrame:
        """A worker's own labels with their review: task, label, status, reason, submitted_at."""
        with self._read() as conn:
            return review.worker_labels(conn, project_id, worker_id)

    def results(
        self, project_id: int, method: Any = None, *, include_flagged: bool = False, store: bool = False, **params: Any
    ) -> pd.DataFrame:
        """One answer per task (see `sql.results`); `method` defaults to the kind's. Everything
        is read from one snapshot of the store. `store`: keep them as the project's last
        results (`stored_results`)."""
        kind, _ = self._rules(project_id)
        with self._snapshot() as conn:
            if method is None and quality.policy_of(conn, project_id).dynamic_overlap:
                method = results.DYNAMIC
            if method == results.DYNAMIC:
                if params:
                    raise ValueError(f"the {results.DYNAMIC} results take no parameters, got {sorted(params)}")
                found = results.decided(conn, project_id, include_flagged=include_flagged)
            else:
                method = method or kind.aggregator
                found = results.results(
                    conn, project_id, method, class_labels=self._class_labels(project_id), include_flagged=include_flagged, **params,
                )
        name = method if method == results.DYNAMIC else method_name(estimator_class(method))
        if store:
            with self._write() as conn:
                found.attrs["computed_at"] = results.keep(conn, project_id, found, name, params, include_flagged)
        for internal in ("task_ids", "positions"):
            found.attrs.pop(internal)
        found.attrs.update(method=name, params=params, include_flagged=include_flagged)
        return found

    def stored_results(self, project_id: int) -> pd.DataFrame:
        """The project's last stored results, with `attrs` method, params, include_flagged,
        computed_at and n_labels; `NotFound` when none were stored."""
        with self._snapshot() as conn:
            found = results.kept(conn, project_id)
        if found is None:
            raise NotFound("no results are stored for this project; results(store=True) computes and stores them")
        return found

    # Inspection

    def escalated(self, project_id: int) -> pd.DataFrame:
        """Tasks that dynamic overlap sent to an inspector: task, votes, label, confidence,
        n_labels."""
        with self._snapshot() as conn:
            return results.escalated(conn, project_id)

    def resolve(self, project_id: int, task: str, label: Any) -> None:
        """An inspector decides a task sent to them: `label` becomes its result."""
        with self._write() as conn:
            quality.resolve(conn, project_id, task, label)

    def claim_reviews(self, project_id: int, inspector_id: int, n: int) -> list[dict[str, Any]]:
        """Lease up to `n` labels awaiting inspection to an inspector, never their own work."""
        with self._write() as conn:
            return review.claim_reviews(conn, project_id, inspector_id, n)

    def decide(self, project_id: int, inspector_id: int, annotation_id: str, decision: str, reason: str = "") -> None:
        """Approve or reject (with a reason) a label; a rejection sends the task back to its
        worker."""
        with self._write() as conn:
            review.decide(conn, project_id, inspector_id, annotation_id, decision, reason)

    # Points

    def credit(self, worker_id: int, amount: int, reason: str, key: str) -> bool:
        """Credit points outside labeling (e.g. a training reward); idempotent per `key`."""
        with self._write() as conn:
            return ledger.credit(conn, worker_id, amount, reason, key)

    def balance(self, worker_id: int) -> int:
        """A worker's points: the sum of their ledger entries (after due automatic approvals)."""
        with self._write() as conn:
            review.approve_due(conn)
            return ledger.balance(conn, worker_id)

    def payouts(self, start: datetime, end: datetime) -> pd.DataFrame:
        """Points earned per worker in [start, end): worker, points, entries; both need a time
        zone."""
        start, end = ledger.utc_period(start, end)
        with self._write() as conn:
            review.approve_due(conn)
            return ledger.payouts(conn, start, end)
