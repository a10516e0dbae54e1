"""The plain data the store interface takes and gives: projects, tasks, labels, receipts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The columns of a project's labels, from any store.
LABEL_COLUMNS = [
    "task", "worker", "label", "submitted_at", "duration_ms", "status", "annotation_id", "flag", "prediction_accepted",
]


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
    """Proof that a submission is durable: committed to the store (`submitted_at` from its
    clock), or, over HTTP, written to the local outbox on its way (`submitted_at` None).
    `duplicate` tells a retry of an earlier submit."""

    annotation_id: str
    submitted_at: datetime | None
    duplicate: bool


@dataclass(frozen=True)
class Account:
    """A worker as the store knows them."""

    id: int
    name: str
    role: str
