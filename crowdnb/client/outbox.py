"""The offline outbox: labels wait on local disk until the server has acknowledged them.

A small SQLite file (the standard library's sqlite3, with synchronous=FULL) is all a durable,
ordered, de-duplicated local queue needs; no kept library does this better without a server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any


class Outbox:
    """Operations (submits, skips) not yet acknowledged by the server, in order, keyed by id."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, project TEXT NOT NULL, op TEXT NOT NULL,"
            " body TEXT NOT NULL, queued REAL NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS failed (id TEXT PRIMARY KEY, project TEXT NOT NULL, op TEXT NOT NULL,"
            " body TEXT NOT NULL, error TEXT NOT NULL)"
        )

    def put(self, op_id: str, project: str, op: str, body: dict[str, Any]) -> None:
        """Queue an operation durably (a second put of the same id is ignored)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO pending VALUES (?, ?, ?, ?, ?)", (op_id, project, op, json.dumps(body), time.time())
            )

    def oldest(self, limit: int = 100) -> list[tuple[str, str, str, dict[str, Any]]]:
        """The oldest queued operations: (id, project, op, body)."""
        with self._lock:
            rows = self._db.execute("SELECT id, project, op, body FROM pending ORDER BY queued LIMIT ?", (limit,)).fetchall()
        return [(i, p, o, json.loads(b)) for i, p, o, b in rows]

    def done(self, op_ids: list[str]) -> None:
        """Forget operations the server acknowledged (one statement, one sync to disk)."""
        if not op_ids:
            return
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE id IN (SELECT value FROM json_each(?))", (json.dumps(op_ids),))

    def fail(self, op_id: str, error: str) -> None:
        """Move an operation the server refused (it will not be retried) to the failed list."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO failed SELECT id, project, op, body, ? FROM pending WHERE id = ?", (error, op_id))
            self._db.execute("DELETE FROM pending WHERE id = ?", (op_id,))

    def failures(self) -> list[tuple[str, str]]:
        """(id, error) of refused operations."""
        with self._lock:
            return self._db.execute("SELECT id, error FROM failed").fetchall()

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])
