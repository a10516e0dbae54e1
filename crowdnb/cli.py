"""The `crowdnb` command: serve a store over HTTP, manage workers, look into a store.

Only the base dependencies are needed: the store is opened inside the commands, and `serve`
loads the server extra (FastAPI, uvicorn) when it runs.

`serve --processes N` runs uvicorn's own supervisor, tuned, rather than gunicorn (a dependency
more, whose uvicorn worker has left uvicorn). What the supervisor does (uvicorn 0.51+,
`uvicorn/supervisors/multiprocess.py`), and so the timeouts chosen:

- Every 0.5 s it pings each process over a pipe. A thread of the process answers, not its event
  loop, so busy requests do not delay the answer; a saturated CPU, or a long C call holding the
  GIL, only stretches it (at load 20 with 50 workers, 30 s of pings were each answered within
  1 s). A process that does not answer within `--healthcheck-timeout` is killed (SIGKILL: its
  requests in flight are lost) and replaced; one that exits is replaced at once, whatever the
  timeout.
- The same timeout bounds how long a new process may take to be ready. Processes are spawned and
  import the app afresh: 5 s on 2 cores at load 2, 34 s at load 15. uvicorn's default of 5 s
  made SIGHUP abort every reload ("not ready in time"); 60 s does not. Its cost: a frozen
  process is replaced a minute late, and the supervisor, waiting on it, handles signals late.
- SIGHUP starts a replacement for each process in turn and, once it is ready, sends the old one
  SIGTERM: it accepts no more connections and finishes its requests in flight, for at most
  `--graceful-timeout` (uvicorn waits forever by default: one stuck request would hold the
  reload and the shutdown). SIGTERM stops every process that way. `--processes 1` runs no
  supervisor, and SIGHUP ends it.
- `--keep-alive` 75 s (uvicorn: 5 s): longer than the idle timeout of httpx (5 s, the client's)
  and of common proxies (60 s), so the client closes an idle connection first and never sends a
  request onto one the server is closing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    import pandas as pd

    from crowdnb.server.limits import Limits
    from crowdnb.store import SqlStore

SERVER_EXTRA = 'crowdnb serve needs the server extra: pip install "crowdnb[server]"'
POSTGRES_EXTRA = 'this store is on PostgreSQL, which needs the postgres extra: pip install "crowdnb[postgres]"'
# Top-level modules of the server extra: a missing one means the extra is not installed.
SERVER_MODULES = frozenset({"fastapi", "starlette", "pydantic", "uvicorn", "httptools", "uvloop"})
# Columns of a labels export written as JSON in CSV cells, whatever their values.
JSON_COLUMNS = ("label", "meta")
FORMATS = ("csv", "jsonl")
# `serve`'s timeouts in seconds, passed to uvicorn (the module docstring says why these values).
TIMEOUTS = {
    "--healthcheck-timeout": (60, "seconds a server process may take to answer its supervisor's ping before it is replaced"),
    "--graceful-timeout": (30, "seconds a stopping or restarting process waits for requests in flight"),
    "--keep-alive": (75, "seconds an idle connection is kept open"),
}


def _parser() -> argparse.ArgumentParser:
    from crowdnb.server.limits import SETTINGS, Limits, format_size
    from crowdnb.store.sql.accounts import ROLES

    parser = argparse.ArgumentParser(prog="crowdnb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", help="store URL or SQLite path (default: $CROWDNB_STORE or a per-user file)")
    commands = parser.add_subparsers(dest="command", required=True)
    projects = commands.add_parser("projects", help="list projects with their kind and task counts")
    projects.set_defaults(run=_projects, existing_store=True)
    labels = commands.add_parser("labels", help="write a project's labels with their tasks' media (CSV or JSON lines)")
    labels.add_argument("project")
    labels.add_argument("--out", default="-", help="output file (default: standard output)")
    labels.add_argument(
        "--format", choices=FORMATS, help="csv (labels and metadata as JSON in their cells) or jsonl "
        "(one JSON object per label); default: jsonl for a .jsonl file, else csv",
    )
    labels.set_defaults(run=_labels, existing_store=True)
    export = commands.add_parser("export", help="write a project's labels in a format (COCO, YOLO, CoNLL, chat JSONL, Parquet, Label Studio, ...)")
    export.add_argument("project")
    export.add_argument("--format", required=True, help="the format (crowdnb.formats.FORMATS lists them)")
    export.add_argument("--out", required=True, help="file or folder to write (replaced atomically)")
    export.add_argument("--aggregated", action="store_true", help="one answer per task (its results) instead of every worker's label")
    export.add_argument("--min-confidence", type=float, help="with --aggregated: leave out answers less certain than this (0-1)")
    export.add_argument("--method", help="with --aggregated: the aggregation method (default: the kind's)")
    export.add_argument("--approved-only", action="store_true", help="only labels an inspector approved")
    export.add_argument("--worker", action="append", dest="workers", help="only this worker's labels (repeat for several)")
    export.add_argument("--copy-media", action="store_true", help="copy the images beside the data instead of referring to them")
    export.add_argument("--media-root", help="write image paths relative to this folder")
    export.set_defaults(run=_export, existing_store=True)
    load = commands.add_parser("import", help="add tasks from a file in a format, its annotations as pre-labels or known answers")
    load.add_argument("project")
    load.add_argument("path")
    load.add_argument("--format", required=True, help="the format (crowdnb.formats.FORMATS lists them)")
    load.add_argument("--as", dest="as_", choices=("prediction", "answer", "tasks"), default="prediction",
                      help="what the file's annotations become (default: prediction, a model pre-label)")
    load.add_argument("--media-root", help="folder that relative image paths in the file are under")
    load.add_argument("--dry-run", action="store_true", help="only check every row; store nothing")
    load.set_defaults(run=_import, existing_store=True)
    serve = commands.add_parser("serve", help="serve the store over HTTP to workers' notebooks")
    serve.add_argument("--media", required=True, help="folder that task image paths are relative to")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--processes", type=int, default=1, help="server processes (state lives in the store)")
    for name, setting in SETTINGS.items():
        serve.add_argument(
            setting.option, type=_size, metavar="SIZE",
            help=f"largest {setting.bounds} (default {format_size(getattr(Limits(), name))}; environment: ${setting.env})",
        )
    for option, (default, meaning) in TIMEOUTS.items():
        serve.add_argument(option, type=int, default=default, metavar="SECONDS", help=f"{meaning} (default {default})")
    worker = commands.add_parser("worker", help="manage workers").add_subparsers(dest="action", required=True)
    add = worker.add_parser("add", help="create a worker (or give them a new token); prints the token once")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, help="worker, inspector or manager (default: worker, or the existing role)")
    add.add_argument("--force", action="store_true", help="replace an existing worker's token or change their role")
    add.set_defaults(run=_worker_add, existing_store=False)
    listing = worker.add_parser("list", help="list workers: role, whether a token is set, projects")
    listing.set_defaults(run=_worker_list, existing_store=True)
    remove = worker.add_parser("remove", help="revoke a worker's token and end their memberships (labels stay)")
    remove.add_argument("name")
    remove.add_argument("--force", action="store_true", help="also remove a worker who has labels (the labels stay)")
    remove.set_defaults(run=_worker_remove, existing_store=True)
    member = commands.add_parser("member", help="project membership").add_subparsers(dest="action", required=True)
    join = member.add_parser("add", help="let a worker work on (or inspect) a project")
    join.add_argument("project")
    join.add_argument("worker")
    join.set_defaults(run=_member_add, existing_store=True)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `crowdnb` command."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    url = _store_url(args.store)
    if args.existing_store and (missing := missing_sqlite_file(url)) is not None:
        # Opening a store creates it: a mistyped path would show (or change) a new, empty store.
        print(f"no store at {missing} (give --store or set CROWDNB_STORE)", file=sys.stderr)
        return 1
    from crowdnb.errors import Conflict, NotFound

    try:
        with _open(url) as store:
            return int(args.run(store, args))
    except (NotFound, Conflict) as exc:
        print(exc, file=sys.stderr)
        return 1
    except _MissingPostgres:
        print(POSTGRES_EXTRA, file=sys.stderr)
        return 2


class _MissingPostgres(Exception):
    """The store URL is PostgreSQL and psycopg is not installed."""


@contextmanager
def _open(url: str) -> Iterator[SqlStore]:
    from crowdnb.store import SqlStore

    try:
        store = SqlStore(url)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == "psycopg":
            raise _MissingPostgres from exc
        raise
    try:
        yield store
    finally:
        store.close()


def _store_url(store: str | None) -> str:
    from crowdnb.store.engine import as_url, default_url

    return as_url(store) if store else default_url()


def missing_sqlite_file(url: str) -> Path | None:
    """The absolute path of a SQLite store file that does not exist, else None (other back ends,
    in-memory databases and existing files)."""
    import sqlalchemy as sa

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database).expanduser().resolve()
    return None if path.exists() else path


def _projects(store: SqlStore, args: argparse.Namespace) -> int:
    for name in store.project_names():
        info = store.project(name)
        print(f"{name}\t{info.kind}\t{store.count_tasks(info.id)} tasks")
    return 0


def _labels(store: SqlStore, args: argparse.Namespace) -> int:
    from crowdnb import kinds

    info = store.project(args.project)
    media = kinds.get(info.kind).media.column
    records = label_records(store.labels(info.id), store.tasks(info.id), media)
    fmt = args.format or ("jsonl" if args.out.lower().endswith(".jsonl") else "csv")
    write = write_jsonl if fmt == "jsonl" else write_csv
    if args.out == "-":
        write(records, sys.stdout)
    else:
        with open(args.out, "w", encoding="utf-8", newline="") as out:
            write(records, out)
    return 0


def _export(store: SqlStore, args: argparse.Namespace) -> int:
    from crowdnb.project import Project

    try:
        done = Project.open(args.project, store=store).export(
            args.out, args.format, aggregated=args.aggregated, min_confidence=args.min_confidence, method=args.method,
            approved_only=args.approved_only, workers=tuple(args.workers) if args.workers else None,
            media="copy" if args.copy_media else "path", media_root=args.media_root,
        )
    except ValueError as exc:  # a format, option or label the export cannot take: said in one line
        print(exc, file=sys.stderr)
        return 1
    counts = done.counts
    print(f"wrote {counts.labels} labels of {counts.tasks} tasks to {done.path} (manifest: {done.manifest})")
    for skipped in counts.skipped:
        print(f"skipped: {skipped}", file=sys.stderr)
    return 0


def _import(store: SqlStore, args: argparse.Namespace) -> int:
    from crowdnb.project import Project

    project = Project.open(args.project, store=store)
    try:
        done = project.import_tasks(args.path, args.format, as_=args.as_, dry_run=args.dry_run, media_root=args.media_root, progress=sys.stderr.isatty())
    except ValueError as exc:  # ValidationError (every bad row) included
        print(exc, file=sys.stderr)
        return 1
    print(f"{done.rows} tasks checked, all good (dry run: nothing stored)" if done.dry_run else f"added {done.added} of {done.rows} tasks to {project.name}")
    return 0


def _worker_add(store: SqlStore, args: argparse.Namespace) -> int:

    existing = store.find_worker(args.name)
    if existing is not None and not args.force:
        changes = []
        if existing.has_token:
            changes.append("a new token would stop the current one working")
        if args.role is not None and args.role != existing.role:
            changes.append(f"the role would change from {existing.role} to {args.role}")
        if changes:
            print(
                f"worker {args.name!r} already exists ({existing.role}); {' and '.join(changes)}: "
                "give --force to do that",
                file=sys.stderr,
            )
            return 1
    role = args.role or (existing.role if existing is not None else "worker")
    token = store.issue_token(args.name, role)
    print(f"token for {args.name} ({role}), shown once; keep it secret:\n{token}")
    return 0


def _worker_list(store: SqlStore, args: argparse.Namespace) -> int:

    for worker in store.list_workers():
        token = "token set" if worker.has_token else "no token"
        print(f"{worker.name}\t{worker.role}\t{token}\t{', '.join(worker.projects) or '-'}")
    return 0


def _worker_remove(store: SqlStore, args: argparse.Namespace) -> int:

    removal = store.remove_worker(args.name, force=args.force)
    print(f"{args.name}: {'token revoked' if removal.revoked else 'had no token'}")
    if removal.left:
        print(f"{args.name} is no longer a member of {', '.join(removal.left)}")
    for project, n in removal.kept.items():
        print(
            f"{args.name} keeps their standing in {project}: their {n} label(s) there stay and count with it "
            "(a new token would give them the project back)"
        )
    return 0


def _member_add(store: SqlStore, args: argparse.Namespace) -> int:
    store.add_member(store.project(args.project).id, args.worker)
    print(f"{args.worker} is a member of {args.project}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from crowdnb.server.app import MEDIA_ENV
        from crowdnb.server.head import HeadLimit
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in SERVER_MODULES:
            raise
        print(SERVER_EXTRA, file=sys.stderr)
        return 2
    from crowdnb.store import STORE_ENV

    media = os.path.abspath(args.media)
    if not os.path.isdir(media):
        print(f"no media folder at {media}", file=sys.stderr)
        return 1
    try:
        limits = _limits(args)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    url = _store_url(args.store)
    try:
        with _open(url):  # migrate once, before the processes start
            pass
    except _MissingPostgres:
        print(POSTGRES_EXTRA, file=sys.stderr)
        return 2
    os.environ[STORE_ENV] = url
    os.environ[MEDIA_ENV] = media
    os.environ.update(limits.environment())
    print(serving_line(url, args.host, args.port, args.processes, media), flush=True)
    uvicorn.run(
        "crowdnb.server.app:app_from_environment", factory=True, host=args.host, port=args.port,
        workers=args.processes, http=HeadLimit.of(limits.head), timeout_worker_healthcheck=args.healthcheck_timeout,
        timeout_graceful_shutdown=args.graceful_timeout, timeout_keep_alive=args.keep_alive, log_level="warning",
    )
    return 0


def _limits(args: argparse.Namespace) -> Limits:
    """The request limits: `serve`'s options, else the environment's, else the defaults."""
    from dataclasses import replace

    from crowdnb.server.limits import SETTINGS, Limits

    given = {name: size for name in SETTINGS if (size := getattr(args, f"max_{name}")) is not None}
    return replace(Limits.from_environment(os.environ), **given)


def _size(text: str) -> int:
    from crowdnb.server.limits import parse_size

    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def serving_line(url: str, host: str, port: int, processes: int, media: str) -> str:
    """What `serve` prints before it starts: the store (password hidden), the address, the
    number of processes and the media folder."""
    import sqlalchemy as sa

    store = sa.make_url(url).render_as_string(hide_password=True)
    address = f"[{host}]" if ":" in host else host
    count = f"{processes} process" if processes == 1 else f"{processes} processes"
    return f"crowdnb serving {store} on http://{address}:{port} ({count}), media from {media}"


def label_records(labels: pd.DataFrame, tasks: pd.DataFrame, media: str) -> list[dict[str, Any]]:
    """One JSON-ready dict per label: the task's id and media (its ``image`` path or URL, or
    its ``text``), the label's columns, and the task's metadata as ``meta``; timestamps as
    ISO 8601 UTC."""
    by_id = {task_id: (payload, meta) for task_id, payload, meta in zip(tasks["id"], tasks["payload"], tasks["meta"], strict=True)}
    columns = list(labels.columns)
    records = []
    for values in zip(*(labels[c] for c in columns), strict=True):
        record = {c: _plain(v) for c, v in zip(columns, values, strict=True)}
        payload, meta = by_id[record["task"]]
        records.append(
            {"task": record.pop("task"), media: payload.get(media, payload.get(f"{media}_url")), **record, "meta": meta}
        )
    return records


def write_csv(records: list[dict[str, Any]], out: TextIO) -> None:
    """Records as CSV: the label and metadata (and any list or dict) as JSON text in their cells,
    missing values as empty cells."""
    if not records:
        return
    writer = csv.writer(out)
    writer.writerow(list(records[0]))
    for record in records:
        writer.writerow([_cell(column, value) for column, value in record.items()])


def write_jsonl(records: list[dict[str, Any]], out: TextIO) -> None:
    """Records as JSON lines: one object per label, labels as JSON values."""
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")


def _cell(column: str, value: Any) -> str:
    if column in JSON_COLUMNS or isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain(value: Any) -> Any:
    """A frame cell as a JSON-ready Python value: NA as None, numpy scalars as Python ones,
    timestamps as ISO 8601 UTC text."""
    import numpy as np
    import pandas as pd

    if isinstance(value, (dict, list)) or value is None:
        return value
    if isinstance(value, (datetime, pd.Timestamp)):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize(timezone.utc) if stamp.tzinfo is None else stamp.tz_convert(timezone.utc)
        return stamp.isoformat().replace("+00:00", "Z")
    if value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


if __name__ == "__main__":
    raise SystemExit(main())
