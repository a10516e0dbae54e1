"""Task images on the server: where the API serves a task's image, and the rule that only files
inside the media root are ever read (paths sent by managers, and paths already stored)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import quote, unquote

MEDIA_ROUTE = "/projects/{project}/tasks/{task_id}/media"


class OutsideMediaRoot(ValueError):
    """A requested path that would leave the media root."""


def media_route(project: str, task_id: int) -> str:
    """The API path (under ``/api/v1``) of a task's image, as workers' payloads name it."""
    return MEDIA_ROUTE.format(project=quote(project, safe=""), task_id=task_id)


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


def inside_root(root: Path, stored: str) -> Path | None:
    """A stored image path with its symlinks followed, if it lies inside the media root (a
    local store may have stored any path, and a file may have become a symlink since)."""
    base = root.resolve()
    path = Path(stored).resolve()
    return path if path.is_relative_to(base) else None
