"""Write use cases for the administrative tree and households."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit
from consultation.areas import policy as _policy  # noqa: F401 - registers this area's permissions
from consultation.areas.models import Area, AreaLevel, Household
from consultation.errors import Message, ValidationFailed, msg
from consultation.policy import Actor, require
from consultation.validation import check_length


async def create_area(
    session: AsyncSession, actor: Actor | None, *, name: str, level: AreaLevel, code: str,
    parent: Area | None,
) -> Area:
    """Add a node under ``parent`` (a city has none). ``actor`` None means a system import."""
    if actor is not None:
        require(actor, "areas.manage")
    errors: dict[str, Message | str] = {}
    name = name.strip()
    code = code.strip()
    if problem := check_length(name, minimum=1, maximum=80):
        errors["name"] = problem
    if problem := check_length(code, minimum=1, maximum=32):
        errors["code"] = problem
    if parent is None and level is not AreaLevel.city:
        errors["parent_id"] = msg("Only a city can be created without a parent area.")
    if parent is not None and parent.level.child is not level:
        errors["level"] = msg("A {child_label} cannot be placed directly under a {parent_label}.",
                              child_label=level.label, parent_label=parent.level.label)
    if code and await session.scalar(select(Area.id).where(Area.code == code)) is not None:
        errors["code"] = msg("This code is already used by another area.")
    if name and await session.scalar(
        select(Area.id).where(Area.parent_id == (parent.id if parent else None), Area.name == name)
    ) is not None:
        errors["name"] = msg("The parent area already has an area with this name.")
    if errors:
        raise ValidationFailed(errors)
    area = Area(name=name, level=level, code=code, parent_id=parent.id if parent else None)
    session.add(area)
    await session.flush()
    area.path = f"{parent.path if parent else '/'}{area.id}/"
    await session.flush()
    await audit.record(session, "area.created", "area", area.id, actor_id=actor.user_id if actor else None,
                       after={"name": name, "level": level.value, "code": code, "parent_id": area.parent_id})
    return area


async def create_household(
    session: AsyncSession, actor: Actor | None, *, community: Area, address: str,
    floor_area: Decimal | None, compound: Area | None = None,
) -> Household:
    if actor is not None:
        require(actor, "areas.manage_households", community)
    errors: dict[str, Message | str] = {}
    address = address.strip()
    if problem := check_length(address, minimum=1, maximum=200):
        errors["address"] = problem
    if community.level is not AreaLevel.community:
        errors["community_id"] = msg("Households belong to a community.")
    if compound is not None and compound.parent_id != community.id:
        errors["compound_id"] = msg("The compound must belong to the household's community.")
    if floor_area is not None and (floor_area < 0 or floor_area > Decimal("100000")):
        errors["floor_area"] = msg("Enter a floor area between 0 and 100000 square metres.")
    if address and await session.scalar(
        select(Household.id).where(Household.community_id == community.id, Household.address == address)
    ) is not None:
        errors["address"] = msg("This community already has a household at this address.")
    if errors:
        raise ValidationFailed(errors)
    household = Household(community_id=community.id, compound_id=compound.id if compound else None,
                          address=address, floor_area=floor_area)
    session.add(household)
    await session.flush()
    await audit.record(session, "household.created", "household", household.id,
                       actor_id=actor.user_id if actor else None,
                       after={"community_id": community.id, "address": address})
    return household
