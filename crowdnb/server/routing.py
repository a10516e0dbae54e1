"""The boundary: every value a request carries is checked before any of it reaches the store.

`CheckedRoute` is the route class of every router. Before FastAPI runs a route's dependencies
(the token and project lookup among them), it checks the path and query parameters, and it
parses JSON bodies itself, by the rule of `crowdnb.values`: a value the store cannot keep (NUL, a
lone surrogate, NaN, nesting deeper than `values.MAX_DEPTH`, text that is not UTF-8) is a 422
naming its place in the request, e.g. ``body.labels[3].label: contains U+0000 (NUL) at position
2, which cannot be stored``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from crowdnb import values

SHOWN = 5  # flaws quoted in `detail`; `problems` has them all (up to values.MAX_FLAWS)
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


class Refused(HTTPException):
    """422 for values that cannot be stored; `problems` names each by its place."""

    def __init__(self, flaws: list[values.Flaw]) -> None:
        self.problems = [str(f) for f in flaws]
        shown = "; ".join(self.problems[:SHOWN]) + (f"; and {len(flaws) - SHOWN} more" if len(flaws) > SHOWN else "")
        super().__init__(422, shown if len(flaws) == 1 else f"{len(flaws)} values cannot be stored: {shown}")


class CheckedRequest(Request):
    """A request whose JSON body is parsed and checked here (FastAPI reads it through `json`)."""

    async def json(self) -> Any:
        if not hasattr(self, "_checked"):
            self._checked = parse_body(await self.body())
        return self._checked


class CheckedRoute(APIRoute):
    """A route that checks path and query parameters and the JSON body before its handler
    (and its dependencies) run."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def checked(request: Request) -> Response:
            flaws = [*parameter_flaws("path", request.path_params.items()),
                     *parameter_flaws("query", request.query_params.multi_items())]
            if flaws:
                raise Refused(flaws)
            return await handle(CheckedRequest(request.scope, request.receive))

        return checked


def parameter_flaws(where: str, items: Iterable[tuple[str, Any]]) -> list[values.Flaw]:
    """The flaws of path or query parameters (`where`), each named like ``path.project``."""
    found: list[values.Flaw] = []
    for name, value in items:
        if message := values.text_flaw(name):
            found.append(values.Flaw(where, f"the parameter name {name!r} {message}"))
        elif message := values.text_flaw(value if isinstance(value, str) else str(value)):
            found.append(values.Flaw(f"{where}.{name}", message))
    return found


def parse_body(raw: bytes) -> Any:
    """A JSON body as Python values, if UTF-8 and storable; `Refused` names what is not.
    Invalid JSON raises `json.JSONDecodeError`, which FastAPI answers as usual (422)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused([values.Flaw("body", f"is not UTF-8 text (byte {exc.start}: {exc.reason})")]) from None
    try:
        parsed = json.loads(text)
    except RecursionError:
        raise Refused([values.Flaw("body", f"is nested more than {values.MAX_DEPTH} levels deep")]) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # an integer of more digits than Python converts
        raise Refused([values.Flaw("body", str(exc))]) from None
    # A NUL or a lone surrogate can only come from a \u escape (raw, one is invalid JSON or
    # invalid UTF-8): without a \u0000 or \uD800-\uDFFF escape, only depth and numbers are
    # left to check (escaped pairs, e.g. an emoji, are checked in full).
    if not values.storable(parsed, strings=_RISKY_ESCAPE.search(text) is not None):
        raise Refused(values.flaws(parsed, "body"))
    return parsed
