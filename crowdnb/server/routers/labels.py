"""Labels: workers submit them (one or a batch) and read their own; managers read them all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from crowdnb.server import models
from crowdnb.server.deps import MediaRoot, ProjectCaller, StoreDep, member_project, receipt_json, records, streamed, tasks_json
from crowdnb.store import Receipt, Task
from crowdnb.store.types import LABEL_COLUMNS
from crowdnb.server.routing import CheckedRoute

router = APIRouter(prefix="/projects/{project}", tags=["labels"], route_class=CheckedRoute)


@router.post("/submit", response_model=models.ReceiptOut)
async def submit(store: StoreDep, access: ProjectCaller, project: str, body: models.SubmitIn) -> JSONResponse:
    """Store one label; a retry with the same `annotation_id` is answered as a duplicate."""
    info = member_project(access, project, "worker", "manager")
    receipt = await run_in_threadpool(store.submit, info.id, access.account.id, body.submission())
    return JSONResponse(receipt_json(receipt))


@router.post("/submit-and-claim", response_model=models.ReceiptAndTasks)
async def submit_and_claim(
    store: StoreDep, media: MediaRoot, access: ProjectCaller, project: str, body: models.SubmitAndClaim
) -> JSONResponse:
    """Store one label as `submit` does, then lease up to `n` more tasks as `claim` does, in one
    call: a page that labels one task at a time makes one request per label. A refused label
    leases nothing."""
    info = member_project(access, project, "worker", "manager")

    def both() -> tuple[Receipt, list[Task]]:
        receipt = store.submit(info.id, access.account.id, body.submission())
        return receipt, store.claim(info.id, access.account.id, body.n, exclude=body.exclude) if body.n else []

    receipt, tasks = await run_in_threadpool(both)
    return JSONResponse({**receipt_json(receipt), "tasks": tasks_json(tasks, media, project)})


@router.post("/submit-many", response_model=list[models.Outcome])
async def submit_many(store: StoreDep, access: ProjectCaller, project: str, body: models.SubmitMany) -> JSONResponse:
    """Store a batch of labels, each on its own: one refused label does not refuse the others."""
    info = member_project(access, project, "worker", "manager")
    submissions = [x.submission() for x in body.labels]
    outcomes = await run_in_threadpool(store.submit_many, info.id, access.account.id, submissions)
    return JSONResponse([
        {"annotation_id": s.annotation_id, "stored": False, "duplicate": False, "detail": str(o)}
        if isinstance(o, Exception)
        else {"annotation_id": s.annotation_id, "stored": True, "duplicate": o.duplicate, "detail": ""}
        for s, o in zip(submissions, outcomes, strict=True)
    ])


@router.get("/labels", response_model=list[dict[str, Any]])
def get_labels(
    store: StoreDep, access: ProjectCaller, project: str, columns: str | None = None, lines: bool = False
) -> StreamingResponse:
    """Every current label of the project in task order, then time (managers only): the
    comma-separated `columns` of them, or all; streamed as it is read, as a JSON array or, with
    `lines`, as JSON lines."""
    info = member_project(access, project, "manager")
    names = None if columns is None else [c.strip() for c in columns.split(",") if c.strip()]
    unknown = [n for n in names or [] if n not in LABEL_COLUMNS]
    if unknown:
        raise HTTPException(422, f"unknown label column(s) {unknown}; columns: {LABEL_COLUMNS}")
    return streamed(store.label_batches(info.id, names), lines=lines)


@router.get("/my-labels")
def my_labels(store: StoreDep, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
    """The caller's own labels with their review status and the inspector's reason."""
    info = member_project(access, project, "worker", "manager")
    return records(store.worker_labels(info.id, access.account.id))
