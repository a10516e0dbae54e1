"""Tasks in: turn a user's DataFrame into validated `NewTask`s, or say exactly what is wrong.

Columns with a meaning: the kind's media column (``image`` or ``text``), ``id`` (unique task ids;
made from the content when absent), ``answer`` (a known answer, validated like a label, never
shown to workers; refused by kinds whose labels cannot be checked automatically), ``prediction``
(a model's pre-label, validated like a label and shown for editing) and ``priority`` (higher
first). Every other column is kept as task metadata.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Hashable
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from crowdnb.errors import Problem, ValidationError
from crowdnb.kinds import Kind
from crowdnb.media import Media
from crowdnb.store.types import NewTask

RESERVED = ("id", "answer", "prediction", "priority")
MAX_ID_LENGTH = 200


def tasks_from_frame(
    frame: pd.DataFrame, kind: Kind, config: dict[str, Any], *, tick: Callable[[int], None] | None = None
) -> list[NewTask]:
    """Validate every row of `frame` and build its task; raises `ValidationError` listing all
    offending rows and fields, so a bad frame stores nothing."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"add_tasks expects a pandas DataFrame, got {type(frame).__name__}")
    media = kind.media.column
    if media not in frame.columns:
        raise ValidationError(
            [Problem("(all rows)", media, f"missing column; a {kind.name} task needs it (columns: {list(frame.columns)})")]
        )
    rows = list(frame.index)
    problems: list[Problem] = []
    payloads = _payloads(rows, frame[media].tolist(), kind.media, problems, tick)
    ids = _ids(rows, frame, payloads, problems)
    answers = _labels(rows, frame, "answer", kind.validate_answer, config, payloads, problems)
    predictions = _labels(rows, frame, "prediction", kind.validate_label, config, payloads, problems)
    for payload, prediction in zip(payloads, predictions):
        if prediction is not None:
            payload["prediction"] = prediction
    priorities = _priorities(rows, frame, problems)
    metas = _metas(rows, frame.drop(columns=[media, *[c for c in RESERVED if c in frame.columns]]), problems)
    if problems:
        raise ValidationError(problems)
    return [
        NewTask(external_id=i, payload=p, meta=m, known_answer=a, priority=q)
        for i, p, m, a, q in zip(ids, payloads, metas, answers, priorities, strict=True)
    ]


def _payloads(
    rows: list[Hashable],
    values: list[Any],
    media: Media,
    problems: list[Problem],
    tick: Callable[[int], None] | None,
) -> list[dict[str, Any]]:
    """Each row's payload by the kind's media (each distinct value checked once: an image file
    is opened once however many rows name it)."""
    payloads: list[dict[str, Any]] = []
    checked: dict[Any, dict[str, Any] | str] = {}
    for n, (row, value) in enumerate(zip(rows, values, strict=True)):
        key = (type(value), value) if isinstance(value, Hashable) else repr(value)
        if key not in checked:
            try:
                checked[key] = media.payload(value)
            except ValueError as exc:
                checked[key] = str(exc)
        result = checked[key]
        if isinstance(result, str):
            problems.append(Problem(row, media.column, result))
            payloads.append({})
        else:
            payloads.append(dict(result))
        if tick is not None and n % 1000 == 999:
            tick(1000)
    if tick is not None:
        tick(len(values) % 1000)
    return payloads


def _ids(
    rows: list[Hashable], frame: pd.DataFrame, payloads: list[dict[str, Any]], problems: list[Problem]
) -> list[str]:
    """Task ids: the ``id`` column as strings, else a stable hash of the content. Only valid ids
    (or, for content ids, rows whose media is valid) are checked for duplicates: two rows that
    are both wrong are not the same task."""
    valid = [True] * len(rows)
    if "id" in frame.columns:
        ids: list[str] = []
        for n, (row, value) in enumerate(zip(rows, frame["id"].tolist(), strict=True)):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
                problems.append(Problem(row, "id", f"expected a string or integer id, got {value!r}"))
                valid[n] = False
            elif not str(value).strip() or len(str(value)) > MAX_ID_LENGTH:
                problems.append(Problem(row, "id", f"ids must be 1..{MAX_ID_LENGTH} characters, got {value!r}"))
                valid[n] = False
            ids.append(str(value))
        origin = "id"
    else:
        ids = [hashlib.sha1(json.dumps(p, sort_keys=True).encode()).hexdigest()[:16] for p in payloads]
        valid = [bool(p) for p in payloads]
        origin = "content"
    first: dict[str, Hashable] = {}
    for row, task_id, ok in zip(rows, ids, valid, strict=True):
        if not ok:
            continue
        if task_id in first:
            what = f"duplicate id {task_id!r}" if origin == "id" else "same content as another row"
            problems.append(Problem(row, origin, f"{what} (first at row {first[task_id]!r})"))
        else:
            first[task_id] = row
    return ids


def _labels(
    rows: list[Hashable],
    frame: pd.DataFrame,
    column: str,
    validate: Callable[[Any, dict[str, Any], dict[str, Any]], Any],
    config: dict[str, Any],
    payloads: list[dict[str, Any]],
    problems: list[Problem],
) -> list[Any]:
    """Labels given in `column` (known answers or predictions), checked by `validate` (the kind's
    `validate_answer` or `validate_label`)."""
    if column not in frame.columns:
        return [None] * len(rows)
    labels: list[Any] = []
    for row, value, payload in zip(rows, frame[column].tolist(), payloads, strict=True):
        if _missing(value) or not payload:
            labels.append(None)
            continue
        try:
            labels.append(validate(value, config, payload))
        except ValueError as exc:
            problems.append(Problem(row, column, str(exc)))
            labels.append(None)
    return labels


def _priorities(rows: list[Hashable], frame: pd.DataFrame, problems: list[Problem]) -> list[float]:
    if "priority" not in frame.columns:
        return [0.0] * len(rows)
    out: list[float] = []
    for row, value in zip(rows, frame["priority"].tolist(), strict=True):
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and math.isfinite(value):
            out.append(float(value))
        else:
            problems.append(Problem(row, "priority", f"expected a finite number, got {value!r}"))
            out.append(0.0)
    return out


def _metas(rows: list[Hashable], extra: pd.DataFrame, problems: list[Problem]) -> list[dict[str, Any]]:
    """Metadata per row from the remaining columns, as JSON values (NaN becomes null)."""
    columns = {str(c): [_jsonable(v) for v in extra[c].tolist()] for c in extra.columns}
    metas = [{} for _ in rows]
    for name, values in columns.items():
        for row, meta, value in zip(rows, metas, values, strict=True):
            if value is _BAD:
                problems.append(Problem(row, name, "value cannot be stored as JSON metadata"))
            else:
                meta[name] = value
    return metas


_BAD = object()


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _jsonable(value: Any) -> Any:
    """`value` as a JSON-ready Python value, or `_BAD`."""
    if _missing(value):
        return None
    if isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, (datetime, date, pd.Timestamp)):
        return value.isoformat()
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError):
            return _BAD
    return _BAD
