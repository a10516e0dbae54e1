"""Data in and out: the file formats that training pipelines and other labeling tools read.

`export` writes a project's labels (every worker's, or the aggregated answer per task) in a
format, with a manifest beside the data; `read` reads a file of a format back as frames of tasks
with their labels; `import_tasks` adds them to a project as model pre-labels (`prediction`),
known answers (`answer`) or bare tasks, after a dry run over every row.

Each format lives in its own module and is imported only when used (its optional dependencies
with it); `FORMATS` maps a format's name to that module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdnb.errors import Problem, ValidationError
from crowdnb.formats.base import Context, Counts, Format, Options, manifest_path, replaced

if TYPE_CHECKING:
    import os

    import pandas as pd

    from crowdnb.kinds import Kind
    from crowdnb.project import Project

# Format name -> the module of this package that defines its `FORMAT`.
FORMATS: dict[str, str] = {
    "coco": "coco",
    "yolo": "yolo",
    "voc": "voc",
    "coco-text": "ocr",
    "icdar2015": "ocr",
    "conll": "spans",
    "spacy-jsonl": "spans",
    "docbin": "spans",
    "chat-jsonl": "chat",
    "csv": "table",
    "parquet": "table",
    "jsonl": "table",
    "hf-dataset": "hf",
    "image-folder": "folder",
    "label-studio": "label_studio",
}
AS = ("prediction", "answer", "tasks")
# Why an id may repeat in a file: a raw export holds every worker's label of a task.
REPEATED = (
    "; a raw export has a row per worker's label, and a task takes one prediction or answer: "
    "import an aggregated export (aggregated=True), or one worker's (workers=[...]), or only the tasks (as_='tasks')"
)
IMPORT_CHUNK = 10_000  # rows checked, and added, at a time
PROGRESS_DELAY = 3.0  # seconds before a progress bar shows, unless asked for


def get(name: str) -> Format:
    """The format called `name`; a ValueError lists the known ones otherwise."""
    if name not in FORMATS:
        raise ValueError(f"unknown format {name!r}; formats: {sorted(FORMATS)}")
    module = import_module(f"crowdnb.formats.{FORMATS[name]}")
    found: Format = getattr(module, "FORMATS", {}).get(name) or module.FORMAT
    return found


def formats_for(kind: str, *, reading: bool = False) -> list[str]:
    """The formats that write labels of `kind` (with `reading`: that read them)."""
    found = (get(name) for name in sorted(FORMATS))
    return [f.name for f in found if f.carries(kind) and (f.read if reading else f.write) is not None]


def _format_for(name: str, kind: Kind, *, reading: bool = False) -> Format:
    found = get(name)
    if not found.carries(kind.name):
        raise ValueError(f"format {name!r} does not carry {kind.name} labels; formats for {kind.name}: {formats_for(kind.name, reading=reading)}")
    if (found.read if reading else found.write) is None:
        raise ValueError(
            f"format {name!r} can only be {'written' if reading else 'read'}; "
            f"formats that {'read' if reading else 'write'} {kind.name}: {formats_for(kind.name, reading=reading)}"
        )
    return found


@dataclass(frozen=True)
class Exported:
    """Where an export went and what it holds."""

    path: Path
    manifest: Path
    counts: Counts


def export(
    project: Project, path: str | os.PathLike[str], format: str, *, options: Options | None = None, validate: bool = False,
    progress: bool | None = None, **choices: Any,
) -> Exported:
    """Write `project`'s labels to `path` in `format` (see `Options` for `choices`): atomically
    (an interrupted export leaves what was there), with a manifest of the project, kind,
    options, counts, crowdnb version and time. `validate` loads the written file with the
    format's own reference reader (e.g. pycocotools for COCO) before it replaces `path`; a
    progress bar shows once it takes more than a few seconds (at once with `progress=True`,
    never with False)."""
    from tqdm.auto import tqdm

    from crowdnb.formats.source import items

    options = options or Options(**choices)
    if hasattr(project.store, "download_export"):  # a crowd server (`HttpStore`) writes it, from its own store
        return project.store.download_export(project.info.id, path, format, options, validate=validate)
    chosen = _format_for(format, project.kind)
    if options.media == "copy" and not chosen.folder:
        raise ValueError(
            f"format {format!r} is one file, which cannot hold the images: media='copy' is for the folder formats "
            f"({', '.join(n for n in formats_for(project.kind.name) if get(n).folder)})"
        )
    if validate and chosen.validate is None:
        raise ValueError(f"format {format!r} has no reference reader to validate with; export without validate=True")
    out = Path(path)
    context = Context(project.name, project.kind, project.config, options)
    total = project.store.count_tasks(project.info.id)
    with replaced(out, folder=chosen.folder) as work, tqdm(
        items(project, options), total=total, desc=f"exporting {format}", unit="task", **_bar(progress),
    ) as stream:
        counts = chosen.write(iter(stream), work, context)  # type: ignore[misc]  # _format_for checked it
        if validate and chosen.validate is not None:
            chosen.validate(work, context, counts)
        if chosen.folder:
            _write_manifest(manifest_path(work, folder=True), project, format, options, counts)
    manifest = manifest_path(out, folder=chosen.folder)
    if not chosen.folder:
        _write_manifest(manifest, project, format, options, counts)
    return Exported(out, manifest, counts)


def _write_manifest(path: Path, project: Project, format: str, options: Options, counts: Counts) -> None:
    from crowdnb import __version__

    manifest = {
        "project": project.name, "kind": project.kind.name, "config": project.config, "format": format,
        "options": options.described(), "counts": counts.as_dict(), "crowdnb": __version__,
        "exported_at": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
    }
    with replaced(path, folder=False) as work:  # never a half-written manifest beside the data
        work.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def read(
    path: str | os.PathLike[str], format: str, *, kind: str, config: dict[str, Any] | None = None,
    media_root: str | None = None, remote: bool = False,
) -> Iterator[pd.DataFrame]:
    """The tasks of a file (or folder) in `format` as frames of at most a few thousand rows:
    the kind's media column, ``id``, ``label`` (None where the file has none), indexed by
    ``source`` (file and line, or record) so errors name where a row came from. `config` is the
    project's label configuration (its classes, to map names; default: the kind's). `remote`
    keeps relative image paths as they are (for a crowd server, whose media folder they are in)."""
    from crowdnb import kinds

    chosen_kind = kinds.get(kind)
    chosen = _format_for(format, chosen_kind, reading=True)
    context = Context("", chosen_kind, config if config is not None else {}, Options(media_root=media_root), remote=remote)
    for found in chosen.read(Path(path), context):  # type: ignore[misc]  # _format_for checked it
        yield found.set_index("source")


@dataclass(frozen=True)
class Imported:
    """What an import did (or, in a dry run, would do)."""

    rows: int
    added: int
    dry_run: bool


def import_tasks(
    project: Project, path: str | os.PathLike[str], format: str, *, as_: str = "prediction", dry_run: bool = False,
    media_root: str | None = None, on_duplicate: str = "error", progress: bool | None = None,
) -> Imported:
    """Add the tasks of a file in `format` to `project`, their labels as model pre-labels
    (``as_="prediction"``), as known answers (``"answer"``) or dropped (``"tasks"``).

    Every row is checked first, in pieces of bounded size; a `ValidationError` lists every bad
    row by its file and line (or record) and field, and then nothing is stored. `dry_run` only
    checks. Tasks are then added a piece at a time, with a progress bar (see `export`). For a
    project on a crowd server, image paths stay relative (to the server's media folder) and the
    server checks each piece's rows as it takes them (all or nothing per piece).
    """
    from tqdm.auto import tqdm

    from crowdnb.intake import tasks_from_frame

    if as_ not in AS:
        raise ValueError(f"as_ must be one of {AS}, got {as_!r}")
    remote = hasattr(project.store, "download_export")
    existing = set(project.tasks()["id"].tolist()) if on_duplicate == "error" else set()
    problems: list[Problem] = []
    seen: dict[str, object] = {}
    rows = 0
    bar = tqdm(desc="checking", unit="task", **_bar(progress))
    for piece in _pieces(project, path, format, as_, media_root):
        first = _first(piece, seen)
        if "id" in piece:
            for source, task_id in zip(piece.index[~first].tolist(), piece["id"][~first].tolist(), strict=True):
                if as_ != "tasks":  # the same task again is harmless when only tasks are added
                    problems.append(Problem(source, "id", f"id {task_id!r} repeats {seen[task_id]!r}{REPEATED}"))
            piece = piece[first]
            for source, task_id in zip(piece.index.tolist(), piece["id"].tolist(), strict=True):
                if task_id in existing:
                    problems.append(Problem(source, "id", f"id {task_id!r} is already a task of {project.name!r}"))
        try:
            if not remote:  # a server checks the rows itself, its media folder holding the images
                tasks_from_frame(piece, project.kind, project.config)
        except ValidationError as exc:
            problems.extend(exc.problems)
        rows += len(piece)
        bar.update(len(piece))
    bar.close()
    if problems:
        raise ValidationError(problems)
    if dry_run:
        return Imported(rows, 0, True)
    added = 0
    seen.clear()
    bar = tqdm(total=rows, desc="adding", unit="task", **_bar(progress))
    for piece in _pieces(project, path, format, as_, media_root):
        piece = piece[_first(piece, seen)]
        added += project.add_tasks(piece, on_duplicate=on_duplicate, progress=False)
        bar.update(len(piece))
    bar.close()
    return Imported(rows, added, False)


def _first(piece: pd.DataFrame, seen: dict[str, object]) -> Any:
    """Which rows of `piece` bring a task id not `seen` before (in this piece or earlier ones;
    rows without an id always do); `seen` learns each id's first source."""
    import numpy as np

    if "id" not in piece:
        return np.ones(len(piece), dtype=bool)
    keep = []
    for source, task_id in zip(piece.index.tolist(), piece["id"].tolist(), strict=True):
        keep.append(task_id is None or task_id not in seen)
        if task_id is not None:
            seen.setdefault(task_id, source)
    return np.array(keep, dtype=bool)


def _bar(progress: bool | None) -> dict[str, Any]:
    """tqdm's options for a progress bar: shown at once (True), never (False), or once the work
    has taken `PROGRESS_DELAY` seconds (None)."""
    return {"disable": progress is False, "delay": 0 if progress else PROGRESS_DELAY}


def _pieces(project: Project, path: str | os.PathLike[str], format: str, as_: str, media_root: str | None) -> Iterator[pd.DataFrame]:
    """The file's rows as `add_tasks` frames of at most `IMPORT_CHUNK` rows."""
    remote = hasattr(project.store, "download_export")  # a crowd server: image paths are its media folder's
    for found in read(path, format, kind=project.kind.name, config=project.config, media_root=media_root, remote=remote):
        for start in range(0, max(len(found), 1), IMPORT_CHUNK):
            piece = found.iloc[start:start + IMPORT_CHUNK]
            if piece.empty:
                continue
            piece = piece.drop(columns=["id"]) if piece["id"].isna().all() else piece
            label = piece.pop("label")
            if as_ != "tasks" and label.notna().any():
                piece = piece.assign(**{as_: label})
            yield piece


__all__ = ["AS", "FORMATS", "Context", "Counts", "Exported", "Format", "Imported", "Options", "export", "formats_for", "get", "import_tasks", "read"]
