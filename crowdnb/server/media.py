"""Serving task images from the media root, and nothing outside it."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import unquote


class OutsideMediaRoot(ValueError):
    """A requested path that would leave the media root."""


def resolve_media(root: Path, requested: str) -> Path:
    """The file for `requested` (a path relative to `root`), refusing anything that escapes it:
    ``..`` parts, absolute paths, percent-encoded variants, and symlinks pointing outside."""
    text = requested
    for _ in range(3):  # undo double encoding before looking at the parts
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    if "\x00" in text or "\\" in text:
        raise OutsideMediaRoot(f"bad characters in media path {requested!r}")
    relative = PurePosixPath(text)
    if relative.is_absolute() or any(part in ("..", "") for part in relative.parts) or not relative.parts:
        raise OutsideMediaRoot(f"media path {requested!r} must be relative and stay inside the media root")
    base = root.resolve()
    target = (base / relative).resolve()
    if not target.is_relative_to(base):
        raise OutsideMediaRoot(f"media path {requested!r} leads outside the media root")
    return target


def media_relative(root: Path, absolute: str) -> str | None:
    """`absolute` as a path relative to the media root, or None if it is not inside it."""
    base = root.resolve()
    path = Path(absolute).resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else None
