"""Exports: a project's labels in the formats other tools read (`crowdnb.formats`), as a download.

The server writes the export into a temporary folder (in the thread pool, like every blocking
route) and sends it in chunks: a one-file format as the file itself, its manifest in the
`X-Crowdnb-Manifest` header (base64url JSON); a folder format (YOLO, VOC, ...), or a file whose
manifest is too big for a header, as a ZIP with the manifest inside. `X-Crowdnb-Layout` says
whether the export is a ``file`` or a ``folder``. The temporary files are unlinked as soon as
the file to send is open, so none is left when the caller goes away mid-download.

Image paths are relative to the server's media folder, and an image outside it is not named
(the server does not serve it either): an export never shows where the server keeps its files.
Images are never copied into an export (``media=copy`` is refused).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote

import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import StreamingResponse

from crowdnb import formats
from crowdnb.formats import Exported, Options
from crowdnb.formats.base import manifest_path
from crowdnb.project import Project
from crowdnb.server.deps import MediaRoot, ProjectCaller, StoreDep, member_project
from crowdnb.server.media import inside_root
from crowdnb.server.routing import CheckedRoute
from crowdnb.store import ProjectInfo, SqlStore

router = APIRouter(prefix="/projects/{project}", tags=["exports"], route_class=CheckedRoute)
CHUNK = 1 << 20  # bytes read and sent at a time
# The largest manifest sent as a header (base64url bytes); reverse proxies refuse responses whose
# headers exceed a few KiB (nginx: 4 KiB by default), so a bigger one goes inside a ZIP.
MANIFEST_HEADER_MAX = 3 * 1024
SERVER_MEDIA = "(the server's media folder)"  # the manifest's media_root: the server's path stays on the server
# File name suffixes of one-file formats whose suffix is not their name.
SUFFIXES = {"coco": "json", "coco-text": "json", "label-studio": "json", "chat-jsonl": "jsonl", "spacy-jsonl": "jsonl", "docbin": "spacy"}
MEDIA_TYPES = {"csv": "text/csv", "json": "application/json", "jsonl": "application/x-ndjson", "zip": "application/zip"}
OTHER_MEDIA = "application/octet-stream"
DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {"description": "the export, as an attachment", "content": {t: {} for t in sorted({*MEDIA_TYPES.values(), OTHER_MEDIA})}},
    400: {"description": "media=copy: images are not copied into an export over the server"},
}


@dataclass(frozen=True)
class Download:
    """An export ready to send: its open file (already unlinked), size, name and manifest
    (for the header; None when it is inside the ZIP)."""

    handle: BinaryIO
    size: int
    name: str
    folder: bool
    manifest: str | None


class ServedProject(Project):
    """The project as the server exports it: an image by its real path (symlinks followed), so
    that it is named relative to the media root; an image outside the root not at all."""

    def __init__(self, store: SqlStore, info: ProjectInfo, root: Path) -> None:
        super().__init__(store, info)
        self.root = root

    def tasks(self) -> pd.DataFrame:
        found = super().tasks()
        found["payload"] = [self._served(payload) for payload in found["payload"]]
        return found

    def _served(self, payload: dict[str, Any]) -> dict[str, Any]:
        if "image" not in payload:
            return payload
        real = inside_root(self.root, payload["image"])
        if real is None:
            return {k: v for k, v in payload.items() if k != "image"}
        return {**payload, "image": str(real)}


@router.get("/export", response_class=StreamingResponse, responses=DOWNLOAD)
def export(
    store: StoreDep, root: MediaRoot, access: ProjectCaller, project: str, format: str,
    aggregated: bool = False, approved_only: bool = False, min_confidence: float | None = None,
    worker: Annotated[list[str] | None, Query(description="only these workers' labels (repeat for several)")] = None,
    method: str | None = None, media: str = "path", validate: bool = False,
) -> StreamingResponse:
    """The project's labels in `format` (``crowdnb.formats.FORMATS``) as a download (managers
    only): every worker's label, or with `aggregated` one answer per task (by `method`, at least
    `min_confidence`); `approved_only` and `worker` select raw labels. A one-file format comes
    as the file, its manifest in `X-Crowdnb-Manifest` (base64url JSON), or as a ZIP of both
    when the manifest is too big for a header; a folder format as a ZIP of the folder, its
    manifest inside (`X-Crowdnb-Layout`: file or folder). Image paths are relative to the
    server's media folder. With `validate`, the format's reference reader (pycocotools, spaCy,
    datasets) loads the file before it is sent."""
    info = member_project(access, project, "manager")
    if media == "copy":
        raise HTTPException(400, "media='copy' is not served: an export over the server names images by their path in the media folder")
    workers = tuple(worker) if worker else None
    options = Options(
        aggregated=aggregated, approved_only=approved_only, min_confidence=min_confidence, workers=workers, media=media,
        media_root=str(root), method=method,
    )
    return _response(_written(ServedProject(store, info, root), format, options, validate=validate))


def _written(project: Project, format: str, options: Options, *, validate: bool) -> Download:
    """The export of `project`, written in a temporary folder that is gone once its file is open."""
    suffix = SUFFIXES.get(format, format)
    name = f"{project.name}.{suffix}"
    work = Path(tempfile.mkdtemp(prefix="crowdnb-export-"))
    try:
        try:
            done = formats.export(project, work / f"export.{suffix}", format, options=options, validate=validate, progress=False)
        except ImportError as exc:  # a format this server does not have, or its extra (`MissingExtra`)
            raise HTTPException(422, f"format {format!r} is not available on this server: {exc}") from None
        folder = formats.get(format).folder
        manifest: str | None = base64.urlsafe_b64encode(_scrubbed(done.manifest)).decode()
        sent = done.path
        if folder or len(manifest) > MANIFEST_HEADER_MAX:
            sent, name, manifest = _zipped(done, folder, name, work / "export.zip"), f"{name}.zip", None
        handle = sent.open("rb")
        return Download(handle, os.fstat(handle.fileno()).st_size, name, folder, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _scrubbed(manifest: Path) -> bytes:
    """The manifest as sent, its `media_root` (the server's path) replaced by `SERVER_MEDIA`."""
    found = json.loads(manifest.read_text(encoding="utf-8"))
    found["options"]["media_root"] = SERVER_MEDIA
    text = (json.dumps(found, ensure_ascii=False, indent=2) + "\n").encode()
    manifest.write_bytes(text)
    return text


def _zipped(done: Exported, folder: bool, name: str, target: Path) -> Path:
    """A ZIP of a folder export (its manifest inside), or of a file export named `name` and its
    manifest, named as it would be beside the file."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        if folder:
            for path in sorted(p for p in done.path.rglob("*") if p.is_file()):
                archive.write(path, path.relative_to(done.path).as_posix())
        else:
            archive.write(done.path, name)
            archive.write(done.manifest, manifest_path(Path(name), folder=False).name)
    return target


def _response(download: Download) -> StreamingResponse:
    headers = {
        "Content-Disposition": _attachment(download.name), "Content-Length": str(download.size),
        "X-Crowdnb-Layout": "folder" if download.folder else "file",
    }
    if download.manifest is not None:
        headers["X-Crowdnb-Manifest"] = download.manifest
    media_type = MEDIA_TYPES.get(download.name.rsplit(".", 1)[-1], OTHER_MEDIA)
    return StreamingResponse(_chunks(download.handle), media_type=media_type, headers=headers)


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _attachment(name: str) -> str:
    """A Content-Disposition for `name`, percent-encoded (RFC 6266) unless it is plain ASCII."""
    quoted = quote(name)
    return f'attachment; filename="{name}"' if quoted == name else f"attachment; filename*=utf-8''{quoted}"
