"""The public API is pinned: a change to it is a decision, not an accident. Both stores
implement the whole store interface with the same parameters."""

from __future__ import annotations

import inspect
import subprocess
import sys

import crowdnb
from crowdnb.client import HttpStore
from crowdnb.store import SqlStore, Store

EXPORTS = [
    "Conflict", "CrowdnbError", "Forbidden", "HttpStore", "LabelError", "MissingExtra", "NotFound", "Problem",
    "Project", "SqlStore", "Store", "ValidationError", "__version__", "connect",
]
PROJECT = [
    "add_member", "add_tasks", "annotate", "config", "create", "escalated", "export", "import_tasks", "inspect", "label_batches", "labels",
    "my_labels", "name", "open", "progress", "resolve", "results", "set_quality", "set_review", "set_worker_status", "stored_results",
    "tasks", "workers",
]
STORE = [
    "add_member", "add_tasks", "balance", "claim", "claim_reviews", "close", "count_tasks", "create_project",
    "current_worker", "decide", "escalated", "label_batches", "labels", "media", "notices", "payouts", "progress", "project",
    "project_names", "renew", "resolve", "results", "set_quality", "set_review", "set_worker_status", "skip", "stored_results", "submit", "submit_many", "tasks",
    "worker_id", "worker_labels", "worker_standing",
]


def _public(cls: type) -> list[str]:
    return sorted(name for name in vars(cls) if not name.startswith("_"))


def test_exports_are_pinned() -> None:
    assert sorted(crowdnb.__all__) == sorted(EXPORTS)
    for name in crowdnb.__all__:
        assert getattr(crowdnb, name) is not None


def test_project_methods_are_pinned() -> None:
    assert _public(crowdnb.Project) == PROJECT


def test_store_interface_is_pinned() -> None:
    assert _public(Store) == STORE


def test_both_stores_implement_the_interface_with_its_parameters() -> None:
    for implementation in (SqlStore, HttpStore):
        for name in STORE:
            wanted = inspect.signature(getattr(Store, name)).parameters
            have = inspect.signature(getattr(implementation, name)).parameters
            assert [(p.name, p.kind) for p in have.values()] == [(p.name, p.kind) for p in wanted.values()], (
                implementation.__name__, name,
            )


def test_import_crowdnb_loads_no_optional_or_heavy_dependency() -> None:
    code = (
        "import sys, crowdnb, crowdnb.aggregation;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sqlalchemy', 'httpx', 'IPython', 'psycopg',"
        " 'fastapi', 'uvicorn', 'anywidget', 'ipywidgets', 'jupyterlab'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
