"""Engine and sessionmaker construction for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

IMMEDIATE_OPTION = "sqlite_begin_immediate"


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int | None = None, **kwargs: Any) -> AsyncEngine:
    """``pool_size`` and ``max_overflow`` (default: as many again) apply to PostgreSQL. An overflow
    connection is closed when it is returned, so a process that keeps more requests in flight than its pool
    opens and closes a connection for each request beyond it; app processes pass ``max_overflow=0``."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    # No pre-ping: it costs a round trip on every request (a third of the minimal page's time). A
    # connection the server closed (a PostgreSQL restart terminates every backend) is noticed without one:
    # asyncpg sees the socket close, and the checkout below swaps such a connection for a new one.
    engine = create_async_engine(url, pool_size=pool_size,
                                 max_overflow=pool_size if max_overflow is None else max_overflow, **kwargs)
    event.listen(engine.sync_engine, "checkout", _replace_closed)
    return engine


def _replace_closed(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Pessimistic disconnect handling without a round trip: a pooled connection whose socket the server
    has closed is refused at checkout, and the pool opens a new one (bench drill_pg_restart)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def _sqlite_pragmas(engine: AsyncEngine) -> None:
    """WAL, foreign keys, and explicit BEGIN so SAVEPOINTs and transactional DDL work (pysqlite quirk)."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(IMMEDIATE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_sessionmaker(bind: Any, **kwargs: Any) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(bind, expire_on_commit=False, autoflush=False, **kwargs)


def make_read_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests that only read (GET, HEAD). On PostgreSQL they run in autocommit: no BEGIN
    and COMMIT around the page's statements (two round trips of each page view). That changes nothing a
    page can see: at READ COMMITTED every statement takes its own snapshot inside a transaction too.
    SQLite keeps its transactions (a read transaction there is one snapshot, which its pages rely on)."""
    if engine.dialect.name == "postgresql":
        return make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
    return make_sessionmaker(engine)


def make_statement_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for requests whose every write is one statement, atomic by itself (``autocommit`` routes,
    such as casting a ballot). On PostgreSQL they run in autocommit: each statement commits as it ends, and
    the request pays no BEGIN and COMMIT round trips. SQLite keeps the write transaction
    (``make_write_sessionmaker``): there a handler runs its writes one statement at a time."""
    if engine.dialect.name == "postgresql":
        return make_read_sessionmaker(engine)
    return make_write_sessionmaker(engine)


def make_write_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for transactions that will write.

    SQLite allows one writer; a transaction that reads first and writes later fails at once with
    "database is locked" if another connection committed in between (its snapshot is stale). Taking
    the write lock at BEGIN (IMMEDIATE) makes such writers queue on busy_timeout instead. PostgreSQL
    needs nothing special.
    """
    if engine.dialect.name == "sqlite":
        return make_sessionmaker(engine.execution_options(**{IMMEDIATE_OPTION: True}))
    return make_sessionmaker(engine)
