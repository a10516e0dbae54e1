"""Set-up of the scale benchmark (issue 15): a text-class project of many tasks and labels, written
straight into the store's tables exactly as the store writes them.

Why by hand: through the API every label is a claim and a submit, each its own durable
transaction, so 10,000,000 labels would take days. Here the rows those calls leave behind are
generated with numpy in chunks of tasks (bounded memory) and written in one transaction with
PostgreSQL ``COPY`` (CSV made by pyarrow) or SQLite ``executemany``: the crowd's workers, every
one a member of the project; the tasks, each with all its labels (so closed); each label's slot
('done', or 'rework' after a rejection); the labels (approved, waiting for an inspector, or
rejected; some flagged ``too_fast`` by the project's quality policy, and control answers counted
in the workers' standing); the inspectors' decisions; and pay when the project has a price. The
project itself is created by the store (`SqlStore.create_project`), so its settings are real.
tests/benchmarks/test_scale_load.py builds the same small project through the API (a claim and a
submit per label, then the inspectors' decisions) and compares every row of every table.

On a store without tasks yet, PostgreSQL's primary keys, unique constraints, indexes and foreign
keys of the loaded tables are dropped for the load and made again from their catalog definitions
afterwards (one sort per index instead of 10,000,000 random B-tree inserts and foreign key
checks); then VACUUM ANALYZE leaves the tables as autovacuum would (statistics, visibility map).

The crowd: each worker has a skill in [0.55, 0.95] (the chance of the right class), a bias (which
wrong class they pick) and an activity (lognormal: some label far more than others); a task's
labels come from distinct workers, spread over 30 days in task order. The hidden truth is
returned, and the CLI saves it beside the database for a benchmark's accuracy figures.

    python benchmarks/scale_load.py --pg-dir /work/scale-pg --tasks 1000000 --labels 10 --workers 100000
    python benchmarks/scale_load.py --sqlite /work/scale-sqlite/scale.db --tasks 100000 --labels 10 --workers 10000

With ``--pg-dir``, a durable server (fsync on; max_wal_size raised to 8 GB for the load) keeps
its data there and stays running; run again, it only starts the server (if it is not running) and
prints the URL. The truth (Parquet) and the summary (JSON) go beside the data or the SQLite file.
On 2 cores shared with other work (load 4-6): 10,000,000 labels on PostgreSQL in 8.3 minutes
(rows 278 s, keys 213 s, VACUUM ANALYZE 7 s; 6.2 GB database, 5 GB of WAL beside it);
1,000,000 labels on SQLite in 1.5 minutes (520 MB).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa

from crowdnb import kinds
from crowdnb.intake import to_json
from crowdnb.quality.rules import QualityPolicy
from crowdnb.store import SqlStore
from crowdnb.store.schema import assignments, ledger, tasks, workers
from crowdnb.store.sql.review import review_draw

KIND = "text-class"
CLASSES = ("positive", "negative", "neutral", "mixed", "irrelevant")
CHUNK_TASKS = 20_000  # tasks generated and written at a time (fixed: the data do not depend on it)
DAY_US = 86_400_000_000
LABEL_SPREAD_US = DAY_US  # a task's labels arrive within a day
STATUSES = ("approved", "submitted", "rejected")  # label status codes 0, 1, 2
REJECTIONS = ("wrong class", "the text says otherwise", "read the guidelines on mixed texts")
WORDS = (
    "service", "staff", "price", "quality", "delivery", "support", "refund", "order", "package", "app",
    "screen", "battery", "update", "login", "account", "manager", "store", "product", "size", "colour",
    "was", "is", "were", "arrived", "broke", "worked", "failed", "improved", "never", "always",
    "very", "quite", "not", "really", "too", "late", "early", "fast", "slow", "great",
    "terrible", "fine", "okay", "friendly", "rude", "cheap", "expensive", "clean", "dirty", "again",
)
SQLITE_CACHE_KIB = 1 << 20  # SQLite's page cache during the load (the connection is closed after it)
LOADED = ("tasks", "assignments", "annotations", "reviews", "ledger", "project_workers")  # tables COPY fills


@dataclass(frozen=True)
class Spec:
    """What to build: `tasks` tasks of `labels_per_task` labels each (the project's overlap) from
    `workers` workers. `control_share` of the tasks have known answers; durations are log-uniform
    in `duration_ms`, and those below `too_fast_ms` are flagged by the project's policy;
    `review_rate` of the labels go to inspection, decided (a share `rejected_share` rejected) by
    one of `inspectors` unless they came in the last `backlog_days`; approved labels earn `price`."""

    tasks: int
    labels_per_task: int
    workers: int
    classes: tuple[str, ...] = CLASSES
    seed: int = 0
    control_share: float = 0.02
    duration_ms: tuple[int, int] = (1_000, 30_000)
    too_fast_ms: int = 1_100
    review_rate: float = 0.05
    rejected_share: float = 0.3
    backlog_days: float = 2.0
    days: float = 30.0
    inspectors: int = 10
    price: int = 0

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be {rule}, got {getattr(self, name)!r}"
            for name, rule, ok in (
                ("tasks", "at least 1", self.tasks >= 1),
                ("labels_per_task", "at least 1", self.labels_per_task >= 1),
                ("workers", f"at least labels_per_task ({self.labels_per_task})", self.workers >= self.labels_per_task),
                ("classes", "at least 2 distinct names", len(set(self.classes)) == len(self.classes) >= 2),
                ("control_share", "in [0, 1]", 0 <= self.control_share <= 1),
                ("duration_ms", "(low, high) with 0 < low < high", 0 < self.duration_ms[0] < self.duration_ms[1]),
                ("review_rate", "in [0, 1]", 0 <= self.review_rate <= 1),
                ("rejected_share", "in [0, 1]", 0 <= self.rejected_share <= 1),
                ("days", f"more than backlog_days ({self.backlog_days}) + 1", self.days > self.backlog_days + 1),
                ("inspectors", "at least 1", self.inspectors >= 1),
                ("price", "at least 0", self.price >= 0),
            )
            if not ok
        ]
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def policy(self) -> QualityPolicy:
        """The project's quality policy: only the too-fast flag (no control rate in the hand-out,
        no suspensions), so every label stands."""
        return QualityPolicy(min_duration_ms=self.too_fast_ms)


@dataclass(frozen=True)
class Crowd:
    """The workers' hidden traits, by worker index."""

    skill: np.ndarray  # chance of the right class
    bias: np.ndarray  # (workers, classes): which class a worker picks when wrong (before leaving out the truth)
    activity: np.ndarray  # share of the labels each worker gives


