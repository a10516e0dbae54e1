"""The plans of the hot reads on PostgreSQL: a small project in a store with a big one reads its
labels and tasks through indexes, not by scanning every project's rows. (What the plans are
at 10,000,000 labels is recorded in benchmarks/README.md by scale_bench.py --explain.)"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from crowdnb.store import SqlStore
from crowdnb.store.schema import annotations, tasks
from crowdnb.store.sql import columns, reads
from crowdnb.store.sql.results import counted
from crowdnb.store.types import LABEL_COLUMNS

pytestmark = pytest.mark.postgres


def _fill(store: SqlStore, name: str, n_tasks: int, per_task: int) -> int:
    """A project of `n_tasks` tasks with `per_task` labels each, written in bulk by SQL."""
    pid = store.create_project(name, "text-class", {"classes": ["a", "b"]}, overlap=per_task).id
    with store.engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO workers (name) SELECT 'w' || i FROM generate_series(1, :n) i ON CONFLICT DO NOTHING"
        ), {"n": per_task})
        conn.execute(sa.text(
            "INSERT INTO tasks (project_id, external_id, position, payload, meta) "
            "SELECT :p, 't' || i, i, jsonb_build_object('text', 'x', 'prediction', 'a'), '{}' FROM generate_series(1, :n) i"
        ), {"p": pid, "n": n_tasks})
        conn.execute(sa.text(
            "INSERT INTO assignments (project_id, task_id, worker_id, status) SELECT :p, t.id, w.id, 'done' "
            "FROM tasks t, workers w WHERE t.project_id = :p AND w.name LIKE 'w%'"
        ), {"p": pid})
        conn.execute(sa.text(
            "INSERT INTO annotations (id, project_id, task_id, worker_id, label) "
            "SELECT md5(:p || '-' || a.id), :p, a.task_id, a.worker_id, '\"a\"' FROM assignments a WHERE a.project_id = :p"
        ), {"p": pid})
    return pid


def _plan(store: SqlStore, query: sa.Select) -> str:
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    with store.engine.connect() as conn:
        return "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql.replace("%", "%%")))


def test_a_small_projects_reads_use_indexes_beside_a_big_one(pg_cluster) -> None:
    store = SqlStore(pg_cluster.new_database())
    try:
        _fill(store, "big", 40_000, 5)
        small = _fill(store, "small", 50, 2)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        labels, _ = reads.label_query(small, LABEL_COLUMNS, class_labels=True, dialect="postgresql", predicted=True)
        answers = sa.select(annotations.c.task_id, annotations.c.worker_id, columns.json_text(annotations.c.label)).where(
            *counted(small, include_flagged=False)
        )
        order = sa.select(tasks.c.id, tasks.c.position, tasks.c.external_id).where(tasks.c.project_id == small).order_by(tasks.c.position)
        with store.engine.connect() as conn:
            in_order = reads.TaskOrder.read(conn, small)
        piece, _ = reads.label_query(small, ["task", "label"], class_labels=True, dialect="postgresql", predicted=True)
        piece = reads.label_piece(piece, small, in_order, 0, 20)
        for query, index in (
            (labels, "ix_annotations_project_status"), (answers, "ix_annotations_project_status"),
            (order, "ix_tasks_position"), (piece, "ix_tasks_position"), (piece, "ix_annotations_task_worker"),
        ):
            plan = _plan(store, query)
            assert "Seq Scan on annotations" not in plan and "Seq Scan on tasks" not in plan, plan
            assert index in plan, plan
    finally:
        store.close()
