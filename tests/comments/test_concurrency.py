"""PostgreSQL, over separate connections at the same moment: one person's double reaction, double
report and double submit each leave one row; reports of different people are all counted and hide
the comment exactly once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from consultation.audit import AuditEvent
from consultation.comments import queries, services
from consultation.comments.models import Comment, CommentReaction, CommentReport, CommentStatus
from consultation.deliberation import queries as topics
from consultation.policy import Actor
from tests import harness
from tests.deliberation.helpers import World, actor_of, make_world, raise_topic
from web.database import make_engine
from web.migrate import upgrade

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="row locks and ON CONFLICT on PostgreSQL")


@pytest.fixture
async def committed() -> AsyncIterator[tuple[AsyncEngine, World, int, int]]:
    """A world, a topic and a comment committed for real, in a database of this test's own."""
    url, name = await harness.create_postgres_database()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=6)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await make_world(db, neighbours=4)
            topic = await topics.get_topic(db, (await raise_topic(db, world)).id)
            posted = await services.post_comment(db, actor_of(world.neighbours[0], world), topic, body="支持",
                                                 stance="support")
            await db.commit()
        yield engine, world, topic.id, posted.id
    finally:
        await engine.dispose()
        await harness.drop_postgres_database(name)


async def _with_comment(engine: AsyncEngine, comment_id: int, actor: Actor,
                        action: Callable[[AsyncSession, Comment], Awaitable[Any]]) -> Any:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        comment = await queries.get_comment(session, actor, comment_id)
        result = await action(session, comment)
        await session.commit()
        return result


async def _count(engine: AsyncEngine, model: Any, *where: Any) -> int:
    async with AsyncSession(engine) as session:
        return int(await session.scalar(select(func.count(model.id)).where(*where)) or 0)


async def test_the_same_reaction_twice_at_once_is_one_row(committed: Any) -> None:
    engine, world, _, comment_id = committed
    actor = actor_of(world.neighbours[1], world)
    results = await asyncio.gather(*(_with_comment(
        engine, comment_id, actor, lambda s, c: services.set_reaction(s, actor, c, "agree", True)) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert await _count(engine, CommentReaction, CommentReaction.comment_id == comment_id) == 1


async def test_the_same_report_twice_at_once_counts_once(committed: Any) -> None:
    engine, world, _, comment_id = committed
    actor = actor_of(world.neighbours[1], world)
    results = await asyncio.gather(*(_with_comment(
        engine, comment_id, actor, lambda s, c: services.report_comment(s, actor, c, "广告")) for _ in range(2)))
    assert sorted(results) == [False, True]
    assert await _count(engine, CommentReport, CommentReport.comment_id == comment_id) == 1
    async with AsyncSession(engine) as session:
        assert (await session.get(Comment, comment_id)).report_count == 1  # type: ignore[union-attr]


async def test_reports_of_different_people_at_once_hide_the_comment_once(committed: Any) -> None:
    engine, world, _, comment_id = committed
    reporters = [world.neighbours[1], world.neighbours[2], world.neighbours[3], world.author]
    actors = [actor_of(who, world) for who in reporters]
    results = await asyncio.gather(*(_with_comment(
        engine, comment_id, a, lambda s, c, a=a: services.report_comment(s, a, c, "广告")) for a in actors))
    assert results == [True, True, True, True]
    async with AsyncSession(engine) as session:
        stored = await session.get(Comment, comment_id)
        assert stored is not None and stored.report_count == 4 and stored.status is CommentStatus.reported
    assert await _count(engine, AuditEvent, AuditEvent.action == "comment.auto_hidden") == 1


async def test_the_same_form_submitted_twice_at_once_saves_one_comment(committed: Any) -> None:
    engine, world, topic_id, _ = committed
    actor = actor_of(world.neighbours[2], world)

    async def post() -> int:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            topic = await topics.get_topic(session, topic_id)
            posted = await services.post_comment(session, actor, topic, body="同时提交", stance="neutral",
                                                 client_token="same-form")
            await session.commit()
            return posted.id

    ids = await asyncio.gather(post(), post())
    assert ids[0] == ids[1]
    assert await _count(engine, Comment, Comment.author_id == world.neighbours[2].id) == 1
