"""Helpers for format tests: projects with images or texts, labeled by named workers."""

from __future__ import annotations

import sys
import tracemalloc
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import strategies as st

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


@st.composite
def boxes(draw: st.DrawFn, classes: Sequence[str], width: int, height: int) -> list[dict[str, Any]]:
    """Up to four boxes inside a `width` x `height` image, to 1/100 pixel (as labels are kept)."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        x0, x1 = sorted(draw(st.lists(st.integers(0, 100 * width), min_size=2, max_size=2, unique=True)))
        y0, y1 = sorted(draw(st.lists(st.integers(0, 100 * height), min_size=2, max_size=2, unique=True)))
        out.append({"label": draw(st.sampled_from(list(classes))), "x": x0 / 100, "y": y0 / 100, "w": (x1 - x0) / 100, "h": (y1 - y0) / 100})
    return out


def traced_peak(call: Callable[[], Any]) -> tuple[Any, int]:
    """What `call` returns and the peak of Python memory it allocated (bytes, tracemalloc)."""
    tracemalloc.start()
    try:
        found = call()
        return found, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture
def sqlite_store(tmp_path: Path):
    """An open store in a SQLite file (for tests where the back end does not matter)."""
    with SqlStore(f"sqlite:///{tmp_path / 'store.sqlite'}") as opened:
        yield opened
