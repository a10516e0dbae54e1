"""What the routers share: the app's store and media root, the caller behind a bearer token,
role and membership checks, and how payloads and tables leave the server."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crowdnb.errors import NotFound
from crowdnb.server.media import inside_root, media_route
from crowdnb.store import Account, ProjectInfo, SqlStore

bearer = HTTPBearer(auto_error=False, description="a worker's token (crowdnb worker add NAME)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _store(request: Request) -> SqlStore:
    return request.app.state.store


def _media(request: Request) -> Path:
    return request.app.state.media


StoreDep = Annotated[SqlStore, Depends(_store)]
MediaRoot = Annotated[Path, Depends(_media)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


def _unknown_token() -> HTTPException:
    return HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})


def _account(store: StoreDep, credentials: Credentials) -> Account:
    account = store.authenticate(_token(credentials))
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


def _project_access(store: StoreDep, credentials: Credentials, project: str) -> ProjectAccess:
    """Account, project and membership in one query; `member_project` checks the role."""
    found = store.access(_token(credentials), project)
    if found is None:
        raise _unknown_token()
    return ProjectAccess(*found)


Caller = Annotated[Account, Depends(_account)]
ProjectCaller = Annotated[ProjectAccess, Depends(_project_access)]


def require(account: Account, *roles: str) -> None:
    """Refuse (403) a caller whose role is not one of `roles`."""
    if account.role not in roles:
        raise HTTPException(403, f"this needs the role {' or '.join(roles)}; you are {account.role}")


def member_project(access: ProjectAccess, name: str, *roles: str) -> ProjectInfo:
    """The project, if the caller has one of `roles` and belongs to it (managers always do).
    Non-managers get 403 for projects that do not exist too, so names do not leak."""
    require(access.account, *roles)
    if access.project is None and access.account.role == "manager":
        raise NotFound(f"no project {name!r}")
    if access.project is None or (access.account.role != "manager" and not access.is_member):
        raise HTTPException(403, "not a member of this project")
    return ProjectInfo(**access.project)


def public_payload(payload: dict[str, Any], media: Path, project: str, task_id: int) -> dict[str, Any]:
    """A task payload as workers and inspectors see it: the server's image path stays on the
    server; `media` names the task's image route instead (None: the image is outside the media
    root, so the server does not serve it)."""
    shown = {k: v for k, v in payload.items() if k != "image"}
    if "image" in payload:
        shown["media"] = media_route(project, task_id) if inside_root(media, payload["image"]) else None
    return shown


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON rows: missing values become null, timestamps ISO 8601 strings."""
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in out]
