"""Building polls for the voting tests on top of the deliberation test world (two communities, their
workers and residents; community A has three households with floor areas 81.50, 82.50 and 83.50)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, User
from consultation.areas.models import Area, Household
from consultation.areas.services import create_household
from consultation.db import utcnow
from consultation.policy import Actor, Grant
from consultation.voting import queries, services
from consultation.voting.models import Ballot, Poll, PollVoter
from tests.deliberation.helpers import World, actor_of
from tests.factories import make_user, verified_resident

RECEIPT_KEY = b"test-receipt-key-for-voting-000000"
CODE_RE = r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"


def draft(**overrides: Any) -> services.PollDraft:
    values: dict[str, Any] = {"title": "是否同意在1号院加装电梯", "description": "加装电梯方案见公告栏。",
                              "closes_at": utcnow() + timedelta(days=3)}
    values.update(overrides)
    return services.PollDraft(**values)


def worker(world: World) -> Actor:
    return actor_of(world.worker_a, world)


def resident(user: User, world: World) -> Actor:
    return actor_of(user, world)


def voters_of(world: World) -> list[User]:
    """The verified residents of community A."""
    return [world.author, *world.neighbours]


async def make_poll(db: AsyncSession, world: World, *, area: Area | None = None, opened: bool = True,
                    topic: Any = None, **overrides: Any) -> Poll:
    """A poll in community A (or ``area``), drafted by worker A and opened unless ``opened=False``."""
    poll = await services.create_poll(db, worker(world), area or world.city.community_a, draft(**overrides),
                                      topic=topic)
    if opened:
        await services.open_poll(db, worker(world), poll)
    return await queries.get_poll(db, poll.id)


def option_ids(poll: Poll) -> list[int]:
    return [option.id for option in poll.options]


def option(poll: Poll, code_or_label: str) -> int:
    return next(o.id for o in poll.options if code_or_label in (o.code, o.label))


async def ballot_count(db: AsyncSession, poll: Poll) -> int:
    return int(await db.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll.id)) or 0)


async def voted_count(db: AsyncSession, poll: Poll) -> int:
    return int(await db.scalar(select(func.count(PollVoter.voted_at)).where(PollVoter.poll_id == poll.id)) or 0)


async def roll_id(db: AsyncSession, poll: Poll, *, user: User | None = None, household: Household | None = None) -> int:
    column = PollVoter.user_id == user.id if user is not None else PollVoter.household_id == (
        household.id if household else 0)
    found = await db.scalar(select(PollVoter.id).where(PollVoter.poll_id == poll.id, column))
    assert found is not None
    return int(found)


async def move_closing(db: AsyncSession, poll: Poll, closes_at: datetime) -> None:
    """Set the closing time directly (the service refuses a past one), as time passing would."""
    await db.execute(update(Poll).where(Poll.id == poll.id).values(closes_at=closes_at)
                     .execution_options(synchronize_session=False))
    poll.closes_at = closes_at
    await db.flush()


async def second_worker(db: AsyncSession, world: World) -> Actor:
    """Another community worker of A (paper batches need two)."""
    user = await make_user(db, name="第二社工", role=Role.worker, area=world.city.community_a)
    return Actor(user_id=user.id, grants=(Grant(Role.worker, world.city.community_a.path),))


async def outside_household(db: AsyncSession, world: World, *, floor_area: Decimal | None = Decimal("60.00"),
                            with_resident: bool = True) -> tuple[Household, User | None]:
    """A household of community A outside compound 1号院 (optionally with a verified resident)."""
    household = await create_household(db, None, community=world.city.community_a,
                                       address=f"平房{await _serial(db)}号", floor_area=floor_area)
    person = (await verified_resident(db, household, world.city.community_a, name="孙平房")
              if with_resident else None)
    return household, person


async def _serial(db: AsyncSession) -> int:
    return int(await db.scalar(select(func.count(Household.id))) or 0) + 1
