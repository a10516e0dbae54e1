"""Query results as Arrow columns (PostgreSQL through ADBC's COPY, SQLite in chunks), and bulk
inserts: values come back exactly, NULL stays apart from the empty string, values in the query
are quoted as data, and a stream of many batches or chunks is read whole."""

from __future__ import annotations

import pyarrow as pa
import pytest
import sqlalchemy as sa

from crowdnb.store import NewTask, SqlStore
from crowdnb.store.schema import tasks
from crowdnb.store.sql import columns

TRICKY = ["plain", "", "comma, \"quoted\"\nnew line", "日本の看板 🍜", "tab\there", "\\N", "NULL"]


def _project(store: SqlStore, texts: list[str]) -> int:
    info = store.create_project("c", "text-class", {"classes": ["a"]})
    store.insert_tasks(info.id, [NewTask(f"t{i:06d}", {"text": t}, priority=i / 2) for i, t in enumerate(texts)])
    return info.id


def _query(pid: int) -> sa.Select:
    return (
        sa.select(
            tasks.c.external_id.label("id"), columns.json_text(tasks.c.payload["text"]).label("text"),
            tasks.c.priority, tasks.c.overlap, tasks.c.is_control,
        )
        .where(tasks.c.project_id == pid)
        .order_by(tasks.c.position)
    )


TYPES = {"id": pa.string(), "text": pa.string(), "priority": pa.float64(), "overlap": pa.int64(), "is_control": pa.bool_()}


def test_values_come_back_exactly_and_null_is_not_the_empty_string(store: SqlStore) -> None:
    pid = _project(store, TRICKY)
    with store.engine.connect() as conn:
        found = columns.table(conn, _query(pid), TYPES)
    assert found["text"].to_pylist() == TRICKY
    assert found["priority"].to_pylist() == [i / 2 for i in range(len(TRICKY))]
    assert found["overlap"].to_pylist() == [None] * len(TRICKY)  # NULL, not 0 nor ""
    assert found["is_control"].to_pylist() == [False] * len(TRICKY)
    assert found.schema == pa.schema(TYPES.items())


def test_many_batches_are_read_whole_and_in_order(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns, "SQLITE_CHUNK", 1000)
    monkeypatch.setattr(columns, "BATCH_BYTES", 64 << 10)
    texts = [f"row {i} " + "漢字" * (i % 7) for i in range(12_000)]
    pid = _project(store, texts)
    with store.engine.connect() as conn:
        pieces = list(columns.batches(conn, _query(pid), TYPES))
        whole = columns.table(conn, _query(pid), TYPES)
    assert len(pieces) > 3 and sum(p.num_rows for p in pieces) == 12_000
    assert pa.Table.from_batches(pieces)["text"].to_pylist() == texts
    assert whole.equals(pa.Table.from_batches(pieces))
    if store.engine.dialect.name == "postgresql":  # a whole read comes in one chunk per column
        assert whole["text"].num_chunks == 1


def test_no_rows_give_an_empty_table_of_the_types(store: SqlStore) -> None:
    pid = _project(store, [])
    with store.engine.connect() as conn:
        found = columns.table(conn, _query(pid), TYPES)
    assert found.num_rows == 0 and found.schema == pa.schema(TYPES.items())


def test_types_must_name_the_querys_columns(store: SqlStore) -> None:
    with store.engine.connect() as conn, pytest.raises(ValueError, match=r"do not match the query's columns \['id', 'text'"):
        columns.table(conn, _query(1), {"id": pa.string()})


@pytest.mark.parametrize("wanted", ["t000000' OR '1'='1", "it's \\' a \\\\ test", "日本'; DROP TABLE tasks; --", "$$x$$", "%(x)s %s"])
def test_values_in_the_query_are_data_not_sql(store: SqlStore, wanted: str) -> None:
    info = store.create_project("c", "text-class", {"classes": ["a"]})
    store.insert_tasks(info.id, [NewTask("t000000", {"text": "x"}), NewTask(wanted, {"text": "y"})])
    with store.engine.connect() as conn:
        query = sa.select(tasks.c.external_id.label("id")).where(tasks.c.project_id == info.id, tasks.c.external_id == wanted)
        assert columns.table(conn, query, {"id": pa.string()})["id"].to_pylist() == [wanted]
        assert columns.table(conn, _query(info.id), TYPES)["id"].to_pylist() == ["t000000", wanted]


def test_reads_in_a_transaction_see_its_snapshot(store: SqlStore) -> None:
    pid = _project(store, ["before"])
    with store._snapshot() as conn:
        assert columns.table(conn, _query(pid), TYPES).num_rows == 1
        store.insert_tasks(pid, [NewTask("later", {"text": "after"})])
        assert columns.table(conn, _query(pid), TYPES)["text"].to_pylist() == ["before"]
    with store.engine.connect() as conn:
        assert columns.table(conn, _query(pid), TYPES)["text"].to_pylist() == ["before", "after"]


def test_insert_writes_every_row_with_json_and_nulls(store: SqlStore) -> None:
    table = sa.Table("scratch", sa.MetaData(), sa.Column("k", sa.Integer), sa.Column("v", sa.JSON), sa.Column("x", sa.Float))
    table.metadata.create_all(store.engine)
    rows = [(i, None if i % 3 == 0 else {"t": TRICKY[i % len(TRICKY)], "n": [i]}, None if i % 2 else i / 4) for i in range(2_500)]
    with store.engine.begin() as conn:
        columns.insert(conn, table, ["v", "x"], [r[1:] for r in rows], {"k": 7}, chunk=1000)
    with store.engine.connect() as conn:
        back = conn.execute(sa.select(table.c.k, table.c.v, table.c.x)).all()
    assert {r.k for r in back} == {7}
    assert sorted(((r.v, r.x) for r in back), key=repr) == sorted(((r[1], r[2]) for r in rows), key=repr)
