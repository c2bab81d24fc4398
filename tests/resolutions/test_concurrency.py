"""PostgreSQL: two workers recording the same topic's decision at once leave one resolution; two
starting its work at once hand the actions off once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from consultation.db import utcnow
from consultation.deliberation import handoff, queries, resolutions, services
from consultation.deliberation.models import TopicState
from consultation.deliberation.resolution_models import AgreedAction, Method, Resolution
from consultation.errors import Conflict, InvalidState
from consultation.outbox import OutboxMessage
from consultation.policy import Actor
from tests import harness
from tests.deliberation.helpers import World, actor_of, make_world
from tests.resolutions.helpers import deciding, in_days, today, units
from web.database import make_engine
from web.migrate import upgrade

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="row locks on PostgreSQL")


@pytest.fixture
async def committed() -> AsyncIterator[tuple[AsyncEngine, World, int, int]]:
    url, name = await harness.create_postgres_database()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=4)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await make_world(db, neighbours=1)
            topic = await deciding(db, world)
            street, _, _ = await units(db, world)
            await db.commit()
        yield engine, world, topic.id, street.id
    finally:
        await engine.dispose()
        await harness.drop_postgres_database(name)


async def _record(engine: AsyncEngine, topic_id: int, actor: Actor, unit_id: int) -> bool:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        topic = await queries.get_topic(session, topic_id)
        try:
            await resolutions.record_resolution(
                session, actor, topic, method=Method.consensus, outcome="agreed", summary="同意",
                decided_on=today().isoformat(), minutes_reference="纪要",
                actions=[resolutions.ActionDraft("更换楼道灯", str(unit_id), in_days(9))])
            await session.commit()
            return True
        except (Conflict, InvalidState):
            await session.rollback()
            return False


async def _start_work(engine: AsyncEngine, topic_id: int, actor: Actor) -> bool:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        topic = await queries.get_topic(session, topic_id)
        try:
            await services.transition(session, topic, TopicState.in_action, actor)
            await session.commit()
            return True
        except (Conflict, InvalidState):
            await session.rollback()
            return False


async def test_recording_twice_at_once_leaves_one_resolution_and_one_hand_off(committed: Any) -> None:
    engine, world, topic_id, unit_id = committed
    worker, admin = actor_of(world.worker_a, world), actor_of(world.admin, world)
    assert sorted(await asyncio.gather(_record(engine, topic_id, worker, unit_id),
                                       _record(engine, topic_id, admin, unit_id))) == [False, True]
    async with AsyncSession(engine, expire_on_commit=False) as session:
        assert await session.scalar(select(func.count(Resolution.id))) == 1
        assert await session.scalar(select(func.count(AgreedAction.id))) == 1
        topic = await queries.get_topic(session, topic_id)
        await services.transition(session, topic, TopicState.publicised, worker,
                                  publicity_ends_at=utcnow().replace(year=utcnow().year + 1))
        await session.commit()
    assert sorted(await asyncio.gather(_start_work(engine, topic_id, worker),
                                       _start_work(engine, topic_id, admin))) == [False, True]
    async with AsyncSession(engine) as session:
        rows = await session.scalar(select(func.count(OutboxMessage.id))
                                    .where(OutboxMessage.topic == handoff.OUTBOX_TOPIC))
    assert rows == 1
