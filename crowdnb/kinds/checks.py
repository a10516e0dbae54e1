"""Small checks shared by the kinds: class lists, numbers, points inside an image.

Each raises `LabelError` (labels) or ValueError (project options) with a message that names the
offending field and value, e.g. ``boxes[2].w: expected a number > 0, got -3``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from crowdnb import values
from crowdnb.errors import LabelError

# Geometry may sit up to half a pixel outside the image (a box drawn to the very edge).
EDGE_TOLERANCE = 0.5


def class_list(kind: str, classes: Any) -> list[str]:
    """A project's classes: a non-empty list of distinct, non-empty strings."""
    if classes is None or isinstance(classes, (str, Mapping)) or not isinstance(classes, Iterable):
        raise ValueError(f"{kind}: `classes` must list at least one class, got {classes!r}")
    names = list(classes)
    if not names:
        raise ValueError(f"{kind}: `classes` must list at least one class")
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{kind}: class names must be non-empty strings, got {name!r}")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{kind}: class names repeat: {repeated}")
    return names


def no_options(kind: str, options: Mapping[str, Any], known: Iterable[str] = ()) -> None:
    """Refuse options a kind does not know (naming the ones it does, when given)."""
    if options:
        listed = f"; its options: {sorted(known)}" if known else ""
        raise ValueError(f"{kind}: unknown option(s) {sorted(options, key=repr)}{listed}")


def flag(value: Any, where: str) -> bool:
    """An on/off option: true or false, not a string or number that looks like one."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{where}: expected true or false, got {value!r}")
    return bool(value)


def count(value: Any, where: str, *, minimum: int = 0) -> int:
    """A whole-number option of at least `minimum`."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{where}: expected a whole number >= {minimum}, got {value!r}")
    return int(value)


def known_class(value: Any, config: dict[str, Any], where: str = "label") -> str:
    """`value` if it is one of the project's classes."""
    if not isinstance(value, str) or value not in config["classes"]:
        raise LabelError(f"{where}: unknown class {value!r}; expected one of {config['classes']}")
    return value


def record(value: Any, where: str, keys: set[str]) -> dict[str, Any]:
    """`value` as a dict with exactly `keys` (missing or extra keys are named)."""
    if not isinstance(value, dict):
        raise LabelError(f"{where}: expected an object with {sorted(keys)}, got {value!r}")
    missing, extra = keys - value.keys(), value.keys() - keys
    if missing or extra:
        raise LabelError(f"{where}: missing {sorted(missing)}, unexpected {sorted(extra)}")
    return value


def items(value: Any, where: str) -> list[Any]:
    """`value` if it is a list."""
    if not isinstance(value, list):
        raise LabelError(f"{where}: expected a list, got {value!r}")
    return value


def number(value: Any, where: str, *, positive: bool = False) -> float:
    """A finite number (rounded to 1/100 pixel), strictly positive if asked."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LabelError(f"{where}: expected a number, got {value!r}")
    if positive and value <= 0:
        raise LabelError(f"{where}: expected a number > 0, got {value!r}")
    return round(float(value), 2)


def text(value: Any, where: str, *, required: bool = True, max_chars: int | None = None) -> str:
    """A string, non-blank if required, storable (`crowdnb.values`), at most `max_chars` characters."""
    if not isinstance(value, str):
        raise LabelError(f"{where}: expected text, got {value!r}")
    if required and not value.strip():
        raise LabelError(f"{where}: must not be empty")
    flaw = values.text_flaw(value)
    if flaw:
        raise LabelError(f"{where}: {flaw}")
    if max_chars is not None and len(value) > max_chars:
        raise LabelError(f"{where}: {len(value)} characters, at most {max_chars} allowed")
    return value


def image_size(payload: dict[str, Any]) -> tuple[float, float] | None:
    """(width, height) of a task's image when known (local files; not remote URLs)."""
    if "width" in payload and "height" in payload:
        return float(payload["width"]), float(payload["height"])
    return None


def point(value: Any, where: str, size: tuple[float, float] | None) -> list[float]:
    """An [x, y] pair inside the image."""
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise LabelError(f"{where}: expected [x, y], got {value!r}")
    x, y = number(value[0], f"{where}[0]"), number(value[1], f"{where}[1]")
    inside(x, y, where, size)
    return [x, y]


def inside(x: float, y: float, where: str, size: tuple[float, float] | None) -> None:
    """Refuse a point outside the image (with `EDGE_TOLERANCE`)."""
    if size is None:
        return
    width, height = size
    if not (-EDGE_TOLERANCE <= x <= width + EDGE_TOLERANCE and -EDGE_TOLERANCE <= y <= height + EDGE_TOLERANCE):
        raise LabelError(f"{where}: ({x}, {y}) is outside the {width:g}x{height:g} image")
