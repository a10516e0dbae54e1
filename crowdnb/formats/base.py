"""What every format shares: the export options, the items a project is written as, the
context a format writes and reads in, and the files it leaves (atomically, with a manifest).

A format is a module of this package with a `FORMAT` (`Format`): the kinds it carries, a
`write` that turns a stream of `Item`s into files, and, when the format can be read back, a
`read` that turns files into frames of tasks (`media column`, ``id``, ``label``, ``source``)
ready for `Project.add_tasks` as predictions or known answers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.errors import Problem
    from crowdnb.kinds import Kind

MEDIA_MODES = ("path", "copy")
PIECE = 5_000  # rows per frame a reader yields
RAW_FIELDS = ("worker", "status", "annotation_id")  # what a raw export records of each label


@dataclass(frozen=True)
class Options:
    """What to export: every worker's label (raw) or one answer per task (`aggregated`, with
    its confidence, dropping those below `min_confidence`); only approved labels; only some
    `workers`; media referred to by path (relative to `media_root` when given) or copied."""

    aggregated: bool = False
    approved_only: bool = False
    min_confidence: float | None = None
    workers: tuple[str, ...] | None = None
    media: str = "path"
    media_root: str | None = None
    method: str | None = None

    def __post_init__(self) -> None:
        if self.media not in MEDIA_MODES:
            raise ValueError(f"media must be one of {MEDIA_MODES}, got {self.media!r}")
        if self.min_confidence is not None and not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must be within 0-1, got {self.min_confidence!r}")
        if self.min_confidence is not None and not self.aggregated:
            raise ValueError("min_confidence applies to aggregated results: pass aggregated=True")
        if self.method is not None and not self.aggregated:
            raise ValueError("method applies to aggregated results: pass aggregated=True")

    def described(self) -> dict[str, Any]:
        """The options as the manifest records them."""
        return {
            "aggregated": self.aggregated, "approved_only": self.approved_only, "min_confidence": self.min_confidence,
            "workers": list(self.workers) if self.workers is not None else None, "media": self.media,
            "media_root": self.media_root, "method": self.method,
        }


@dataclass(frozen=True)
class Answer:
    """One label of a task, as its kind's schema has it: a worker's (raw export) or the
    aggregated one (worker None, with its `confidence` and, for a list of shapes, regions or
    spans, each one's `agreement` among the workers)."""

    label: Any
    worker: str | None = None
    status: str | None = None
    annotation_id: str | None = None
    confidence: float | None = None
    agreement: list[float] | None = None


def answer_fields(answer: Answer, options: Options) -> dict[str, Any]:
    """What an export records of an answer beside its label: its confidence (aggregated), or
    its worker, status and annotation id (raw)."""
    if options.aggregated:
        return {"confidence": answer.confidence}
    return {key: getattr(answer, key) for key in RAW_FIELDS}


@dataclass(frozen=True)
class Item:
    """A task as it is written: its id, payload (image path and size, or text), metadata and
    the answers being exported (none for a task nobody labeled)."""

    id: str
    payload: dict[str, Any]
    meta: dict[str, Any]
    answers: list[Answer] = field(default_factory=list)


@dataclass
class Counts:
    """What an export wrote, for the manifest and the caller: the project's `tasks` it went
    through (formats with a list of images, such as COCO, list every one; formats of labels
    only, such as CoNLL or YOLO, leave out the unlabeled ones), the `labels` written, their
    `objects` (boxes, polygons, regions, spans, point sets, as the format counts its entries),
    the `files` written, and what was `skipped`: each thing not written as it is stored, and
    why."""

    tasks: int = 0
    labels: int = 0
    objects: int = 0
    files: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "labels": self.labels, "objects": self.objects, "files": self.files, "skipped": self.skipped}


@dataclass(frozen=True)
class Context:
    """The project a format writes or reads for: its name, kind, label configuration and the
    options; `media_ref` gives what a file records of a task's image."""

    project: str
    kind: Kind
    config: dict[str, Any]
    options: Options = Options()
    remote: bool = False  # read for a crowd server's project: relative image paths are the server's

    def media_ref(self, payload: dict[str, Any], out: Path | None = None) -> str | None:
        """The image as a file records it: its URL; its path relative to `media_root` when one
        is given (and the image is under it), else absolute; with ``media="copy"`` the copy's
        name inside `out`'s ``images`` folder (copied there once)."""
        if "image_url" in payload:
            return str(payload["image_url"])
        if "image" not in payload:
            return None
        path = Path(payload["image"])
        if self.options.media == "copy" and out is not None:
            name = media_name(payload)
            target = out / "images" / name
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
            return f"images/{name}"
        if self.options.media_root is not None:
            root = Path(self.options.media_root).resolve()
            if path.is_relative_to(root):
                return path.relative_to(root).as_posix()
        return str(path)

    def resolve(self, ref: str, base: Path) -> str:
        """An image reference read from a file, as `add_tasks` takes it: URLs as they are,
        absolute paths as they are, relative ones under `media_root` (else beside the file;
        for a crowd server's project without `media_root`, as they are: relative to the
        server's media folder, as its exports write them)."""
        if "://" in ref or os.path.isabs(ref) or (self.remote and self.options.media_root is None):
            return ref
        root = Path(self.options.media_root) if self.options.media_root is not None else base
        return str(root / ref)


