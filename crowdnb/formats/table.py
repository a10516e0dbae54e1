"""Tables of labels for every kind: CSV, JSON lines and Parquet, one row per label.

Columns: ``task`` (the task id), the media column (``image`` path or URL, or ``text``), the
label, then ``worker``, ``status`` and ``annotation_id`` (raw export) or ``confidence``
(aggregated), then the task's metadata as ``meta``. A class is written as its name, a set of
classes as a list (JSON text in a CSV cell, a list column in Parquet), any other label as JSON
text in CSV and Parquet and as a JSON value in JSON lines.

Rows are written as they come, a few thousand at a time (Arrow's CSV and Parquet writers), so an
export of millions of labels holds one batch in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from crowdnb.errors import Problem
from crowdnb.formats.base import (
    PIECE,
    RAW_FIELDS,
    Context,
    Counts,
    Format,
    Item,
    answer_fields,
    json_lines,
    pieces,
)
from crowdnb.intake import to_json

BATCH = 5_000
STRING_KINDS = frozenset({"image-class", "text-class", "caption", "free-text"})
LIST_KINDS = frozenset({"image-multilabel", "text-multilabel"})
ALL_KINDS = frozenset({
    "image-class", "image-multilabel", "bbox", "polygon", "keypoints", "ocr", "caption",
    "text-class", "text-multilabel", "spans", "qa", "free-text",
})


def _schema(context: Context) -> pa.Schema:
    media = context.kind.media.column
    label = pa.list_(pa.string()) if context.kind.name in LIST_KINDS else pa.string()
    fields = [("task", pa.string()), (media, pa.string()), ("label", label)]
    if context.options.aggregated:
        fields.append(("confidence", pa.float64()))
    else:
        fields += [(name, pa.string()) for name in RAW_FIELDS]
    return pa.schema([*fields, ("meta", pa.string())])


def _rows(items: Iterator[Item], context: Context, out: Path, counts: Counts, *, as_json: bool) -> Iterator[list[dict[str, Any]]]:
    """Rows of the table in batches; labels as the format writes them (`as_json`: JSON values)."""
    media = context.kind.media.column
    plain = as_json or context.kind.name in STRING_KINDS | LIST_KINDS
    batch: list[dict[str, Any]] = []
    for item in items:
        counts.tasks += 1
        ref = context.media_ref(item.payload) if media == "image" else item.payload.get("text")
        for answer in item.answers:
            row: dict[str, Any] = {
                "task": item.id, media: ref, "label": answer.label if plain else to_json(answer.label),
                **answer_fields(answer, context.options), "meta": item.meta if as_json else to_json(item.meta),
            }
            batch.append(row)
            counts.labels += 1
            if len(batch) >= BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def _write_jsonl(items: Iterator[Item], out: Path, context: Context) -> Counts:
    counts = Counts(files=1)
    with out.open("w", encoding="utf-8") as handle:
        for batch in _rows(items, context, out, counts, as_json=True):
            handle.write("".join(to_json(row) + "\n" for row in batch))
    return counts


def _write_csv(items: Iterator[Item], out: Path, context: Context) -> Counts:
    from pyarrow import csv

    counts, schema = Counts(files=1), _schema(context)
    if context.kind.name in LIST_KINDS:  # a CSV cell holds the list as JSON text
        schema = schema.set(schema.get_field_index("label"), pa.field("label", pa.string()))
    with csv.CSVWriter(str(out), schema) as writer:
        for batch in _rows(items, context, out, counts, as_json=False):
            if context.kind.name in LIST_KINDS:
                batch = [{**row, "label": to_json(row["label"])} for row in batch]
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return counts


def _write_parquet(items: Iterator[Item], out: Path, context: Context) -> Counts:
    import pyarrow.parquet as pq

    counts, schema = Counts(files=1), _schema(context)
    with pq.ParquetWriter(str(out), schema) as writer:
        for batch in _rows(items, context, out, counts, as_json=False):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    return counts


def _label(value: Any, context: Context) -> Any:
    """A label cell as the kind takes it (JSON text parsed, except a class name)."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None
    if context.kind.name in STRING_KINDS:
        return value
    if context.kind.name in LIST_KINDS and not isinstance(value, str):
        return list(value)
    return json.loads(value) if isinstance(value, str) else value


def _tasks(
    records: Iterator[tuple[str, Any]], path: Path, context: Context, problems: list[Problem], *, labels_as_json: bool,
) -> Iterator[pd.DataFrame]:
    """Frames of tasks from (source, record) pairs: the task id from ``task`` (as exported) or
    ``id`` (a table of one's own; without either, the id is made from the content), the label
    from ``label`` (None when missing); a record that is not an object, or a label cell that
    is not JSON, is noted in `problems`."""
    media = context.kind.media.column

    def rows() -> Iterator[dict[str, Any]]:
        for source, record in records:
            if not isinstance(record, dict):
                problems.append(Problem(source, "", f"expected an object of columns, got {record!r}"))
                continue
            ref = record.get(media)
            if media == "image" and isinstance(ref, str):
                ref = context.resolve(ref, path.parent)
            label, task = record.get("label"), record.get("task", record.get("id"))
            try:
                label = label if labels_as_json else _label(label, context)
            except json.JSONDecodeError as exc:
                problems.append(Problem(source, "label", f"not JSON: {exc}"))
                continue
            yield {media: ref, "id": task if task not in ("", None) else None, "label": label, "source": source}

    return pieces(rows(), media, problems)


def _read_jsonl(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    problems: list[Problem] = []
    return _tasks(json_lines(path, problems), path, context, problems, labels_as_json=True)


def _read_csv(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    import csv as std_csv

    from pyarrow import csv

    with path.open(encoding="utf-8", newline="") as handle:
        header = next(std_csv.reader(handle), [])
    # Every cell as text, as written: Arrow would read a text `1` as a number, `true` as a bool.
    options = csv.ConvertOptions(strings_can_be_null=False, column_types={name: pa.string() for name in header})

    def records() -> Iterator[tuple[str, dict[str, Any]]]:
        n = 1  # the header is line 1
        with csv.open_csv(str(path), convert_options=options) as reader:
            for batch in reader:
                for record in batch.to_pylist():
                    n += 1
                    yield f"{path.name}:{n}", record

    return _tasks(records(), path, context, [], labels_as_json=False)


def _read_parquet(path: Path, context: Context) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    def records() -> Iterator[tuple[str, dict[str, Any]]]:
        n = 0
        for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=PIECE):
            for record in batch.to_pylist():
                yield f"{path.name}:row {n}", record
                n += 1

    return _tasks(records(), path, context, [], labels_as_json=False)


FORMATS = {
    "jsonl": Format("jsonl", ALL_KINDS, "JSON lines, one label per line", _write_jsonl, _read_jsonl),
    "csv": Format("csv", ALL_KINDS, "CSV, one label per row (structured labels as JSON text)", _write_csv, _read_csv),
    "parquet": Format("parquet", ALL_KINDS, "Parquet, one label per row", _write_parquet, _read_parquet),
}
