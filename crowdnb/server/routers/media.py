"""Task images, served from the media root and never from outside it."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from crowdnb.server.deps import Caller, MediaRoot
from crowdnb.server.media import OutsideMediaRoot, resolve_media

router = APIRouter(tags=["media"])


@router.get("/media/{path:path}")
def media(root: MediaRoot, caller: Caller, path: str) -> FileResponse:
    """A media file by its path relative to the media root (any caller with a valid token)."""
    try:
        target = resolve_media(root, path)
    except OutsideMediaRoot as exc:
        raise HTTPException(403, str(exc)) from None
    if not target.is_file():
        raise HTTPException(404, "no such media file")
    return FileResponse(target)
