"""What the one-file-per-image formats (YOLO, Pascal VOC) share: the one answer an image's
file holds, file stems unique within an export, and the tasks left out, and why.
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath

from crowdnb.formats.base import Answer, Counts, Item

IMAGE_SUFFIXES = frozenset({".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp"})


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
    """File stems unique within an export: an image's own stem, or, when an earlier image had
    the same one, the stem prefixed by a short hash of its reference (as `media_name` does).
    Readers replay the same references in the same order to find the files again."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def of(self, ref: str) -> str:
        stem = PurePath(ref).stem
        if stem in self._seen:
            stem = f"{hashlib.sha1(ref.encode()).hexdigest()[:8]}_{stem}"
        self._seen.add(stem)
        return stem


class Left:
    """Tasks an export leaves out: those without a local image file, one by one, and those
    nobody labeled (or a second task on an image already written), summed up."""

    def __init__(self, counts: Counts) -> None:
        self.counts = counts
        self.unlabeled = 0

    def no_file(self, item: Item, format: str) -> None:
        self.counts.skipped.append(f"{item.id}: {format} needs image files; the image is a URL")

    def same_image(self, item: Item, first: str) -> None:
        self.counts.skipped.append(f"{item.id}: its image is task {first!r}'s, already written")

    def close(self) -> None:
        if self.unlabeled:
            self.counts.skipped.append(f"{self.unlabeled} task(s) without labels: no file, not listed")
