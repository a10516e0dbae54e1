"""The `crowdnb` command: look into a store from a shell."""

from __future__ import annotations

import argparse
import sys

from crowdnb.errors import NotFound
from crowdnb.project import Project
from crowdnb.store import Store


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `crowdnb` command."""
    parser = argparse.ArgumentParser(prog="crowdnb", description=__doc__)
    parser.add_argument("--store", help="store URL or SQLite path (default: $CROWDNB_STORE or per-user file)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("projects", help="list projects with their kind and task counts")
    labels = commands.add_parser("labels", help="write a project's labels as CSV")
    labels.add_argument("project")
    labels.add_argument("--out", default="-", help="output file (default: standard output)")
    args = parser.parse_args(argv)

    store = Store(args.store)
    if args.command == "projects":
        for name in store.project_names():
            info = store.project(name)
            print(f"{name}\t{info.kind}\t{store.count_tasks(info.id)} tasks")
        return 0
    try:
        project = Project.open(args.project, store=store)
    except NotFound as exc:
        print(exc, file=sys.stderr)
        return 1
    project.labels().to_csv(sys.stdout if args.out == "-" else args.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
