"""Reading query results as columns (Arrow record batches), not as a Python object per row.

PostgreSQL sends the query's rows with ``COPY (query) TO STDOUT (FORMAT csv)`` and Arrow's
multi-threaded CSV reader parses the stream into typed columns as it arrives, in blocks, so
memory is bounded by the columns kept, not by rows in flight. SQLite has no bulk export: its
rows are fetched in chunks through the driver and turned into columns per chunk, so only one
chunk of Python rows exists at a time.

Neither SQLAlchemy (one Python row per result row, type processors per value) nor psycopg's
COPY row parser (one tuple per row) does this, and no kept library reads a query on an open
SQLAlchemy connection into Arrow: ADBC and connectorx open their own connections, outside the
transaction whose snapshot the other reads of a call use. Hence the few lines here.
"""

from __future__ import annotations

import io
import json
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# Rows per SQLite chunk, and bytes per block of the PostgreSQL stream given to the CSV parser.
SQLITE_CHUNK = 100_000
COPY_BLOCK = 4 << 20


def batches(conn: sa.Connection, query: sa.Select[Any], types: Mapping[str, pa.DataType]) -> Iterator[pa.RecordBatch]:
    """The rows of `query` as record batches with one column per entry of `types` (the
    query's column labels, in its order), NULL as null; no batch when there are no rows."""
    names = [c.key for c in query.selected_columns]
    if names != list(types):
        raise ValueError(f"column types {list(types)} do not match the query's columns {names}")
    schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
    if conn.dialect.name == "postgresql":
        yield from _copy_batches(conn, query, schema)
    else:
        yield from _chunk_batches(conn, query, schema)


def table(conn: sa.Connection, query: sa.Select[Any], types: Mapping[str, pa.DataType]) -> pa.Table:
    """All rows of `query` as one Arrow table (see `batches`)."""
    schema = pa.schema([pa.field(name, kind) for name, kind in types.items()])
    return pa.Table.from_batches(list(batches(conn, query, types)), schema=schema)


def _compiled(conn: sa.Connection, query: sa.Select[Any]) -> tuple[str, dict[str, Any], list[str]]:
    """The query's SQL for the driver, its parameters as the driver takes them (after the
    types' own conversions, e.g. SQLite's JSON paths), and their order (positional styles)."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = {}
    for name, value in compiled.params.items():
        bind = compiled.binds.get(name)
        processor = bind.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) if bind is not None else None
        params[name] = processor(value) if processor else value
    return str(compiled), params, list(compiled.positiontup or [])


def _copy_batches(conn: sa.Connection, query: sa.Select[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    sql, params, _ = _compiled(conn, query)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    # psycopg binds the parameters client-side, with its own quoting.
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy:
        chunks = iter(copy)
        first = next(chunks, None)
        if first is None:
            return
        stream = _CopyStream(itertools.chain([first], chunks))
        dictionary = [f.name for f in schema if pa.types.is_dictionary(f.type)]
        convert = pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema},
            # Unquoted empty fields are NULL; "" (quoted) is an empty string, as PostgreSQL writes them.
            null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
            true_values=["t"], false_values=["f"],
        )
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=schema.names, block_size=COPY_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=convert,
        )
        for batch in reader:
            yield batch if not dictionary else batch.cast(schema)
        for _ in chunks:  # the reader stops at the end of the data; let COPY finish cleanly
            pass


class _CopyStream(io.RawIOBase):
    """A readable byte stream over the chunks of a psycopg COPY TO."""

    def __init__(self, chunks: Iterator[Any]) -> None:
        self._chunks = chunks
        self._left = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._left = memoryview(chunk)
        n = min(len(buffer), len(self._left))
        buffer[:n] = self._left[:n]
        self._left = self._left[n:]
        return n


def _chunk_batches(conn: sa.Connection, query: sa.Select[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    sql, params, order = _compiled(conn, query)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, [params[name] for name in order])
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
    return pa.array(values, kind)


class json_text(FunctionElement[str]):
    """A JSON column's value as text: a string's own text (not quoted), other values as JSON."""

    type = sa.Text()
    inherit_cache = True


@compiles(json_text, "postgresql")
def _json_text_pg(element: json_text, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)} #>> '{{}}')"


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"(CASE json_type({value}) WHEN 'text' THEN json_extract({value}, '$') ELSE json({value}) END)"


class epoch_us(FunctionElement[int]):
    """A timestamp as microseconds since 1970-01-01 UTC (SQLite keeps milliseconds)."""

    type = sa.BigInteger()
    inherit_cache = True


@compiles(epoch_us, "postgresql")
def _epoch_us_pg(element: epoch_us, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    return f"(extract(epoch from {compiler.process(element.clauses, **kw)}) * 1000000)::bigint"


@compiles(epoch_us, "sqlite")
def _epoch_us_sqlite(element: epoch_us, compiler: sa.sql.compiler.SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC: whole seconds from strftime, then the fraction.
    return f"(CAST(strftime('%s', {value}) AS INTEGER) * 1000000 + CAST(substr({value}, 21, 6) AS INTEGER))"


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
