"""Inspection: inspectors claim sampled labels of others and approve or reject them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from crowdnb.server import models
from crowdnb.server.deps import MediaRoot, ProjectCaller, StoreDep, member_project, public_payload
from crowdnb.server.routing import CheckedRoute

router = APIRouter(prefix="/projects/{project}/reviews", tags=["reviews"], route_class=CheckedRoute)


@router.post("/claim")
def claim_reviews(store: StoreDep, media: MediaRoot, access: ProjectCaller, project: str, body: models.ClaimIn) -> list[dict[str, Any]]:
    """Lease up to `n` labels awaiting inspection, never the caller's own work."""
    info = member_project(access, project, "inspector", "manager")
    reviews = store.claim_reviews(info.id, access.account.id, body.n)
    return [{**r, "payload": public_payload(r["payload"], media, project, r["task_id"])} for r in reviews]


@router.post("/{annotation_id:path}")
def decide(store: StoreDep, access: ProjectCaller, project: str, annotation_id: str, body: models.Decision) -> models.Added:
    """Approve a label (its worker is paid) or reject it with a reason (the task goes back to
    its worker for rework). Repeating a decision is harmless; changing one is a conflict."""
    info = member_project(access, project, "inspector", "manager")
    store.decide(info.id, access.account.id, annotation_id, body.decision, body.reason)
    return models.Added(added=1)
