"""Opening a store: URL resolution, engine tuning per back end, and schema migrations."""

from __future__ import annotations

import os
import select
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from platformdirs import user_data_dir

from crowdnb.errors import require

STORE_ENV = "CROWDNB_STORE"
MIGRATIONS = Path(__file__).with_name("migrations")
# libpq settings for a PostgreSQL store unless its URL sets them: give up connecting after 10 s
# (not the system's minutes for an address that does not answer), and notice a peer that went
# away on an idle connection within a minute (TCP keepalives).
POSTGRES_CONNECT = {"connect_timeout": "10", "keepalives_idle": "30", "keepalives_interval": "10", "keepalives_count": "3"}


def default_url() -> str:
    """The store URL used when none is given: `$CROWDNB_STORE`, else a SQLite file per user."""
    configured = os.environ.get(STORE_ENV)
    if configured:
        return as_url(configured)
    return as_url(Path(user_data_dir("crowdnb", appauthor=False)) / "crowdnb.sqlite")


def as_url(target: str | os.PathLike[str]) -> str:
    """A SQLAlchemy URL for `target`: a URL is kept, a plain path becomes a SQLite file URL."""
    text = os.fspath(target)
    if "://" in text:
        return text
    path = Path(text).expanduser().resolve()
    return f"sqlite:///{path}"


def create_engine(url: str) -> sa.Engine:
    """An engine tuned for many notebooks sharing one store."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() != "postgresql":
        return sa.create_engine(parsed, pool_size=20, max_overflow=20)
    require("psycopg", feature="a PostgreSQL store", extra="postgres")
    parsed = parsed.update_query_dict({k: v for k, v in POSTGRES_CONNECT.items() if k not in parsed.query})
    # As many pooled connections as a server process has request threads (40), so that none is
    # opened and closed per request.
    engine = sa.create_engine(parsed, pool_size=20, max_overflow=20)
    sa.event.listen(engine, "checkout", _refuse_ended)
    return engine


def _refuse_ended(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
    """Keep a pooled connection the server has ended from being used: its socket is readable
    while it is idle (the server's goodbye, then end of file). That happens to all of them
    when the database restarts, so SQLAlchemy is told to replace every connection of the pool
    as old as this one, and it opens a new one for the caller. A poll of the socket costs no
    round trip, unlike a ping (`pool_pre_ping`: 15-20% fewer labels/s with 20 threads); a
    connection lost without a goodbye (a network gone) fails at its first statement instead,
    and the server answers 503."""
    try:
        fd = dbapi_conn.fileno()
    except Exception as exc:  # closed, or the driver lost it
        raise sa.exc.DisconnectionError(f"pooled connection unusable: {exc}") from exc
    if _readable(fd):
        raise sa.exc.InvalidatePoolError("the database ended this pooled connection (restarted?)")


def _readable(fd: int) -> bool:
    """Whether a socket has data (or end of file, or an error) to read right now."""
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows: sockets only, no descriptor limit


def _sqlite_engine(url: sa.URL) -> sa.Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _tune(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Transactions are begun explicitly (see `_begin`), so that writers take the lock up front
        # with BEGIN IMMEDIATE instead of failing on upgrade from a read lock.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk before it is acknowledged
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def migrate(engine: sa.Engine) -> None:
    """Bring the store's schema to the newest version (no-op when it is already there)."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    with engine.connect() as conn:
        sqlite = engine.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes a table's constraints by rebuilding it; with foreign keys on, dropping
            # the old table would delete (by cascade) the rows that refer to it. They are checked
            # once, before the commit, instead (https://www.sqlite.org/lang_altertable.html).
            _pragma(conn, "foreign_keys=OFF")
        try:
            with conn.begin():
                config = Config()
                config.set_main_option("script_location", str(MIGRATIONS))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"migrating left rows without the rows they refer to: {broken[:5]}")
        finally:
            if sqlite:
                _pragma(conn, "foreign_keys=ON")


def _pragma(conn: sa.Connection, setting: str) -> None:
    """Set a SQLite pragma outside any transaction (it is ignored inside one)."""
    conn.connection.driver_connection.execute(f"PRAGMA {setting}")  # type: ignore[union-attr]
