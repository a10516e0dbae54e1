"""The scale benchmark of issue 15: reads, aggregation, exports and intake of a company-sized
project, each call timed in a fresh process with its own peak memory, against the issue's targets.

    python benchmarks/scale_bench.py [--pg-url URL --pg-project NAME | --pg-dir DIR]
        [--sqlite PATH --sqlite-project NAME [--sqlite-build]] [--backends postgresql,sqlite]
        [--only labels,results,...] [--add-tasks 1000000] [--explain]

The projects are made by `scale_load.py` (the set-up half): by default the kept PostgreSQL
project of 1,000,000 tasks x 10 labels from 100,000 workers (`--pg-dir` builds it, or reuses and
starts the server there) and the SQLite project of 100,000 x 10 from 100,000 workers
(`--sqlite-build` builds it when the file is missing). Both are only read, apart from two
things: `results(store=True)` keeps results (removed again afterwards, and not run at all when
the project already has stored results, which are someone's), and `add_tasks` goes to a new
project in a fresh store (a new database on the same PostgreSQL server, dropped afterwards; a
new SQLite file in `$TMPDIR`). The first open of a store of an older schema migrates it.

Every call runs in its own child process of this script that imports crowdnb lazily (run with
`PYTHONPATH` set to the checkout to measure) and uses the public API only: it opens the project
with `Project.open(name, store=SqlStore(url))`, records its peak RSS so far as the baseline
(imports, the store, the call's input), times the one call with `perf_counter`, and records the
peak RSS again (`getrusage(RUSAGE_SELF).ru_maxrss`). Accuracy against the hidden truth (the
Parquet file `scale_load.py` saved beside the data) is computed after that. The 1-minute load
average is printed before and after each call: the machine is shared. Before the first call a
child compiles the numba aggregation kernels (``crowdnb[fast]``) or loads them from numba's
cache, and prints how long that took: numba compiles once per install, so the timed calls
measure what a user's every call but the first costs.

`--explain` prints instead `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL of the hot read queries,
made by the store's own code so that the plans are the real ones: `reads.label_query` and the
coded answers of `results()` (its `counted` conditions) built directly, and the queries of
`TaskOrder.read`, `task_frame` and one piece of `label_batches` recorded as those functions
hand them to `columns.batches` (they are built inside the functions). Literal values are
inlined for EXPLAIN (the store binds them as parameters).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
LOADER = HERE / "scale_load.py"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:55432/postgres"
DEFAULT_PG_DIR = Path("/work/scale-pg")
DEFAULT_SQLITE = Path("/work/scale-sqlite/scale.db")
GIB_KIB = 1 << 20  # ru_maxrss is in KiB on Linux
FRESH_DB = "scale_bench_add_tasks"


@dataclass(frozen=True)
class Shape:
    """A project `scale_load.py` builds: tasks x labels per task from workers."""

    tasks: int
    labels: int
    workers: int

    @property
    def name(self) -> str:
        return f"scale-{self.tasks}x{self.labels}"

    def loader_args(self) -> list[str]:
        return ["--tasks", str(self.tasks), "--labels", str(self.labels), "--workers", str(self.workers)]


PG_SHAPE = Shape(1_000_000, 10, 100_000)
SQLITE_SHAPE = Shape(100_000, 10, 100_000)  # as the kept file was built


# The calls, as the child runs them


@dataclass(frozen=True)
class Exported:
    """What the export stream wrote, and the part of its time spent getting the pieces."""

    rows: int
    reading_seconds: float


def _export(project: Any) -> Exported:
    """The export stream: every piece of `label_batches` written as CSV to a sink that drops it."""
    rows, reading = 0, 0.0
    with open(os.devnull, "w") as sink:
        pieces = iter(project.label_batches())
        while True:
            began = time.perf_counter()
            piece = next(pieces, None)
            reading += time.perf_counter() - began
            if piece is None:
                return Exported(rows, reading)
            piece.to_csv(sink, header=rows == 0, index=False)
            rows += len(piece)


CALLS: dict[str, tuple[str, Callable[[Any], Any] | None]] = {
    "labels": ("labels()", lambda p: p.labels()),
    "labels-3": ('labels(["task", "worker", "label"])', lambda p: p.labels(["task", "worker", "label"])),
    "tasks": ("tasks()", lambda p: p.tasks()),
    "workers": ("workers()", lambda p: p.workers()),
    "export": ("label_batches() -> to_csv", _export),
    "results": ("results() (Dawid-Skene)", lambda p: p.results()),
    "majority-vote": ('results("majority-vote")', lambda p: p.results("majority-vote")),
    "wawa": ('results("wawa")', lambda p: p.results("wawa")),
    "one-coin": ('results("one-coin-dawid-skene")', lambda p: p.results("one-coin-dawid-skene")),
    "results-store": ("results(store=True)", lambda p: p.results(store=True)),
    "stored-results": ("stored_results()", lambda p: p.stored_results()),
    "add-tasks": ("add_tasks() (new project)", None),  # on a new project: see `child`
}
RESULTS = ("results", "majority-vote", "wawa", "one-coin")
WARMED = ("dawid-skene", "majority-vote", "wawa", "one-coin-dawid-skene")  # the methods RESULTS time


@dataclass(frozen=True)
class Target:
    """An issue-15 target: at most `seconds`, and at most `gib` of peak RSS when given."""

    seconds: float
    gib: float | None = None

    def __str__(self) -> str:
        return f"< {self.seconds:g} s" + (f", < {self.gib:g} GiB" if self.gib is not None else "")

    def met(self, seconds: float, gib: float) -> bool:
        return seconds < self.seconds and (self.gib is None or gib < self.gib)


def target(backend: str, call: str, add_rows: int) -> Target | None:
    """The issue's target for a call: PostgreSQL (10M labels) results() < 60 s and < 4 GiB with
    every method, labels() < 30 s; SQLite (1M labels) results() < 10 s; add_tasks of 1M rows
    < 60 s on both (scaled to the rows added)."""
    if call == "add-tasks":
        return Target(60 * add_rows / 1_000_000)
    if backend == "postgresql":
        if call in RESULTS:
            return Target(60, 4)
        if call in ("labels", "labels-3"):
            return Target(30)
    if backend == "sqlite" and call in RESULTS:
        return Target(10)
    return None


# The child process


def maxrss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / GIB_KIB


def child(job: dict[str, Any]) -> dict[str, Any]:
    """Run one call as the job says and return its figures (see the module docstring)."""
    from crowdnb import Project
    from crowdnb.store import SqlStore

    store = SqlStore(job["url"])
    facts: dict[str, Any] = {"code": checkout()[1]}
    if job["call"] == "add-tasks":
        project, frame = _add_tasks_setup(store, job["rows"])
        run: Callable[[], Any] = partial(project.add_tasks, frame, progress=False)
    else:
        project = Project.open(job["project"], store=store)
        facts["project_id"] = project.info.id
        if job["call"] == "results-store" and _has_stored(project):
            return {**facts, "skipped": "the project has stored results already (someone's): not overwritten"}
        call = CALLS[job["call"]][1]
        assert call is not None
        run = partial(call, project)
    base = maxrss_gib()
    began = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - began
    peak = maxrss_gib()
    if isinstance(value, Exported):
        facts["note"] = f"{value.reading_seconds:.1f} s of it getting the pieces, the rest writing CSV"
    rows = value.rows if isinstance(value, Exported) else value if isinstance(value, int) else len(value)
    facts.update(seconds=seconds, peak_gib=peak, base_gib=base, rows=rows)
    if job.get("truth") and "confidence" in getattr(value, "columns", ()):
        facts["accuracy"] = accuracy(value, job["truth"])
    store.close()
    return facts


def warm_kernels() -> dict[str, Any]:
    """Compile (or load from numba's cache) the aggregation kernels of every timed method, on a
    small crowd of the benchmark's shape (5 classes): numba compiles once per install, so
    the timed calls measure a user's every call but the first."""
    if importlib.util.find_spec("numba") is None:
        return {"seconds": 0.0, "note": "(numba not installed: the numpy reference runs)"}
    os.environ["CROWDNB_KERNELS"] = "numba"  # at any size, as the timed calls' 10M answers do
    import numpy as np
    import pandas as pd

    from crowdnb.aggregation.methods import aggregate

    rng = np.random.default_rng(0)
    n_tasks, per_task, classes = 2_000, 5, np.array(list("abcde"))
    truth = np.repeat(rng.integers(0, 5, n_tasks), per_task)
    given = np.where(rng.random(len(truth)) < 0.85, truth, rng.integers(0, 5, len(truth)))
    frame = pd.DataFrame({  # mostly right answers: the fit settles, as at scale (all kernels run)
        "task": np.repeat(np.arange(n_tasks), per_task).astype(str),
        "worker": rng.integers(0, 200, len(truth)).astype(str), "label": classes[given],
    }).drop_duplicates(["task", "worker"])
    began = time.perf_counter()
    for method in WARMED:
        aggregate(frame, method)
    return {"seconds": time.perf_counter() - began}


def _add_tasks_setup(store: Any, n: int) -> tuple[Any, Any]:
    """A new text-class project in `store` and `n` rows like the loaded project's tasks (its ids,
    texts and intake batch as metadata), made before the clock starts."""
    import numpy as np
    import pandas as pd

    from crowdnb import Project

    sys.path.insert(0, str(HERE))
    import scale_load

    project = Project.create("add-tasks", scale_load.KIND, store=store, classes=list(scale_load.CLASSES))
    frame = pd.DataFrame({
        "id": scale_load.task_ids(0, n),
        "text": scale_load._texts(np.random.default_rng(0), n),
        "batch": scale_load.batch_of(np.arange(n)),
    })
    return project, frame


def _has_stored(project: Any) -> bool:
    from crowdnb.errors import NotFound

    try:
        project.stored_results()
    except NotFound:
        return False
    return True


def accuracy(found: Any, truth_path: str) -> float:
    """Share of the tasks whose answer is the hidden truth (no answer counts as wrong)."""
    import pandas as pd

    truth = pd.read_parquet(truth_path).set_index("task")["truth"]
    answers = found.set_index("task")["label"].reindex(truth.index)
    return float((answers.to_numpy(dtype=object) == truth.to_numpy(dtype=object)).mean())


# EXPLAIN (its own child)


class _Recorded(Exception):
    """Stops a read once its first query is recorded."""


@contextmanager
def recorded(*, stop: bool) -> Iterator[list[Any]]:
    """The queries the store's reads hand to `columns.batches` inside the block (run for real,
    or stopped at the first one when `stop`)."""
    from crowdnb.store.sql import columns

    seen: list[Any] = []
    real = columns.batches

    def record(conn: Any, query: Any, types: Any, **options: Any) -> Any:
        seen.append(query)
        if stop:
            raise _Recorded
        return real(conn, query, types, **options)

    columns.batches = record
    try:
        yield seen
    except _Recorded:
        pass
    finally:
        columns.batches = real
    if not seen:
        raise RuntimeError("no query reached crowdnb.store.sql.columns.batches; the store's reads changed")


def explain(url: str, name: str) -> None:
    """Print EXPLAIN (ANALYZE, BUFFERS) of the hot read queries of project `name`."""
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql

    from crowdnb import Project
    from crowdnb.store import SqlStore
    from crowdnb.store.schema import annotations
    from crowdnb.store.sql import columns, reads, results
    from crowdnb.store.types import LABEL_COLUMNS

    store = SqlStore(url)
    pid = Project.open(name, store=store).info.id
    with store.reader.connect() as conn:
        predicted = reads.has_predictions(conn, pid)
    queries = {
        "labels(): reads.label_query, all columns": reads.label_query(
            pid, LABEL_COLUMNS, class_labels=True, dialect="postgresql", predicted=predicted
        )[0],
        'labels(["task", "worker", "label"]): reads.label_query': reads.label_query(
            pid, ["task", "worker", "label"], class_labels=True, dialect="postgresql", predicted=predicted
        )[0],
        "results(): the coded answers (results.counted, flagged left out)": sa.select(
            annotations.c.task_id, annotations.c.worker_id, columns.json_text(annotations.c.label).label("label")
        ).where(*results.counted(pid, False)),
    }
    with store.reader.connect() as conn:
        with recorded(stop=False) as seen:
            reads.TaskOrder.read(conn, pid)
        queries["TaskOrder.read (labels, results, label_batches)"] = seen[-1]
        with recorded(stop=True) as seen:
            reads.task_frame(conn, pid)
        queries["tasks(): reads.task_frame"] = seen[0]
        with recorded(stop=False) as seen:
            next(reads.label_batches(conn, pid, class_labels=True))
        queries["label_batches(): the first piece (50,000 tasks)"] = seen[-1]
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("SET track_io_timing = on")
        for title, query in queries.items():
            sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            print(f"\n### {title}\n\n```sql\n{sql}\n```\n\n```\n{plan}\n```", flush=True)
    store.close()


# The parent: set-up, one child per call, the table


@dataclass
class Backend:
    """A back end to measure: its store URL, project, truth file and where a fresh store goes."""

    name: str
    url: str
    project: str
    truth: Path | None


@dataclass
class Row:
    backend: str
    call: str
    load: tuple[float, float]
    facts: dict[str, Any]
    target: Target | None


def load1() -> float:
    return os.getloadavg()[0]


def run_child(job: dict[str, Any], timeout: float, script: Path = Path(__file__)) -> dict[str, Any]:
    """Run `job` in a fresh interpreter (same environment) as `script --child JOB`; its
    figures (the JSON the child wrote to the job's ``out`` file), or an error."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, str(script.resolve()), "--child", json.dumps({**job, "out": out.name})]
        try:
            done = subprocess.run(command, check=False, timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout:g} s"}
        if done.returncode != 0:
            how = f"killed by signal {-done.returncode}" if done.returncode < 0 else f"exit code {done.returncode}"
            return {"error": f"{how} (see stderr above)"}
        return json.loads(Path(out.name).read_text())


def engine(url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(url, isolation_level="AUTOCOMMIT")


@contextmanager
def fresh_store(backend: Backend) -> Iterator[str]:
    """The URL of an empty store on the back end's server (a new database) or disk (a new file
    in $TMPDIR), removed afterwards."""
    if backend.name == "sqlite":
        where = Path(tempfile.mkdtemp(prefix="scale-bench-"))
        try:
            yield f"sqlite:///{where / 'fresh.db'}"
        finally:
            shutil.rmtree(where)
        return
    import sqlalchemy as sa

    server = engine(backend.url)
    with server.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {FRESH_DB} WITH (FORCE)")
        conn.exec_driver_sql(f"CREATE DATABASE {FRESH_DB}")
    try:
        yield sa.make_url(backend.url).set(database=FRESH_DB).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {FRESH_DB} WITH (FORCE)")
        server.dispose()


def forget_stored(backend: Backend, project_id: int) -> None:
    """Remove the results the benchmark stored (the project had none before)."""
    import sqlalchemy as sa

    db = engine(backend.url)
    with db.begin() as conn:
        conn.execute(sa.text("DELETE FROM results WHERE project_id = :p"), {"p": project_id})
        conn.execute(sa.text("DELETE FROM result_runs WHERE project_id = :p"), {"p": project_id})
    db.dispose()


def measure(backend: Backend, calls: list[str], add_rows: int, timeout: float) -> Iterator[Row]:
    """Each call in its own child, in order; stored results made here are removed at the end."""
    stored_by_us: int | None = None
    try:
        for call in calls:
            job = {"call": call, "url": backend.url, "project": backend.project,
                   "truth": str(backend.truth) if backend.truth else None, "rows": add_rows}
            print(f"\n[{backend.name}] {CALLS[call][0]}   load {load1():.2f}", file=sys.stderr, flush=True)
            before = load1()
            if call == "add-tasks":
                with fresh_store(backend) as url:
                    facts = run_child({**job, "url": url}, timeout)
            else:
                facts = run_child(job, timeout)
            if call == "results-store" and "seconds" in facts:
                stored_by_us = facts["project_id"]
            yield Row(backend.name, call, (before, load1()), facts, target(backend.name, call, add_rows))
    finally:
        if stored_by_us is not None:
            forget_stored(backend, stored_by_us)


def verdict(row: Row) -> str:
    if "error" in row.facts:
        return "ERROR"
    if "skipped" in row.facts:
        return "SKIPPED"
    if row.target is None:
        return ""
    return "PASS" if row.target.met(row.facts["seconds"], row.facts["peak_gib"]) else "FAIL"


def line(row: Row) -> str:
    """One row of the table (Markdown)."""
    f = row.facts
    if "seconds" in f:
        figures = f"{f['rows']:,} | {f['seconds']:.1f} | {f['peak_gib']:.2f} | {f['base_gib']:.2f}"
    else:
        figures = f"{f.get('error') or f.get('skipped')} | | |"
    acc = f"{f['accuracy']:.4f}" if "accuracy" in f else ""
    return (
        f"| {row.backend} | {CALLS[row.call][0]} | {figures} | {row.load[0]:.2f} -> {row.load[1]:.2f} "
        f"| {row.target or ''} | {verdict(row)} | {acc} | {f.get('code', '')} |"
    )


def table(rows: list[Row]) -> str:
    """The results as a Markdown table, and the notes of its rows."""
    lines = [
        "| backend | call | rows | s | peak GiB | baseline GiB | load before -> after | target | PASS/FAIL | accuracy | code |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        *map(line, rows),
    ]
    notes = [f"{row.backend} {CALLS[row.call][0]}: {row.facts['note']}" for row in rows if "note" in row.facts]
    return "\n".join(lines + ([""] + notes if notes else []))


def checkout() -> tuple[Path, str]:
    """Where crowdnb is imported from (found without importing it) and that checkout's commit
    ('+' when its tracked files have changes; '?' outside git). The children report theirs:
    code that changes during a run shows in the table."""
    spec = importlib.util.find_spec("crowdnb")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("crowdnb is not importable: run with PYTHONPATH=<checkout>")
    root = Path(next(iter(spec.submodule_search_locations))).parent
    git = ["git", "-C", str(root)]

    def out(*command: str) -> str:
        return subprocess.run([*git, *command], check=False, capture_output=True, text=True).stdout.strip()

    commit, dirty = out("rev-parse", "--short", "HEAD"), out("status", "--porcelain", "--untracked-files=no")
    return root, (commit or "?") + ("+" if dirty else "")


def machine_facts(backends: list[Backend]) -> list[str]:
    """Cores, memory, load, the code measured and each back end's version and settings."""
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    gib = {key: int(meminfo[key].split()[0]) / GIB_KIB for key in ("MemTotal", "MemAvailable")}
    facts = [
        f"date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        (
            f"machine: {os.cpu_count()} CPUs, {gib['MemTotal']:.1f} GiB RAM ({gib['MemAvailable']:.1f} available), "
            f"{platform.platform()}, Python {platform.python_version()}"
        ),
        f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}",
        "code: {} at {}".format(*checkout()),
    ]
    for backend in backends:
        if backend.name == "sqlite":
            path = Path(backend.url.removeprefix("sqlite:///"))
            facts.append(f"sqlite: {sqlite3.sqlite_version}, {path} ({path.stat().st_size / GIB_KIB / 1024:.2f} GiB), project {backend.project!r}")
            continue
        db = engine(backend.url)
        with db.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar()
            size = conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar() / (1 << 30)
            names = ("shared_buffers", "work_mem", "effective_cache_size", "max_parallel_workers_per_gather", "jit", "fsync")
            settings = ", ".join(f"{n}={conn.exec_driver_sql(f'SHOW {n}').scalar()}" for n in names)
        db.dispose()
        facts.append(f"postgresql: {version}, {backend.url} ({size:.2f} GiB), project {backend.project!r}; {settings}")
    return facts


