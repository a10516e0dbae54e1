"""Projects and their members."""

from __future__ import annotations

from fastapi import APIRouter

from crowdnb.project import Project
from crowdnb.server import models
from crowdnb.server.deps import Caller, ProjectCaller, StoreDep, member_project, require

router = APIRouter(prefix="/projects", tags=["projects"])


@router.get("")
def list_projects(store: StoreDep, caller: Caller) -> list[str]:
    """The names of the projects the caller can open: all of them for a manager, else the
    caller's own."""
    return store.project_names() if caller.role == "manager" else store.member_projects(caller.id)


@router.post("")
def create_project(store: StoreDep, caller: Caller, body: models.NewProject) -> models.ProjectOut:
    """Create a project of a task kind, with its price, overlap and inspection rate (managers
    only)."""
    require(caller, "manager")
    project = Project.create(body.name, body.kind, store=store, overlap=body.overlap, price=body.price, **body.options)
    store.set_review(project.info.id, body.review_rate, body.review_window_seconds)
    return models.ProjectOut.of(store.project(body.name))


@router.get("/{project}")
def get_project(access: ProjectCaller, project: str) -> models.ProjectOut:
    """A project's kind, configuration, overlap and price, for its members."""
    return models.ProjectOut.of(member_project(access, project, "worker", "inspector", "manager"))


@router.post("/{project}/members")
def add_member(store: StoreDep, access: ProjectCaller, project: str, body: models.Member) -> models.Me:
    """Let a worker or inspector into the project (managers only)."""
    info = member_project(access, project, "manager")
    account = store.account(body.worker)
    store.add_member(info.id, account.id)
    return models.Me(name=account.name, role=account.role)
