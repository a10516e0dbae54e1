"""Hugging Face datasets: labels as a `datasets.Dataset` saved with ``save_to_disk``, and tasks
from any such dataset (a folder, or one in memory with `tasks_from_dataset`).

One row per label, like the tables: ``id`` (the task), the media, ``label`` (a ``ClassLabel``
of the project's classes, a list of them for multi-label, a string for captions and free text;
boxes as ``objects`` ``{bbox: [[x, y, w, h]], category: [ClassLabel]}``, the Hub's detection
convention), then ``worker``, ``status``, ``annotation_id`` (raw) or ``confidence``
(aggregated), and the task's metadata as JSON text in ``meta``.

Images: ``save_to_disk`` always embeds the bytes of an ``Image()`` column and keeps only the
file's base name, so ``media="copy"`` writes an ``Image()`` column (a self-contained dataset),
while ``media="path"`` (the default) writes the paths or URLs as strings, as ``datasets``
advises; ``cast_column("image", Image())`` decodes them.

The dataset is built with ``Dataset.from_generator``, which writes Arrow shards as rows come;
its cache is a temporary folder beside the export, removed afterwards.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crowdnb.errors import require
from crowdnb.formats.base import (
    RAW_FIELDS,
    Context,
    Counts,
    Format,
    Item,
    answer_fields,
    classes_of,
    frame,
    media_name,
)
from crowdnb.intake import to_json

if TYPE_CHECKING:
    import datasets
    import pandas as pd

BATCH = 1_000
CLASS_KINDS = frozenset({"image-class", "text-class"})
LIST_KINDS = frozenset({"image-multilabel", "text-multilabel"})
STRING_KINDS = frozenset({"caption", "free-text"})
KINDS = CLASS_KINDS | LIST_KINDS | STRING_KINDS | {"bbox"}
LABELS_AS = ("prediction", "answer")
Resolve = Callable[[str], str]  # an image reference read from a dataset, as add_tasks takes it


def _datasets() -> Any:
    return require("datasets", feature="the hf-dataset format", extra="hf")


def _label_column(context: Context) -> str:
    return "objects" if context.kind.name == "bbox" else "label"


def _features(context: Context) -> datasets.Features:
    """The dataset's columns for the project's kind and the export options."""
    ds = _datasets()
    names = classes_of(context.config)
    media = context.kind.media.column
    embedded = media == "image" and context.options.media == "copy"
    columns: dict[str, Any] = {"id": ds.Value("string"), media: ds.Image() if embedded else ds.Value("string")}
    if context.kind.name in CLASS_KINDS:
        columns["label"] = ds.ClassLabel(names=names)
    elif context.kind.name in LIST_KINDS:
        columns["label"] = ds.List(ds.ClassLabel(names=names))
    elif context.kind.name == "bbox":
        columns["objects"] = {"bbox": ds.List(ds.List(ds.Value("float64"), length=4)), "category": ds.List(ds.ClassLabel(names=names))}
    else:
        columns["label"] = ds.Value("string")
    if context.options.aggregated:
        columns["confidence"] = ds.Value("float64")
    else:
        columns.update({name: ds.Value("string") for name in RAW_FIELDS})
    columns["meta"] = ds.Value("string")
    return ds.Features(columns)


def _encoder(context: Context) -> Callable[[Any], Any]:
    """A label as the dataset holds it (class indices; boxes as the ``objects`` columns)."""
    index = {name: n for n, name in enumerate(classes_of(context.config))}
    kind = context.kind.name
    if kind in CLASS_KINDS:
        return lambda label: index[label]
    if kind in LIST_KINDS:
        return lambda label: [index[name] for name in label]
    if kind == "bbox":
        return lambda label: {"bbox": [[b["x"], b["y"], b["w"], b["h"]] for b in label], "category": [index[b["label"]] for b in label]}
    return lambda label: label


def _media(item: Item, context: Context) -> Any:
    """The media cell: the text, the image's path or URL, or (copied) its bytes and a unique name."""
    if context.kind.media.column == "text":
        return item.payload.get("text")
    if context.options.media == "copy":
        return {"bytes": Path(item.payload["image"]).read_bytes(), "path": media_name(item.payload)}
    return context.media_ref(item.payload)


