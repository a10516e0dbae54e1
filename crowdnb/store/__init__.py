"""The label store: one interface (`Store`), a SQL implementation (`SqlStore`, SQLite or
PostgreSQL) and, in `crowdnb.client`, an HTTP one; schema and migrations."""

from crowdnb.store.types import Account, NewTask, ProjectInfo, Receipt, Submission, Task  # noqa: I001 (first: intake imports them)
from crowdnb.store.engine import STORE_ENV, default_url
from crowdnb.store.protocol import Store
from crowdnb.store.sql import SqlStore

__all__ = [
    "STORE_ENV", "Account", "NewTask", "ProjectInfo", "Receipt", "SqlStore", "Store", "Submission", "Task", "default_url",
]
