"""The label store (SQLite or PostgreSQL): schema, migrations, and the `Store` API."""

from crowdnb.store.api import NewTask, ProjectInfo, Receipt, Store, Submission, Task
from crowdnb.store.engine import STORE_ENV, default_url

__all__ = ["STORE_ENV", "NewTask", "ProjectInfo", "Receipt", "Store", "Submission", "Task", "default_url"]
