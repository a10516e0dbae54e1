"""What the routers share: the app's store and media root, the caller behind a bearer token,
role and membership checks, and how payloads and tables leave the server.

The dependencies are coroutines: the ones answered from memory (`crowdnb.server.caches`) cost
no hop to a thread; only a lookup in the store runs in the thread pool."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from crowdnb.errors import NotFound
from crowdnb.server.caches import Caches
from crowdnb.server.media import inside_root, media_route
from crowdnb.store import Account, ProjectInfo, Receipt, SqlStore, Task
from crowdnb.store.sql.accounts import token_hash

bearer = HTTPBearer(auto_error=False, description="a worker's token (crowdnb worker add NAME)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def _store(request: Request) -> SqlStore:
    return request.app.state.store


async def _media(request: Request) -> Path:
    return request.app.state.media


StoreDep = Annotated[SqlStore, Depends(_store)]
MediaRoot = Annotated[Path, Depends(_media)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise HTTPException(401, "a bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    return credentials.credentials


async def _account(request: Request, credentials: Credentials) -> Account:
    """The caller behind the bearer token, verified before anything else the caller sent is
    looked up (dependencies that need the caller depend on this one). The store and caches
    come from the app rather than as dependencies: each dependency costs time on every request."""
    store: SqlStore = request.app.state.store
    caches: Caches = request.app.state.caches
    token = _token(credentials)
    key = token_hash(token)
    account = caches.account(key)
    if account is None:
        generation = caches.generation
        account = await run_in_threadpool(store.authenticate, token)
        if account is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        caches.keep_account(key, account, generation)
    return account


Caller = Annotated[Account, Depends(_account)]


@dataclass(frozen=True)
class ProjectAccess:
    """The caller of a project route: their account, the project's row (None: no such
    project) and whether they belong to it."""

    account: Account
    project: dict[str, Any] | None
    is_member: bool


async def _project_access(request: Request, account: Caller, project: str) -> ProjectAccess:
    """The verified caller, the project and their membership; `member_project` checks the role."""
    store: SqlStore = request.app.state.store
    caches: Caches = request.app.state.caches
    key = (account.id, project)
    row = caches.project(key)
    if row is not None:
        return ProjectAccess(account, row, True)
    generation = caches.generation
    row, is_member = await run_in_threadpool(store.project_access, account.id, project)
    if row is not None and (is_member or account.role == "manager"):
        caches.keep_project(key, row, generation)
    return ProjectAccess(account, row, is_member)


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


def tasks_json(tasks: list[Task], media: Path, project: str) -> list[dict[str, Any]]:
    """Leased tasks as workers see them (`models.TaskOut`), ready for a JSON response."""
    return [
        {"task_id": t.id, "external_id": t.external_id, "payload": public_payload(t.payload, media, project, t.id),
         "meta": t.meta, "rework": t.rework}
        for t in tasks
    ]


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """A stored label's receipt (`models.ReceiptOut`), ready for a JSON response."""
    assert receipt.submitted_at is not None  # a store's receipts always have the time
    return {"annotation_id": receipt.annotation_id, "submitted_at": receipt.submitted_at.isoformat(), "duplicate": receipt.duplicate}


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as JSON rows: missing values become null, timestamps ISO 8601 strings."""
    out = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()} for row in out]


ROWS_PER_PIECE = 20_000  # rows encoded at a time when a table is streamed


def streamed(frames: Iterable[pd.DataFrame], lines: bool = False) -> StreamingResponse:
    """Tables sent as one JSON array of rows (or JSON lines: one row per line), encoded a piece
    at a time while they are sent, so the server never holds the whole text."""

    def pieces() -> Iterator[bytes]:
        first = True
        if not lines:
            yield b"["
        for frame in frames:
            for start in range(0, len(frame), ROWS_PER_PIECE):
                rows = [json.dumps(r, ensure_ascii=False) for r in records(frame.iloc[start : start + ROWS_PER_PIECE])]
                if lines:
                    yield ("\n".join(rows) + "\n").encode()
                else:
                    yield (("" if first else ",") + ",".join(rows)).encode()
                first = False
        if not lines:
            yield b"]"

    return StreamingResponse(pieces(), media_type="application/x-ndjson" if lines else "application/json")
