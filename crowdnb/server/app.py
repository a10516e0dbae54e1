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

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from crowdnb import __version__
from crowdnb.errors import Conflict, Forbidden, LabelError, NotFound
from crowdnb.server import models
from crowdnb.server.limits import BodyLimit, Limits
from crowdnb.server.routers import labels, me, media, points, projects, reviews, tasks, workers
from crowdnb.store import STORE_ENV, SqlStore

MEDIA_ENV = "CROWDNB_MEDIA"
API = "/api/v1"
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (Forbidden, 403), (Conflict, 409), (LabelError, 422), (ValueError, 422),
)


def create_app(store: SqlStore | str, media_root: str | Path, limits: Limits | None = None) -> FastAPI:
    """The FastAPI application serving `store`, with task images under `media_root`; bodies
    over their route's size in `limits` (default: `Limits()`) are refused before they are read."""
    app = FastAPI(title="crowdnb", version=__version__, description=__doc__)
    app.state.store = store if isinstance(store, SqlStore) else SqlStore(store)
    app.state.media = Path(media_root).resolve()
    for module in (me, points, projects, tasks, labels, reviews, workers, media):
        app.include_router(module.router, prefix=API, responses=models.ERRORS)
    for error, status in ERROR_STATUS:
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(DataError, _refused_value)
    # Added last, so outermost: a body over the limit is refused before anything reads or parses it.
    app.add_middleware(BodyLimit, limits=limits or Limits(), prefix=API)
    return app


def app_from_environment() -> FastAPI:
    """The app for `crowdnb serve` worker processes: store, media and limits from the environment."""
    return create_app(os.environ[STORE_ENV], os.environ[MEDIA_ENV], Limits.from_environment(os.environ))


async def _refused_value(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot keep (a NUL character, a number out of range) is the
    request's fault: 422, without the statement."""
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": f"a value the store cannot keep: {reason}", "problems": []}, status_code=422)


def _error_handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """A handler answering a crowdnb error with `status`, its message and its problems."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        problems = [str(p) for p in getattr(exc, "problems", [])]
        return JSONResponse({"detail": str(exc), "problems": problems}, status_code=status)

    return handle
