"""PostgreSQL: the same resident co-signing twice at the same moment, over two connections, leaves
one co-sign and a count of one; different residents co-signing at once are all counted."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from consultation.deliberation import queries, services
from consultation.deliberation.models import CommunitySettings, Topic, TopicCoSign, TopicState, TopicTransition
from consultation.policy import Actor
from tests import harness
from tests.deliberation.helpers import World, actor_of, make_world, raise_topic
from web.database import make_engine
from web.migrate import upgrade

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="row locks and ON CONFLICT on PostgreSQL")


@pytest.fixture
async def committed() -> AsyncIterator[tuple[AsyncEngine, World, int]]:
    """A world and a topic committed for real (the concurrent sessions must see them), in a database
    of this test's own so that nothing it commits reaches the other tests."""
    url, name = await harness.create_postgres_database()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=4)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await make_world(db, neighbours=3)
            db.add(CommunitySettings(community_id=world.city.community_a.id, cosign_threshold=3))
            topic = await raise_topic(db, world)
            await db.commit()
        yield engine, world, topic.id
    finally:
        await engine.dispose()
        await harness.drop_postgres_database(name)


async def _cosign(engine: AsyncEngine, topic_id: int, actor: Actor) -> bool:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        topic = await queries.get_topic(session, topic_id)
        added = await services.cosign(session, actor, topic)
        await session.commit()
        return added


async def _state(engine: AsyncEngine, topic_id: int) -> tuple[int, int, TopicState]:
    async with AsyncSession(engine) as session:
        rows = await session.scalar(select(func.count(TopicCoSign.id)).where(TopicCoSign.topic_id == topic_id))
        topic = await session.get(Topic, topic_id)
        assert topic is not None
        return int(rows or 0), topic.cosign_count, topic.state


async def test_the_same_resident_co_signing_twice_at_once_counts_once(committed: Any) -> None:
    engine, world, topic_id = committed
    actor = actor_of(world.neighbours[0], world)
    results = await asyncio.gather(*(_cosign(engine, topic_id, actor) for _ in range(2)))
    assert sorted(results) == [False, True]
    assert await _state(engine, topic_id) == (1, 1, TopicState.collecting)


async def test_different_residents_at_once_are_all_counted_and_triage_happens_once(committed: Any) -> None:
    engine, world, topic_id = committed
    results = await asyncio.gather(*(_cosign(engine, topic_id, actor_of(n, world)) for n in world.neighbours))
    assert results == [True, True, True]
    assert await _state(engine, topic_id) == (3, 3, TopicState.triage)
    async with AsyncSession(engine) as session:
        steps = await session.scalar(select(func.count(TopicTransition.id)).where(
            TopicTransition.topic_id == topic_id, TopicTransition.to_state == TopicState.triage))
    assert steps == 1
