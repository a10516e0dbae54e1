"""Task images, for the callers who may see the task, from inside the media root only.

A caller sends a project and a task id, never a path: the server looks up the task's stored
image itself. Images are private: browsers may keep them but must ask again each time
(``Cache-Control: private, no-cache``), which costs a 304 when the ETag still matches and lets
a worker who left the project stop seeing them.
"""

from __future__ import annotations

import os
import stat
from email.utils import formatdate
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response

from crowdnb.media import BROWSER_FORMATS, read_image
from crowdnb.server.deps import MediaRoot, ProjectCaller, StoreDep, member_project
from crowdnb.server.media import MEDIA_ROUTE, inside_root
from crowdnb.server.routing import CheckedRoute

router = APIRouter(tags=["media"], route_class=CheckedRoute)
TaskIdPath = Annotated[int, PathParam(ge=1, le=2**63 - 1, description="the task's id, as claims give it")]


IMAGE = {200: {"description": "the image", "content": {media_type: {} for media_type in sorted(set(BROWSER_FORMATS.values()))}}}


@router.get(MEDIA_ROUTE, response_class=Response, responses=IMAGE)
def task_media(
    request: Request, store: StoreDep, root: MediaRoot, access: ProjectCaller, project: str, task_id: TaskIdPath
) -> Response:
    """A task's image: for a worker only of their own tasks (held, labeled or sent back for
    rework), for an inspector of the project's labeled tasks, for a manager of any. Non-members
    get 403; a task the caller may not see, or of another project, 404. Formats browsers cannot
    show come as PNG."""
    info = member_project(access, project, "worker", "inspector", "manager")
    payload = store.visible_payload(info.id, task_id, access.account)
    if payload is None:
        raise HTTPException(404, f"no task {task_id} of project {project!r} among those you may see")
    if "image" not in payload:
        raise HTTPException(404, f"task {task_id} of project {project!r} has no image file on the server")
    target = inside_root(root, payload["image"])
    if target is None:
        raise HTTPException(403, f"the image of task {task_id} of project {project!r} is outside the media root")
    try:
        found = target.stat()
    except OSError:
        found = None
    if found is None or not stat.S_ISREG(found.st_mode):
        raise HTTPException(404, f"the image file of task {task_id} of project {project!r} is missing")
    return _image(request, target, found, payload)


def _image(request: Request, target: Path, found: os.stat_result, payload: dict[str, Any]) -> Response:
    """The file's own bytes for browser formats (others converted to PNG), or 304 when the
    caller's copy is current."""
    headers = {
        "Cache-Control": "private, no-cache",
        "ETag": f'"{found.st_mtime_ns:x}-{found.st_size:x}"',
        "Last-Modified": formatdate(found.st_mtime, usegmt=True),
        "X-Content-Type-Options": "nosniff",
    }
    if _matches(request.headers.get("if-none-match"), headers["ETag"]):
        return Response(status_code=304, headers=headers)
    mime = BROWSER_FORMATS.get(payload.get("format", ""))
    if mime is not None:
        return FileResponse(target, media_type=mime, headers=headers, stat_result=found)
    data, mime = read_image({**payload, "image": str(target)})
    return Response(data, media_type=mime, headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as for GET)."""
    if if_none_match is None:
        return False
    tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
    return "*" in tags or etag in tags
