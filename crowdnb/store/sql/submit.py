"""Labels by the general path: every case (retries, relabels, late labels, rework, quality
rules, inspection sampling, pay) in the caller's transaction."""

from __future__ import annotations

import sqlalchemy as sa

from crowdnb import kinds, values
from crowdnb.errors import Conflict, LabelError, NotFound, Problem, ValidationError
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store.schema import annotations, projects, tasks
from crowdnb.store.sql import quality, review, slots
from crowdnb.store.types import Receipt, Submission

ANNOTATION_ID_LENGTH = annotations.c.id.type.length  # PostgreSQL would trim longer ids ending in spaces


def id_flaw(annotation_id: str) -> str | None:
    """What makes an annotation id unstorable (its length, a NUL, ...), or None."""
    if not 0 < len(annotation_id) <= ANNOTATION_ID_LENGTH:
        return f"{len(annotation_id)} characters; an annotation id has 1 to {ANNOTATION_ID_LENGTH}"
    return values.text_flaw(annotation_id)


def fits(submission: Submission) -> bool:
    """Whether a submission's annotation id and label can be stored (the grouped path's fast
    check; `check` says what is wrong)."""
    return id_flaw(submission.annotation_id) is None and values.storable(submission.label)


def check(submission: Submission) -> None:
    """Refuse an annotation id (`ValidationError`) or a label (`LabelError`) that cannot be
    stored, naming the field."""
    flaw = id_flaw(submission.annotation_id)
    if flaw:
        raise ValidationError([Problem(submission.annotation_id[:20], "annotation_id", flaw)])
    values.refuse(submission.label, "label", LabelError)


def submit(conn: sa.Connection, project_id: int, worker_id: int, submission: Submission) -> Receipt:
    """Store a label and return its receipt; a retry (same annotation id) returns the first
    receipt. A new label from the same worker for the same task supersedes the previous one
    (kept for audit). A label is approved at once (and the worker paid) unless the project
    samples it for inspection, or it redoes rejected work."""
    check(submission)
    in_project = (tasks.c.project_id == projects.c.id) & (tasks.c.id == submission.task_id)
    project = task = conn.execute(  # the project, and the task if it belongs to it
        sa.select(
            projects.c.kind, projects.c.config, projects.c.overlap, projects.c.quality, projects.c.review_rate,
            projects.c.price, tasks.c.id.label("task_id"), tasks.c.payload, tasks.c.is_control,
        )
        .select_from(projects.outerjoin(tasks, in_project))
        .where(projects.c.id == project_id)
    ).one()
    earlier = receipt(conn, submission, worker_id)
    if earlier is not None:
        return earlier
    if task.task_id is None:
        raise NotFound(f"task {submission.task_id} is not in project {project_id}")
    policy = QualityPolicy.from_dict(project.quality)
    standing = quality.status(conn, project_id, worker_id)
    if standing == "banned":
        raise Conflict(f"worker {worker_id} is banned from project {project_id}; the label was not stored")
    label = kinds.get(project.kind).validate_label(submission.label, project.config, task.payload)
    before = slots.slot(conn, submission.task_id, worker_id)
    if standing == "suspended" and before in (None, "skipped"):  # no new work, by any route
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
        _take_free_slot(conn, submission.task_id)
    # The slot first: the annotation refers to it.
    slots.settle(conn, project_id, worker_id, submission.task_id, "done", project.overlap, before)
    inspect = before == "rework" or review.review_draw(submission.annotation_id) < project.review_rate
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
        review.pay(conn, project_id, worker_id, submission.task_id, submission.annotation_id, project.price)
    if project.quality:
        quality.after_label(conn, project_id, worker_id, submission.task_id, task.is_control, label, project, policy)
    return Receipt(submission.annotation_id, submitted_at, duplicate=False)


def _take_free_slot(conn: sa.Connection, task_id: int) -> None:
    """A label from a worker who holds no slot (their lease ran out, or they skipped) is taken
    only while the task still needs labels, so no task gets more than its overlap."""
    query = sa.select(tasks.c.is_open).where(tasks.c.id == task_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    if not conn.scalar(query):
        raise Conflict(f"task {task_id} already has all its labels (your lease on it ran out); this label was not stored")


def receipt(conn: sa.Connection, submission: Submission, worker_id: int) -> Receipt | None:
    """The receipt of the label stored under the submission's annotation id, if there is one;
    `Conflict` if that id holds another task's or worker's label."""
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
