"""Tasks in: check a user's DataFrame column by column and write its rows as the store keeps them
(JSON text), or say exactly what is wrong.

Columns with a meaning: the kind's media column (``image`` or ``text``), ``id`` (unique task ids;
made from the content when absent), ``answer`` (a known answer, validated like a label, never
shown to workers; refused by kinds whose labels cannot be checked automatically), ``prediction``
(a model's pre-label, validated like a label and shown for editing) and ``priority`` (higher
first). Every other column is kept as task metadata.

Made for a million rows: the whole frame is checked before anything is stored, each column at
once (pandas where the dtype allows it; a tight loop over a slice of rows where the rule is
Python's, e.g. `str.strip`), and no dict is made per text task. Each row's JSON is written once,
a slice of rows at a time, as the store sends it (`TaskTable.json`), so the frame is never held a
second time as Python objects.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from crowdnb import values
from crowdnb.errors import Problem, ValidationError
from crowdnb.kinds import Kind
from crowdnb.media import Media, TextMedia
from crowdnb.store.types import NewTask

RESERVED = ("id", "answer", "prediction", "priority")
MAX_ID_LENGTH = 200
CHUNK = 20_000  # rows made into Python objects at a time (and ids per query: SQLite binds 32,766)

# JSON as the store keeps it: compact, and unicode as its characters (no \u escapes).
to_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_sorted_json = json.JSONEncoder(sort_keys=True).encode  # the text content ids hash

Json = Callable[[int, int], list[str]]  # rows start..stop as JSON texts
Found = list[tuple[int, str, str]]  # problems by row position: (position, field, message)


@dataclass(frozen=True)
class TaskTable:
    """Checked tasks as columns, in input order: what the store adds."""

    index: pd.Index  # the input's row labels, which errors name
    ids: pd.Series  # task ids (str), by position
    payloads: Json
    metas: Json
    answers: list[str | None]  # known answers as JSON, None for none
    priorities: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self, positions: Sequence[int]) -> list[Hashable]:
        """The input's labels of the rows at `positions`."""
        return self.index.take(list(positions)).tolist()

    def json(self, start: int, stop: int) -> Iterator[tuple[str, str, str, str | None, float]]:
        """Rows start..stop as (id, payload, meta, known answer, priority), JSON as text."""
        return zip(
            self.ids.iloc[start:stop].tolist(), self.payloads(start, stop), self.metas(start, stop),
            self.answers[start:stop], self.priorities[start:stop].tolist(), strict=True,
        )


