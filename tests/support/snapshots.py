"""What a store holds, as one comparable value: to show that a refused request changed nothing."""

from __future__ import annotations

from typing import Any

from crowdnb import SqlStore


def snapshot(store: SqlStore) -> tuple[Any, ...]:
    """Projects with their tasks, labels and standings, and every worker with their projects."""
    projects = []
    for name in store.project_names():
        info = store.project(name)
        frames = (store.tasks(info.id), store.labels(info.id), store.worker_standing(info.id))
        projects.append((info, *(f.to_json(orient="records", date_format="iso") for f in frames)))
    return tuple(projects), tuple(store.list_workers())
