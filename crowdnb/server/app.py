"""The HTTP server: the store's API for many workers, with per-worker tokens and roles.

Roles: a manager does everything; an inspector reviews the work of projects they belong to; a
worker claims, labels and skips tasks of their projects and sees only their own labels. The
server keeps no state of its own (everything is in the store), so several processes can serve
one PostgreSQL store behind a proxy.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from crowdnb import __version__
from crowdnb.errors import Conflict, Forbidden, LabelError, NotFound
from crowdnb.server import models
from crowdnb.server.routers import labels, me, media, points, projects, reviews, tasks, workers
from crowdnb.server.routing import Refused
from crowdnb.store import STORE_ENV, SqlStore

MEDIA_ENV = "CROWDNB_MEDIA"
API = "/api/v1"
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (Forbidden, 403), (Conflict, 409), (LabelError, 422), (ValueError, 422), (Refused, 422),
)


def create_app(store: SqlStore | str, media_root: str | Path) -> FastAPI:
    """The FastAPI application serving `store`, with task images under `media_root`."""
    app = FastAPI(title="crowdnb", version=__version__, description=__doc__)
    app.state.store = store if isinstance(store, SqlStore) else SqlStore(store)
    app.state.media = Path(media_root).resolve()
    for module in (me, points, projects, tasks, labels, reviews, workers, media):
        app.include_router(module.router, prefix=API, responses=models.ERRORS)
    for error, status in ERROR_STATUS:
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(DataError, _refused_value)
    app.add_exception_handler(IntegrityError, _conflicting_value)
    app.add_exception_handler(StatementError, _unbound_value)
    return app


def app_from_environment() -> FastAPI:
    """The app for `crowdnb serve` worker processes: store and media from the environment."""
    return create_app(os.environ[STORE_ENV], os.environ[MEDIA_ENV])


async def _refused_value(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot keep (a NUL character, a number out of range) is the
    request's fault: 422, without the statement."""
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": f"a value the store cannot keep: {reason}", "problems": []}, status_code=422)


async def _conflicting_value(_request: Request, exc: Exception) -> JSONResponse:
    """A row the database refuses as a duplicate or a broken reference (e.g. two requests
    creating the same project at once) conflicts with what is stored: 409."""
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": f"conflicts with what is stored: {reason}", "problems": []}, status_code=409)


async def _unbound_value(request: Request, exc: Exception) -> JSONResponse:
    """A value refused before it reached the database (a bind parameter SQLAlchemy could not
    convert) is the request's fault: 422. Errors of the database itself stay server errors."""
    if isinstance(exc, DBAPIError) or not isinstance(getattr(exc, "orig", None), (ValueError, TypeError, OverflowError)):
        raise exc
    return await _refused_value(request, exc)


def _error_handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering a crowdnb error with `status`, its message and its problems."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        problems = [str(p) for p in getattr(exc, "problems", [])]
        detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
        return JSONResponse({"detail": detail, "problems": problems}, status_code=status)

    return handle
