"""The offline outbox: durable, ordered, de-duplicated, and never left inside a transaction."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from crowdnb.client.outbox import Outbox


def _seen_by_another_connection(path: Path) -> list[str]:
    with sqlite3.connect(path) as other:
        return [row[0] for row in other.execute("SELECT id FROM pending ORDER BY queued")]


def test_operations_wait_in_order_until_done_or_failed(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite")
    for op_id in ("a", "b", "c", "a"):
        box.put(op_id, "p", "submit", {"task_id": op_id})
    queued = {op.id: op for op in box.oldest()}
    assert list(queued) == ["a", "b", "c"] and queued["b"].body == {"task_id": "b"} and queued["b"].problem is None
    box.done([queued["a"].key, queued["c"].key])
    box.fail(queued["b"].key, "refused")
    assert len(box) == 0 and box.failures() == [("b", "refused")]
    assert _seen_by_another_connection(tmp_path / "outbox.sqlite") == []


def test_a_failed_done_leaves_later_labels_durable(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    box._db.execute("PRAGMA busy_timeout = 100")
    box.put("a", "p", "submit", {})
    with sqlite3.connect(path, isolation_level=None) as writer:  # another kernel on the same file
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            box.done([box.oldest()[0].key])
        writer.execute("ROLLBACK")
    box.put("b", "p", "submit", {})
    assert _seen_by_another_connection(path) == ["a", "b"]  # committed, not inside a dangling transaction