@dataclass(frozen=True)
class Chunk:
    """Tasks `start` .. `start + len(truth)` of the project (positions) and their labels, task by
    task, each task's labels in the order they were submitted."""

    start: int
    truth: np.ndarray  # class code per task
    control: np.ndarray  # whether the task's known answer is stored
    text: list[str]
    worker: np.ndarray  # worker index per label
    label: np.ndarray  # class code per label
    duration_ms: np.ndarray
    submitted_us: np.ndarray  # microseconds after the start of the period
    annotation_id: list[str]
    status: np.ndarray  # code into STATUSES
    inspector: np.ndarray  # inspector index per label, -1 where nobody decided
    decided_us: np.ndarray  # microseconds after the start, where an inspector decided
    reason: np.ndarray  # code into REJECTIONS, -1 where not rejected

    @property
    def task_of_label(self) -> np.ndarray:
        """Position of each label's task."""
        return self.start + np.repeat(np.arange(len(self.truth)), len(self.worker) // len(self.truth))


@dataclass
class Summary:
    """What `build` made: the project, its row counts, the phases' seconds, and the truth (class
    code by task position; names in `classes`)."""

    url: str
    project: str
    classes: tuple[str, ...]
    counts: dict[str, int]
    seconds: dict[str, float]
    truth: np.ndarray = field(repr=False)

    def truth_frame(self) -> pd.DataFrame:
        """The hidden class of every task: task (external id), truth."""
        names = np.array(self.classes, dtype=object)
        return pd.DataFrame({"task": task_ids(0, len(self.truth)), "truth": names[self.truth]})


def task_ids(start: int, n: int) -> list[str]:
    """External ids of the tasks at positions `start` .. `start + n`."""
    return [f"t{i:07d}" for i in range(start, start + n)]


def worker_names(n: int) -> list[str]:
    return [f"worker-{i:06d}" for i in range(n)]


def inspector_names(n: int) -> list[str]:
    return [f"inspector-{i:03d}" for i in range(n)]


def batch_of(position: np.ndarray) -> np.ndarray:
    """Task metadata: the intake batch a task came in (10,000 tasks each)."""
    return position // 10_000


def crowd(spec: Spec) -> Crowd:
    """The workers' skills, biases and activity, from the spec's seed."""
    rng = np.random.default_rng([spec.seed, 0])
    n_classes = len(spec.classes)
    activity = rng.lognormal(0.0, 1.0, spec.workers)
    return Crowd(
        skill=rng.uniform(0.55, 0.95, spec.workers),
        bias=0.5 * rng.dirichlet(np.ones(n_classes), spec.workers) + 0.5 / n_classes,
        activity=activity / activity.sum(),
    )


def chunks(spec: Spec, people: Crowd) -> Iterator[Chunk]:
    """The project's tasks and labels, `CHUNK_TASKS` tasks at a time; the same for a spec
    whatever the back end."""
    for index, start in enumerate(range(0, spec.tasks, CHUNK_TASKS)):
        yield _chunk(spec, people, np.random.default_rng([spec.seed, 1, index]), start, min(CHUNK_TASKS, spec.tasks - start))


def _chunk(spec: Spec, people: Crowd, rng: np.random.Generator, start: int, n: int) -> Chunk:
    k, n_classes = spec.labels_per_task, len(spec.classes)
    prior = 0.75 ** np.arange(n_classes)
    truth = rng.choice(n_classes, n, p=prior / prior.sum()).astype(np.int8)
    control = rng.random(n) < spec.control_share
    text = _texts(rng, n)
    worker = _distinct_workers(rng, people.activity, n, k).ravel()
    truth_of_label = np.repeat(truth, k)
    right = rng.random(n * k) < people.skill[worker]
    label = np.where(right, truth_of_label, _confused(rng, people.bias[worker], truth_of_label)).astype(np.int8)
    low, high = np.log(spec.duration_ms[0]), np.log(spec.duration_ms[1])
    duration = np.exp(rng.uniform(low, high, n * k)).astype(np.int32)
    span = int(spec.days * DAY_US)
    base = ((span - LABEL_SPREAD_US) * ((start + np.arange(n)) / spec.tasks)).astype(np.int64)
    submitted = np.sort(base[:, None] + (rng.random((n, k)) * LABEL_SPREAD_US).astype(np.int64), axis=1).ravel()
    annotation_id = _uuids(rng, n * k)
    sampled = np.fromiter((review_draw(a) for a in annotation_id), float, n * k) < spec.review_rate
    decided = sampled & (submitted < span - int(spec.backlog_days * DAY_US))
    rejected = decided & (rng.random(n * k) < spec.rejected_share)
    status = np.where(rejected, 2, np.where(sampled & ~decided, 1, 0)).astype(np.int8)
    inspector = np.where(decided, rng.integers(0, spec.inspectors, n * k), -1).astype(np.int32)
    decided_us = submitted + (rng.random(n * k) * spec.backlog_days * DAY_US).astype(np.int64)
    reason = np.where(rejected, rng.integers(0, len(REJECTIONS), n * k), -1).astype(np.int8)
    return Chunk(
        start, truth, control, text, worker.astype(np.int32), label, duration, submitted, annotation_id,
        status, inspector, decided_us, reason,
    )


def _texts(rng: np.random.Generator, n: int) -> list[str]:
    """Short review-like texts of 6 to 24 words."""
    words = np.array(WORDS, dtype=object)
    lengths = rng.integers(6, 25, n)
    picks = words[rng.integers(0, len(WORDS), (n, 24))]
    return [" ".join(row[:length]) for row, length in zip(picks, lengths, strict=True)]


def _distinct_workers(rng: np.random.Generator, activity: np.ndarray, n: int, k: int) -> np.ndarray:
    """`k` distinct workers for each of `n` tasks, drawn by activity (rows with a worker twice are
    drawn again: the draw conditioned on distinct workers)."""
    picks = rng.choice(len(activity), (n, k), p=activity)
    for _ in range(100):
        ordered = np.sort(picks, axis=1)
        twice = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
        if not twice.any():
            return picks
        picks[twice] = rng.choice(len(activity), (int(twice.sum()), k), p=activity)
    for row in np.flatnonzero(twice):  # a crowd of few workers with skewed activity: one by one
        picks[row] = rng.choice(len(activity), k, replace=False, p=activity)
    return picks


def _confused(rng: np.random.Generator, bias: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """A wrong class per label, from its worker's bias with the truth left out."""
    odds = bias.copy()
    odds[np.arange(len(truth)), truth] = 0.0
    cumulative = np.cumsum(odds, axis=1)
    draw = rng.random(len(truth)) * cumulative[:, -1]
    return (cumulative <= draw[:, None]).sum(axis=1)


def _uuids(rng: np.random.Generator, n: int) -> list[str]:
    """Random version-4 UUIDs (the widget's annotation ids), as strings."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    hexed = np.empty((n, 32), dtype=np.uint8)
    hexed[:, 0::2], hexed[:, 1::2] = digits[raw >> 4], digits[raw & 0x0F]
    dash = np.full((n, 1), ord("-"), dtype=np.uint8)
    joined = np.hstack([hexed[:, :8], dash, hexed[:, 8:12], dash, hexed[:, 12:16], dash, hexed[:, 16:20], dash, hexed[:, 20:]])
    return joined.view("S36").ravel().astype("U36").tolist()


# Writing


class Sink(Protocol):
    """Appends rows to the store's tables inside the load's transaction: `encode` makes a
    table's rows ready to send (in a thread of its own, while the one before is sent)."""

    def encode(self, rows: pa.Table) -> Any: ...

    def send(self, table: str, columns: list[str], encoded: Any) -> None: ...


class CopySink:
    """PostgreSQL: rows as CSV through COPY."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def encode(self, rows: pa.Table) -> memoryview:
        buffer = io.BytesIO()
        pa_csv.write_csv(rows, buffer, pa_csv.WriteOptions(include_header=False))
        return buffer.getbuffer()

    def send(self, table: str, columns: list[str], encoded: memoryview) -> None:
        from psycopg import sql

        query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with self.driver.cursor() as cursor, cursor.copy(query) as copy:
            for at in range(0, len(encoded), 1 << 20):
                copy.write(encoded[at : at + (1 << 20)])


class InsertSink:
    """SQLite: rows by executemany, timestamps in the text form SQLAlchemy stores."""

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def encode(self, rows: pa.Table) -> list[tuple[Any, ...]]:
        return list(zip(*[_sqlite_values(column) for column in rows.columns], strict=True))

    def send(self, table: str, columns: list[str], encoded: list[tuple[Any, ...]]) -> None:
        marks = ", ".join("?" * len(columns))
        self.driver.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", encoded)


def _sqlite_values(column: pa.ChunkedArray) -> list[Any]:
    if pa.types.is_timestamp(column.type):
        column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")  # with microseconds, as SQLAlchemy writes
    elif pa.types.is_boolean(column.type):
        column = column.cast(pa.int8())
    return column.to_pylist()


def _write(sink: Sink, table: str, rows: pa.Table) -> None:
    sink.send(table, rows.column_names, sink.encode(rows))


Encoded = tuple[Chunk, list[tuple[str, list[str], int, Any]]]


def _encoded(spec: Spec, people: Crowd, ids: Ids, sink: Sink) -> Iterator[Encoded]:
    """Each chunk with its rows per table: (table, columns, number of rows, encoded rows)."""
    for chunk in chunks(spec, people):
        tables = _rows(spec, chunk, ids).items()
        yield chunk, [(table, rows.column_names, rows.num_rows, sink.encode(rows)) for table, rows in tables]


def _ahead(items: Iterator[Encoded]) -> Iterator[Encoded]:
    """`items`, each made in a thread while the caller handles the one before: numpy, pyarrow
    and the database drivers release the GIL, so making rows and writing them overlap."""
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


@dataclass(frozen=True)
class Ids:
    """Where the generated rows go: the project, the first ids of its tasks, slots and credits,
    the workers' and inspectors' ids by index, and the start of the labels' period (UTC
    microseconds since the epoch)."""

    project: int
    first_task: int
    first_slot: int
    first_credit: int
    worker: np.ndarray
    inspector: np.ndarray
    start_us: int


def _timestamps(us: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(us, type=pa.int64(), mask=mask).cast(pa.timestamp("us", tz="UTC"))


def _coded(codes: np.ndarray, values: tuple[str, ...] | list[str], mask: np.ndarray | None = None) -> pa.Array:
    """Strings by code (null where `mask`), as a dictionary array: no Python string per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, mask=mask), pa.array(list(values), pa.string()))


