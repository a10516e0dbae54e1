"""The HTTP server: the store's API for many workers, with per-worker tokens and roles.

Roles: a manager does everything; an inspector reviews the work of projects they belong to; a
worker claims, labels and skips tasks of their projects and sees only their own labels. The
server keeps no state of its own (everything is in the store), so several processes can serve
one PostgreSQL store behind a proxy.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, DisconnectionError, IntegrityError, InterfaceError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from crowdnb import __version__
from crowdnb.errors import Conflict, Forbidden, LabelError, NotFound
from crowdnb.server import models
from crowdnb.server.caches import AccessListener, Caches, cache_seconds
from crowdnb.server.limits import BodyLimit, Limits
from crowdnb.server.routers import exports, labels, me, media, points, projects, reviews, tasks, workers
from crowdnb.server.routing import Refused
from crowdnb.store import STORE_ENV, SqlStore

MEDIA_ENV = "CROWDNB_MEDIA"
API = "/api/v1"
ERROR_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (NotFound, 404), (Forbidden, 403), (Conflict, 409), (LabelError, 422), (ValueError, 422), (Refused, 422),
)
# The database cannot answer right now (down, restarting, a lost connection, no free pooled
# connection): the request may be sent again as it is, so 503 with a Retry-After.
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)
RETRY_AFTER_SECONDS = 1  # a restart takes seconds; a refusal costs the server next to nothing
RESPONSES = {**models.ERRORS, 503: {"description": "the store's database is unavailable; retry after `Retry-After` seconds"}}
log = logging.getLogger(__name__)


def create_app(store: SqlStore | str, media_root: str | Path, limits: Limits | None = None) -> FastAPI:
    """The FastAPI application serving `store`, with task images under `media_root`; bodies
    over their route's size in `limits` (default: `Limits()`) are refused before they are read."""
    app = FastAPI(title="crowdnb", version=__version__, description=__doc__, lifespan=_lifespan)
    app.state.store = store if isinstance(store, SqlStore) else SqlStore(store)
    app.state.media = Path(media_root).resolve()
    app.state.caches = Caches(cache_seconds())
    for module in (tasks, labels, me, points, projects, reviews, workers, media, exports):  # the busiest first: routes are matched in order
        app.include_router(module.router, prefix=API, responses=RESPONSES)
    for error, status in ERROR_STATUS:
        app.add_exception_handler(error, _error_handler(status))
    app.add_exception_handler(DataError, _refused_value)
    app.add_exception_handler(IntegrityError, _conflicting_value)
    app.add_exception_handler(StatementError, _unbound_value)
    for error in UNAVAILABLE:
        app.add_exception_handler(error, _unavailable)
    # Added last, so outermost: a body over the limit is refused before anything reads or parses it.
    app.add_middleware(BodyLimit, limits=limits or Limits(), prefix=API)
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
    """The app for `crowdnb serve` worker processes: store, media and limits from the environment."""
    return create_app(os.environ[STORE_ENV], os.environ[MEDIA_ENV], Limits.from_environment(os.environ))


async def _refused_value(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot keep (a NUL character, a number out of range) is the
    request's fault: 422, without the statement."""
    reason = str(getattr(exc, "orig", exc)).splitlines()[0]
    return JSONResponse({"detail": f"a value the store cannot keep: {reason}", "problems": []}, status_code=422)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The database is unavailable: 503 and when to try again; the driver's message (which
    names the database's address) goes to the server's log, not to the caller."""
    cause = getattr(exc, "orig", None) or exc
    reason = (str(cause).strip().splitlines() or [""])[0]
    log.warning("%s %s: the database is unavailable: %s: %s", request.method, request.url.path, type(cause).__name__, reason)
    return JSONResponse(
        {"detail": "the store's database is unavailable; try again shortly", "problems": []},
        status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


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
