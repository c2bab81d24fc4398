"""Engine and sessionmaker construction for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

IMMEDIATE_OPTION = "sqlite_begin_immediate"


def make_engine(url: str, *, pool_size: int = 10, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
        return engine
    # No pre-ping: it costs a round trip on every request (a third of the minimal page's time). After a
    # PostgreSQL restart the first statement on a dead connection fails with a disconnect error, and
    # SQLAlchemy then replaces every pooled connection; that request fails, the next ones succeed
    # (bench drill_pg_restart checks the recovery).
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, **kwargs)


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