def _rows(spec: Spec, chunk: Chunk, ids: Ids) -> dict[str, pa.Table]:
    """The chunk's rows of each table, as the store would have written them."""
    n = len(chunk.truth)
    position = chunk.start + np.arange(n)
    task_id = ids.first_task + position
    labels = [json.dumps(c) for c in spec.classes]  # JSON texts, as SQLAlchemy serializes them
    answers = [to_json(c) for c in spec.classes]  # as intake serializes them (SQL NULL: no answer)
    of_label = chunk.task_of_label
    label_task = ids.first_task + of_label
    worker_id = ids.worker[chunk.worker]
    submitted = ids.start_us + chunk.submitted_us
    n_labels = len(chunk.worker)
    out = {
        "tasks": pa.table({
            "id": task_id,
            "project_id": np.full(n, ids.project),
            "external_id": task_ids(chunk.start, n),
            "position": position,
            "payload": [to_json({"text": t}) for t in chunk.text],
            "meta": [to_json({"batch": int(b)}) for b in batch_of(position)],
            "known_answer": _coded(chunk.truth, answers, mask=~chunk.control),
            "priority": np.zeros(n),
            "n_active": np.full(n, spec.labels_per_task, dtype=np.int32),
            "is_open": np.zeros(n, dtype=bool),
            "created_at": _timestamps(np.full(n, ids.start_us)),
            "is_control": chunk.control,
        }),
        "assignments": pa.table({
            "id": ids.first_slot + chunk.start * spec.labels_per_task + np.arange(n_labels),
            "project_id": np.full(n_labels, ids.project),
            "task_id": label_task,
            "worker_id": worker_id,
            "status": _coded((chunk.status == 2).astype(np.int8), ("done", "rework")),
            "leased_at": _timestamps(submitted - chunk.duration_ms.astype(np.int64) * 1000),
        }),
        "annotations": pa.table({
            "id": chunk.annotation_id,
            "project_id": np.full(n_labels, ids.project),
            "task_id": label_task,
            "worker_id": worker_id,
            "label": _coded(chunk.label, labels),
            "status": _coded(chunk.status, STATUSES),
            "duration_ms": chunk.duration_ms,
            "submitted_at": _timestamps(submitted),
            "flag": _coded(np.zeros(n_labels, dtype=np.int8), ["too_fast"], mask=chunk.duration_ms >= spec.too_fast_ms),
        }),
    }
    decided = np.flatnonzero(chunk.inspector >= 0)
    decided_at = _timestamps(ids.start_us + chunk.decided_us[decided])
    rejected = chunk.status[decided] == 2
    out["reviews"] = pa.table({
        "annotation_id": [chunk.annotation_id[i] for i in decided],
        "project_id": np.full(len(decided), ids.project),
        "inspector_id": ids.inspector[chunk.inspector[decided]],
        "decision": _coded(rejected.astype(np.int8), ("approved", "rejected")),
        "reason": _coded(np.where(rejected, chunk.reason[decided] + 1, 0), ("", *REJECTIONS)),
        "claimed_at": decided_at,
        "decided_at": decided_at,
    })
    if spec.price:
        paid = np.flatnonzero(chunk.status == 0)
        paid_at = np.where(chunk.inspector[paid] >= 0, chunk.decided_us[paid], chunk.submitted_us[paid])
        out["ledger"] = pa.table({
            "id": ids.first_credit + chunk.start * spec.labels_per_task + np.arange(len(paid)),
            "worker_id": worker_id[paid],
            "project_id": np.full(len(paid), ids.project),
            "amount": np.full(len(paid), spec.price),
            "reason": _coded(np.zeros(len(paid), dtype=np.int8), ["label"]),
            "key": [f"label:{t}:{w}" for t, w in zip(label_task[paid].tolist(), worker_id[paid].tolist(), strict=True)],
            "annotation_id": [chunk.annotation_id[i] for i in paid],
            "created_at": _timestamps(ids.start_us + paid_at),
        })
    return out