def tasks_from_frame(
    frame: pd.DataFrame, kind: Kind, config: dict[str, Any], *, tick: Callable[[int], None] | None = None
) -> TaskTable:
    """Check every row of `frame` as a task of `kind`; raises `ValidationError` listing all
    offending rows and fields, so a bad frame stores nothing. `tick` is told of rows checked."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"add_tasks expects a pandas DataFrame, got {type(frame).__name__}")
    media = kind.media
    if media.column not in frame.columns:
        raise ValidationError(
            [Problem("(all rows)", media.column, f"missing column; a {kind.name} task needs it (columns: {list(frame.columns)})")]
        )
    found: Found = []
    column = frame[media.column].reset_index(drop=True)
    if isinstance(media, TextMedia):
        payloads: _Payloads = _Texts.check(column, media, found, tick)
    else:
        payloads = _Dicts.check(column, media, found, tick)
    index = frame.index
    ids = _ids(index, frame, payloads, found)
    answers = _labels(frame, "answer", kind.validate_answer, config, payloads, found)
    predictions = _labels(frame, "prediction", kind.validate_label, config, payloads, found)
    priorities = _priorities(frame, found)
    extra = frame.drop(columns=[media.column, *[c for c in RESERVED if c in frame.columns]]).reset_index(drop=True)
    _check_meta(extra, found)
    if found:
        raise ValidationError(_problems(index, found))
    return TaskTable(
        index, ids, _with_predictions(payloads.json, predictions), _objects(extra),
        answers or [None] * len(frame), priorities,
    )


def tasks_from_new(new: Sequence[NewTask], names: Sequence[Hashable]) -> TaskTable:
    """`NewTask`s as a table, refusing what the store cannot keep (`crowdnb.values`) by row
    (`names`) and column (a path inside a column's value when nested)."""
    found: Found = []
    for n, t in enumerate(new):
        for where, value in (("id", t.external_id), ("", t.payload), ("", t.meta), ("answer", t.known_answer)):
            found.extend((n, flaw.where, flaw.message) for flaw in values.flaws(value, where))
    index = pd.Index(list(names), dtype=object)
    if found:
        raise ValidationError(_problems(index, found))
    payloads, metas = [t.payload for t in new], [t.meta for t in new]
    return TaskTable(
        index, pd.Series([t.external_id for t in new], dtype=object),
        lambda a, b: [to_json(p) for p in payloads[a:b]], lambda a, b: [to_json(m) for m in metas[a:b]],
        [None if t.known_answer is None else to_json(t.known_answer) for t in new],
        np.array([t.priority for t in new], dtype=float),
    )


class _Payloads(Protocol):
    """Each row's payload, as the kind's media makes it from the row's media cell."""

    @property
    def valid(self) -> np.ndarray:
        """Which rows have a good media cell."""

    def at(self, n: int) -> dict[str, Any]:
        """The payload of row `n` (a good one)."""

    def json(self, start: int, stop: int) -> list[str]:
        """The payloads of rows start..stop as JSON."""

    def content_ids(self) -> pd.Series:
        """Stable ids from the content (empty for bad rows): the first 16 hex digits of the
        SHA-1 of the payload's JSON with sorted keys, as ever, so re-added rows keep their ids."""


@dataclass(frozen=True)
class _Texts:
    """Text payloads, ``{"text": value}``, kept as the frame's column of texts: no dict per row."""

    texts: pd.Series
    valid: np.ndarray

    @classmethod
    def check(cls, column: pd.Series, media: Media, found: Found, tick: Callable[[int], None] | None) -> _Texts:
        valid = np.ones(len(column), dtype=bool)
        for start, stop in _slices(len(column)):
            texts: list[str] = []
            at: list[int] = []
            for n, value in enumerate(column.iloc[start:stop].tolist(), start):
                try:
                    media.payload(value)
                except ValueError as exc:
                    valid[n] = False
                    found.append((n, media.column, str(exc)))
                    continue
                texts.append(value)
                at.append(n)
            for n, message in _text_flaws(texts):
                valid[at[n]] = False
                found.append((at[n], media.column, message))
            if tick is not None:
                tick(stop - start)
        return cls(column, valid)

    def at(self, n: int) -> dict[str, Any]:
        return {"text": self.texts.iloc[n]}

    def json(self, start: int, stop: int) -> list[str]:
        return ['{"text":' + to_json(t) + "}" for t in self.texts.iloc[start:stop].tolist()]

    def content_ids(self) -> pd.Series:
        return _strings(
            [_content_id('{"text": ' + _sorted_json(t) + "}") if ok else "" for t, ok in zip(self.texts.iloc[a:b].tolist(), self.valid[a:b], strict=True)]
            for a, b in _slices(len(self.texts))
        )


@dataclass(frozen=True)
class _Dicts:
    """Payload dicts from the media (images), each distinct cell checked once: an image file is
    opened once however many rows name it."""

    dicts: list[dict[str, Any]]
    valid: np.ndarray

    @classmethod
    def check(cls, column: pd.Series, media: Media, found: Found, tick: Callable[[int], None] | None) -> _Dicts:
        dicts: list[dict[str, Any]] = []
        checked: dict[Any, dict[str, Any] | str] = {}
        for start, stop in _slices(len(column)):
            for n, value in enumerate(column.iloc[start:stop].tolist(), start):
                key = (type(value), value) if isinstance(value, Hashable) else repr(value)
                if key not in checked:
                    try:
                        checked[key] = media.payload(value)
                    except ValueError as exc:
                        checked[key] = str(exc)
                result = checked[key]
                if isinstance(result, str):
                    found.append((n, media.column, result))
                    dicts.append({})
                else:
                    found.extend((n, f.where, f.message) for f in values.flaws(result))
                    dicts.append(result)
            if tick is not None:
                tick(stop - start)
        return cls(dicts, np.array([bool(d) for d in dicts], dtype=bool))

    def at(self, n: int) -> dict[str, Any]:
        return self.dicts[n]

    def json(self, start: int, stop: int) -> list[str]:
        return [to_json(d) for d in self.dicts[start:stop]]

    def content_ids(self) -> pd.Series:
        return _strings([[_content_id(_sorted_json(d)) if d else "" for d in self.dicts]])


def _content_id(sorted_json: str) -> str:
    return hashlib.sha1(sorted_json.encode()).hexdigest()[:16]


def _ids(index: pd.Index, frame: pd.DataFrame, payloads: _Payloads, found: Found) -> pd.Series:
    """Task ids: the ``id`` column as strings, else a stable hash of the content. Only valid ids
    (or, for content ids, rows whose media is valid) are checked for duplicates: two rows that
    are both wrong are not the same task."""
    if "id" in frame.columns:
        valid = np.ones(len(frame), dtype=bool)
        column = _strings(_given_ids(frame["id"], valid, found))
        origin, what = "id", "duplicate id {!r}"
    else:
        column, valid, origin, what = payloads.content_ids(), payloads.valid, "content", "same content as another row"
    checked = column[valid]
    again = checked[checked.duplicated()]
    if len(again):
        first = checked.drop_duplicates()
        first_at = pd.Series(first.index, index=first.to_numpy())
        labels = index.take(first_at.loc[again.to_numpy()].to_numpy()).tolist()
        found.extend(
            (int(n), origin, f"{what.format(task_id)} (first at row {label!r})")
            for n, task_id, label in zip(again.index, again.tolist(), labels, strict=True)
        )
    return column


def _given_ids(column: pd.Series, valid: np.ndarray, found: Found) -> Iterator[list[str]]:
    """The ``id`` column as strings, a slice at a time, clearing `valid` where a row has no
    valid id (see `_id_problem`) or one the store cannot keep."""
    for start, stop in _slices(len(column)):
        ids: list[str] = []
        for n, value in enumerate(column.iloc[start:stop].tolist(), start):
            ids.append(value if type(value) is str else str(value))
            if type(value) is str and len(value) <= MAX_ID_LENGTH and value.strip():
                continue  # most ids, at a glance
            problem = _id_problem(value)
            if problem:
                valid[n] = False
                found.append((n, "id", problem))
        for n, message in _text_flaws(ids):
            if valid[start + n]:
                valid[start + n] = False
                found.append((start + n, "id", message))
        yield ids


def _id_problem(value: Any) -> str | None:
    """Why `value` is no task id, which is a string or an integer of 1 to `MAX_ID_LENGTH`
    characters, not only spaces; None if it is one."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, int, np.integer)):
        return f"expected a string or integer id, got {value!r}"
    text = str(value)
    if not text.strip() or len(text) > MAX_ID_LENGTH:
        return f"ids must be 1..{MAX_ID_LENGTH} characters, got {value!r}"
    return None


def _text_flaws(texts: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(index, message) of each of `texts` the store cannot keep; checked joined first, as
    joining cannot make or hide a NUL or a lone surrogate."""
    if values.storable("".join(texts)):
        return iter(())
    return ((n, values.text_flaw(t) or "") for n, t in enumerate(texts) if not values.storable(t))


def _labels(
    frame: pd.DataFrame,
    column: str,
    validate: Callable[[Any, dict[str, Any], dict[str, Any]], Any],
    config: dict[str, Any],
    payloads: _Payloads,
    found: Found,
) -> list[str | None]:
    """Labels given in `column` (known answers or predictions) as JSON, None where there is none
    (or the column is absent: an empty list), checked by `validate` (the kind's
    `validate_answer` or `validate_label`) and by what the store can keep."""
    if column not in frame.columns:
        return []
    out: list[str | None] = [None] * len(frame)
    given = np.flatnonzero(frame[column].notna().to_numpy() & payloads.valid)
    for n, value in zip(given, frame[column].iloc[given].tolist(), strict=True):
        if _missing(value):  # an object cell pandas does not count as missing (e.g. pd.NA inside)
            continue
        try:
            label = validate(value, config, payloads.at(n))
        except ValueError as exc:
            found.append((int(n), column, str(exc)))
            continue
        flaws = values.flaws(label, column)
        if flaws:
            found.extend((int(n), f.where, f.message) for f in flaws)
        else:
            out[n] = to_json(label)
    return out


def _with_predictions(payloads: Json, predictions: list[str | None]) -> Json:
    """`payloads` with each row's prediction (JSON) under ``"prediction"``, where it has one
    (a payload is never an empty object, so the key goes before its closing brace)."""
    if not predictions:
        return payloads

    def write(start: int, stop: int) -> list[str]:
        return [
            p if label is None else f'{p[:-1]},"prediction":{label}}}'
            for p, label in zip(payloads(start, stop), predictions[start:stop], strict=True)
        ]

    return write


def _priorities(frame: pd.DataFrame, found: Found) -> np.ndarray:
    """The ``priority`` column as floats (0 when absent); each value a finite number."""
    if "priority" not in frame.columns:
        return np.zeros(len(frame))
    column = frame["priority"]
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_float_dtype(column.dtype):
        numbers = column.to_numpy(dtype=float, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(numbers))
        found.extend((int(n), "priority", f"expected a finite number, got {v!r}") for n, v in zip(bad, column.iloc[bad].tolist()))
        return np.where(np.isfinite(numbers), numbers, 0.0)
    out = np.zeros(len(frame))
    for n, value in enumerate(column.tolist()):
        if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)) and math.isfinite(value):
            out[n] = float(value)
        else:
            found.append((n, "priority", f"expected a finite number, got {value!r}"))
    return out


