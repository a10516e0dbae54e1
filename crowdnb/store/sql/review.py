"""Inspection and rework: sampled labels go to inspectors, who approve (the worker is paid) or
reject with a reason (the task goes back to the same worker, who redoes it)."""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import sqlalchemy as sa

from crowdnb import values
from crowdnb.errors import Conflict, Forbidden, NotFound
from crowdnb.store.schema import annotations, assignments, projects, reviews, tasks, utc_after, utcnow
from crowdnb.store.sql import ledger, quality
from crowdnb.store.sql.reads import frame


def review_draw(annotation_id: str) -> float:
    """A label goes to inspection when this number in [0, 1) is below the project's rate: a
    stable hash of its id, so the same label is always sampled the same way (retries included)."""
    return int(hashlib.sha256(annotation_id.encode()).hexdigest()[:8], 16) / 2**32


_DECISIONS = {"approve": "approved", "approved": "approved", "reject": "rejected", "rejected": "rejected"}


def decision_word(decision: str) -> str:
    """The stored word, `approved` or `rejected`, for an inspector's decision: approve(d) or
    reject(ed) in any case, surrounding spaces ignored; anything else raises `ValueError`."""
    word = _DECISIONS.get(decision.strip().lower()) if isinstance(decision, str) else None
    if word is None:
        raise ValueError(f"decision must be 'approve' or 'reject', got {decision!r}")
    return word


def set_review(conn: sa.Connection, project_id: int, rate: float, window_seconds: int | None = None) -> None:
    """Send a share `rate` of new labels to inspectors; approve unreviewed ones after
    `window_seconds` (None: wait for an inspector)."""
    if not 0 <= rate <= 1:
        raise ValueError(f"review rate must be between 0 and 1, got {rate}")
    if window_seconds is not None and not 0 < window_seconds < 2**31:
        raise ValueError(f"review window must be a positive number of seconds below 2**31, got {window_seconds}")
    conn.execute(
        projects.update().where(projects.c.id == project_id).values(review_rate=rate, review_window_seconds=window_seconds)
    )


def approve(conn: sa.Connection, annotation: sa.Row[Any]) -> None:
    """Mark a label approved and pay its worker."""
    conn.execute(annotations.update().where(annotations.c.id == annotation.id).values(status="approved"))
    price = conn.scalar(sa.select(projects.c.price).where(projects.c.id == annotation.project_id))
    if price:
        pay(conn, annotation.project_id, annotation.worker_id, annotation.task_id, annotation.id, price)


def pay(conn: sa.Connection, project_id: int, worker_id: int, task_id: int, annotation_id: str, price: int) -> None:
    """Credit the project's price for an approved label, once per worker and task; a worker
    banned from the project is not paid."""
    if price and quality.status(conn, project_id, worker_id) != "banned":
        ledger.credit(
            conn, worker_id, price, "label", f"label:{task_id}:{worker_id}", project_id, annotation_id
        )


def approve_due(conn: sa.Connection) -> None:
    """Approve sampled labels whose project's review window has passed without a decision."""
    due = conn.execute(
        sa.select(annotations.c.id, annotations.c.project_id, annotations.c.task_id, annotations.c.worker_id)
        .join(projects, projects.c.id == annotations.c.project_id)
        .outerjoin(reviews, reviews.c.annotation_id == annotations.c.id)
        .where(
            annotations.c.status == "submitted",
            projects.c.review_window_seconds.is_not(None),
            reviews.c.decision.is_(None),
            annotations.c.submitted_at < utc_after(-projects.c.review_window_seconds),
        )
    ).all()
    for annotation in due:
        approve(conn, annotation)
        record(conn, annotation.id, annotation.project_id, None, "approved", "review window passed")


def record(conn: sa.Connection, annotation_id: str, project_id: int, inspector_id: int | None, decision: str, reason: str) -> None:
    values = {"inspector_id": inspector_id, "decision": decision, "reason": reason, "decided_at": utcnow()}
    if conn.execute(reviews.update().where(reviews.c.annotation_id == annotation_id).values(**values)).rowcount == 0:
        conn.execute(reviews.insert().values(annotation_id=annotation_id, project_id=project_id, **values))


