"""Workers as managers see them: accounts by name, standing per project, status changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from crowdnb.errors import NotFound
from crowdnb.server import models
from crowdnb.server.deps import Caller, ProjectCaller, StoreDep, member_project, records, require
from crowdnb.server.routing import CheckedRoute

router = APIRouter(tags=["workers"], route_class=CheckedRoute)


@router.get("/workers/{name}")
def get_worker(store: StoreDep, caller: Caller, name: str) -> models.Me:
    """A worker's id, name and role (managers only; anyone may look up themselves)."""
    if name != caller.name:
        require(caller, "manager")
    account = store.account(name)
    return models.Me(id=account.id, name=account.name, role=account.role)


@router.get("/projects/{project}/workers")
def standing(store: StoreDep, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
    """Each worker's standing in the project: status, control answers, skill (managers only)."""
    info = member_project(access, project, "manager")
    return records(store.worker_standing(info.id))


@router.put("/projects/{project}/workers/{worker_id}/status")
def set_status(store: StoreDep, access: ProjectCaller, project: str, worker_id: models.RowId, body: models.StatusIn) -> models.Added:
    """Suspend, ban or reinstate a worker of the project (managers only). A standing is kept
    with the membership, so a worker who neither belongs to the project nor had a task of it is
    refused rather than let in."""
    info = member_project(access, project, "manager")
    if not store.takes_part(info.id, worker_id):
        raise NotFound(f"worker {worker_id} is not in project {project!r}: add them as a member first")
    store.set_worker_status(info.id, worker_id, body.status)
    return models.Added(added=0)