def _standing(spec: Spec, ids: Ids, n_control: np.ndarray, n_correct: np.ndarray, last_us: np.ndarray) -> pa.Table:
    """Every worker's and inspector's membership row, with the workers' control answers (right
    ones), updated at their last label (or the start)."""
    members = np.concatenate([ids.worker, ids.inspector])
    zeros = np.zeros(spec.inspectors, dtype=np.int64)
    n = len(members)
    return pa.table({
        "project_id": np.full(n, ids.project),
        "worker_id": members,
        "status": _coded(np.zeros(n, dtype=np.int8), ["active"]),
        "n_control": np.concatenate([n_control, zeros]),
        "n_correct": np.concatenate([n_correct, zeros]),
        "n_consensus": np.zeros(n, dtype=np.int64),
        "n_agreed": np.zeros(n, dtype=np.int64),
        "skips_in_row": np.zeros(n, dtype=np.int64),
        "updated_at": _timestamps(ids.start_us + np.concatenate([last_us, zeros])),
    })


def _register(conn: sa.Connection, sink: Sink, names: list[str], role: str, created_us: int) -> np.ndarray:
    """Ids of workers by name, adding those the store does not have yet (as `worker_id` would)."""
    known = dict(conn.execute(sa.select(workers.c.name, workers.c.id)).all())
    missing = [name for name in names if name not in known]
    if missing:
        first = int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(workers.c.id), 0)))) + 1
        _write(sink, "workers", pa.table({
            "id": np.arange(first, first + len(missing)),
            "name": missing,
            "role": _coded(np.zeros(len(missing), dtype=np.int8), [role]),
            "created_at": _timestamps(np.full(len(missing), created_us)),
        }))
        known.update(zip(missing, range(first, first + len(missing)), strict=True))
    return np.array([known[name] for name in names], dtype=np.int64)


