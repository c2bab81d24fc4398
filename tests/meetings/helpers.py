"""A small world for session (议事会) tests: the deliberation world, topics on the agenda, a meeting,
residents to fill its seats, and a clock moved by shifting the meeting's times."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import User
from consultation.db import utcnow
from consultation.deliberation import services as topics
from consultation.deliberation.models import Topic
from consultation.meetings import queries, services
from consultation.meetings.models import Meeting
from consultation.meetings.services import MeetingDraft
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, in_triage
from tests.factories import PASSWORD, identifier, make_user


async def agenda_topic(db: AsyncSession, world: World, *, title: str = "3号楼楼道灯坏了",
                       community_b: bool = False) -> Topic:
    """A topic accepted onto its community's agenda (state deliberating)."""
    topic = await in_triage(db, world, title=title, community_b=community_b)
    await topics.accept(db, actor_of(world.worker_b if community_b else world.worker_a, world), topic)
    return topic


def draft(topic_ids: list[int], **overrides: Any) -> MeetingDraft:
    starts = utcnow().replace(microsecond=0) + timedelta(days=3)
    values: dict[str, Any] = {"title": "多福巷居民议事会", "starts_at": starts, "ends_at": starts + timedelta(hours=2),
                              "capacity": 2, "place": "社区活动室（多福巷12号）", "topic_ids": topic_ids}
    values.update(overrides)
    return MeetingDraft(**values)


async def schedule(db: AsyncSession, world: World, topic_list: list[Topic], **overrides: Any) -> Meeting:
    meeting = await services.schedule(db, actor_of(world.worker_a, world), world.city.community_a,
                                      draft([t.id for t in topic_list], **overrides))
    return await queries.get_meeting(db, meeting.id)


async def residents(db: AsyncSession, world: World, n: int, prefix: str = "居民") -> list[User]:
    """Signed-up-able people: residents of community A (not verified; sign-up does not need it)."""
    return [await make_user(db, name=f"{prefix}{i}", area=world.city.community_a) for i in range(n)]


async def move_start(db: AsyncSession, meeting: Meeting, starts_in: timedelta) -> Meeting:
    """Pretend time passed: the meeting now starts ``starts_in`` from now (negative: already started)."""
    starts = utcnow() + starts_in
    await db.execute(update(Meeting).where(Meeting.id == meeting.id)
                     .values(starts_at=starts, ends_at=starts + timedelta(hours=2)))
    await db.flush()
    await db.refresh(meeting, attribute_names=["starts_at", "ends_at"])
    return meeting


async def log_in(client: WebClient, user: User, *, english: bool = True) -> WebClient:
    """Log in; pages in English (message ids), so assertions do not depend on the translation."""
    if english:
        client.cookies.set("lang", "en")
    await client.login(identifier(user), PASSWORD)
    return client


async def count(db: AsyncSession, model: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count(model.id)).where(*where)) or 0)
