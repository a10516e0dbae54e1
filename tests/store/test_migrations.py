"""Upgrades keep a store's data: a store made before quality control (revision 0001) gets its
tasks with known answers marked as control tasks; labels made before 0006 end up tied to their
worker's slot of the task."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from crowdnb.store import SqlStore
from crowdnb.store import engine as engines
from crowdnb.store.schema import annotations, assignments, reviews, tasks


def _upgrade(engine: sa.Engine, revision: str, *statements: str) -> None:
    """Bring a new store to `revision`, then run `statements` on it."""
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(engines.MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        for statement in statements:
            conn.execute(sa.text(statement))
    engine.dispose()


def test_upgrade_from_0001_marks_control_tasks(store_url: str) -> None:
    _upgrade(
        engines.create_engine(store_url), "0001",
        "INSERT INTO projects (name, kind, config) VALUES ('old', 'text-class', '{\"classes\": [\"a\"]}')",
        "INSERT INTO tasks (project_id, external_id, position, payload, meta, known_answer) VALUES "
        "(1, 'plain', 0, '{}', '{}', 'null'), (1, 'gold', 1, '{}', '{}', '\"a\"'), (1, 'bare', 2, '{}', '{}', NULL)",
    )
    with SqlStore(store_url) as store, store.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(tasks.c.external_id, tasks.c.is_control)).all())
        assert rows == {"plain": False, "gold": True, "bare": False}
        assert store.project("old").quality is None


def test_upgrade_to_0006_keeps_labels_and_reviews_and_gives_lost_slots_back(store_url: str) -> None:
    _upgrade(
        engines.create_engine(store_url), "0005",
        "INSERT INTO projects (name, kind, config, overlap) VALUES ('old', 'text-class', '{\"classes\": [\"a\"]}', 2)",
        "INSERT INTO workers (name) VALUES ('ana'), ('ben')",
        "INSERT INTO tasks (project_id, external_id, position, payload, meta, n_active)"
        " VALUES (1, 't0', 0, '{}', '{}', 1), (1, 't1', 1, '{}', '{}', 1), (1, 't2', 2, '{}', '{}', 0)",
        "INSERT INTO assignments (project_id, task_id, worker_id, status, expires_at)"
        " VALUES (1, 1, 1, 'done', NULL), (1, 2, 1, 'leased', '2099-01-01 00:00:00+00')",
        "INSERT INTO annotations (id, project_id, task_id, worker_id, label, status) VALUES"
        " ('x', 1, 1, 1, '\"a\"', 'rejected'),"  # on its slot
        " ('y', 1, 2, 1, '\"a\"', 'approved'),"  # its slot was expired away, then leased again
        " ('z', 1, 3, 2, '\"a\"', 'approved')",  # its slot was expired away
        "INSERT INTO reviews (annotation_id, project_id, decision, reason) VALUES ('x', 1, 'rejected', 'blurry')",
    )
    with SqlStore(store_url) as store:
        with store.engine.connect() as conn:
            assert sorted(conn.execute(sa.select(annotations.c.id)).scalars()) == ["x", "y", "z"]
            assert conn.execute(sa.select(reviews.c.annotation_id, reviews.c.reason)).all() == [("x", "blurry")]
            slots = conn.execute(sa.select(assignments.c.task_id, assignments.c.worker_id, assignments.c.status)).all()
            assert sorted(map(tuple, slots)) == [(1, 1, "done"), (2, 1, "done"), (3, 2, "done")]
            queue = conn.execute(sa.select(tasks.c.external_id, tasks.c.n_active, tasks.c.is_open).order_by(tasks.c.id)).all()
            assert [tuple(row) for row in queue] == [("t0", 1, True), ("t1", 1, True), ("t2", 1, True)]
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:  # ben holds no slot of t0
            conn.execute(annotations.insert().values(id="w", project_id=1, task_id=1, worker_id=2, label="a"))
        with store.engine.begin() as conn:  # a task's slots and labels go with it
            conn.execute(tasks.delete().where(tasks.c.id == 1))
            assert conn.scalar(sa.select(sa.func.count()).select_from(annotations)) == 2


def test_0006_indexes_only_leases_for_expiry_and_leaves_room_on_task_pages(store: SqlStore) -> None:
    inspector = sa.inspect(store.engine)
    expiry = next(ix for ix in inspector.get_indexes("assignments") if ix["name"] == "ix_assignments_expiry")
    assert expiry["column_names"] == ["project_id", "expires_at"]
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            definition = conn.scalar(sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_assignments_expiry'"))
            options = conn.scalar(sa.text("SELECT reloptions FROM pg_class WHERE relname = 'tasks'"))
        assert definition.endswith("WHERE ((status)::text = 'leased'::text)")
        assert options == ["fillfactor=70"]
