"""What the one-file-per-image formats (YOLO, Pascal VOC) share: the one answer an image's
file holds, file stems unique within an export, the index of the task id each file holds,
and the tasks left out, and why.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path, PurePath
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from crowdnb.formats.base import Answer, Counts, Item, json_lines

if TYPE_CHECKING:
    from crowdnb.errors import Problem

# The one list of image file suffixes, lower case: compare `path.suffix.lower()` with it.
IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".gif", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp"})


def plain_name(name: str) -> bool:
    """Whether `name` is one file name, safe to join under a folder: not empty, not ``.`` or
    ``..``, and without a folder part (``../x``, ``a/b`` or ``/etc/passwd`` are refused)."""
    return name not in ("", ".", "..") and Path(name).name == name


def one_answer(item: Item, format: str) -> Answer | None:
    """The answer an image's file holds: None for a task nobody labeled; a ValueError when a
    raw export has labels by several workers (the file has no place for workers)."""
    if len(item.answers) > 1:
        workers = sorted(str(a.worker) for a in item.answers)
        raise ValueError(
            f"{format} holds one label per image, but task {item.id!r} has {len(item.answers)} ({workers}); "
            "export aggregated=True or choose one worker with workers=[...]"
        )
    return item.answers[0] if item.answers else None


class Stems:
    """File stems unique within an export, one per task: an image's own stem; when an earlier
    image had the same one, the stem prefixed by a short hash of its reference (as `media_name`
    does); for another task on the same image, that stem numbered (``_1``, ``_2``...). Readers
    replay the same references in the same order to find the files again."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._first: dict[str, str] = {}  # reference -> the stem its first task got
        self._repeats: dict[str, int] = {}

    def of(self, ref: str) -> str:
        stem = self._first.get(ref)
        if stem is None:
            stem = PurePath(ref).stem
            if stem in self._seen:
                stem = f"{hashlib.sha1(ref.encode()).hexdigest()[:8]}_{stem}"
            self._first[ref] = stem
        base, n = stem, self._repeats.get(stem, 0)
        while stem in self._seen:
            n += 1
            stem = f"{base}_{n}"
        self._repeats[base] = n
        self._seen.add(stem)
        return stem


def copied(payload: dict[str, Any], folder: Path, stem: str) -> str:
    """A task's image copied into `folder` as `stem` (with its own suffix), its name there; each
    task has its copy, so an image file and its label file stay one pair."""
    name = stem + PurePath(payload["image"]).suffix
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(payload["image"], folder / name)
    return name


# The export's index of task ids, at the dataset's root (beside data.yaml, Annotations/...),
# where Ultralytics, supervision and VOC tools, which read only their own files, pass it by.
TASKS = "crowdnb_tasks.jsonl"


class Tasks:
    """The index an export writes of the task each label file holds, a JSON line per file:
    ``{"file": "labels/img000.txt", "id": "img0"}`` (the file relative to the dataset's root).
    File names come from the images (`Stems`), so without the index the task ids would be lost
    (``img000``, ``img000_1`` for task ``img0`` and another task on the same image)."""

    def __init__(self, out: Path, counts: Counts) -> None:
        self._handle = (out / TASKS).open("w", encoding="utf-8")
        counts.files += 1

    def add(self, file: str, task_id: str) -> None:
        self._handle.write(json.dumps({"file": file, "id": task_id}, ensure_ascii=False) + "\n")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._handle.close()


def task_ids(root: Path, problems: list[Problem]) -> dict[str, str]:
    """The index's task id of each label file (relative to the dataset's `root`): empty for a
    dataset made elsewhere, without one (a task's id is then its file's stem). A line that is
    not a file and an id is noted in `problems`."""
    from crowdnb.errors import Problem

    index = root / TASKS
    if not index.is_file():
        return {}
    found: dict[str, str] = {}
    for source, entry in json_lines(index, problems):
        file, task_id = (entry.get("file"), entry.get("id")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(file, str) and isinstance(task_id, str) and task_id):
            problems.append(Problem(source, "id", f'expected {{"file": ..., "id": ...}} (strings), got {entry!r}'))
        elif file in found:
            problems.append(Problem(source, "id", f"the file {file!r} is listed again (as {found[file]!r} before)"))
        else:
            found[file] = task_id
    return found


class Left:
    """Tasks an export leaves out: those without a local image file, one by one, and those
    nobody labeled, summed up."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.unlabeled = 0

    def no_file(self, item: Item, format: str) -> None:
        why = "the image is a URL" if "image_url" in item.payload else "its image is not in this export's reach (outside the server's media folder)"
        self.counts.skipped.append(f"{item.id}: {format} needs image files; {why}")

    def close(self) -> None:
        if self.unlabeled:
            self.counts.skipped.append(f"{self.unlabeled} task(s) without labels: no file, not listed")
