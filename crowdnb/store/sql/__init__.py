"""The SQL implementation of the store interface (SQLite and PostgreSQL)."""

from crowdnb.store.sql.store import SqlStore

__all__ = ["SqlStore"]
