"""The HTTP server: the store's API for many workers, with per-worker tokens and roles.

Roles: a manager does everything; an inspector reviews the work of projects they belong to; a
worker claims, labels and skips tasks of their projects and sees only their own labels. The
server keeps no state of its own (everything is in the store), so several processes can serve
one PostgreSQL store behind a proxy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crowdnb import __version__
from crowdnb.errors import Conflict, Forbidden, LabelError, NotFound
from crowdnb.project import Project
from crowdnb.server import models
from crowdnb.server.media import OutsideMediaRoot, media_relative, resolve_media
from crowdnb.store import STORE_ENV, Account, ProjectInfo, SqlStore as Store

MEDIA_ENV = "CROWDNB_MEDIA"
bearer = HTTPBearer(auto_error=False, description="a worker's token (crowdnb worker add NAME)")


def create_app(store: Store | str, media_root: str | Path) -> FastAPI:
    """The FastAPI application serving `store`, with task images under `media_root`."""
    app = FastAPI(title="crowdnb", version=__version__, description=__doc__)
    app.state.store = store if isinstance(store, Store) else Store(store)
    app.state.media = Path(media_root).resolve()
    router = APIRouter()
    for method, path, endpoint in _routes():
        router.add_api_route(path, endpoint, methods=[method], responses=models.ERRORS)
    app.include_router(router)
    for error, status in ((NotFound, 404), (Forbidden, 403), (Conflict, 409), (LabelError, 422), (ValueError, 422)):
        app.add_exception_handler(error, _error_handler(status))
    return app


def app_from_environment() -> FastAPI:
    """The app for `crowdnb serve` worker processes: store and media from the environment."""
    return create_app(os.environ[STORE_ENV], os.environ[MEDIA_ENV])


def _error_handler(status: int) -> Any:
    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        problems = [str(p) for p in getattr(exc, "problems", [])]
        return JSONResponse({"detail": str(exc), "problems": problems}, status_code=status)

    return handle


def _store(request: Request) -> Store:
    return request.app.state.store


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


def _unknown_token() -> HTTPException:
    return HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})


def _account(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Account:
    account = _store(request).authenticate(_token(credentials))
    if account is None:
        raise _unknown_token()
    return account


@dataclass(frozen=True)
class ProjectAccess:
    """The caller of a project route: their account, the project's row (None: no such
    project) and whether they belong to it."""

    account: Account
    project: dict[str, Any] | None
    is_member: bool


def _project_access(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)], project: str
) -> ProjectAccess:
    """Account, project and membership in one query; `_project` checks the role."""
    found = _store(request).access(_token(credentials), project)
    if found is None:
        raise _unknown_token()
    return ProjectAccess(*found)


Caller = Annotated[Account, Depends(_account)]
ProjectCaller = Annotated[ProjectAccess, Depends(_project_access)]


def _require(account: Account, *roles: str) -> None:
    if account.role not in roles:
        raise HTTPException(403, f"this needs the role {' or '.join(roles)}; you are {account.role}")


def _project(access: ProjectAccess, name: str, *roles: str) -> ProjectInfo:
    """The project, if the caller has one of `roles` and belongs to it (managers always do).
    Non-managers get 403 for projects that do not exist too, so names do not leak."""
    _require(access.account, *roles)
    if access.project is None and access.account.role == "manager":
        raise NotFound(f"no project {name!r}")
    if access.project is None or (access.account.role != "manager" and not access.is_member):
        raise HTTPException(403, "not a member of this project")
    return ProjectInfo(**access.project)


def _public_payload(payload: dict[str, Any], media: Path) -> dict[str, Any]:
    """A task payload as workers see it: local image paths become media paths."""
    shown = {k: v for k, v in payload.items() if k != "image"}
    if "image" in payload:
        shown["image_path"] = media_relative(media, payload["image"])
    return shown


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in out]


def _routes() -> list[tuple[str, str, Any]]:
    """(method, path, endpoint) for every route."""

    def me(caller: Caller) -> models.Me:
        return models.Me(name=caller.name, role=caller.role)

    def balance(request: Request, caller: Caller) -> models.Balance:
        return models.Balance(worker=caller.name, points=_store(request).balance(caller.id))

    def list_projects(request: Request, caller: Caller) -> list[str]:
        store = _store(request)
        return store.project_names() if caller.role == "manager" else store.member_projects(caller.id)

    def create_project(request: Request, caller: Caller, body: models.NewProject) -> models.ProjectOut:
        _require(caller, "manager")
        project = Project.create(
            body.name, body.kind, store=_store(request), overlap=body.overlap, price=body.price, **body.options
        )
        _store(request).set_review(project.info.id, body.review_rate, body.review_window_seconds)
        return models.ProjectOut.of(_store(request).project(body.name))

    def get_project(access: ProjectCaller, project: str) -> models.ProjectOut:
        return models.ProjectOut.of(_project(access, project, "worker", "inspector", "manager"))

    def add_member(request: Request, access: ProjectCaller, project: str, body: models.Member) -> models.Me:
        info = _project(access, project, "manager")
        account = _store(request).account(body.worker)
        _store(request).add_member(info.id, account.name)
        return models.Me(name=account.name, role=account.role)

    def add_tasks(request: Request, access: ProjectCaller, project: str, body: models.NewTasks) -> models.Added:
        info = _project(access, project, "manager")
        frame = pd.DataFrame(body.rows)
        if "image" in frame.columns:
            media = request.app.state.media
            try:
                frame["image"] = [str(resolve_media(media, str(p))) for p in frame["image"]]
            except OutsideMediaRoot as exc:
                raise HTTPException(422, str(exc)) from None
        added = Project(_store(request), info).add_tasks(frame, on_duplicate=body.on_duplicate, progress=False)
        return models.Added(added=added)

    def get_tasks(request: Request, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
        info = _project(access, project, "manager")
        return _records(_store(request).tasks(info.id))

    def get_labels(request: Request, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
        info = _project(access, project, "manager")
        return _records(_store(request).labels(info.id))

    def claim(request: Request, access: ProjectCaller, project: str, body: models.ClaimIn) -> list[models.TaskOut]:
        info = _project(access, project, "worker", "manager")
        media = request.app.state.media
        tasks = _store(request).claim(info.id, access.account.id, body.n, exclude=body.exclude)
        return [
            models.TaskOut(
                task_id=t.id, external_id=t.external_id, payload=_public_payload(t.payload, media),
                meta=t.meta, rework=t.rework,
            )
            for t in tasks
        ]

    def renew(request: Request, access: ProjectCaller, project: str, body: models.Renew) -> models.Added:
        info = _project(access, project, "worker", "manager")
        return models.Added(added=_store(request).renew(info.id, access.account.id, body.task_ids))

    def submit(request: Request, access: ProjectCaller, project: str, body: models.SubmitIn) -> models.ReceiptOut:
        info = _project(access, project, "worker", "manager")
        receipt = _store(request).submit(info.id, access.account.id, body.submission())
        return models.ReceiptOut(
            annotation_id=receipt.annotation_id, submitted_at=receipt.submitted_at, duplicate=receipt.duplicate
        )

    def submit_many(request: Request, access: ProjectCaller, project: str, body: models.SubmitMany) -> list[models.Outcome]:
        info = _project(access, project, "worker", "manager")
        submissions = [x.submission() for x in body.labels]
        outcomes = _store(request).submit_many(info.id, access.account.id, submissions)
        return [
            models.Outcome(annotation_id=s.annotation_id, stored=False, detail=str(o))
            if isinstance(o, Exception)
            else models.Outcome(annotation_id=s.annotation_id, stored=True, duplicate=o.duplicate)
            for s, o in zip(submissions, outcomes, strict=True)
        ]

    def skip(request: Request, access: ProjectCaller, project: str, body: models.SkipIn) -> models.Added:
        info = _project(access, project, "worker", "manager")
        _store(request).skip(info.id, access.account.id, body.task_id)
        return models.Added(added=0)

    def progress(request: Request, access: ProjectCaller, project: str) -> models.Progress:
        info = _project(access, project, "worker", "inspector", "manager")
        done, total = _store(request).progress(info.id, access.account.id)
        return models.Progress(done=done, total=total)

    def my_labels(request: Request, access: ProjectCaller, project: str) -> list[dict[str, Any]]:
        info = _project(access, project, "worker", "manager")
        return _records(_store(request).worker_labels(info.id, access.account.id))

    def claim_reviews(request: Request, access: ProjectCaller, project: str, body: models.ClaimIn) -> list[dict[str, Any]]:
        info = _project(access, project, "inspector", "manager")
        media = request.app.state.media
        reviews = _store(request).claim_reviews(info.id, access.account.id, body.n)
        return [{**r, "payload": _public_payload(r["payload"], media)} for r in reviews]

    def decide(request: Request, access: ProjectCaller, project: str, annotation_id: str, body: models.Decision) -> models.Added:
        info = _project(access, project, "inspector", "manager")
        _store(request).decide(info.id, access.account.id, annotation_id, body.decision, body.reason)
        return models.Added(added=1)

    def payouts(request: Request, caller: Caller, start: datetime, end: datetime) -> list[dict[str, Any]]:
        _require(caller, "manager")
        return _records(_store(request).payouts(start, end))

    def media(request: Request, caller: Caller, path: str) -> FileResponse:
        try:
            target = resolve_media(request.app.state.media, path)
        except OutsideMediaRoot as exc:
            raise HTTPException(403, str(exc)) from None
        if not target.is_file():
            raise HTTPException(404, "no such media file")
        return FileResponse(target)

    p = "/api/v1/projects/{project}"
    return [
        ("GET", "/api/v1/me", me),
        ("GET", "/api/v1/me/balance", balance),
        ("GET", "/api/v1/projects", list_projects),
        ("POST", "/api/v1/projects", create_project),
        ("GET", p, get_project),
        ("POST", p + "/members", add_member),
        ("POST", p + "/tasks", add_tasks),
        ("GET", p + "/tasks", get_tasks),
        ("GET", p + "/labels", get_labels),
        ("POST", p + "/claim", claim),
        ("POST", p + "/renew", renew),
        ("POST", p + "/submit", submit),
        ("POST", p + "/submit-many", submit_many),
        ("POST", p + "/skip", skip),
        ("GET", p + "/progress", progress),
        ("GET", p + "/my-labels", my_labels),
        ("POST", p + "/reviews/claim", claim_reviews),
        ("POST", p + "/reviews/{annotation_id}", decide),
        ("GET", "/api/v1/payouts", payouts),
        ("GET", "/api/v1/media/{path:path}", media),
    ]
