"""Labels: workers submit them (one or a batch) and read their own; managers read them all."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from crowdnb.server import models
from crowdnb.server.deps import ProjectCaller, StoreDep, member_project, records
from crowdnb.server.routing import CheckedRoute

router = APIRouter(prefix="/projects/{project}", tags=["labels"], route_class=CheckedRoute)


@router.post("/submit")
def submit(store: StoreDep, access: ProjectCaller, project: str, body: models.SubmitIn) -> models.ReceiptOut:
    """Store one label; a retry with the same `annotation_id` is answered as a duplicate."""
    info = member_project(access, project, "worker", "manager")
    receipt = store.submit(info.id, access.account.id, body.submission())
    return models.ReceiptOut(annotation_id=receipt.annotation_id, submitted_at=receipt.submitted_at, duplicate=receipt.duplicate)


@router.post("/submit-many")
def submit_many(store: StoreDep, access: ProjectCaller, project: str, body: models.SubmitMany) -> list[models.Outcome]:
    """Store a batch of labels, each on its own: one refused label does not refuse the others."""
    info = member_project(access, project, "worker", "manager")
    submissions = [x.submission() for x in body.labels]
    outcomes = store.submit_many(info.id, access.account.id, submissions)
    return [
        models.Outcome(annotation_id=s.annotation_id, stored=False, detail=str(o))
        if isinstance(o, Exception)
        else models.Outcome(annotation_id=s.annotation_id, stored=True, duplicate=o.duplicate)
        for s, o in zip(submissions, outcomes, strict=True)
    ]


@router.get("/labels")
def get_labels(store: StoreDep, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
    """Every label of the project with its worker (managers only)."""
    info = member_project(access, project, "manager")
    return records(store.labels(info.id))


@router.get("/my-labels")
def my_labels(store: StoreDep, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
    """The caller's own labels with their review status and the inspector's reason."""
    info = member_project(access, project, "worker", "manager")
    return records(store.worker_labels(info.id, access.account.id))
