"""What a process knows of the database's changes, table by table (``consultation.changes``): which tables a
statement writes and reads, when a table's stamp moves, and that the other processes are told about a commit
only once it is done."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consultation import changes
from tests import harness
from web.database import make_engine, make_sessionmaker


@pytest.mark.parametrize(("statement", "written"), [
    ("SELECT area.id FROM area WHERE area.id = $1", set()),
    ("  select 1", set()),
    ("SAVEPOINT sa_savepoint_1", set()),
    ("RELEASE SAVEPOINT sa_savepoint_1", set()),
    ("WITH RECURSIVE chain(id) AS (SELECT area.id FROM area) SELECT chain.id, topic.updated_at FROM chain", set()),
    ("INSERT INTO topic (title) VALUES ($1)", {"topic"}),
    ("UPDATE topic SET cosign_count=(topic.cosign_count + $1)", {"topic"}),
    ("DELETE FROM comment_reaction WHERE id = $1", {"comment_reaction"}),
    ("WITH moved AS (UPDATE poll SET state = $1 RETURNING id) SELECT count(*) FROM moved", {"poll"}),
    ("WITH c AS (INSERT INTO draft_comment (body) VALUES ($1) ON CONFLICT DO NOTHING RETURNING id), "
     "e AS (INSERT INTO audit_event (kind) SELECT $2 FROM c) UPDATE draft_comment SET group_size = 2",
     {"draft_comment", "audit_event"}),
    ("INSERT INTO ballot (poll_id) VALUES ($1) ON CONFLICT (poll_id) DO UPDATE SET n = ballot.n + 1", {"ballot"}),
    ('UPDATE "user" SET name = $1', {"user"}),
    ("with moved as (update poll set state = $1 returning id) select count(*) from moved", {"poll"}),
    ("WITH c AS (SELECT id FROM outbox_message FOR UPDATE SKIP LOCKED) SELECT * FROM c", set()),
    ("WITH c AS (SELECT topic.id FROM topic FOR UPDATE OF topic) SELECT * FROM c", set()),
    ("TRUNCATE topic, comment", {changes.EVERYTHING}),
    ("CREATE INDEX ix ON topic (state)", {changes.EVERYTHING}),
    ("NOTIFY yishiting_outbox", {changes.EVERYTHING}),
])
def test_the_tables_a_statement_writes(statement: str, written: set[str]) -> None:
    assert changes.written_tables(statement) == written


def test_a_write_counts_the_rows_the_database_changes_in_turn() -> None:
    """Foreign keys with ``ON DELETE`` actions: deleting a topic deletes its comments, and so on down."""
    import consultation.models  # noqa: F401 - every mapped table
    from consultation.db import Base

    followers = {table.name for table in Base.metadata.tables.values()
                 if any(key.column.table.name == "topic" and key.ondelete in ("CASCADE", "SET NULL")
                        for key in table.foreign_keys)}
    assert followers  # the schema has some
    written = changes.written_tables("DELETE FROM topic WHERE topic.id = $1")
    assert {"topic"} | followers <= written


def test_the_tables_a_statement_reads() -> None:
    statement = ("SELECT topic.id, area_1.name FROM topic JOIN (SELECT topic.id AS id FROM topic WHERE x) AS anon_1 "
                 "ON anon_1.id = topic.id LEFT OUTER JOIN area AS area_1 ON area_1.id = topic.area_id "
                 "WHERE EXISTS (SELECT 1 FROM topic_cosign WHERE topic_cosign.topic_id = topic.id)")
    assert changes.read_tables(statement) == {"topic", "area", "topic_cosign"}
    import consultation.models  # noqa: F401 - every mapped table
    assert changes.read_tables("SELECT topic.title, area.name FROM topic, area WHERE area.id = topic.area_id") == {
        "topic", "area"}


def test_a_value_is_stale_once_a_table_it_read_changes() -> None:
    clock = changes.now()
    changes.bump({"ballot"})
    assert not changes.changed_since({"topic", "area"}, clock)
    changes.heard({"topic"})  # another process committed a write to it
    assert changes.changed_since({"topic", "area"}, clock)
    later = changes.now()
    changes.bump({changes.EVERYTHING})
    assert changes.changed_since({"area"}, later) and changes.changed_since(set(), later)


def test_recordings_nest() -> None:
    with changes.recording() as outer:
        changes.note_read({"area"})
        with changes.recording() as inner:
            changes.note_read({"topic"})
        assert inner.tables == {"topic"}
    assert outer.tables == {"area", "topic"}
    changes.note_read({"poll"})  # outside any recording: nothing to do


@pytest.fixture
def published() -> Iterator[list[frozenset[str]]]:
    told: list[frozenset[str]] = []
    changes.set_publisher(told.append)
    yield told
    changes.set_publisher(None)


@pytest.fixture
async def scratch(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A database of the test's own with one table, for transactions that really commit."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'scratch.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE scratch_note (id INTEGER PRIMARY KEY, body TEXT)"))
    yield engine
    await engine.dispose()


async def test_a_commit_is_published_once_it_is_done(scratch: AsyncEngine, published: list[frozenset[str]]) -> None:
    sessions = make_sessionmaker(scratch)
    async with sessions() as session:
        clock = changes.now()
        await session.execute(text("INSERT INTO scratch_note (body) VALUES ('a')"))
        assert changes.changed_since({"scratch_note"}, clock)  # at once, for this process's next read
        assert published == []
        await session.commit()
        assert published == [frozenset({"scratch_note"})]  # the connection went back to its pool
        await session.execute(text("SELECT count(*) FROM scratch_note"))
    assert published == [frozenset({"scratch_note"})]  # told once


async def test_nothing_is_published_for_a_rollback_or_a_savepoint_rolled_back(
        scratch: AsyncEngine, published: list[frozenset[str]]) -> None:
    sessions = make_sessionmaker(scratch)
    async with sessions() as session:
        await session.execute(text("INSERT INTO scratch_note (body) VALUES ('a')"))
        await session.rollback()
    assert published == []
    async with sessions() as session:
        await session.execute(text("SELECT count(*) FROM scratch_note"))
        savepoint = await session.begin_nested()
        clock = changes.now()
        await session.execute(text("INSERT INTO scratch_note (body) VALUES ('b')"))
        await savepoint.rollback()
        assert changes.changed_since({"scratch_note"}, clock)
        await session.commit()
    assert published == []  # the transaction committed wrote nothing that stayed


@pytest.mark.skipif(harness.backend() != "postgres", reason="autocommit sessions are PostgreSQL's")
async def test_a_statement_in_autocommit_is_published_too(database_url: str,
                                                           published: list[frozenset[str]]) -> None:
    """The read sessions of PostgreSQL run in autocommit, and so do the ballot's (``make_statement_sessionmaker``)."""
    engine = make_engine(database_url, pool_size=1)
    try:
        sessions = make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT"))
        async with sessions() as session:
            await session.execute(text("CREATE TEMPORARY TABLE scratch_note (id serial, body text)"))
        published.clear()  # the DDL counts as everything
        async with sessions() as session:
            await session.execute(text("INSERT INTO scratch_note (body) VALUES ('a')"))
            await session.commit()
        assert published == [frozenset({"scratch_note"})]
        # a request that wrote and then failed: its session rolls back, but the statement had committed
        async with sessions() as session:
            await session.execute(text("INSERT INTO scratch_note (body) VALUES ('b')"))
            await session.rollback()
        assert published == [frozenset({"scratch_note"})] * 2
    finally:
        await engine.dispose()
