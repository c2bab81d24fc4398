"""Reads for the administrative tree."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from consultation.areas.models import Area, AreaLevel
from consultation.errors import NotFound


async def get_area(session: AsyncSession, area_id: int) -> Area:
    area = await session.get(Area, area_id)
    if area is None:
        raise NotFound()
    return area


async def communities(session: AsyncSession) -> list[tuple[Area, str]]:
    """Every community with its full label ("东城区 / 东华门街道 / 多福巷社区") for pickers."""
    areas = {a.id: a for a in (await session.scalars(select(Area).where(Area.level != AreaLevel.compound))).all()}
    result = []
    for area in areas.values():
        if area.level is AreaLevel.community:
            names = [areas[i].name for i in area.ancestor_ids if i in areas and areas[i].level is not AreaLevel.city]
            result.append((area, " / ".join(names)))
    return sorted(result, key=lambda pair: pair[1])


async def children(session: AsyncSession, parent_id: int | None) -> list[Area]:
    return list((await session.scalars(select(Area).where(Area.parent_id == parent_id).order_by(Area.name))).all())


async def ancestors(session: AsyncSession, area: Area) -> list[Area]:
    ids = area.ancestor_ids[:-1]
    if not ids:
        return []
    found = {a.id: a for a in (await session.scalars(select(Area).where(Area.id.in_(ids)))).all()}
    return [found[i] for i in ids if i in found]


async def district_overview(session: AsyncSession) -> list[tuple[Area, int, int]]:
    """Districts with how many streets and communities lie below each (one grouped query)."""
    district = aliased(Area)
    below = aliased(Area)
    rows = (
        await session.execute(
            select(
                district,
                func.count(below.id).filter(below.level == AreaLevel.street),
                func.count(below.id).filter(below.level == AreaLevel.community),
            )
            .outerjoin(below, below.path.startswith(district.path) & (below.id != district.id))
            .where(district.level == AreaLevel.district)
            .group_by(district.id)
            .order_by(district.name)
        )
    ).all()
    return [(row[0], int(row[1]), int(row[2])) for row in rows]