def check_project(backend: Backend) -> None:
    """Stop early, naming the projects there, when the back end lacks the project."""
    import sqlalchemy as sa

    db = engine(backend.url)
    with db.connect() as conn:
        names = list(conn.execute(sa.text("SELECT name FROM projects ORDER BY id")).scalars())
    db.dispose()
    if backend.project not in names:
        raise SystemExit(f"{backend.name}: no project {backend.project!r} at {backend.url}; projects: {names}")


def load_with_scale_load(args: list[str]) -> None:
    subprocess.run([sys.executable, str(LOADER), *args], check=True)


def backends_of(args: argparse.Namespace) -> list[Backend]:
    """The back ends asked for, built or started with `scale_load.py` where asked."""
    chosen: list[Backend] = []
    wanted = args.backends.split(",")
    unknown = set(wanted) - {"postgresql", "sqlite"}
    if unknown:
        raise SystemExit(f"unknown back end(s) {sorted(unknown)}; choose from postgresql, sqlite")
    if "postgresql" in wanted:
        project = args.pg_project or PG_SHAPE.name
        url, where = args.pg_url, DEFAULT_PG_DIR
        if args.pg_dir is not None:  # build it there the first time, else start its server
            where = args.pg_dir.resolve()
            load_with_scale_load(["--pg-dir", str(where), "--port", str(args.pg_port), "--name", project, *PG_SHAPE.loader_args()])
            url = f"postgresql+psycopg://postgres@127.0.0.1:{args.pg_port}/postgres"
        truth = args.pg_truth or where / f"{project}.truth.parquet"
        chosen.append(Backend("postgresql", url, project, truth if truth.exists() else None))
    if "sqlite" in wanted:
        path, project = args.sqlite.resolve(), args.sqlite_project or SQLITE_SHAPE.name
        if not path.exists():
            if not args.sqlite_build:
                raise SystemExit(f"{path} does not exist; --sqlite-build makes it ({SQLITE_SHAPE.tasks * SQLITE_SHAPE.labels:,} labels)")
            load_with_scale_load(["--sqlite", str(path), "--name", project, *SQLITE_SHAPE.loader_args()])
        truth = path.parent / f"{project}.truth.parquet"
        chosen.append(Backend("sqlite", f"sqlite:///{path}", project, truth if truth.exists() else None))
    for backend in chosen:
        check_project(backend)
    return chosen


