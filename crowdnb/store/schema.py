"""The store's tables: one SQLAlchemy Core schema for SQLite and PostgreSQL.

Timestamps always come from the database server's clock (`utcnow()`), never from a client, and
read back as timezone-aware UTC datetimes on both back ends.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

JSONType = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC that always reads back timezone-aware."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass a timezone-aware UTC datetime")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class utcnow(FunctionElement[datetime]):
    """The database server's current UTC time, with milliseconds (at least)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(utcnow, "postgresql")
def _utcnow_pg(element: utcnow, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    return "statement_timestamp()"


@compiles(utcnow, "sqlite")
def _utcnow_sqlite(element: utcnow, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    return "strftime('%Y-%m-%d %H:%M:%f000', 'now')"


class utc_after(FunctionElement[datetime]):
    """The database server's current UTC time plus a number of seconds (a number or a column
    expression, e.g. minus a project's review window)."""

    type = UTCDateTime()
    inherit_cache = True

    def __init__(self, seconds: float | sa.ColumnElement[Any]) -> None:
        super().__init__(seconds if isinstance(seconds, sa.ColumnElement) else sa.literal(seconds, sa.Float))


@compiles(utc_after, "postgresql")
def _utc_after_pg(element: utc_after, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    return f"statement_timestamp() + make_interval(secs => {compiler.process(element.clauses, **kw)})"


@compiles(utc_after, "sqlite")
def _utc_after_sqlite(element: utc_after, compiler: sa.sql.compiler.SQLCompiler, **kw: object) -> str:
    seconds = compiler.process(element.clauses, **kw)
    return f"strftime('%Y-%m-%d %H:%M:%f000', 'now', ({seconds}) || ' seconds')"


def _created_at() -> sa.Column[datetime]:
    return sa.Column("created_at", UTCDateTime(), nullable=False, server_default=utcnow())


projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("config", JSONType, nullable=False),
    sa.Column("overlap", sa.Integer, nullable=False, server_default="1"),
    sa.Column("price", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_seconds", sa.Integer, nullable=False, server_default="600"),
    _created_at(),
    # The quality policy (crowdnb.quality.rules.QualityPolicy as a dict); null: none.
    sa.Column("quality", JSONType, nullable=True),
    # Inspection: the share of labels sampled for review, and the time after which an unreviewed
    # sampled label is approved automatically (null: never).
    sa.Column("review_rate", sa.Float, nullable=False, server_default="0"),
    sa.Column("review_window_seconds", sa.Integer, nullable=True),
    sa.CheckConstraint("overlap >= 1", name="overlap_positive"),
    sa.CheckConstraint("price >= 0", name="price_not_negative"),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False, server_default="worker"),
    sa.Column("token_hash", sa.String(128), nullable=True, unique=True),
    _created_at(),
    sa.CheckConstraint("role IN ('worker', 'inspector', 'manager')", name="role_known"),
)

TASKS_FILLFACTOR = 70

tasks = sa.Table(
    "tasks",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("external_id", sa.String(200), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("meta", JSONType, nullable=False),
    sa.Column("known_answer", JSONType, nullable=True),
    sa.Column("priority", sa.Float, nullable=False, server_default="0"),
    sa.Column("overlap", sa.Integer, nullable=True),
    # Leased or labeled slots, and whether a slot is still free; kept in step by the store so that
    # hand-out walks an index of open tasks instead of counting assignments per task.
    sa.Column("n_active", sa.Integer, nullable=False, server_default="0"),
    sa.Column("is_open", sa.Boolean, nullable=False, server_default=sa.true()),
    _created_at(),
    # Whether the task has a known answer (a control task); kept apart from the JSON column so
    # that hand-out can select control tasks through an index.
    sa.Column("is_control", sa.Boolean, nullable=False, server_default=sa.false()),
    # When dynamic overlap first closed the task with a confident answer: its labels count
    # towards the workers' agreement once, even if a ban reopens and closes it again.
    sa.Column("confident_at", UTCDateTime(), nullable=True),
    # How the task was decided under dynamic overlap: 'crowd' (a confident posterior), 'review'
    # (sent to an inspector), 'inspector' (decided by one); its answer and that posterior.
    sa.Column("decided", sa.String(16), nullable=True),
    sa.Column("answer", JSONType, nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.UniqueConstraint("project_id", "external_id", name="uq_tasks_project_external"),
    # Room on each page for the new versions of claimed tasks, so that most claims update them
    # in place (HOT) instead of adding entries to every index of the table.
    postgresql_with={"fillfactor": TASKS_FILLFACTOR},
)
sa.Index("ix_tasks_queue", tasks.c.project_id, tasks.c.is_open, tasks.c.priority.desc(), tasks.c.position)
sa.Index("ix_tasks_control", tasks.c.project_id, tasks.c.is_control, tasks.c.position)
# Tasks in order (reads of a project's tasks, labels in pieces of tasks).
sa.Index("ix_tasks_position", tasks.c.project_id, tasks.c.position)
sa.Index("ix_tasks_decided", tasks.c.project_id, tasks.c.decided)

# A label, always on its worker's slot of the task (the assignment, which refers to the task,
# the worker and the project): one foreign key check per label instead of three, each of which
# locked a hot row (all labels of a project locked the project's row). `project_id` repeats the
# slot's project for the indexes; the store writes both from the same row.
annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("worker_id", sa.Integer, nullable=False),
    sa.Column("label", JSONType, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="submitted"),
    sa.Column("duration_ms", sa.Integer, nullable=True),
    sa.Column("submitted_at", UTCDateTime(), nullable=False, server_default=utcnow()),
    # Set by quality rules (e.g. 'too_fast'); flagged labels are left out of aggregation.
    sa.Column("flag", sa.String(32), nullable=True),
    sa.CheckConstraint(
        "status IN ('submitted', 'superseded', 'approved', 'rejected')", name="status_known"
    ),
    sa.ForeignKeyConstraint(
        ["task_id", "worker_id"], ["assignments.task_id", "assignments.worker_id"], ondelete="CASCADE"
    ),
    sa.Index("ix_annotations_task_worker", "task_id", "worker_id"),
    sa.Index("ix_annotations_project_status", "project_id", "status"),
)

assignments = sa.Table(
    "assignments",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
    sa.Column("worker_id", sa.Integer, sa.ForeignKey("workers.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default="leased"),
    sa.Column("leased_at", UTCDateTime(), nullable=False, server_default=utcnow()),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("status IN ('leased', 'done', 'skipped', 'rework')", name="status_known"),
    sa.UniqueConstraint("task_id", "worker_id", name="uq_assignments_task_worker"),
    sa.Index("ix_assignments_worker_status", "project_id", "worker_id", "status"),
    # Only leases have an expiry (the store clears it on every other status). On PostgreSQL only
    # leases are indexed, so that a label's update of its slot adds no entry here; queries on it
    # spell the status as a literal, which the planner needs to use a partial index.
    sa.Index("ix_assignments_expiry", "project_id", "expires_at", postgresql_where=sa.text("status = 'leased'")),
)

# A worker's standing in one project: status under the quality rules, control answers (right
# ones), labels on tasks closed with a confident answer (agreeing ones), and skips in a row.
# No row: active, nothing answered yet.
project_workers = sa.Table(
    "project_workers",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("worker_id", sa.Integer, sa.ForeignKey("workers.id"), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="active"),
    sa.Column("n_control", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_correct", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_consensus", sa.Integer, nullable=False, server_default="0"),
    sa.Column("n_agreed", sa.Integer, nullable=False, server_default="0"),
    sa.Column("skips_in_row", sa.Integer, nullable=False, server_default="0"),
    # Under a paced policy, the fraction of a task the worker has earned towards their next one.
    sa.Column("pace_credit", sa.Float, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime(), nullable=False, server_default=utcnow()),
    sa.CheckConstraint("status IN ('active', 'suspended', 'banned')", name="status_known"),
)

# The crowd model of dynamic overlap (`crowdnb.quality.model`): how often each worker answered
# class `given` where the truth was class `truth` (class codes in the project's order), and the
# decided answers per class. Counts are incremented in place, so concurrent labels lose none.
worker_confusion = sa.Table(
    "worker_confusion",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("worker_id", sa.Integer, sa.ForeignKey("workers.id"), primary_key=True),
    sa.Column("truth", sa.SmallInteger, primary_key=True),
    sa.Column("given", sa.SmallInteger, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)

class_counts = sa.Table(
    "class_counts",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("code", sa.SmallInteger, primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
)

# Pairs of workers who labeled the same decided tasks (`first` < `second`): how often they
# agreed, and how often their confusion matrices say they would (with its variance). Agreement
# far beyond that is collusion (`crowdnb.quality.model.collusion_z`).
worker_pairs = sa.Table(
    "worker_pairs",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("first", sa.Integer, primary_key=True),
    sa.Column("second", sa.Integer, primary_key=True),
    sa.Column("shared", sa.Integer, nullable=False),
    sa.Column("agreed", sa.Integer, nullable=False),
    sa.Column("expected", sa.Float, nullable=False),
    sa.Column("variance", sa.Float, nullable=False),
)

# One inspection per annotation: claimed by an inspector (with a lease), then decided. A decision
# without an inspector is an automatic approval after the project's review window.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("annotation_id", sa.String(64), sa.ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), nullable=False),
    sa.Column("inspector_id", sa.Integer, sa.ForeignKey("workers.id"), nullable=True),
    sa.Column("decision", sa.String(16), nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("claimed_at", UTCDateTime(), nullable=False, server_default=utcnow()),
    sa.Column("expires_at", UTCDateTime(), nullable=True),
    sa.Column("decided_at", UTCDateTime(), nullable=True),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name="decision_known"),
    sa.Index("ix_reviews_project_decision", "project_id", "decision"),
)

# The points ledger: append-only; a balance is a sum. `key` makes every credit idempotent
# (e.g. one credit per worker and task, whatever retries or rework happen).
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("worker_id", sa.Integer, sa.ForeignKey("workers.id"), nullable=False),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="SET NULL"), nullable=True),
    sa.Column("amount", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("key", sa.String(200), nullable=False, unique=True),
    sa.Column("annotation_id", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False, server_default=utcnow()),
    sa.Index("ix_ledger_worker", "worker_id"),
    sa.Index("ix_ledger_created", "created_at"),
)

# The last aggregation stored of a project (`results(store=True)`): how it was made, and one
# answer per task, so that dashboards, exports and the server read it without recomputing.
result_runs = sa.Table(
    "result_runs",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("params", JSONType, nullable=False),
    sa.Column("include_flagged", sa.Boolean, nullable=False),
    sa.Column("n_tasks", sa.BigInteger, nullable=False),
    sa.Column("n_labels", sa.BigInteger, nullable=False),
    sa.Column("computed_at", UTCDateTime(), nullable=False, server_default=utcnow()),
)

results = sa.Table(
    "results",
    metadata,
    sa.Column("project_id", sa.Integer, sa.ForeignKey("result_runs.project_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("label", JSONType, nullable=True),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("n_labels", sa.Integer, nullable=False),
)
sa.Index("ix_results_position", results.c.project_id, results.c.position)
