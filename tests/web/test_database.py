"""The production engine notices connections the server closed (a PostgreSQL restart terminates every
backend) without a round trip per request: such a pooled connection is replaced at checkout, so the
first request after the restart succeeds instead of failing on the dead connection."""

from __future__ import annotations

import asyncio
import os

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests import harness
from web.database import make_engine, make_read_sessionmaker, make_statement_sessionmaker, make_write_sessionmaker

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="PostgreSQL connections and pool")


async def test_a_connection_the_server_closed_is_replaced_at_checkout() -> None:
    engine = make_engine(os.environ["TEST_DATABASE_URL"], pool_size=2)
    try:
        async with make_write_sessionmaker(engine)() as session:
            doomed = await session.scalar(text("SELECT pg_backend_pid()"))
        killer = await asyncpg.connect(make_url(os.environ["TEST_DATABASE_URL"]).set(drivername="postgresql")
                                       .render_as_string(hide_password=False))
        try:  # what a restart does to every backend
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", doomed) is True
        finally:
            await killer.close()
        await asyncio.sleep(0.3)  # the closed socket reaches the event loop
        for sessionmaker in (make_read_sessionmaker(engine), make_write_sessionmaker(engine)):
            async with sessionmaker() as session:
                pid = await session.scalar(text("SELECT pg_backend_pid()"))
                await session.commit()
            assert pid != doomed
    finally:
        await engine.dispose()


async def test_read_sessions_run_without_a_transaction_and_writes_with_one() -> None:
    engine = make_engine(os.environ["TEST_DATABASE_URL"], pool_size=2)
    try:
        # now() is the transaction's start: it moves between the statements of a read session, not of a write one
        # the statement sessions of the ``autocommit`` routes (casting a ballot) run without one too
        for sessionmaker, one_transaction in ((make_read_sessionmaker(engine), False),
                                              (make_statement_sessionmaker(engine), False),
                                              (make_write_sessionmaker(engine), True)):
            async with sessionmaker() as session:
                first = await session.scalar(text("SELECT now()"))
                await session.execute(text("SELECT pg_sleep(0.02)"))
                assert (await session.scalar(text("SELECT now()")) == first) is one_transaction
                await session.commit()
    finally:
        await engine.dispose()


async def test_an_app_process_keeps_its_connections_under_more_requests_than_its_pool() -> None:
    """An overflow connection is closed when it is returned: an app process with one would open and close a
    PostgreSQL connection for every request beyond its pool under a surge. The app's pool has none, so
    concurrent requests beyond it wait for a connection and the backends stay the same."""
    from web.app import create_app
    from web.settings import Settings

    settings = Settings(environment="test", database_url=os.environ["TEST_DATABASE_URL"], db_pool_size=3,
                        run_worker_in_process=False, secret_key="test-secret-key-that-is-long-enough-000",
                        host_cache="off")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        sessions = app.state.sessionmaker

        async def backend() -> int:
            async with sessions() as session:
                pid = int(await session.scalar(text("SELECT pg_backend_pid()")))
                await asyncio.sleep(0.05)  # held, as a request holds its connection
                return pid

        pids = await asyncio.gather(*(backend() for _ in range(12)))
        again = await asyncio.gather(*(backend() for _ in range(12)))
        assert len(set(pids)) <= 3 and set(again) <= set(pids)
