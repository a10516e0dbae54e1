"""A project's tasks: adding them, and handing them out to workers (claim, renew, skip)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from crowdnb.server import models
from crowdnb.server.deps import (
    MediaRoot,
    ProjectCaller,
    StoreDep,
    member_project,
    tasks_json,
    records,
)
from crowdnb.server.media import OutsideMediaRoot, resolve_media
from crowdnb.server.routing import CheckedRoute

router = APIRouter(prefix="/projects/{project}", tags=["tasks"], route_class=CheckedRoute)


@router.post("/tasks")
def add_tasks(store: StoreDep, media: MediaRoot, access: ProjectCaller, project: str, body: models.NewTasks) -> models.Added:
    """Add task rows; an `image` column names files under the media root (managers only)."""
    info = member_project(access, project, "manager")
    frame = pd.DataFrame(body.rows)
    if "image" in frame.columns:
        try:
            frame["image"] = [str(resolve_media(media, str(p))) for p in frame["image"]]
        except OutsideMediaRoot as exc:
            raise HTTPException(422, str(exc)) from None
    added = store.add_tasks(info.id, frame, on_duplicate=body.on_duplicate)
    return models.Added(added=added)


@router.get("/tasks")
def get_tasks(store: StoreDep, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
    """Every task of the project, gold answers included (managers only)."""
    info = member_project(access, project, "manager")
    return records(store.tasks(info.id))


@router.post("/claim", response_model=list[models.TaskOut])
async def claim(store: StoreDep, media: MediaRoot, access: ProjectCaller, project: str, body: models.ClaimIn) -> JSONResponse:
    """Lease up to `n` tasks to the caller, rework first; gold answers stay hidden."""
    info = member_project(access, project, "worker", "manager")
    tasks = await run_in_threadpool(store.claim, info.id, access.account.id, body.n, exclude=body.exclude)
    return JSONResponse(tasks_json(tasks, media, project))


@router.post("/renew")
def renew(store: StoreDep, access: ProjectCaller, project: str, body: models.Renew) -> models.Added:
    """Extend the caller's leases on tasks they still hold; `added` counts the renewed ones."""
    info = member_project(access, project, "worker", "manager")
    return models.Added(added=store.renew(info.id, access.account.id, body.task_ids))


@router.post("/skip")
def skip(store: StoreDep, access: ProjectCaller, project: str, body: models.SkipIn) -> models.Added:
    """Give a claimed task back; the caller is not offered it again."""
    info = member_project(access, project, "worker", "manager")
    store.skip(info.id, access.account.id, body.task_id)
    return models.Added(added=0)


@router.get("/progress")
def progress(store: StoreDep, access: ProjectCaller, project: str) -> models.Progress:
    """How many of the project's tasks the caller has done, out of how many."""
    info = member_project(access, project, "worker", "inspector", "manager")
    done, total = store.progress(info.id, access.account.id)
    return models.Progress(done=done, total=total)
