"""SqlStore benchmark: bulk task intake, durable single submits and task hand-out, per back end.

For each back end, in a fresh process (so peak RSS is per back end) and a fresh store:

1. ``Project.add_tasks`` of N text-class rows (validation included; tqdm bar on stderr).
2. M single ``SqlStore.submit`` calls, one worker, unique annotation ids; tasks are claimed in
   batches outside the timed region. Every submit is its own committed, durable transaction.
3. ``SqlStore.claim(..., 1, exclude=held)`` timed while labeling, as the widget does it: the worker
   holds a prefetch window of 5 leased tasks, submits the oldest, claims one more, repeat.
4. ``Project.labels()`` on the resulting labels, and peak RSS at the end.

SQLite uses a new file in a temporary directory (``$TMPDIR``); PostgreSQL a throwaway server
from ``tests/support/pgcluster.py`` started with ``durable=True`` (fsync on, server defaults).

    python benchmarks/store_bench.py [--tasks 100000] [--submits 10000] [--claims 2000]
                                     [--backends sqlite,postgres]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import resource
import sqlite3
import sys
import tempfile
import time
import uuid
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from pgcluster import Cluster

from crowdnb import Project
from crowdnb.store import SqlStore, Submission

CLASSES = ["positive", "negative", "neutral"]
CLAIM_BATCH = 500
PREFETCH = 5
SUBMIT_P99_TARGET_MS = 5.0
ADD_TARGET_S_PER_100K = 10.0
WORDS = (
    "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "service", "was",
    "slow", "but", "food", "great", "never", "again", "would", "recommend", "price", "fair",
    "staff", "friendly", "delivery", "late", "box", "damaged",
)


@dataclass(frozen=True)
class Result:
    backend: str
    durability: str
    add_s: float
    submit_ms: tuple[float, ...]  # p50, p99, max
    claim_ms: tuple[float, ...]  # p50, p99
    labels_ms: float
    n_labels: int
    rss_mib: float


def texts(n: int) -> list[str]:
    """`n` review-like sentences of 8..30 words."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(8, 31, size=n)
    picks = rng.integers(0, len(WORDS), size=int(lengths.sum()))
    ends = np.cumsum(lengths)
    return [" ".join(WORDS[w] for w in picks[end - k : end]) for end, k in zip(ends, lengths)]


def durability(store: SqlStore) -> str:
    """The commit durability settings as the store's own connections see them."""
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
            level = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
            sync = ["OFF", "NORMAL", "FULL", "EXTRA"][level]
            return f"journal_mode={mode}, synchronous={sync}"
        names = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
        return ", ".join(f"{n}={conn.exec_driver_sql(f'SHOW {n}').scalar()}" for n in names)


def ms(seconds: list[float], *quantiles: float) -> tuple[float, ...]:
    return tuple(float(x) * 1000 for x in np.quantile(seconds, quantiles))


def run(backend: str, url: str, n_tasks: int, n_submits: int, n_claims: int) -> Result:
    """All measurements on one empty store; runs in its own process."""
    with SqlStore(url) as store:
        project = Project.create("bench", "text-class", store=store, classes=CLASSES)
        pid, worker = project.info.id, store.worker_id("bench-worker")
        ids = [f"doc-{i:07d}" for i in range(n_tasks)]
        frame = pd.DataFrame({"id": ids, "text": texts(n_tasks)})

        start = time.perf_counter()
        project.add_tasks(frame, progress=True)
        add_s = time.perf_counter() - start

        def submit(i: int, task_id: int) -> None:
            label = CLASSES[i % len(CLASSES)]
            store.submit(pid, worker, Submission(uuid.uuid4().hex, task_id, label, 1500))

        submit_s: list[float] = []
        while len(submit_s) < n_submits:
            for task in store.claim(pid, worker, min(CLAIM_BATCH, n_submits - len(submit_s))):
                start = time.perf_counter()
                submit(len(submit_s), task.id)
                submit_s.append(time.perf_counter() - start)

        claim_s: list[float] = []
        held = deque(task.id for task in store.claim(pid, worker, PREFETCH))
        for i in range(n_claims):
            submit(i, held.popleft())
            start = time.perf_counter()
            got = store.claim(pid, worker, 1, exclude=held)
            claim_s.append(time.perf_counter() - start)
            held.extend(task.id for task in got)

        start = time.perf_counter()
        labels = project.labels()
        labels_ms = (time.perf_counter() - start) * 1000
        return Result(
            backend, durability(store), add_s,
            ms(submit_s, 0.5, 0.99, 1.0), ms(claim_s, 0.5, 0.99), labels_ms, len(labels),
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        )