def _check_meta(extra: pd.DataFrame, found: Found) -> None:
    """Add to `found` the metadata cells that are no JSON value the store can keep (or are
    under a name it cannot keep). Numbers, booleans and times always are one (NaN and NaT
    become null); a column of strings needs only the joined check; other cells are each looked at."""
    for name, column in extra.items():
        key, dtype = str(name), column.dtype
        if values.flaws({key: None}):
            found.extend((n, f.where, f.message) for n in range(len(column)) for f in values.flaws({key: _jsonable(column.iloc[n])}))
        elif isinstance(dtype, pd.StringDtype):
            texts = column.dropna()
            for start, stop in _slices(len(texts)):
                found.extend((int(texts.index[start + n]), key, m) for n, m in _text_flaws(texts.iloc[start:stop].tolist()))
        elif dtype.kind not in "biufM":  # not booleans, numbers or times
            for start, stop in _slices(len(column)):
                for n, value in enumerate(column.iloc[start:stop].tolist(), start):
                    cell = _jsonable(value)
                    if cell is _BAD:
                        found.append((n, key, "value cannot be stored as JSON metadata"))
                    elif not values.storable(cell):
                        found.extend((n, f.where, f.message) for f in values.flaws({key: cell}))


def _objects(extra: pd.DataFrame) -> Json:
    """Each row's metadata (the columns of `extra`, checked) as a JSON object."""
    keys = [to_json(str(name)) + ":" for name in extra.columns]
    columns = [column for _, column in extra.items()]

    def write(start: int, stop: int) -> list[str]:
        if not columns:
            return ["{}"] * (stop - start)
        cells = [[key + to_json(_jsonable(v)) for v in column.iloc[start:stop].tolist()] for key, column in zip(keys, columns)]
        return ["{" + ",".join(row) + "}" for row in zip(*cells)]

    return write


def _problems(index: pd.Index, found: Found) -> list[Problem]:
    """`found` with each row named by its label in `index`."""
    rows = index.take([n for n, _, _ in found]).tolist()
    return [Problem(row, field, message) for row, (_, field, message) in zip(rows, found, strict=True)]


def _strings(parts: Iterable[list[str]]) -> pd.Series:
    """One column of strings from lists of them, each made a compact (Arrow) column as it comes,
    so that the Python strings of one list at a time are held."""
    columns = [pd.Series(part, dtype="str") for part in parts]
    return pd.concat(columns, ignore_index=True) if columns else pd.Series([], dtype="str")


def _slices(n: int) -> Iterator[tuple[int, int]]:
    return ((start, min(start + CHUNK, n)) for start in range(0, n, CHUNK))


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
