"""Tasks from a folder of images, and the read-only format "image-folder" over it.

`image_folder` lists the image files under a folder (by extension, recursively, sorted), each
with its path relative to the folder as its task id and, in the ImageFolder convention, its
parent folder's name as its class (``cat/001.jpg`` is a cat). Images are not opened here:
`Project.add_tasks` reads each one's size when it is added.

A file whose real path (symlinks resolved) is outside the folder is skipped, with a warning
naming it, so a link cannot pull in files from elsewhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from crowdnb.formats.base import Context, Format, frame
from crowdnb.formats.imagefiles import IMAGE_SUFFIXES

if TYPE_CHECKING:
    import os

    import pandas as pd

LABELS_FROM = ("parent", None)
BATCH = 5_000
KINDS = frozenset({"image-class", "image-multilabel", "bbox", "polygon", "keypoints", "ocr", "caption"})


def _found(root: Path, pattern: str) -> Iterator[tuple[str, Path]]:
    """(id, real path) of each image file matching `pattern` under `root`, in id order; files
    whose real path is outside `root` are left out, with one warning naming them."""
    outside = []
    found = sorted((path.relative_to(root).as_posix(), path) for path in root.glob(pattern) if path.suffix.lower() in IMAGE_SUFFIXES)
    for task_id, path in found:
        if not path.is_file():
            continue
        real = path.resolve()
        if not real.is_relative_to(root):
            outside.append(task_id)
            continue
        yield task_id, real
    if outside:
        warnings.warn(f"skipped {len(outside)} image(s) outside {str(root)!r} (through symlinks): {outside[:20]}", stacklevel=3)


def _label(task_id: str) -> str | None:
    """The class of an image in the ImageFolder convention: its parent folder's name (none for
    an image directly in the folder)."""
    parts = task_id.split("/")
    return parts[-2] if len(parts) > 1 else None


def image_folder(root: str | os.PathLike[str], pattern: str = "**/*", *, labels_from: str | None = None) -> pd.DataFrame:
    """The images under `root` as tasks for `Project.add_tasks`: ``image`` (the file's path)
    and ``id`` (its path relative to `root`), sorted by id; with ``labels_from="parent"`` a
    ``label`` column of each image's parent folder name (rename it to ``prediction`` or
    ``answer``). Extensions: those of `imagefiles.IMAGE_SUFFIXES` (jpg, jpeg, png, gif, webp,
    bmp, tif, tiff, dng, mpo), in any case."""
    import pandas as pd

    if labels_from not in LABELS_FROM:
        raise ValueError(f"labels_from must be one of {LABELS_FROM}, got {labels_from!r}")
    folder = _root(root)
    found = list(_found(folder, pattern))
    columns = {"image": [str(real) for _, real in found], "id": [task_id for task_id, _ in found]}
    if labels_from == "parent":
        columns["label"] = [_label(task_id) for task_id, _ in found]
    return pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in columns.items()})


def _root(root: str | os.PathLike[str]) -> Path:
    folder = Path(root).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"no folder at {str(folder)!r}")
    return folder


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    """The folder's images as tasks; for image-class, each labeled by its parent folder."""
    labeled = context.kind.name == "image-class"
    rows = []
    for task_id, real in _found(_root(path), "**/*"):
        rows.append({"image": str(real), "id": task_id, "label": _label(task_id) if labeled else None, "source": task_id})
        if len(rows) >= BATCH:
            yield frame(rows, "image")
            rows = []
    if rows:
        yield frame(rows, "image")


FORMAT = Format("image-folder", KINDS, "a folder of images, classes from their parent folders (read only)", None, _read, folder=True)

__all__ = ["FORMAT", "image_folder"]
