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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from math import isfinite
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
    skips the strings, for JSON parsed from text whose escapes cannot make a NUL or a lone
    surrogate (see `crowdnb.server.routing`): only depth and numbers are left to check."""
    return _fine(value, MAX_DEPTH, strings)


def flaws(value: Any, where: str = "") -> list[Flaw]:
    """Every reason `value` cannot be stored (at most `MAX_FLAWS`), each at its path under
    `where`; empty when it can be."""
    if _fine(value, MAX_DEPTH, True):
        return []
    found: list[Flaw] = []
    _collect(value, where, MAX_DEPTH, found)
    return found


def refuse(value: Any, where: str, error: type[Exception] = ValueError) -> None:
    """Raise `error` naming the first flaw of `value` (at `where`) if it cannot be stored."""
    found = flaws(value, where)
    if found:
        capped = "+" if len(found) >= MAX_FLAWS else ""
        more = f" (and {len(found) - 1}{capped} more)" if len(found) > 1 else ""
        raise error(f"{found[0]}{more}")


def _bad_text(text: str) -> bool:
    """Whether `text` has a NUL or a lone surrogate (ASCII text, the common case, only the
    first; a C scan either way)."""
    return "\x00" in text if text.isascii() else _UNSTORABLE.search(text) is not None


def _fine(value: Any, depth: int, strings: bool) -> bool:
    """`storable` for a value with `depth` levels of nesting left (strings checked only if
    `strings`). This runs on every request: exact types as JSON parsing makes them first, and
    scalars inside a container checked in its loop rather than by a call each."""
    kind = type(value)
    if kind is dict:
        if strings and not _keys_fine(value):
            return False
        items: Iterable[Any] = value.values()
    elif kind is list:
        items = value
    else:
        return _fine_other(value, depth, strings)
    if depth <= 0:
        return False
    for item in items:
        kind = type(item)
        if kind is str:
            if strings and _bad_text(item):
                return False
        elif kind is float:
            if not isfinite(item):
                return False
        elif not (kind is int or kind is bool or item is None) and not _fine(item, depth - 1, strings):
            return False
    return True


def _keys_fine(value: dict[Any, Any]) -> bool:
    """Whether every string key of `value` is storable (other keys are the encoder's business);
    checked joined, as joining cannot make or hide a NUL or a lone surrogate."""
    try:
        return not _bad_text("".join(value))
    except TypeError:  # keys that are not all strings
        return not any(isinstance(k, str) and _bad_text(k) for k in value)


def _fine_other(value: Any, depth: int, strings: bool) -> bool:
    """`_fine` for other types: tuples and subclasses (numpy strings and floats, ordered
    dicts, ...); anything else is left to the JSON encoder."""
    if isinstance(value, str):
        return not (strings and _bad_text(value))
    if isinstance(value, dict):
        return _fine(dict(value), depth, strings)
    if isinstance(value, (list, tuple)):
        return _fine(list(value), depth, strings)
    if isinstance(value, float):
        return isfinite(value)
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
        if not isfinite(value):
            found.append(Flaw(where, f"is {float(value)!r}, which JSON cannot hold"))
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
