"""Upgrading a store made before quality control (revision 0001) keeps its data and marks the
tasks with known answers as control tasks."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from crowdnb.store import Store
from crowdnb.store import engine as engines
from crowdnb.store.schema import tasks


def test_upgrade_from_0001_marks_control_tasks(store_url: str) -> None:
    engine = engines.create_engine(store_url)
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(engines.MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(sa.text("INSERT INTO projects (name, kind, config) VALUES ('old', 'text-class', '{\"classes\": [\"a\"]}')"))
        conn.execute(
            sa.text(
                "INSERT INTO tasks (project_id, external_id, position, payload, meta, known_answer) VALUES "
                "(1, 'plain', 0, '{}', '{}', 'null'), (1, 'gold', 1, '{}', '{}', '\"a\"'), (1, 'bare', 2, '{}', '{}', NULL)"
            )
        )
    engine.dispose()
    with Store(store_url) as store, store.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(tasks.c.external_id, tasks.c.is_control)).all())
        assert rows == {"plain": False, "gold": True, "bare": False}
        assert store.project("old").quality is None
