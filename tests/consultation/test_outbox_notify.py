"""On PostgreSQL a transaction that writes outbox rows notifies the workers' channel when it commits
(and only then), and the worker's listener wakes on it: separate workers need not wait for a poll. The
notification comes from a trigger on the table (migration 0003): the transaction sends no NOTIFY itself."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, event

from consultation.outbox import NOTIFY_CHANNEL, OutboxMessage, enqueue
from tests import harness
from web.database import make_engine, make_write_sessionmaker
from web.worker import OutboxListener

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="LISTEN/NOTIFY is PostgreSQL's")


async def test_commit_with_outbox_rows_wakes_the_listener_and_rollback_does_not(database_url: str) -> None:
    wake = asyncio.Event()
    listener = OutboxListener(database_url, wake)
    await listener.ensure()
    assert listener.connection is not None
    engine = make_engine(database_url, pool_size=1)
    sessions = make_write_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():  # rolled back: nothing may be announced
            enqueue(session, "test.notify", {})
            await session.flush()
            await session.rollback()
        await asyncio.sleep(0.3)
        assert not wake.is_set()

        sent: list[str] = []
        event.listen(engine.sync_engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *args: sent.append(statement))
        async with sessions() as session, session.begin():
            message = enqueue(session, "test.notify", {})
        async with asyncio.timeout(5):
            await wake.wait()
        assert not [s for s in sent if "NOTIFY" in s.upper()], sent  # one statement fewer per transaction

        wake.clear()
        async with sessions() as session, session.begin():  # a transaction without outbox rows is silent
            await session.execute(delete(OutboxMessage).where(OutboxMessage.id == message.id))
        await asyncio.sleep(0.3)
        assert not wake.is_set()
    finally:
        await listener.close()
        await engine.dispose()


async def test_the_listener_reconnects_after_losing_its_connection(database_url: str) -> None:
    wake = asyncio.Event()
    listener = OutboxListener(database_url, wake)
    await listener.ensure()
    assert listener.connection is not None
    await listener.connection.close()  # as when PostgreSQL restarts
    await listener.ensure()
    assert listener.connection is not None and not listener.connection.is_closed()
    await listener.connection.execute(f"NOTIFY {NOTIFY_CHANNEL}")
    async with asyncio.timeout(5):
        await wake.wait()
    await listener.close()
