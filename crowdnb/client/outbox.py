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
from typing import Any, NamedTuple


class Outbox:
    """Operations (submits, skips) not yet acknowledged by the server, in order, de-duplicated
    by id; read back as `Queued` and forgotten or set aside by their `key`."""

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

    def oldest(self, limit: int = 100) -> list[Queued]:
        """The oldest queued operations, each with the `problem` that keeps it from being read
        back, if one does (a row another program or an older version wrote)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, CAST(id AS BLOB), CAST(project AS BLOB), CAST(op AS BLOB), CAST(body AS BLOB)"
                " FROM pending ORDER BY queued, rowid LIMIT ?", (limit,)
            ).fetchall()
        return [_read(*row) for row in rows]

    def done(self, keys: list[int]) -> None:
        """Forget operations the server acknowledged (one statement, one sync to disk)."""
        if not keys:
            return
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE rowid IN (SELECT value FROM json_each(?))", (json.dumps(keys),))

    def fail(self, key: int, error: str) -> None:
        """Move an operation that cannot be stored (it will not be retried) to the failed list."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO failed SELECT id, project, op, body, ? FROM pending WHERE rowid = ?", (error, key))
            self._db.execute("DELETE FROM pending WHERE rowid = ?", (key,))

    def failures(self) -> list[tuple[str, str]]:
        """(id, error) of operations that were set aside."""
        with self._lock:
            rows = self._db.execute("SELECT CAST(id AS BLOB), error FROM failed ORDER BY rowid").fetchall()
        return [(bytes(i).decode(errors="replace"), e) for i, e in rows]

    def count(self, project: str | None = None) -> int:
        """Operations waiting (of `project`, or of all projects)."""
        with self._lock:
            if project is None:
                return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])
            return int(self._db.execute("SELECT count(*) FROM pending WHERE project = ?", (project,)).fetchone()[0])

    def __len__(self) -> int:
        return self.count()


class Queued(NamedTuple):
    """One queued operation as read back: `key` is its place in the file, `body` None and
    `problem` the reason when it cannot be read back."""

    key: int
    id: str
    project: str
    op: str
    body: Any
    problem: str | None = None


def _read(key: int, *raw: bytes) -> Queued:
    """A row of `pending` (its text columns as bytes), read as strictly as it was written."""
    texts = [bytes(r).decode(errors="replace") for r in raw]
    try:
        op_id, project, op, body = (bytes(r).decode() for r in raw)
    except UnicodeDecodeError:
        return Queued(key, *texts[:3], None, "its row in the outbox file is not UTF-8 text")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        return Queued(key, op_id, project, op, None, f"its body in the outbox file is not JSON ({exc})")
    if not isinstance(value, dict):
        return Queued(key, op_id, project, op, None, f"its body in the outbox file is a JSON {type(value).__name__}, not an object")
    return Queued(key, op_id, project, op, value)
