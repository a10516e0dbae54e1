"""Opening stores: default locations, SQLite tuning, and migrations that match the schema."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from crowdnb.store import STORE_ENV, SqlStore, default_url
from crowdnb.store.engine import MIGRATIONS
from crowdnb.store.schema import metadata


def test_default_url_honours_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "labels.sqlite"))
    assert default_url() == f"sqlite:///{tmp_path / 'labels.sqlite'}"
    monkeypatch.setenv(STORE_ENV, "postgresql+psycopg://u@127.0.0.1/db")
    assert default_url() == "postgresql+psycopg://u@127.0.0.1/db"
    monkeypatch.delenv(STORE_ENV)
    assert default_url().endswith("crowdnb.sqlite")


def test_migrated_schema_matches_the_declared_one(store: SqlStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        assert context.get_current_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_reopening_keeps_data(store_url: str) -> None:
    with SqlStore(store_url) as first:
        first.create_project("kept", "text-class", {"classes": ["a"]})
    with SqlStore(store_url) as second:
        assert second.project_names() == ["kept"]


def test_sqlite_is_tuned_for_concurrent_durable_writes(tmp_path: Path) -> None:
    with SqlStore(str(tmp_path / "s.sqlite")) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_hand_out_walks_the_queue_index_without_sorting(tmp_path: Path) -> None:
    with SqlStore(str(tmp_path / "q.sqlite")) as store, store.engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'ix_tasks_queue'").scalar()
        assert "priority DESC" in sql
        plan = conn.exec_driver_sql(  # the hand-out query as the store compiles it for SQLite
            "EXPLAIN QUERY PLAN SELECT tasks.id FROM tasks WHERE tasks.project_id = 1 AND NOT (EXISTS "
            "(SELECT * FROM assignments WHERE assignments.task_id = tasks.id AND assignments.worker_id = 1)) "
            "AND tasks.is_control = 0 AND tasks.is_open = 1 ORDER BY tasks.priority DESC, tasks.position LIMIT 10"
        ).all()
        assert not any("TEMP B-TREE" in row[-1] for row in plan), plan


def test_a_postgresql_store_without_psycopg_names_the_extra_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('psycopg', 'psycopg_binary'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import crowdnb\n"
        "try:\n"
        "    crowdnb.SqlStore('postgresql+psycopg://nobody@127.0.0.1:1/none')\n"
        "except crowdnb.MissingExtra as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "crowdnb[postgres]"' in out and "a PostgreSQL store" in out