def claim_reviews(conn: sa.Connection, project_id: int, inspector_id: int, n: int) -> list[dict[str, Any]]:
    """Lease up to `n` labels awaiting inspection to an inspector, never their own work;
    their own unexpired claims come back first."""
    approve_due(conn)
    lease = conn.scalar(sa.select(projects.c.lease_seconds).where(projects.c.id == project_id))
    conn.execute(
        reviews.delete().where(
            reviews.c.project_id == project_id, reviews.c.decision.is_(None), reviews.c.expires_at < utcnow()
        )
    )
    mine = list(
        conn.scalars(
            sa.select(reviews.c.annotation_id).where(
                reviews.c.project_id == project_id, reviews.c.inspector_id == inspector_id, reviews.c.decision.is_(None)
            ).limit(n)
        )
    )
    query = (
        sa.select(annotations.c.id)
        .where(
            annotations.c.project_id == project_id,
            annotations.c.status == "submitted",
            annotations.c.worker_id != inspector_id,
            ~sa.exists().where(reviews.c.annotation_id == annotations.c.id),
        )
        .order_by(annotations.c.submitted_at)
        .limit(n - len(mine))
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=annotations)
    fresh = list(conn.scalars(query)) if n > len(mine) else []
    if fresh:
        conn.execute(
            reviews.insert().values(project_id=project_id, inspector_id=inspector_id, expires_at=utc_after(lease)),
            [{"annotation_id": a} for a in fresh],
        )
    rows = conn.execute(
        sa.select(
            annotations.c.id.label("annotation_id"), annotations.c.task_id, tasks.c.external_id,
            tasks.c.payload, annotations.c.label, annotations.c.submitted_at,
        )
        .join(tasks, tasks.c.id == annotations.c.task_id)
        .where(annotations.c.id.in_(mine + fresh))
        .order_by(annotations.c.submitted_at)
    ).mappings().all()
    return [dict(r) for r in rows]


def decide(conn: sa.Connection, project_id: int, inspector_id: int, annotation_id: str, decision: str, reason: str = "") -> None:
    """Approve or reject a label (a rejection needs a reason); `decision` is read by
    `decision_word`. Repeating the same decision is harmless; a different one on a decided
    label raises `Conflict`."""
    decision = decision_word(decision)
    values.refuse(annotation_id, "annotation_id")
    values.refuse(reason, "reason")
    if decision == "rejected" and not reason.strip():
        raise ValueError("a rejection needs a reason the worker can act on")
    annotation = conn.execute(
        sa.select(annotations.c.id, annotations.c.project_id, annotations.c.task_id, annotations.c.worker_id, annotations.c.status)
        .where(annotations.c.id == annotation_id, annotations.c.project_id == project_id)
    ).first()
    if annotation is None:
        raise NotFound(f"no label {annotation_id!r} in this project")
    if annotation.worker_id == inspector_id:
        raise Forbidden("inspectors do not inspect their own work")
    if annotation.status != "submitted":
        if annotation.status == decision:
            return
        raise Conflict(f"label {annotation_id!r} is already {annotation.status}")
    claim = conn.scalar(sa.select(reviews.c.inspector_id).where(reviews.c.annotation_id == annotation_id))
    if claim not in (None, inspector_id):
        raise Conflict(f"label {annotation_id!r} is being inspected by someone else")
    record(conn, annotation_id, project_id, inspector_id, decision, reason)
    if decision == "approved":
        approve(conn, annotation)
        return
    conn.execute(annotations.update().where(annotations.c.id == annotation_id).values(status="rejected"))
    conn.execute(
        assignments.update()
        .where(assignments.c.task_id == annotation.task_id, assignments.c.worker_id == annotation.worker_id)
        .values(status="rework", expires_at=None)
    )


def worker_labels(conn: sa.Connection, project_id: int, worker_id: int) -> pd.DataFrame:
    """A worker's own labels with their review: task, label, status, reason, submitted_at."""
    query = (
        sa.select(
            tasks.c.external_id.label("task"), annotations.c.label, annotations.c.status,
            reviews.c.reason, annotations.c.submitted_at, annotations.c.id.label("annotation_id"),
        )
        .join(tasks, tasks.c.id == annotations.c.task_id)
        .outerjoin(reviews, reviews.c.annotation_id == annotations.c.id)
        .where(annotations.c.project_id == project_id, annotations.c.worker_id == worker_id, annotations.c.status != "superseded")
        .order_by(tasks.c.position, annotations.c.submitted_at)
    )
    return frame(conn, query)


def rework_reasons(conn: sa.Connection, worker_id: int, task_ids: list[int]) -> dict[int, str]:
    """The latest rejection reason per task, for tasks sent back to this worker."""
    if not task_ids:
        return {}
    rows = conn.execute(
        sa.select(annotations.c.task_id, reviews.c.reason)
        .join(reviews, reviews.c.annotation_id == annotations.c.id)
        .where(annotations.c.worker_id == worker_id, annotations.c.task_id.in_(task_ids), annotations.c.status == "rejected")
        .order_by(reviews.c.decided_at)
    ).all()
    return {row.task_id: row.reason or "" for row in rows}

