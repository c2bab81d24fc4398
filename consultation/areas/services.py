"""Write use cases for the administrative tree and households."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, search_index
from consultation.accounts.models import RoleGrant, User
from consultation.areas import policy as _policy  # noqa: F401 - registers this area's permissions
from consultation.areas.models import Area, AreaLevel, Household, Unit
from consultation.errors import InvalidState, Message, ValidationFailed, msg
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
    search_index.search_changed(session, "area", [area.id])
    return area


async def rename_area(session: AsyncSession, actor: Actor, area: Area, *, name: str) -> Area:
    require(actor, "areas.manage")
    name = name.strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(name, minimum=1, maximum=80):
        errors["name"] = problem
    elif name != area.name and await session.scalar(
        select(Area.id).where(Area.parent_id == area.parent_id, Area.name == name, Area.id != area.id)
    ) is not None:
        errors["name"] = msg("The parent area already has an area with this name.")
    if errors:
        raise ValidationFailed(errors)
    if name == area.name:
        return area
    before = {"name": area.name}
    area.name = name
    await session.flush()
    await audit.record(session, "area.renamed", "area", area.id, actor_id=actor.user_id, ip=actor.ip,
                       before=before, after={"name": name})
    await search_index.area_tree_changed(session, area)
    return area


async def delete_area(session: AsyncSession, actor: Actor, area: Area) -> None:
    """Delete an empty area; anything still attached to it (sub-areas, households, people, units) blocks it."""
    require(actor, "areas.manage")
    if problem := await _deletion_blocker(session, area):
        raise InvalidState(problem)
    before = {"name": area.name, "code": area.code, "level": area.level.value, "parent_id": area.parent_id}
    search_index.search_changed(session, "area", [area.id])
    await session.delete(area)
    await session.flush()
    await audit.record(session, "area.deleted", "area", area.id, actor_id=actor.user_id, ip=actor.ip,
                       before=before)


async def _deletion_blocker(session: AsyncSession, area: Area) -> Message | None:
    async def count(query: Select[int]) -> int:
        return int(await session.scalar(query) or 0)

    if n := await count(select(func.count(Area.id)).where(Area.parent_id == area.id)):
        return msg("{name} still has sub-areas ({n}). Delete them first.", name=area.name, n=n)
    if n := await count(select(func.count(Household.id)).where(
            (Household.community_id == area.id) | (Household.compound_id == area.id))):
        return msg("{name} still has households ({n}). Remove them first.", name=area.name, n=n)
    if n := await count(select(func.count(User.id)).where(User.home_area_id == area.id)):
        return msg("People are registered as living in {name} ({n}). It cannot be deleted.", name=area.name, n=n)
    if n := await count(select(func.count(RoleGrant.id)).where(RoleGrant.area_id == area.id)):
        return msg("Roles are granted for {name} ({n}). Revoke them first.", name=area.name, n=n)
    if n := await count(select(func.count(Unit.id)).where(Unit.area_id == area.id)):
        return msg("Responsible units belong to {name} ({n}). It cannot be deleted.", name=area.name, n=n)
    return None


FLOOR_AREA_MAX = Decimal("100000")
_AREA_UNITS = ("平方米", "平米", "㎡", "m²", "m2")


def parse_floor_area(raw: str | Decimal | None) -> tuple[Decimal | None, Message | None]:
    """A floor area in square metres with at most two decimals; empty means unknown."""
    if raw is None or isinstance(raw, Decimal):
        value = raw
    else:
        text = raw.strip()
        for suffix in _AREA_UNITS:
            text = text.removesuffix(suffix).strip()
        if not text:
            return None, None
        try:
            value = Decimal(text)
        except InvalidOperation:
            return None, msg("Enter the floor area as a number of square metres, such as 85.50.")
    if value is None:
        return None, None
    if not value.is_finite():
        return None, msg("Enter the floor area as a number of square metres, such as 85.50.")
    if value < 0 or value > FLOOR_AREA_MAX:
        return None, msg("Enter a floor area between 0 and 100000 square metres.")
    if value != value.quantize(Decimal("0.01")):
        return None, msg("Use at most two decimal places for the floor area.")
    return value.quantize(Decimal("0.01")), None


async def _household_errors(
    session: AsyncSession, community: Area, address: str, floor_area_problem: Message | None,
    compound: Area | None, exclude_id: int | None = None,
) -> dict[str, Message | str]:
    errors: dict[str, Message | str] = {}
    if problem := check_length(address, minimum=1, maximum=200):
        errors["address"] = problem
    if community.level is not AreaLevel.community:
        errors["community_id"] = msg("Households belong to a community.")
    if compound is not None and (compound.parent_id != community.id or compound.level is not AreaLevel.compound):
        errors["compound_id"] = msg("The compound must belong to the household's community.")
    if floor_area_problem is not None:
        errors["floor_area"] = floor_area_problem
    if "address" not in errors:
        query = select(Household.id).where(Household.community_id == community.id, Household.address == address)
        if exclude_id is not None:
            query = query.where(Household.id != exclude_id)
        if await session.scalar(query) is not None:
            errors["address"] = msg("This community already has a household at this address.")
    return errors


async def create_household(
    session: AsyncSession, actor: Actor | None, *, community: Area, address: str,
    floor_area: Decimal | str | None, compound: Area | None = None,
) -> Household:
    """Register a household; ``floor_area`` may be the text typed into a form (parsed here)."""
    if actor is not None:
        require(actor, "areas.manage_households", community)
    address = address.strip()
    area_value, area_problem = parse_floor_area(floor_area)
    if errors := await _household_errors(session, community, address, area_problem, compound):
        raise ValidationFailed(errors)
    household = Household(community_id=community.id, compound_id=compound.id if compound else None,
                          address=address, floor_area=area_value)
    session.add(household)
    await session.flush()
    await audit.record(session, "household.created", "household", household.id,
                       actor_id=actor.user_id if actor else None, ip=actor.ip if actor else None,
                       after={"community_id": community.id, "address": address})
    return household


async def update_household(
    session: AsyncSession, actor: Actor, household: Household, *, community: Area, address: str,
    floor_area: Decimal | str | None, compound: Area | None = None,
) -> Household:
    require(actor, "areas.manage_households", community)
    if household.community_id != community.id:
        raise ValidationFailed({"community_id": msg("Households belong to a community.")})
    address = address.strip()
    area_value, area_problem = parse_floor_area(floor_area)
    if errors := await _household_errors(session, community, address, area_problem, compound, household.id):
        raise ValidationFailed(errors)
    before = _household_state(household)
    household.address = address
    household.floor_area = area_value
    household.compound_id = compound.id if compound else None
    await session.flush()
    after = _household_state(household)
    if after != before:
        await audit.record(session, "household.updated", "household", household.id, actor_id=actor.user_id,
                           ip=actor.ip, before=before, after=after)
    return household


def _household_state(household: Household) -> dict[str, object]:
    floor_area = None if household.floor_area is None else str(household.floor_area)
    return {"address": household.address, "floor_area": floor_area, "compound_id": household.compound_id}


async def create_unit(session: AsyncSession, actor: Actor, *, name: str, area: Area | None) -> Unit:
    """A responsible unit (承办单位) attached to the area it serves."""
    require(actor, "areas.manage")
    name = name.strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(name, minimum=1, maximum=120):
        errors["name"] = problem
    elif await session.scalar(select(Unit.id).where(Unit.name == name)) is not None:
        errors["name"] = msg("A unit with this name already exists.")
    if area is None or area.level is AreaLevel.compound:
        errors["area_id"] = msg("Choose the area the unit serves.")
    if errors:
        raise ValidationFailed(errors)
    assert area is not None
    unit = Unit(name=name, area_id=area.id)
    session.add(unit)
    await session.flush()
    await audit.record(session, "unit.created", "unit", unit.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"name": name, "area_id": area.id})
    return unit
