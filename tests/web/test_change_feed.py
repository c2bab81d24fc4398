"""The change feed between processes (``web.change_feed``, PostgreSQL): a process hears the tables another
one committed writes to, not its own; after losing its connection it takes everything as changed and listens
again; and an anonymous page cached by one process is read afresh once another reports a change to a table
the page read, not for a table it did not."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.applications import Starlette

from consultation import changes
from tests import harness
from tests.conftest import WebClient
from tests.deliberation.helpers import make_world, raise_topic
from tests.web.test_query_counts import statements
from web import page_cache
from web.app import create_app
from web.change_feed import ChangeFeed, following
from web.settings import Settings

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="the change feed is PostgreSQL's")


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.with_(change_feed=True, host_cache=str(tmp_path / "pages"))


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.01)
    return condition()


async def connect(database_url: str) -> asyncpg.Connection:
    url = make_url(database_url)
    return await asyncpg.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                 database=url.database)


async def notify_as_another_process(database_url: str, tables: str) -> None:
    connection = await connect(database_url)
    try:
        await connection.execute("SELECT pg_notify($1, $2)", changes.CHANNEL, f"elsewhere:{tables}")
    finally:
        await connection.close()


@pytest.fixture
async def feed(database_url: str) -> AsyncIterator[ChangeFeed]:
    async with following(database_url) as running:
        assert await eventually(changes.listening)
        yield running
    assert not changes.listening()


async def test_a_process_hears_the_others_commits_and_not_its_own(database_url: str, feed: ChangeFeed) -> None:
    clock = changes.now()
    await notify_as_another_process(database_url, "topic,comment")
    assert await eventually(lambda: changes.changed_since({"comment"}, clock))
    assert not changes.changed_since({"area"}, clock)
    clock = changes.now()
    feed.publish(frozenset({"area"}))  # sent to everyone, this process included, which ignores it
    listener = await connect(database_url)  # what the other processes hear
    heard: list[str] = []
    await listener.add_listener(changes.CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        feed.publish(frozenset({"area", "poll"}))
        assert await eventually(lambda: any(payload.endswith(":area,poll") for payload in heard))
    finally:
        await listener.close()
    await notify_as_another_process(database_url, "marker")  # sent after this process's own: heard after it
    assert await eventually(lambda: changes.changed_since({"marker"}, clock))
    assert not changes.changed_since({"area"}, clock)


async def test_after_losing_its_connection_it_takes_everything_as_changed_and_listens_again(
        database_url: str, feed: ChangeFeed) -> None:
    assert feed.connection is not None
    backend = feed.connection.get_server_pid()
    clock = changes.now()
    admin = await connect(database_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", backend)
    finally:
        await admin.close()
    assert await eventually(lambda: not changes.listening() or feed.connection is None
                            or feed.connection.get_server_pid() != backend)
    listener = await connect(database_url)
    heard: list[str] = []
    await listener.add_listener(changes.CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        feed.publish(frozenset({"poll"}))  # a commit while the feed is away: sent once it is back
        assert await eventually(lambda: changes.listening() and feed.connection is not None
                                and feed.connection.get_server_pid() != backend)
        assert changes.changed_since({"anything"}, clock)  # what it may have missed
        assert await eventually(lambda: any(payload.endswith(":poll") for payload in heard))
    finally:
        await listener.close()


async def test_a_cached_page_follows_what_other_processes_change(
        app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert await eventually(changes.listening)  # the app's own feed
    world = await make_world(db, neighbours=1)
    await raise_topic(db, world, title="东门路灯不亮")
    community = f"/areas/{world.city.community_a.id}"
    await client.get(community)

    async def cached() -> bool:
        with statements(connection) as seen:
            await client.get(community)
        return seen == []

    assert await cached()
    clock = changes.now()
    await notify_as_another_process(database_url, "ballot,audit_event")  # nothing the page shows
    assert await eventually(lambda: changes.changed_since({"ballot"}, clock))
    assert await cached()
    now = time.monotonic()
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: now + page_cache.DEFAULT_TTL + 5)
    assert await cached()  # while the feed listens, past the short time to live
    monkeypatch.undo()
    clock = changes.now()
    await notify_as_another_process(database_url, "topic")
    assert await eventually(lambda: changes.changed_since({"topic"}, clock))
    assert not await cached()  # read afresh
    assert await cached()


async def test_the_pages_keep_their_short_time_to_live_without_the_feed(
        app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient, monkeypatch: Any) -> None:
    assert await eventually(changes.listening)
    monkeypatch.setattr(changes, "listening", lambda: False)  # as while the feed's connection is lost
    world = await make_world(db, neighbours=1)
    community = f"/areas/{world.city.community_a.id}"
    await client.get(community)
    now = time.monotonic()
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: now + page_cache.DEFAULT_TTL + 1)
    with statements(connection) as seen:
        await client.get(community)
    assert seen


async def test_a_process_takes_the_area_page_another_process_of_its_host_made(
        app: Starlette, settings: Settings, sessionmaker: Any, db: AsyncSession, connection: AsyncConnection,
        client: WebClient, database_url: str) -> None:
    assert await eventually(changes.listening)
    world = await make_world(db, neighbours=1)
    await raise_topic(db, world, title="西门垃圾桶满了")
    community = f"/areas/{world.city.community_a.id}"
    other = create_app(settings, sessionmaker=sessionmaker)  # another worker process of the same host
    before = time.time()
    async with other.router.lifespan_context(other):
        async with WebClient(transport=httpx.ASGITransport(app=other), base_url="http://testserver") as visitor:
            # its feed connected: (in this one process) everything counts as changed then
            assert await eventually(lambda: changes.changed_after((), before))
            await asyncio.sleep(0.02)  # a page whose load began within SKEW_SECONDS of a change is not shared
            first = await client.get(community)
            with statements(connection) as seen:
                taken = await visitor.get(community)
            assert seen == [] and "西门垃圾桶满了" in taken.text and taken.text.count("<") == first.text.count("<")
            assert page_cache.counts(other)["area_page"]["host_hits"] == 1
            clock = changes.now()
            await notify_as_another_process(database_url, "topic")
            assert await eventually(lambda: changes.changed_since({"topic"}, clock))
            await asyncio.sleep(0.02)
            await raise_topic(db, world, title="北门路面塌陷")  # written after the page both processes kept
            with statements(connection) as seen:
                again = await visitor.get(community)
            assert seen and "北门路面塌陷" in again.text  # neither its own page nor the shared one
