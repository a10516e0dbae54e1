"""Request size limits: the settings, read from `crowdnb serve` options or the environment, and
the ASGI middleware that refuses a body over its route's limit with 413 before reading it.

The body limit is checked here, outside FastAPI, so a body over it is never read, let alone
parsed as JSON (whose nesting depth is checked when it is parsed, after this). The limit on the
request head (request line and headers) cannot be kept by an ASGI app: the server has parsed and
buffered the whole head before the app sees it. `crowdnb.server.head` keeps it in the protocol.

Only the standard library is imported, so `crowdnb --help` can show the defaults.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, fields, replace
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNITS = {"": 1, "b": 1, "k": 2**10, "kib": 2**10, "m": 2**20, "mib": 2**20, "g": 2**30, "gib": 2**30}
SIZE = re.compile(r"\s*(\d+)\s*([a-z]*)\s*", re.IGNORECASE)


def parse_size(text: str) -> int:
    """A size in bytes from `text`: a whole number of bytes, or with a binary unit (KiB, MiB,
    GiB; K, M, G mean the same)."""
    match = SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in UNITS or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a size: give bytes, or KiB, MiB or GiB (e.g. 512KiB, 8MiB)")
    return int(match.group(1)) * UNITS[unit]


def format_size(size: int) -> str:
    """`size` bytes in the largest binary unit that divides it (8MiB, 1536KiB, 100)."""
    for unit in ("GiB", "MiB", "KiB"):
        if size % UNITS[unit.lower()] == 0:
            return f"{size // UNITS[unit.lower()]}{unit}"
    return str(size)


@dataclass(frozen=True)
class Setting:
    """How one limit is set: its `crowdnb serve` option, its environment variable, what it bounds."""

    option: str
    env: str
    bounds: str


@dataclass(frozen=True)
class Limits:
    """Largest requests the server reads, in bytes (SETTINGS says what each bounds). A body over
    its route's limit gets 413, a request head over `head` gets 431."""

    body: int = 2**20
    batch_body: int = 8 * 2**20  # 100 labels of up to 80 KiB each (a polygon of ~4,000 points)
    tasks_body: int = 32 * 2**20  # one add_tasks call is one request, all or nothing
    head: int = 16 * 2**10  # a bearer token is under 100 bytes; a project name at most 200

    def body_limit(self, method: str, path: str) -> tuple[int, str]:
        """The body limit of a request (`path` under the API prefix) and the field that sets it."""
        for route_method, route, name in LARGER_BODIES:
            if method == route_method and route.fullmatch(path):
                return getattr(self, name), name
        return self.body, "body"

    def environment(self) -> dict[str, str]:
        """The environment variables that give these limits to server processes."""
        return {SETTINGS[f.name].env: str(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Limits:
        """The defaults, with the limits that `environ` sets."""
        given = {}
        for name, setting in SETTINGS.items():
            if setting.env in environ:
                try:
                    given[name] = parse_size(environ[setting.env])
                except ValueError as exc:
                    raise ValueError(f"{setting.env}: {exc}") from None
        return replace(cls(), **given)


SETTINGS = {
    "body": Setting("--max-body", "CROWDNB_MAX_BODY", "request body not named below (one label, a claim, a decision), refused with 413"),
    "batch_body": Setting("--max-batch-body", "CROWDNB_MAX_BATCH_BODY", "submit-many body (up to 100 labels)"),
    "tasks_body": Setting("--max-tasks-body", "CROWDNB_MAX_TASKS_BODY", "body adding tasks"),
    "head": Setting("--max-head", "CROWDNB_MAX_HEAD", "request line and headers together, refused with 431"),
}
# Routes whose bodies may be larger than `body`: method, path under the API prefix, the limit.
# A project name has no "/", so these match nothing else (e.g. not an annotation id of a review).
LARGER_BODIES = (
    ("POST", re.compile(r"/projects/[^/]+/submit-many"), "batch_body"),
    ("POST", re.compile(r"/projects/[^/]+/tasks"), "tasks_body"),
)


def refusal(status: int, detail: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a refusal in the API's error shape; it closes the connection, as
    what the client still sends is not read."""
    body = json.dumps({"detail": detail, "problems": []}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    return headers, body


class BodyLimit:
    """ASGI middleware: a body over its route's limit gets 413 before it is read. A declared
    Content-Length is checked up front; a chunked body is read up to the limit, then handed on."""

    def __init__(self, app: ASGIApp, limits: Limits, prefix: str) -> None:
        self.app = app
        self.limits = limits
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].removeprefix(self.prefix)
        limit, name = self.limits.body_limit(scope["method"], path)
        # The server has checked the framing: one Content-Length, a number, not with chunks.
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            if int(declared) > limit:
                await _refuse(send, 413, _too_large(limit, name, int(declared)))
            else:  # the server delivers no more than the declared length
                await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:  # no body
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _refuse(send, 413, _too_large(limit, name))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _too_large(limit: int, name: str, declared: int | None = None) -> str:
    setting = SETTINGS[name]
    size = "" if declared is None else f" of {declared} bytes"
    return (
        f"the request body{size} is over the limit of {limit} bytes for this route "
        f"(crowdnb serve {setting.option} or ${setting.env})"
    )


async def _refuse(send: Send, status: int, detail: str) -> None:
    headers, body = refusal(status, detail)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read already, then what the server sends (a disconnect)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replayed() -> Message:
        return pending.pop() if pending else await receive()

    return replayed