def filesystem(path: str) -> str:
    """The type of the filesystem holding `path` (from /proc/mounts)."""
    mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    holding = [m for m in mounts if Path(path).is_relative_to(m[1])]
    return max(holding, key=lambda m: len(m[1]))[2]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def table(results: list[Result], n_tasks: int) -> str:
    add_limit = ADD_TARGET_S_PER_100K * n_tasks / 100_000
    head = (
        "backend", "add s", "rows/s", f"add<{add_limit:g}s", "submit p50", "p99", "max",
        f"p99<{SUBMIT_P99_TARGET_MS:g}ms", "claim p50", "p99", "labels() ms", "labels",
        "peak RSS MiB",
    )
    rows = [head]
    for r in results:
        p50, p99, top = r.submit_ms
        submit_ok = "-" if r.backend != "sqlite" else verdict(p99 < SUBMIT_P99_TARGET_MS)
        rows.append((
            r.backend, f"{r.add_s:.2f}", f"{n_tasks / r.add_s:,.0f}", verdict(r.add_s < add_limit),
            f"{p50:.2f}", f"{p99:.2f}", f"{top:.2f}", submit_ok,
            f"{r.claim_ms[0]:.2f}", f"{r.claim_ms[1]:.2f}",
            f"{r.labels_ms:.1f}", f"{r.n_labels:,}", f"{r.rss_mib:.0f}",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000, help="rows given to add_tasks")
    parser.add_argument("--submits", type=int, default=10_000, help="timed single submits")
    parser.add_argument("--claims", type=int, default=2_000, help="timed claims while labeling")
    parser.add_argument("--backends", default="sqlite,postgres", help="sqlite and/or postgres")
    args = parser.parse_args()
    backends = args.backends.split(",")
    if unknown := set(backends) - {"sqlite", "postgres"}:
        parser.error(f"unknown backend(s): {sorted(unknown)}")
    if args.submits + args.claims + PREFETCH > args.tasks:
        parser.error("--tasks must exceed --submits + --claims + 5")

    began = time.perf_counter()
    cluster = Cluster(durable=True).start() if "postgres" in backends else None
    try:
        with tempfile.TemporaryDirectory(prefix="crowdnb-bench-") as tmp:
            print(
                f"cpus: {os.cpu_count()}   python: {platform.python_version()}"
                f"   sqlite: {sqlite3.sqlite_version}   sqlalchemy: {sa.__version__}"
                f"   {platform.platform()}   load avg (1 min): {os.getloadavg()[0]:.2f}"
            )
            urls = {"sqlite": f"sqlite:///{tmp}/bench.sqlite"}
            print(f"sqlite file: {tmp}/bench.sqlite ({filesystem(tmp)})")
            if cluster is not None:
                engine = sa.create_engine(cluster.url())
                with engine.connect() as conn:
                    version = conn.exec_driver_sql("SHOW server_version").scalar()
                engine.dispose()
                fs = filesystem(str(cluster.root))
                print(f"postgres server: {version}, data dir {cluster.root} ({fs})")
                urls["postgres"] = cluster.new_database()
            print(f"N={args.tasks:,} tasks, M={args.submits:,} submits, {args.claims:,} claims "
                  f"(prefetch window {PREFETCH}), one worker\n", flush=True)
            results = []
            spawn = multiprocessing.get_context("spawn")
            for backend in backends:
                with ProcessPoolExecutor(1, mp_context=spawn) as pool:
                    sizes = (args.tasks, args.submits, args.claims)
                    results.append(pool.submit(run, backend, urls[backend], *sizes).result())
    finally:
        if cluster is not None:
            cluster.stop()
    print("\nlatencies in ms; every submit is one committed transaction")
    print(table(results, args.tasks))
    for r in results:
        print(f"durability {r.backend}: {r.durability}")
    runtime = time.perf_counter() - began
    print(f"total runtime: {runtime:.1f} s   load avg (1 min): {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
