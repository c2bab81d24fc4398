"""SQL statements per main page (issue 6, item 4): each page runs a fixed number of statements however
much data it shows, so an N+1 cannot come back unnoticed.

Each test renders the page, adds more of what the page lists, renders it again, and asserts that the
count did not grow and stays within the page's budget. A budget is what the page needs today plus a
small margin: a feature that adds a section may raise it, knowingly, in this file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.applications import Starlette

from consultation.areas import services as areas
from consultation.areas.models import AreaLevel
from consultation.deliberation import services
from consultation.deliberation.models import Topic, TopicState
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, in_triage, make_world, raise_topic
from tests.factories import PASSWORD, identifier, make_user

# Statements per page: measured when this test was written (in brackets) plus a margin of two. The
# signed-in pages include the four statements of loading who is asking (session, grants, home, unread count).
BUDGET = {
    "area_home": 11,  # (9) anonymous: area, trail, children and their counts, households, topics, meetings, ...
    "compound_page": 9,  # (7)
    "topic_page": 21,  # (19) signed in, with comments, photos, meetings and resolution sections
    "search_page": 7,  # (5) database fallback search
    "my_topics": 9,  # (7)
    "worker_console": 12,  # (10)
    "triage_queue": 10,  # (8) as an administrator, who covers every community
}
_NOT_COUNTED = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """Every SQL statement the app sends on the test's connection (savepoints of the harness excluded)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(_NOT_COUNTED):
            seen.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


_last: dict[str, list[str]] = {}  # the statements of the latest count per path, shown when a check fails


async def count(connection: AsyncConnection, client: WebClient, path: str) -> int:
    await client.get(path)  # a first visit sets cookies; count the steady state
    with statements(connection) as seen:
        response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    _last[path] = seen
    return len(seen)


def check(page: str, path: str, before: int, after: int) -> None:
    listing = "\n".join(" ".join(statement.split())[:160] for statement in _last.get(path, []))
    assert after == before, f"{page}: {before} statements with less data, {after} with more (an N+1?):\n{listing}"
    assert after <= BUDGET[page], f"{page}: {after} statements, budget {BUDGET[page]}:\n{listing}"


async def more_topics(db: AsyncSession, world: World, n: int, *, tag: str) -> list[Topic]:
    """``n`` topics in community A in different groups, co-signed and followed by several people."""
    worker = actor_of(world.worker_a, world)
    topics = []
    for i in range(n):
        author = world.neighbours[i % len(world.neighbours)]
        topic = await raise_topic(db, world, title=f"{tag}楼道灯{i}", author=author)
        for neighbour in world.neighbours:
            if neighbour is not author:
                await services.cosign(db, actor_of(neighbour, world), topic)
        await services.follow(db, actor_of(world.author, world), topic)
        if i % 3 == 1 and topic.state is TopicState.triage:
            await services.accept(db, worker, topic, "纳入议事")
        elif i % 3 == 2 and topic.state is TopicState.triage:
            await services.decline(db, worker, topic, "不属于本社区事务")
        topics.append(topic)
    await db.flush()
    return topics


async def add_comments(db: AsyncSession, world: World, topic: Topic, n: int) -> None:
    """Comments on ``topic`` once the comments capability exists (its own service writes them)."""
    try:
        from consultation.comments.services import post_comment
    except ImportError:
        return
    for i in range(n):
        author = world.neighbours[i % len(world.neighbours)]
        await post_comment(db, actor_of(author, world), topic, body=f"同意，第{i}条意见，{topic.id}号议题。",
                           stance="support")
    await db.flush()


async def test_area_home_and_compound_page(db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await more_topics(db, world, 1, tag="一")
    community, compound = world.city.community_a.id, world.city.compound_a.id
    before = await count(connection, client, f"/areas/{community}")
    compound_before = await count(connection, client, f"/areas/{compound}")
    await more_topics(db, world, 6, tag="二")
    check("area_home", f"/areas/{community}", before, await count(connection, client, f"/areas/{community}"))
    check("compound_page", f"/areas/{compound}", compound_before,
          await count(connection, client, f"/areas/{compound}"))


async def test_topic_page(db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    topic = await raise_topic(db, world)
    await add_comments(db, world, topic, 2)
    await client.login(identifier(world.author), PASSWORD)  # a signed-in viewer: co-sign and follow state too
    before = await count(connection, client, f"/topics/{topic.id}")
    for neighbour in world.neighbours[:4]:  # the fifth would send it to triage
        await services.cosign(db, actor_of(neighbour, world), topic)
    await add_comments(db, world, topic, 8)
    check("topic_page", f"/topics/{topic.id}", before, await count(connection, client, f"/topics/{topic.id}"))


async def test_search_page(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                           client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await more_topics(db, world, 1, tag="甲")
    await db.commit()
    await app.state.services.worker.drain()
    before = await count(connection, client, "/search?q=楼道灯")
    await more_topics(db, world, 6, tag="乙")
    await db.commit()
    await app.state.services.worker.drain()
    found = (await client.get("/api/v1/search?q=楼道灯")).json()
    assert found["total"] >= 7  # the later topics are found too, so the second count covers more hits
    check("search_page", "/search?q=楼道灯", before, await count(connection, client, "/search?q=楼道灯"))


async def test_my_topics(db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await raise_topic(db, world, title="我的第一个议题")
    await more_topics(db, world, 1, tag="丙")
    await client.login(identifier(world.author), PASSWORD)
    before = await count(connection, client, "/my/topics")
    for i in range(4):
        await raise_topic(db, world, title=f"我的议题{i}")
    await more_topics(db, world, 4, tag="丁")
    check("my_topics", "/my/topics", before, await count(connection, client, "/my/topics"))


async def test_worker_console(db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await client.login(identifier(world.worker_a), PASSWORD)
    before = await count(connection, client, "/worker")
    for i in range(8):
        await make_user(db, name=f"待认证{i}", area=world.city.community_a)
    await more_topics(db, world, 3, tag="戊")
    check("worker_console", "/worker", before, await count(connection, client, "/worker"))


async def test_triage_queue(db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await in_triage(db, world, title="待审议题一")
    await client.login(identifier(world.admin), PASSWORD)
    before = await count(connection, client, "/worker/triage")
    admin = actor_of(world.admin, world)
    for i in range(4):  # more communities, each with its own threshold row, and more topics waiting
        community = await areas.create_area(db, admin, name=f"新建{i}社区", code=f"QC{i}", level=AreaLevel.community,
                                            parent=world.city.street)
        await services.set_cosign_threshold(db, admin, community, str(3 + i))
    await in_triage(db, world, title="待审议题二")
    await in_triage(db, world, title="待审议题三", community_b=True)
    check("triage_queue", "/worker/triage", before, await count(connection, client, "/worker/triage"))