def _next_id(conn: sa.Connection, table: sa.Table) -> int:
    return int(conn.scalar(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0)))) + 1


def _drop_keys(driver: Any) -> list[Any]:
    """Drop the primary keys, unique constraints, indexes and foreign keys of the loaded tables
    (PostgreSQL); returns the statements that make them again, from the catalog, in order."""
    from psycopg import sql

    tables = list(LOADED)
    with driver.cursor() as cursor:
        constraints = cursor.execute(
            "SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE contype IN ('p', 'u', 'f') AND (conrelid = ANY(%(t)s::regclass[]) OR confrelid = ANY(%(t)s::regclass[]))"
            " ORDER BY contype, conname",
            {"t": tables},
        ).fetchall()
        indexes = cursor.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
            " WHERE i.indrelid = ANY(%(t)s::regclass[]) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
            "   WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u', 'x'))"
            " ORDER BY 1",
            {"t": tables},
        ).fetchall()
        keys = [c for c in constraints if c[2] != "f"]
        foreign = [c for c in constraints if c[2] == "f"]
        for table, name, _, _ in foreign + keys:
            cursor.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.SQL(table), sql.Identifier(name)))
        for name, _ in indexes:
            cursor.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
    add = [
        sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} {}").format(sql.SQL(table), sql.Identifier(name), sql.SQL(definition))
        for table, name, _, definition in keys + foreign
    ]
    return add[: len(keys)] + [sql.SQL(definition) for _, definition in indexes] + add[len(keys) :]


