"""PostgreSQL: many residents signing up and cancelling at the same moment, over separate
connections, never overbook a session and never skip the waitlist order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from consultation.meetings import queries, services
from consultation.meetings.models import MeetingSignup, SignupStatus
from consultation.policy import Actor
from tests import harness
from tests.deliberation.helpers import make_world
from tests.meetings.helpers import agenda_topic, residents, schedule
from tests.meetings.test_signup import resident_actor
from web.database import make_engine
from web.migrate import upgrade

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="row locks on PostgreSQL")

PEOPLE = 12
CAPACITY = 4


@pytest.fixture
async def committed() -> AsyncIterator[tuple[AsyncEngine, int, list[Actor]]]:
    """A session with ``CAPACITY`` seats and ``PEOPLE`` residents, committed for real in a database of
    this test's own."""
    url, name = await harness.create_postgres_database()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=PEOPLE)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await make_world(db, neighbours=1)
            meeting = await schedule(db, world, [await agenda_topic(db, world)], capacity=CAPACITY)
            people = await residents(db, world, PEOPLE)
            await db.commit()
            actors = [resident_actor(person, world) for person in people]
        yield engine, meeting.id, actors
    finally:
        await engine.dispose()
        await harness.drop_postgres_database(name)


async def _act(engine: AsyncEngine, meeting_id: int, actor: Actor, what: str) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        meeting = await queries.get_meeting(session, meeting_id)
        if what == "sign_up":
            await services.sign_up(session, actor, meeting)
        else:
            await services.cancel_signup(session, actor, meeting)
        await session.commit()


async def _rows(engine: AsyncEngine, meeting_id: int) -> list[tuple[int, SignupStatus, int]]:
    async with AsyncSession(engine) as session:
        rows = (await session.execute(
            select(MeetingSignup.user_id, MeetingSignup.status, MeetingSignup.position)
            .where(MeetingSignup.meeting_id == meeting_id).order_by(MeetingSignup.position))).all()
        return [(user_id, status, position) for user_id, status, position in rows]


async def test_concurrent_sign_ups_fill_the_seats_exactly_and_queue_the_rest(committed: Any) -> None:
    engine, meeting_id, actors = committed
    await asyncio.gather(*(_act(engine, meeting_id, actor, "sign_up") for actor in actors))
    rows = await _rows(engine, meeting_id)
    assert [position for _, _, position in rows] == list(range(1, PEOPLE + 1))  # contiguous order numbers
    assert [status for _, status, _ in rows] == ([SignupStatus.confirmed] * CAPACITY
                                                 + [SignupStatus.waitlisted] * (PEOPLE - CAPACITY))
    # The same person twice at once (a double submit) is still one sign-up.
    await asyncio.gather(*(_act(engine, meeting_id, actors[0], "sign_up") for _ in range(3)))
    assert len(await _rows(engine, meeting_id)) == PEOPLE


async def test_concurrent_cancellations_promote_in_waitlist_order_and_never_overbook(committed: Any) -> None:
    engine, meeting_id, actors = committed
    for actor in actors:  # one after the other: positions follow the list
        await _act(engine, meeting_id, actor, "sign_up")
    waiting = [a.user_id for a in actors[CAPACITY:]]
    leaving = actors[:3]  # three seats freed at once, while two new people sign up
    await asyncio.gather(*(_act(engine, meeting_id, a, "cancel") for a in leaving),
                         *(_act(engine, meeting_id, a, "cancel") for a in actors[-2:]))
    rows = await _rows(engine, meeting_id)
    confirmed = [user_id for user_id, status, _ in rows if status is SignupStatus.confirmed]
    still_waiting = [user_id for user_id, status, _ in rows if status is SignupStatus.waitlisted]
    assert len(confirmed) == CAPACITY
    assert set(confirmed) == {actors[3].user_id, *waiting[:3]}  # the first three waiting, none skipped
    assert still_waiting == waiting[3:-2]
    # Cancellations and sign-ups racing each other: still never more than the capacity, and every
    # promotion takes the earliest position still waiting.
    await asyncio.gather(*(_act(engine, meeting_id, a, "cancel") for a in actors[3:5]),
                         *(_act(engine, meeting_id, a, "sign_up") for a in leaving))
    rows = await _rows(engine, meeting_id)
    confirmed_positions = sorted(p for _, s, p in rows if s is SignupStatus.confirmed)
    waiting_positions = sorted(p for _, s, p in rows if s is SignupStatus.waitlisted)
    assert confirmed_positions == [6, 7, 8, 9]  # positions 8 and 9 were next in line
    assert waiting_positions == [10, 13, 14, 15]  # the returning three queue at the back
