"""How the client writes requests and reads what a refusal means.

A body goes out as UTF-8 JSON (no NaN), a name as one URL path segment. What cannot be written
that way, or what the server would refuse anyway (a lone surrogate such as ``"\\ud800"``, NUL,
NaN: the store's rule, `crowdnb.values`; an object JSON has no form for) is refused here with a
`ValueError` naming the part, before anything is sent: httpx would raise in the middle of the
request instead, and a retry would raise again.

Answers that say "not now" are `SourceUnavailable`: `SignedOut` (401, the token is unknown or
revoked) and `ServerBusy` (408, 425, 429, 5xx, a redirect; with the server's Retry-After).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

from crowdnb import values
from crowdnb.errors import SourceUnavailable

RETRY_STATUSES = frozenset({408, 425, 429})  # besides 5xx: the request was fine, the moment was not


class SignedOut(SourceUnavailable):
    """The server does not know this token (any more): nothing is thrown away; connect again with
    a valid token."""


class ServerBusy(SourceUnavailable):
    """The server answered, but cannot take the request now (`status`); `retry_after` is the
    number of seconds it asked for, if it did."""

    def __init__(self, message: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def encode_json(value: Any, what: str) -> bytes:
    """`value` as UTF-8 JSON; ValueError naming `what` and the first part of it that cannot be sent."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except RecursionError:
        raise ValueError(f"{what} cannot be sent: it is nested too deeply") from None
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise ValueError(f"{what} cannot be sent: {unsendable(value) or exc}") from None


def unsendable(value: Any, where: str = "") -> str | None:
    """The first part of `value` (named by its path under `where`, e.g. ``label.turns[2]``) that
    a store would refuse, by the store's own rule (`crowdnb.values`: NUL, a lone surrogate, NaN,
    too deep), or None."""
    found = values.flaws(value, where)
    return str(found[0]) if found else None


def segment(name: str, what: str) -> str:
    """`name` as one URL path segment; ValueError naming `what` if it cannot be written as UTF-8."""
    problem = unsendable(name)
    if problem:
        raise ValueError(f"{what} cannot be sent: {problem}")
    return quote(name, safe="")


def retry_after(header: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number of seconds or an HTTP date), None if absent
    or unreadable."""
    if not header:
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            when = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None