def build(url: str, spec: Spec, *, name: str | None = None) -> Summary:
    """Create project `name` (default ``scale-<tasks>x<labels>``) in the store at `url` and load
    the spec's workers, tasks and labels into it in one transaction; then ANALYZE (PostgreSQL).
    The workers are shared with any other project of the store (found by name)."""
    name = name or f"scale-{spec.tasks}x{spec.labels_per_task}"
    began = time.perf_counter()
    seconds: dict[str, float] = {}
    with SqlStore(url) as store:
        config = kinds.get(KIND).make_config(classes=list(spec.classes))
        project = store.create_project(
            name, KIND, config, overlap=spec.labels_per_task, price=spec.price, quality=spec.policy,
            review_rate=spec.review_rate,
        )
        postgres = store.dialect == "postgresql"
        people = crowd(spec)
        truth = np.empty(spec.tasks, dtype=np.int8)
        counts = dict.fromkeys(("tasks", "annotations", "assignments", "reviews", "ledger", "project_workers"), 0)
        counts.update(dict.fromkeys(("controls", *STATUSES, "flagged"), 0))
        n_control = np.zeros(spec.workers, dtype=np.int64)
        n_correct = np.zeros(spec.workers, dtype=np.int64)
        last_us = np.zeros(spec.workers, dtype=np.int64)
        with store.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn, conn.begin():
            driver = conn.connection.driver_connection
            if not postgres:  # room for the labels' random ids in the page cache (the default: 2 MB)
                driver.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")
            sink: Sink = CopySink(driver) if postgres else InsertSink(driver)
            start_us = int(project.created_at.timestamp() * 1e6) - int(spec.days * DAY_US)
            fresh = conn.scalar(sa.select(sa.func.count()).select_from(tasks)) == 0
            ids = Ids(
                project.id, _next_id(conn, tasks), _next_id(conn, assignments), _next_id(conn, ledger),
                _register(conn, sink, worker_names(spec.workers), "worker", start_us - DAY_US),
                _register(conn, sink, inspector_names(spec.inspectors), "inspector", start_us - DAY_US),
                start_us,
            )
            remake = _drop_keys(driver) if postgres and fresh else []
            for chunk, encoded in _ahead(_encoded(spec, people, ids, sink)):
                truth[chunk.start : chunk.start + len(chunk.truth)] = chunk.truth
                for table, columns, n_rows, data in encoded:
                    sink.send(table, columns, data)
                    counts[table] += n_rows
                of_control = np.repeat(chunk.control, spec.labels_per_task)
                right = of_control & (chunk.label == np.repeat(chunk.truth, spec.labels_per_task))
                n_control += np.bincount(chunk.worker[of_control], minlength=spec.workers)
                n_correct += np.bincount(chunk.worker[right], minlength=spec.workers)
                np.maximum.at(last_us, chunk.worker, chunk.submitted_us)
                for code, status in enumerate(STATUSES):
                    counts[status] += int((chunk.status == code).sum())
                counts["flagged"] += int((chunk.duration_ms < spec.too_fast_ms).sum())
                counts["controls"] += int(chunk.control.sum())
            rows = _standing(spec, ids, n_control, n_correct, last_us)
            _write(sink, "project_workers", rows)
            counts["project_workers"] = rows.num_rows
            seconds["rows"] = time.perf_counter() - began
            if postgres:
                with driver.cursor() as cursor:
                    cursor.execute("SET LOCAL maintenance_work_mem = '1GB'")
                    for statement in remake:
                        cursor.execute(statement)
                    for table in ("workers", "tasks", "assignments", "ledger"):
                        cursor.execute(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
                        )
                seconds["keys"] = time.perf_counter() - began - seconds["rows"]
        if postgres:
            mark = time.perf_counter()
            with store.reader.connect() as conn:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) workers, {', '.join(LOADED)}")
            seconds["vacuum_analyze"] = time.perf_counter() - mark
    counts["workers"] = spec.workers
    seconds["total"] = time.perf_counter() - began
    return Summary(url, name, spec.classes, counts, seconds, truth)


