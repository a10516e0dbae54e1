"""Helpers for format tests: projects with images or texts, labeled by named workers."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import crowdnb
from crowdnb.store import SqlStore
from crowdnb.store.types import Submission

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))
from samples import write_images  # noqa: E402


def image_project(store: SqlStore, folder: Path, kind: str, n: int = 3, *, size: tuple[int, int] = (64, 48), overlap: int = 1, **options: Any) -> crowdnb.Project:
    """A project of `kind` over `n` noise images of `size` in `folder`, task ids ``img0``..."""
    project = crowdnb.Project.create(f"{kind}-{uuid.uuid4().hex[:6]}", kind, store=store, overlap=overlap, **options)
    paths = write_images(folder, n, size=size)
    project.add_tasks(pd.DataFrame({"id": [f"img{i}" for i in range(n)], "image": [str(p) for p in paths]}))
    return project


def text_project(store: SqlStore, texts: Sequence[str], kind: str, *, overlap: int = 1, **options: Any) -> crowdnb.Project:
    """A project of `kind` over `texts`, task ids ``t0``..."""
    project = crowdnb.Project.create(f"{kind}-{uuid.uuid4().hex[:6]}", kind, store=store, overlap=overlap, **options)
    project.add_tasks(pd.DataFrame({"id": [f"t{i}" for i in range(len(texts))], "text": list(texts)}))
    return project


def label(project: crowdnb.Project, worker: str, labels: Mapping[str, Any]) -> None:
    """`worker` labels the tasks named in `labels` (task id -> label), each durably stored."""
    store = project.store
    worker_id = store.worker_id(worker)
    wanted = dict(labels)
    while wanted:
        claimed = store.claim(project.info.id, worker_id, 50)
        if not claimed:
            raise AssertionError(f"{worker} could not claim {sorted(wanted)}")
        for task in claimed:
            if task.external_id in wanted:
                store.submit(project.info.id, worker_id, Submission(str(uuid.uuid4()), task.id, wanted.pop(task.external_id)))
            else:
                store.skip(project.info.id, worker_id, task.id)


@pytest.fixture
def sqlite_store(tmp_path: Path):
    """An open store in a SQLite file (for tests where the back end does not matter)."""
    with SqlStore(f"sqlite:///{tmp_path / 'store.sqlite'}") as opened:
        yield opened
