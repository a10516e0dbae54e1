"""Request and response bodies of the HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import BaseModel, ConfigDict, Field

from crowdnb.store import Submission

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no token, or an unknown one"},
    403: {"description": "the caller's role or membership does not allow this"},
    404: {"description": "no such project, task or file"},
    409: {"description": "conflicts with what is stored"},
    422: {"description": "invalid input; `problems` names rows and fields"},
}

Name = Field(min_length=1, max_length=200)
MAX_WINDOW = 10 * 365 * 86_400  # a review window of at most ten years (the store keeps seconds as 32-bit integers)
# Task ids are 64-bit row ids: anything else (booleans, huge numbers) is refused up front.
TaskId = Annotated[int, Field(strict=True, ge=1, le=2**63 - 1)]
RowId = Annotated[int, Path(ge=1, le=2**31 - 1)]  # a worker id in a path (a 32-bit key)


class Body(BaseModel):
    """A request body, validated strictly: `false` is not a number nor `"3"` a count (what the
    schema says is what is taken)."""

    model_config = ConfigDict(strict=True)


class Me(BaseModel):
    id: int
    name: str
    role: str


class Balance(BaseModel):
    worker: str
    points: int


class NewProject(Body):
    name: str = Name
    kind: str = Field(min_length=1, max_length=64)
    options: dict[str, Any] = Field(
        default_factory=dict, description="the kind's options, e.g. classes", examples=[{"classes": ["car", "bus"]}],
    )
    overlap: int = Field(1, ge=1, le=100)
    price: int = Field(0, ge=0, le=1_000_000)
    lease_seconds: int = Field(600, ge=10, le=7 * 86_400, description="how long a claimed task stays the worker's")
    review_rate: float = Field(0.0, ge=0.0, le=1.0, description="share of labels sent to inspectors")
    review_window_seconds: int | None = Field(None, ge=1, le=MAX_WINDOW, description="auto-approve after this long unreviewed")
    quality: dict[str, Any] | None = Field(None, description="a quality policy (QualityPolicy.to_dict())")


class QualityIn(Body):
    policy: dict[str, Any] | None = Field(description="a quality policy (QualityPolicy.to_dict()), or null for none")


class ReviewIn(Body):
    rate: float = Field(ge=0.0, le=1.0, description="share of new labels sent to inspectors")
    window_seconds: int | None = Field(None, ge=1, le=MAX_WINDOW, description="auto-approve after this long unreviewed")


class StatusIn(Body):
    status: Literal["active", "suspended", "banned"]


class Member(Body):
    worker: str = Name


class NewTasks(Body):
    rows: list[dict[str, Any]] = Field(min_length=1, max_length=100_000)
    on_duplicate: Literal["error", "skip"] = "error"


class Added(BaseModel):
    added: int


class ClaimIn(Body):
    n: int = Field(1, ge=1, le=100)
    exclude: list[TaskId] = Field(default_factory=list, max_length=1000)


class Renew(Body):
    task_ids: list[TaskId] = Field(max_length=1000)


class TaskOut(BaseModel):
    task_id: int
    external_id: str
    payload: dict[str, Any]
    meta: dict[str, Any]
    rework: str | None = Field(None, description="the inspector's reason, when this task came back for rework")


class SubmitIn(Body):
    annotation_id: str = Field(min_length=8, max_length=64, description="made by the client; a retry reuses it")
    task_id: TaskId
    label: Any
    duration_ms: int | None = Field(None, ge=0, le=86_400_000)

    def submission(self) -> Submission:
        return Submission(self.annotation_id, self.task_id, self.label, self.duration_ms)


class SubmitMany(Body):
    labels: list[SubmitIn] = Field(min_length=1, max_length=100)


class Outcome(BaseModel):
    annotation_id: str
    stored: bool
    duplicate: bool = False
    detail: str = Field("", description="why the label was refused (it will not be stored on a retry either)")


class ReceiptOut(BaseModel):
    annotation_id: str
    submitted_at: datetime
    duplicate: bool


class SkipIn(Body):
    task_id: TaskId


class Progress(BaseModel):
    done: int
    total: int


class Resolution(Body):
    label: str = Field(max_length=1000, description="one of the project's classes")


class Decision(Body):
    decision: str = Field(
        max_length=64, examples=["approve", "reject"],
        description="approve or reject; approved and rejected, in any case, are read the same",
    )
    reason: str = Field("", max_length=2000)


class SubmitAndClaim(SubmitIn):
    """A label and a claim in one call: what a labeling page sends for each task it finishes."""

    n: int = Field(1, ge=0, le=100, description="tasks to lease once the label is stored")
    exclude: list[TaskId] = Field(default_factory=list, max_length=1000, description="tasks the page still holds (renewed)")


class ReceiptAndTasks(ReceiptOut):
    tasks: list[TaskOut]


class ResultsIn(Body):
    method: str | None = Field(None, max_length=64, description="an aggregation method; default: the kind's")
    params: dict[str, Any] = Field(default_factory=dict, description="the method's parameters")
    include_flagged: bool = False


class ResultRun(BaseModel):
    """How a project's stored results were made."""

    method: str
    params: dict[str, Any]
    include_flagged: bool
    computed_at: datetime
    n_tasks: int
    n_labels: int
