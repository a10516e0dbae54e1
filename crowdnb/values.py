"""What a store can keep: the one rule for every value that crosses into SQLite or PostgreSQL.

A value is storable when every string in it (dict keys included, at any depth) is UTF-8 text
without NUL (PostgreSQL's text and JSONB refuse U+0000; a lone surrogate such as U+D800 is not
UTF-8 at all), every float is finite (JSON has no NaN or infinity) and it is nested at most
`MAX_DEPTH` levels. SQLite would keep some of these, so the local store refuses them too, and a
project can move to PostgreSQL. The server checks requests by the same rule (`crowdnb.server.
routing`), so a refusal reads the same from both: ``label.turns[2].answer: contains U+0000 (NUL)
at position 5, which cannot be stored``. Positions count Python characters (code points).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 32  # lists and objects inside one another; real labels and payloads need a handful
MAX_FLAWS = 100  # a value with more flaws is reported by its first ones
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


@dataclass(frozen=True)
class Flaw:
    """Why the value at `where` (a path like ``rows[3].text``; empty for the value itself)
    cannot be stored."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


def text_flaw(text: str) -> str | None:
    """What makes one string unstorable (its first NUL or lone surrogate), or None."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    char, at = found.group(), found.start()
    if char == "\x00":
        return f"contains U+0000 (NUL) at position {at}, which cannot be stored"
    return f"contains a lone surrogate U+{ord(char):04X} at position {at}, which is not UTF-8 text and cannot be stored"


def storable(value: Any, *, strings: bool = True) -> bool:
    """Whether `value` can be stored (the fast check: no paths, no messages). `strings=False`
    skips the strings, for JSON parsed from text without ``\\u`` escapes: NUL and lone
    surrogates can only come from those, so only depth and numbers are left to check."""
    return _fine(value, MAX_DEPTH, _UNSTORABLE.search if strings else None)


def flaws(value: Any, where: str = "") -> list[Flaw]:
    """Every reason `value` cannot be stored (at most `MAX_FLAWS`), each at its path under
    `where`; empty when it can be."""
    if _fine(value, MAX_DEPTH, _UNSTORABLE.search):
        return []
    found: list[Flaw] = []
    _collect(value, where, MAX_DEPTH, found)
    return found


def refuse(value: Any, where: str, error: type[Exception] = ValueError) -> None:
    """Raise `error` naming the first flaw of `value` (at `where`) if it cannot be stored."""
    found = flaws(value, where)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise error(f"{found[0]}{more}")


def _fine(value: Any, depth: int, search: Callable[[str], object] | None) -> bool:
    """`storable` for a value with `depth` levels of nesting left, strings checked by `search`
    (None: not checked). Exact types first, as JSON parsing makes them; loops, not generators,
    as this runs on every request."""
    kind = type(value)
    if kind is dict:
        if depth <= 0:
            return False
        for key, item in value.items():
            if search is not None and type(key) is str and search(key) is not None:
                return False
            if not _fine(item, depth - 1, search):
                return False
        return True
    if kind is list:
        if depth <= 0:
            return False
        for item in value:
            if not _fine(item, depth - 1, search):
                return False
        return True
    if kind is str:
        return search is None or search(value) is None
    if kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    return _fine_other(value, depth, search)


def _fine_other(value: Any, depth: int, search: Callable[[str], object] | None) -> bool:
    """`_fine` for other types: tuples and subclasses (numpy strings and floats, ordered
    dicts, ...); anything else is left to the JSON encoder."""
    if isinstance(value, str):
        return search is None or search(value) is None
    if isinstance(value, dict):
        return _fine(dict(value), depth, search)
    if isinstance(value, (list, tuple)):
        return _fine(list(value), depth, search)
    if isinstance(value, float):
        return math.isfinite(value)
    return True


def _collect(value: Any, where: str, depth: int, found: list[Flaw]) -> None:
    """Append the flaws of `value` at `where` to `found` (up to `MAX_FLAWS`)."""
    if len(found) >= MAX_FLAWS:
        return
    if isinstance(value, str):
        message = text_flaw(value)
        if message:
            found.append(Flaw(where, message))
    elif isinstance(value, float):
        if not math.isfinite(value):
            found.append(Flaw(where, f"is {value!r}, which JSON cannot hold"))
    elif isinstance(value, (dict, list, tuple)):
        if depth <= 0:
            found.append(Flaw(where, f"is nested more than {MAX_DEPTH} levels deep"))
            return
        pairs = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in pairs:
            inner = _path(where, key, isinstance(value, dict))
            message = text_flaw(key) if isinstance(key, str) else None
            if message:
                found.append(Flaw(inner, f"the key {message}"))
            _collect(item, inner, depth - 1, found)


def _path(where: str, key: Any, in_dict: bool) -> str:
    """The path of `key` under `where`: ``where.key``, ``where['odd key']`` or ``where[3]``."""
    if not in_dict:
        return f"{where}[{key}]"
    if isinstance(key, str) and key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where}[{key!r}]"
