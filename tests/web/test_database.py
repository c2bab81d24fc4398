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
from web.database import make_engine, make_read_sessionmaker, make_write_sessionmaker

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
        for sessionmaker, one_transaction in ((make_read_sessionmaker(engine), False),
                                              (make_write_sessionmaker(engine), True)):
            async with sessionmaker() as session:
                first = await session.scalar(text("SELECT now()"))
                await session.execute(text("SELECT pg_sleep(0.02)"))
                assert (await session.scalar(text("SELECT now()")) == first) is one_transaction
                await session.commit()
    finally:
        await engine.dispose()
