"""The label store: one interface (`Store`), a SQL implementation (`SqlStore`, SQLite or
PostgreSQL, in `crowdnb.store.sql`) and, in `crowdnb.client`, an HTTP one; schema and migrations.

`SqlStore` is imported on first use, so the plain types and the interface can be imported by the
modules the SQL store itself builds on (e.g. `crowdnb.intake`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crowdnb.store.engine import STORE_ENV, default_url
from crowdnb.store.protocol import Store
from crowdnb.store.types import Account, NewTask, ProjectInfo, Receipt, Submission, Task

if TYPE_CHECKING:
    from crowdnb.store.sql import SqlStore

__all__ = [
    "STORE_ENV", "Account", "NewTask", "ProjectInfo", "Receipt", "SqlStore", "Store", "Submission", "Task", "default_url",
]


def __getattr__(name: str) -> Any:
    if name == "SqlStore":
        from crowdnb.store.sql import SqlStore

        return SqlStore
    raise AttributeError(f"module 'crowdnb.store' has no attribute {name!r}")
