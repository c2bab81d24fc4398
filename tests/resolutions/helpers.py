"""Topics waiting for their decision, units that serve them, and the form a worker fills in."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from consultation.areas.models import Unit
from consultation.deliberation import services
from consultation.deliberation.models import Topic, TopicState
from tests.deliberation.helpers import World, actor_of, in_triage
from web.i18n import TIMEZONE


def today() -> date:
    return datetime.now(TIMEZONE).date()


def in_days(n: int) -> str:
    return (today() + timedelta(days=n)).isoformat()


async def deciding(db: AsyncSession, world: World, *, title: str = "3号楼楼道灯坏了",
                   community_b: bool = False) -> Topic:
    """A topic accepted, deliberated and now waiting for its decision."""
    topic = await in_triage(db, world, title=title, community_b=community_b)
    worker = actor_of(world.worker_b if community_b else world.worker_a, world)
    await services.accept(db, worker, topic)
    await services.transition(db, topic, TopicState.deciding, worker)
    return topic


async def units(db: AsyncSession, world: World) -> tuple[Unit, Unit, Unit]:
    """A unit of the street (serves A and B), one of community A, and one of community B only."""
    street = Unit(name=f"东华门街道城管科{world.city.street.id}", area_id=world.city.street.id)
    office = Unit(name=f"多福巷社区居委会{world.city.community_a.id}", area_id=world.city.community_a.id)
    other = Unit(name=f"韶九社区物业{world.city.community_b.id}", area_id=world.city.community_b.id)
    db.add_all([street, office, other])
    await db.flush()
    return street, office, other


def consensus_form(*actions: tuple[str, Any, str], **fields: str) -> dict[str, str]:
    """The resolution form as a worker submits it: agreed by consensus, with these action rows."""
    form = {"outcome": "agreed", "summary": "同意更换3号楼楼道灯，并加装声控开关。",
            "decided_on": today().isoformat(), "minutes_reference": "2026年3月5日院落议事会纪要，居委会存档",
            "rows": "5"}
    for i, (description, unit_id, target) in enumerate(actions):
        form |= {f"action_{i}_description": description, f"action_{i}_unit_id": str(unit_id),
                 f"action_{i}_target_date": target}
    return form | fields