def calls_of(only: str | None) -> list[str]:
    """The calls asked for, in the table's order; stored_results needs results(store=True) first."""
    if only is None:
        return list(CALLS)
    picked = set(only.split(","))
    unknown = picked - set(CALLS)
    if unknown:
        raise SystemExit(f"unknown call(s) {sorted(unknown)}; choose from {', '.join(CALLS)}")
    if "stored-results" in picked:
        picked.add("results-store")
    return [call for call in CALLS if call in picked]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    pg = parser.add_mutually_exclusive_group()
    pg.add_argument("--pg-url", default=DEFAULT_PG_URL, help=f"a running PostgreSQL store (default {DEFAULT_PG_URL})")
    pg.add_argument("--pg-dir", type=Path, help=f"build ({PG_SHAPE.name}) or reuse a kept server's data directory with scale_load.py")
    parser.add_argument("--pg-port", type=int, default=55432, help="the --pg-dir server's port")
    parser.add_argument("--pg-project", help=f"default {PG_SHAPE.name}")
    parser.add_argument("--pg-truth", type=Path, help=f"the truth Parquet (default <project>.truth.parquet in --pg-dir, else {DEFAULT_PG_DIR})")
    parser.add_argument("--sqlite", type=Path, default=DEFAULT_SQLITE, help=f"SQLite store (default {DEFAULT_SQLITE})")
    parser.add_argument("--sqlite-project", help=f"default {SQLITE_SHAPE.name}")
    parser.add_argument("--sqlite-build", action="store_true", help="build the SQLite project with scale_load.py if the file is missing")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--only", help=f"comma-separated calls of: {', '.join(CALLS)}")
    parser.add_argument("--add-tasks", type=int, default=1_000_000, help="rows for add_tasks (default 1,000,000)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds one call may take (default 3600)")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of the hot reads (PostgreSQL) instead")
    args = parser.parse_args()
    if args.child is not None:
        job = json.loads(args.child)
        if job["call"] == "explain":
            explain(job["url"], job["project"])
            return
        if job["call"] == "warm-kernels":
            Path(job["out"]).write_text(json.dumps(warm_kernels()))
            return
        Path(job["out"]).write_text(json.dumps(child(job)))
        return

    backends = backends_of(args)
    print("\n".join(machine_facts(backends)), flush=True)
    if args.explain:
        for backend in backends:
            if backend.name == "postgresql":
                subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child",
                                json.dumps({"call": "explain", "url": backend.url, "project": backend.project})], check=True)
        print(f"\nload average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        return
    began, rows = time.perf_counter(), []
    warmed = run_child({"call": "warm-kernels"}, args.timeout)
    print(f"aggregation kernels compiled or loaded before the timed calls: {warmed.get('seconds', 0):.1f} s {warmed.get('note', warmed.get('error', ''))}", flush=True)
    for backend in backends:
        for row in measure(backend, calls_of(args.only), args.add_tasks, args.timeout):
            rows.append(row)
            print(line(row), file=sys.stderr, flush=True)
    print()
    print(table(rows))
    print(
        "\nseconds: the call alone (perf_counter), each in a fresh process; peak GiB: that process's ru_maxrss"
        " after the call, baseline: before it (imports, store, input); load: 1-minute load average"
    )
    print(f"total {time.perf_counter() - began:.0f} s   load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
