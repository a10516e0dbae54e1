"""Reading query results as columns (Arrow record batches), not as a Python object per row.

PostgreSQL: the ADBC driver (Apache Arrow's, `adbc-driver-postgresql`, in the `postgres` extra)
runs the query on a connection of its own as `COPY (query) TO STDOUT (FORMAT binary)` and builds
the Arrow columns in C++ as the rows stream in. ADBC uses COPY only for a query without bind
parameters (with parameters it executes the query eagerly and holds the whole result in libpq:
twice the time and 1.5 GB more at 10 million labels), so the values are merged into the SQL text
by psycopg's client-side binding (`ClientCursor.mogrify`, psycopg's own quoting of each value by
its type, made for servers that cannot bind), never by formatting strings here. Reads that must
agree with each other run in one snapshot: the SQLAlchemy
transaction exports it (`pg_export_snapshot`) and the ADBC connection adopts it. SQLite has no
bulk export: its rows are fetched in chunks through the driver and turned into columns per
chunk, so only one chunk of Python rows exists at a time.

Why not SQLAlchemy or psycopg: SQLAlchemy makes a Python row per result row and runs type
processors per value; psycopg's COPY hands Python one message per row (about 3 µs each, half a
minute for ten million labels). Bulk inserts use psycopg's COPY FROM, which is fast.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from crowdnb.errors import require

SQLITE_CHUNK = 100_000  # rows per SQLite chunk
BATCH_BYTES = 16 << 20  # about this much per streamed PostgreSQL batch
WHOLE_BYTES = 1 << 62  # a batch limit no read reaches: all rows in one batch
BATCH_HINT = "adbc.postgresql.batch_size_hint_bytes"
SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")


def batches(
    conn: sa.Connection, query: sa.Select[Any], types: Mapping[str, pa.DataType], *, whole: bool = False
) -> Iterator[pa.RecordBatch]:
    """The rows of `query` as record batches with one column per entry of `types` (the
    query's column labels, in its order), NULL as null; no batch when there are no rows. In a
    transaction, the rows are those of its snapshot. `whole`: PostgreSQL sends one batch (else
    about `BATCH_BYTES` each)."""
    names = [c.key for c in query.selected_columns]
    if names != list(types):
        raise ValueError(f"column types {list(types)} do not match the query's columns {names}")
    schema = _schema(types)
    if conn.dialect.name == "postgresql":
        yield from _adbc_batches(conn, query, schema, WHOLE_BYTES if whole else BATCH_BYTES)
    else:
        yield from _chunk_batches(conn, query, schema)


def table(conn: sa.Connection, query: sa.Select[Any], types: Mapping[str, pa.DataType]) -> pa.Table:
    """All rows of `query` as one Arrow table (see `batches`); from PostgreSQL in one chunk per
    column (no copy to join the driver's batches)."""
    return pa.Table.from_batches(list(batches(conn, query, types, whole=True)), schema=_schema(types))


def _schema(types: Mapping[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(name, kind) for name, kind in types.items()])


def _compiled(dialect: sa.Dialect, query: sa.Select[Any]) -> tuple[str, Any]:
    """The query's SQL for the driver and its parameters (a list in placeholder order, or a
    dict for named placeholders) as the driver takes them, after the types' own conversions
    (e.g. SQLite's JSON paths, psycopg's JSON wrappers)."""
    compiled = query.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup if compiled.positiontup is not None else list(compiled.params)
    processed = {}
    for name in names:
        value, bind = compiled.params[name], compiled.binds.get(name)
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect) if bind is not None else None
        processed[name] = processor(value) if processor else value
    if compiled.positiontup is not None:
        return str(compiled), [processed[name] for name in names]
    return str(compiled), processed


def _literal_sql(conn: sa.Connection, query: sa.Select[Any]) -> str:
    """The query as one SQL text with its values quoted by psycopg (see the module's docstring)."""
    import psycopg

    sql, params = _compiled(conn.dialect, query)
    return psycopg.ClientCursor(conn.connection.driver_connection).mogrify(sql, params or None)  # type: ignore[arg-type]


def _adbc_batches(conn: sa.Connection, query: sa.Select[Any], schema: pa.Schema, batch_bytes: int) -> Iterator[pa.RecordBatch]:
    """The rows from ADBC in batches of about `batch_bytes`."""
    require("adbc_driver_postgresql", feature="reading a PostgreSQL store in columns", extra="postgres")
    import adbc_driver_postgresql.dbapi as adbc

    sql = _literal_sql(conn, query)
    uri = conn.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with adbc.connect(uri, autocommit=True) as reader, reader.cursor() as cursor:
        snapshot = _snapshot(conn)
        if snapshot is not None:
            cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
        cursor.adbc_statement.set_options(**{BATCH_HINT: str(batch_bytes)})
        cursor.execute(sql)
        for batch in cursor.fetch_record_batch():
            yield pa.RecordBatch.from_arrays([_as(batch.column(i), f.type) for i, f in enumerate(schema)], schema=schema)


def _as(values: pa.Array, kind: pa.DataType) -> pa.Array:
    return values if values.type == kind else values.cast(kind)


def _snapshot(conn: sa.Connection) -> str | None:
    """The id of the snapshot of `conn`'s repeatable-read transaction (exported once per
    transaction), or None outside one."""
    if not conn.in_transaction() or conn.get_isolation_level() != "REPEATABLE READ":
        return None
    transaction = conn.get_transaction()
    if conn.info.get("snapshot_of") is not transaction:
        found = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
        if not SNAPSHOT_ID.fullmatch(found):
            raise RuntimeError(f"unexpected snapshot id {found!r}")
        conn.info.update(snapshot=found, snapshot_of=transaction)
    return conn.info["snapshot"]


def _chunk_batches(conn: sa.Connection, query: sa.Select[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    sql, params = _compiled(conn.dialect, query)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(SQLITE_CHUNK):
            columns = zip(*rows, strict=True)
            yield pa.RecordBatch.from_arrays(
                [_array(values, f.type) for values, f in zip(columns, schema, strict=True)], schema=schema
            )
    finally:
        cursor.close()


def _array(values: tuple[Any, ...], kind: pa.DataType) -> pa.Array:
    if pa.types.is_dictionary(kind):
        return pa.array(values, kind.value_type).dictionary_encode().cast(kind)
    if pa.types.is_boolean(kind):  # SQLite keeps booleans as 0 and 1
        return pa.array([None if v is None else bool(v) for v in values], kind)
    if pa.types.is_timestamp(kind):  # SQLite keeps UTC times as text
        return pa.array(values, pa.string()).cast(pa.timestamp(kind.unit)).cast(kind)
    return pa.array(values, kind)


class json_text(FunctionElement[str]):
    """A JSON string's own text (not quoted), e.g. a class name."""

    type = sa.Text()
    inherit_cache = True


@compiles(json_text, "postgresql")
def _json_text_pg(element: json_text, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} #>> '{{}}')"


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    return f"json_extract({compiler.process(element.clauses, **kw)}, '$')"


class utc_time(FunctionElement[Any]):
    """A timestamp column to read as `pa.timestamp("us", "UTC")`: ADBC converts PostgreSQL's;
    SQLite's text ('YYYY-MM-DD HH:MM:SS.ffffff', UTC) is parsed per chunk by Arrow."""

    type = sa.Text()
    inherit_cache = True


@compiles(utc_time)
def _utc_time(element: utc_time, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


def insert(
    conn: sa.Connection, table: sa.Table, names: Sequence[str], rows: Iterable[Sequence[Any]],
    fixed: Mapping[str, Any] | None = None, *, chunk: int = SQLITE_CHUNK,
) -> None:
    """Insert many rows of values for the columns `names` (plus the same `fixed` values in
    every row): PostgreSQL by COPY, SQLite by executemany in chunks, in the caller's transaction."""
    fixed = dict(fixed or {})
    if conn.dialect.name != "postgresql":
        remaining = iter(rows)
        while piece := list(itertools.islice(remaining, chunk)):
            conn.execute(table.insert(), [{**fixed, **dict(zip(names, row, strict=True))} for row in piece])
        return
    every = [*fixed, *names]
    as_json = [isinstance(table.c[n].type, sa.JSON) for n in every]
    head = list(fixed.values())
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(n) for n in every)
    with cursor.copy(f"COPY {conn.dialect.identifier_preparer.format_table(table)} ({quoted}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([
                json.dumps(v, ensure_ascii=False) if j and v is not None else v
                for v, j in zip([*head, *row], as_json, strict=True)
            ])