def media_name(payload: dict[str, Any]) -> str:
    """A file name for a task's image that is unique within an export: the image's own name,
    prefixed by a short hash of its full path (two folders may hold the same name)."""
    import hashlib

    ref = str(payload.get("image") or payload.get("image_url"))
    digest = hashlib.sha1(ref.encode()).hexdigest()[:8]
    return f"{digest}_{Path(ref).name}"


Writer = Callable[[Iterator[Item], Path, Context], Counts]
Reader = Callable[[Path, Context], Iterator["pd.DataFrame"]]
Validator = Callable[[Path, Context, Counts], None]  # raises ValueError saying what the format's own tool refused


@dataclass(frozen=True)
class Format:
    """A file format: its name, the kinds it carries, whether it is one file or a folder, how
    it is written, (when it can be) read, and checked by the format's own reference reader."""

    name: str
    kinds: frozenset[str]
    description: str
    write: Writer | None  # None: read only (e.g. a folder of images)
    read: Reader | None = None
    folder: bool = False  # written as a folder (e.g. YOLO's labels/ and data.yaml), not one file
    extra: str | None = None  # the crowdnb extra it needs, if any
    validate: Validator | None = None  # loads a written file with the format's reference reader

    def carries(self, kind: str) -> bool:
        return kind in self.kinds


@contextmanager
def replaced(path: Path, *, folder: bool) -> Iterator[Path]:
    """A temporary file or folder beside `path` that replaces it once written completely (an
    interrupted export leaves the old one, never a half-written file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if folder:
        work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    else:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
        work = Path(name)
    try:
        yield work
        _readable(work, folder=folder)
        if folder and path.exists():
            old = path.with_name(f".{path.name}.old")
            _remove(old)
            path.rename(old)
            work.rename(path)
            _remove(old)
        else:
            if path.is_dir():
                shutil.rmtree(path)
            os.replace(work, path)
    except BaseException:
        _remove(work)
        raise


def _remove(path: Path) -> None:
    """`path` gone, whether a folder or a file (or nothing)."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _readable(work: Path, *, folder: bool) -> None:
    """The permissions a file or folder made with the user's umask would have (mkstemp and
    mkdtemp make them private to the user, and a training job of another user could not read
    the export)."""
    umask = os.umask(0)
    os.umask(umask)
    work.chmod((0o777 if folder else 0o666) & ~umask)
    if folder:
        for inner in work.rglob("*"):
            if inner.is_dir():
                inner.chmod(0o777 & ~umask)


def manifest_path(path: Path, *, folder: bool) -> Path:
    """Where an export's manifest goes: inside a folder export, beside a file one."""
    return path / "manifest.json" if folder else path.with_name(path.name + ".manifest.json")


def classes_of(config: dict[str, Any]) -> list[str]:
    """The project's classes (category names) in their order; empty for kinds without."""
    return list(config.get("classes") or [])


def pieces(rows: Iterable[dict[str, Any]], media: str, problems: list[Problem]) -> Iterator[pd.DataFrame]:
    """A reader's rows, as they are read, in frames of at most `PIECE` rows. Once a row's
    problem is noted in `problems` no more frames are yielded, and at the end every problem is
    raised at once (`ValidationError`), so that a dry run names every bad row."""
    from crowdnb.errors import ValidationError

    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= PIECE:
            if not problems:
                yield frame(batch, media)
            batch = []
    if problems:
        raise ValidationError(problems)
    if batch:
        yield frame(batch, media)


def json_lines(path: Path, problems: list[Problem]) -> Iterator[tuple[str, Any]]:
    """Each non-blank line of a JSON lines file as (``file:line``, value); a line that is not
    JSON is noted in `problems`."""
    import json

    from crowdnb.errors import Problem

    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            source = f"{path.name}:{n}"
            try:
                yield source, json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(Problem(source, "", f"not JSON: {exc}"))


def frame(rows: Sequence[dict[str, Any]], media: str) -> pd.DataFrame:
    """Tasks read from a file as `add_tasks` takes them: the media column, ``id``, ``label``
    and ``source`` (file and line or record, for errors), in that order."""
    import pandas as pd

    columns = [media, "id", "label", "source"]
    out = pd.DataFrame(list(rows), columns=columns) if rows else pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return out
