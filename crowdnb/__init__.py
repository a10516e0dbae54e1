"""crowdnb: crowdsourced data labeling inside Jupyter.

    import crowdnb
    project = crowdnb.Project.create("animals", kind="image-class", classes=["cat", "dog"])
    project.add_tasks(frame)   # a DataFrame with an `image` (or `text`) column
    project.annotate()         # the labeling widget
    project.labels()           # a DataFrame of labels

`import crowdnb` loads only the errors; `Project`, the stores and `connect` are imported on first
use, so `import crowdnb.aggregation` stays light (numpy, scipy, pandas).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from crowdnb.errors import Conflict, CrowdnbError, Forbidden, LabelError, MissingExtra, NotFound, Problem, ValidationError

if TYPE_CHECKING:
    from crowdnb.client import HttpStore, connect
    from crowdnb.project import Project
    from crowdnb.store import SqlStore, Store

__version__ = "0.1.0"

_LAZY = {
    "Project": "crowdnb.project",
    "Store": "crowdnb.store",
    "SqlStore": "crowdnb.store",
    "HttpStore": "crowdnb.client",
    "connect": "crowdnb.client",
}

__all__ = [
    "Conflict",
    "CrowdnbError",
    "Forbidden",
    "HttpStore",
    "LabelError",
    "MissingExtra",
    "NotFound",
    "Problem",
    "Project",
    "SqlStore",
    "Store",
    "ValidationError",
    "__version__",
    "connect",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crowdnb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