def _examples(items: Iterator[Item], context: Context, counts: Counts) -> Iterator[dict[str, Any]]:
    """One example per label; tasks whose image cannot be embedded (a URL) are skipped."""
    encode, column, media = _encoder(context), _label_column(context), context.kind.media.column
    for item in items:
        counts.tasks += 1
        if not item.answers:
            continue
        if context.options.media == "copy" and media == "image" and "image" not in item.payload:
            counts.skipped.append(f"task {item.id!r}: an image URL cannot be embedded; export with media='path'")
            continue
        cell = _media(item, context)
        for answer in item.answers:
            example = {
                "id": item.id, media: cell, column: encode(answer.label), "meta": to_json(item.meta),
                **answer_fields(answer, context.options),
            }
            counts.labels += 1
            if context.kind.name == "bbox":
                counts.objects += len(answer.label)
            yield example


def _chained(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _write(items: Iterator[Item], out: Path, context: Context) -> Counts:
    ds = _datasets()
    counts = Counts()
    features = _features(context)
    examples = _examples(items, context, counts)
    first = next(examples, None)
    with tempfile.TemporaryDirectory(prefix=".hf-cache.", dir=out.parent) as cache:
        if first is None:  # from_generator refuses an empty split
            built = ds.Dataset.from_dict({name: [] for name in features}, features=features)
        else:
            built = ds.Dataset.from_generator(
                _chained, features=features, cache_dir=cache, fingerprint=uuid.uuid4().hex,
                gen_kwargs={"first": first, "rest": examples},
            )
        built.save_to_disk(str(out), num_shards=None if first is not None else 1)  # else no shard, which cannot be loaded
        del built  # its Arrow files in the cache are memory-mapped
    counts.files = len(list(out.glob("*.arrow")))
    return counts


def _class_names(feature: Any) -> list[str] | None:
    ds = _datasets()
    return list(feature.names) if isinstance(feature, ds.ClassLabel) else None


def _label_decoder(feature: Any) -> Callable[[Any], Any]:
    """A label cell as `add_tasks` takes it: class indices as names (-1, the Hub's "no
    label", as None), boxes from ``objects``, other values as they are."""
    ds = _datasets()
    names = _class_names(feature)
    if names is not None:
        return lambda v: names[v] if v is not None and v >= 0 else None
    inner = _class_names(feature.feature) if isinstance(feature, ds.List) else None
    if inner is not None:
        return lambda v: [inner[n] for n in v] if v is not None else None
    if isinstance(feature, dict) and {"bbox", "category"} <= feature.keys():
        categories = _class_names(feature["category"].feature) if isinstance(feature["category"], ds.List) else None
        return lambda v: _boxes(v, categories)
    return lambda v: v


def _media_decoder(feature: Any, images: Path | None, resolve: Resolve | None) -> Callable[[Any], Any]:
    """A media cell as `add_tasks` takes it: a text as it is, an image as a path or URL
    (`resolve`d; embedded bytes written once to `images`)."""
    if isinstance(feature, _datasets().Image):
        return lambda v: _image_path(v, images, resolve or _same)
    if resolve is not None:
        return lambda v: resolve(v) if isinstance(v, str) else v
    return lambda v: v


def _same(ref: str) -> str:
    return ref


def _task_id(value: Any) -> str | None:
    return str(value) if value is not None else None


def _decoders(
    features: Any, columns: dict[str, str], media: str, images: Path | None, resolve: Resolve | None,
) -> dict[str, Callable[[Any], Any]]:
    """How each chosen column (output name -> dataset column) is decoded: the `media` (image
    references `resolve`d; None for texts), the ``id``, and the rest as labels."""
    decoders: dict[str, Callable[[Any], Any]] = {}
    for out, name in columns.items():
        if out == media:
            decoders[out] = _media_decoder(features[name], images, resolve)
        else:
            decoders[out] = _task_id if out == "id" else _label_decoder(features[name])
    return decoders


def _boxes(value: dict[str, Any] | None, categories: list[str] | None) -> list[dict[str, Any]] | None:
    """``objects`` (``bbox`` as [x, y, w, h], ``category``) as the bbox kind's label."""
    if value is None:
        return None
    return [
        {"label": categories[c] if categories is not None else c, "x": x, "y": y, "w": w, "h": h}
        for (x, y, w, h), c in zip(value["bbox"], value["category"], strict=True)
    ]


def _image_path(value: dict[str, Any] | None, images: Path | None, resolve: Resolve) -> str | None:
    """The file of an ``Image()`` cell: its (`resolve`d) path or URL when that file exists,
    else its bytes written to `images` under a name made from their hash (so twice is once)."""
    if value is None:
        return None
    path = value.get("path")
    if path and ("://" in path or Path(resolve(path)).is_file()):
        return resolve(path)
    data = value.get("bytes")
    if data is None:
        return path
    if images is None:
        raise ValueError(f"image {path or '(no name)'!r} is embedded in the dataset; pass images= a folder to write it to")
    target = images / f"{hashlib.sha1(data).hexdigest()[:12]}_{Path(path or 'image').name}"
    if not target.exists():
        images.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return str(target)


def _splits(loaded: Any, name: str) -> Iterator[tuple[str, Any]]:
    """(source prefix, dataset) of a loaded `Dataset` or of each split of a `DatasetDict`."""
    ds = _datasets()
    if isinstance(loaded, ds.DatasetDict):
        for split, part in loaded.items():
            yield f"{name}/{split}", part
    else:
        yield name, loaded


def _records(dataset: Any, columns: dict[str, str], decoders: dict[str, Callable[[Any], Any]]) -> Iterator[dict[str, Any]]:
    """The dataset's rows, as {output name: decoded cell} of the chosen `columns`, read in
    Arrow batches (nothing decoded but what is asked for)."""
    for batch in dataset.select_columns(list(columns.values())).with_format("arrow").iter(batch_size=BATCH):
        cells = {out: [decoders[out](v) for v in batch.column(name).to_pylist()] for out, name in columns.items()}
        for n in range(batch.num_rows):
            yield {out: values[n] for out, values in cells.items()}


def _read(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    ds = _datasets()
    media, label = context.kind.media.column, _label_column(context)
    for prefix, dataset in _splits(ds.load_from_disk(str(path)), path.name):
        if media not in dataset.features:
            raise ValueError(f"{prefix}: no {media!r} column for {context.kind.name} tasks; columns: {list(dataset.features)}")
        columns = {name: name for name in (media, "id", label) if name in dataset.features}
        resolve = (lambda ref: context.resolve(ref, path)) if media == "image" else None
        decoders = _decoders(dataset.features, columns, media, path / "images", resolve)
        rows = []
        for n, record in enumerate(_records(dataset, columns, decoders)):
            rows.append({media: record[media], "id": record.get("id"), "label": record.get(label), "source": f"{prefix}:row {n}"})
            if len(rows) >= BATCH:
                yield frame(rows, media)
                rows = []
        if rows:
            yield frame(rows, media)


def tasks_from_dataset(
    dataset: datasets.Dataset, *, image: str | None = None, text: str | None = None, label: str | None = None,
    id: str | None = None, as_: str = "prediction", images: str | Path | None = None,
) -> pd.DataFrame:
    """Tasks for `Project.add_tasks` from a Hugging Face dataset's named columns: the `image`
    (an ``Image()`` or a path) or `text` column, the task `id`, and a `label` column as
    predictions or known answers (`as_`), class indices turned into their names. Images
    embedded in the dataset are written to the folder `images`."""
    import pandas as pd

    if (image is None) == (text is None):
        raise ValueError("name exactly one media column: image= or text=")
    if as_ not in LABELS_AS:
        raise ValueError(f"as_ must be one of {LABELS_AS}, got {as_!r}")
    media = "image" if image is not None else "text"
    wanted = {media: image or text, "id": id, as_: label}
    columns = {out: name for out, name in wanted.items() if name is not None}
    missing = sorted(set(columns.values()) - set(dataset.features))
    if missing:
        raise ValueError(f"no column {missing} in the dataset; columns: {list(dataset.features)}")
    folder = Path(images) if images is not None else None
    decoders = _decoders(dataset.features, columns, media, folder, _same if media == "image" else None)
    records = list(_records(dataset, columns, decoders))
    return pd.DataFrame({out: pd.Series([r[out] for r in records], dtype=object) for out in columns})


def _validate(path: Path, context: Context, counts: Counts) -> None:
    """The folder as `datasets.load_from_disk` loads it: one row per label written."""
    found = _datasets().load_from_disk(str(path)).num_rows
    if found != counts.labels:
        raise ValueError(f"datasets read {found} rows from {path.name}, but {counts.labels} labels were written")


FORMAT = Format(
    "hf-dataset", KINDS, "a Hugging Face dataset (save_to_disk): ClassLabel classes, Image or text, one row per label",
    _write, _read, folder=True, extra="hf", validate=_validate,
)

__all__ = ["FORMAT", "tasks_from_dataset"]