# The command line


def _cluster(directory: Path, port: int) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    from pgcluster import Cluster

    return Cluster(durable=True, root=directory, port=port)


def _report(summary: Summary, where: Path) -> None:
    """Print the summary and keep the truth (Parquet) and the summary (JSON) in `where`."""
    where.mkdir(parents=True, exist_ok=True)
    summary.truth_frame().to_parquet(where / f"{summary.project}.truth.parquet", index=False)
    facts = {"url": summary.url, "project": summary.project, "counts": summary.counts, "seconds": summary.seconds}
    (where / f"{summary.project}.json").write_text(json.dumps(facts, indent=2) + "\n")
    print(f"project {summary.project!r}   load avg (1 min): {os.getloadavg()[0]:.2f}")
    for key, value in summary.counts.items():
        print(f"  {key:>16} {value:>12,}")
    for key, value in summary.seconds.items():
        print(f"  {key + ' s':>16} {value:>12.1f}")
    print(f"truth: {where / (summary.project + '.truth.parquet')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--pg-dir", type=Path, help="data directory of a durable PostgreSQL server (kept, reused)")
    target.add_argument("--sqlite", type=Path, help="SQLite file")
    parser.add_argument("--port", type=int, default=55432, help="the PostgreSQL server's port (default 55432)")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=10, help="labels per task (the overlap)")
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--price", type=int, default=1, help="points per approved label (ledger rows; 0: none)")
    parser.add_argument("--name", help="project name (default scale-<tasks>x<labels>)")
    args = parser.parse_args()
    spec = Spec(tasks=args.tasks, labels_per_task=args.labels, workers=args.workers, seed=args.seed, price=args.price)
    if args.pg_dir is not None:
        cluster = _cluster(args.pg_dir.resolve(), args.port)
        existed = cluster.data.exists()
        if not cluster.accepts_connections():
            cluster.start()
        url, where = cluster.url(), args.pg_dir.resolve()
        print(f"PostgreSQL {url} (data {cluster.data}; stop: {cluster.stop_command()})")
        if existed:
            with SqlStore(url) as store:
                print(f"reused; projects: {store.project_names()}")
            return
        with sa.create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
            # Room for a large load between checkpoints (the default, 1 GB, checkpoints every few seconds).
            conn.exec_driver_sql("ALTER SYSTEM SET max_wal_size = '8GB'")
            conn.exec_driver_sql("SELECT pg_reload_conf()")
    else:
        url, where = f"sqlite:///{args.sqlite.resolve()}", args.sqlite.resolve().parent
    _report(build(url, spec, name=args.name), where)


if __name__ == "__main__":
    main()
