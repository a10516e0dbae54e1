"""The `crowdnb` command: serve a store over HTTP, manage workers, look into a store."""

from __future__ import annotations

import argparse
import os
import sys

from crowdnb.errors import NotFound
from crowdnb.project import Project
from crowdnb.store import STORE_ENV, SqlStore as Store
from crowdnb.store.sql.accounts import ROLES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crowdnb", description=__doc__)
    parser.add_argument("--store", help="store URL or SQLite path (default: $CROWDNB_STORE or a per-user file)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("projects", help="list projects with their kind and task counts")
    labels = commands.add_parser("labels", help="write a project's labels as CSV")
    labels.add_argument("project")
    labels.add_argument("--out", default="-", help="output file (default: standard output)")
    serve = commands.add_parser("serve", help="serve the store over HTTP to workers' notebooks")
    serve.add_argument("--media", required=True, help="folder that task image paths are relative to")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--processes", type=int, default=1, help="server processes (state lives in the store)")
    worker = commands.add_parser("worker", help="manage workers").add_subparsers(dest="action", required=True)
    add = worker.add_parser("add", help="create a worker (or give them a new token); prints the token once")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default="worker")
    member = commands.add_parser("member", help="project membership").add_subparsers(dest="action", required=True)
    join = member.add_parser("add", help="let a worker work on (or inspect) a project")
    join.add_argument("project")
    join.add_argument("worker")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `crowdnb` command."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    store = Store(args.store)
    try:
        if args.command == "projects":
            for name in store.project_names():
                info = store.project(name)
                print(f"{name}\t{info.kind}\t{store.count_tasks(info.id)} tasks")
        elif args.command == "labels":
            labels = Project.open(args.project, store=store).labels()
            labels.to_csv(sys.stdout if args.out == "-" else args.out, index=False)
        elif args.command == "worker":
            token = store.issue_token(args.name, args.role)
            print(f"token for {args.name} ({args.role}), shown once; keep it secret:\n{token}")
        elif args.command == "member":
            store.add_member(store.project(args.project).id, args.worker)
            print(f"{args.worker} is a member of {args.project}")
    except NotFound as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from crowdnb.server.app import MEDIA_ENV
    from crowdnb.store.engine import as_url, default_url

    os.environ[STORE_ENV] = as_url(args.store) if args.store else default_url()
    os.environ[MEDIA_ENV] = os.path.abspath(args.media)
    Store(os.environ[STORE_ENV]).close()  # migrate once, before the processes start
    uvicorn.run(
        "crowdnb.server.app:app_from_environment", factory=True, host=args.host, port=args.port,
        workers=args.processes, log_level="warning",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
