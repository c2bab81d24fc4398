"""Reads for accounts."""

from __future__ import annotations

from sqlalchemy import literal, null, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from consultation.accounts.models import RoleGrant, User
from consultation.areas.models import Area, Unit
from consultation.errors import NotFound
from consultation.policy import Actor, Grant

_HOME = aliased(Area)  # built once: each aliased() call makes objects in reference cycles


async def actor_for(session: AsyncSession, user: User | None, ip: str | None) -> Actor:
    if user is None:
        return Actor(ip=ip)
    # One statement on every signed-in request: the home area's path beside each grant, and one row of
    # NULL grant columns when there are none (the grants are joined onto a one-row source).
    home = _HOME
    home_path = (select(home.path).where(home.id == user.home_area_id).scalar_subquery()
                 if user.home_area_id is not None else null())
    rows = (
        await session.execute(
            select(home_path, RoleGrant.role, Area.path, RoleGrant.unit_id)
            .select_from(select(literal(1).label("one")).subquery())
            .outerjoin(RoleGrant, RoleGrant.user_id == user.id)
            .outerjoin(Area, Area.id == RoleGrant.area_id)
        )
    ).all()
    return Actor(
        user_id=user.id,
        verified=user.verified_at is not None,
        home_area_path=rows[0][0] if rows else None,
        grants=tuple(Grant(role=r, area_path=p, unit_id=u) for _, r, p, u in rows if r is not None),
        ip=ip,
    )


async def grants_of(session: AsyncSession, user_id: int) -> list[RoleGrant]:
    return list(
        (
            await session.scalars(
                select(RoleGrant)
                .options(selectinload(RoleGrant.area), selectinload(RoleGrant.unit))
                .where(RoleGrant.user_id == user_id)
                .order_by(RoleGrant.id)
            )
        ).all()
    )


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.scalar(
        select(User).options(selectinload(User.home_area), selectinload(User.household))
        .where(User.id == user_id, User.deleted_at.is_(None))
    )
    if user is None:
        raise NotFound()
    return user


async def get_unit(session: AsyncSession, unit_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None:
        raise NotFound()
    return unit
