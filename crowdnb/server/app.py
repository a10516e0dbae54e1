"""The HTTP server: the store's API for many workers, with per-worker tokens and roles.

Roles: a manager does everything; an inspector reviews the work of projects they belong to; a
worker claims, labels and skips tasks of their projects and sees only their own labels. The
server keeps no state of its own (everything is in the store), so several processes can serve
one PostgreSQL store behind a proxy.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError

from crowdnb import __version__
from crowdnb.errors import Conflict, Forbidden, LabelError, NotFound
from crowdnb.server import models
from crowdnb.server.caches import AccessListener, Caches, cache_seconds
from crowdnb.server.routers import labels, me, media, points, projects, reviews, tasks, workers
from crowdnb.store import STORE_ENV, SqlStore

MEDIA_ENV = "CROWDNB_MEDIA"
API = "/api/v1"
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (Forbidden, 403), (Conflict, 409), (LabelError, 422), (ValueError, 422),
)


def create_app(store: SqlStore | str, media_root: str | Path) -> FastAPI:
    """The FastAPI application serving `store`, with task images under `media_root`."""
    app = FastAPI(title="crowdnb", version=__version__, description=__doc__, lifespan=_lifespan)
    app.state.store = store if isinstance(store, SqlStore) else SqlStore(store)
    app.state.media = Path(media_root).resolve()
    app.state.caches = Caches(cache_seconds())
    for module in (tasks, labels, me, points, projects, reviews, workers, media):  # the busiest first: routes are matched in order
        app.include_router(module.router, prefix=API, responses=models.ERRORS)
    for error, status in ERROR_STATUS:
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(DataError, _refused_value)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On a PostgreSQL store, listen for access changes while serving (see `caches`)."""
    engine = app.state.store.engine
    if engine.dialect.name != "postgresql":
        yield
        return
    listener = AccessListener(engine, app.state.caches, asyncio.get_running_loop())
    listener.start()
    try:
        yield
    finally:
        listener.stop()


def app_from_environment() -> FastAPI:
    """The app for `crowdnb serve` worker processes: store and media from the environment."""
    return create_app(os.environ[STORE_ENV], os.environ[MEDIA_ENV])


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
