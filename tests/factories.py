"""Factories that build objects through the domain services (so invariants hold in tests too)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, RoleGrant, User, VerificationMethod
from consultation.accounts.passwords import hash_password
from consultation.accounts.services import verify_resident
from consultation.areas.models import Area, AreaLevel, Household, Unit
from consultation.areas.services import create_area, create_household
from consultation.policy import Actor, Grant

PASSWORD = "secret-pass-123"
_HASH = hash_password(PASSWORD)
_serial = itertools.count(1)


@dataclass
class City:
    city: Area
    district: Area
    street: Area
    community_a: Area
    community_b: Area
    compound_a: Area
    households_a: list[Household]
    households_b: list[Household]


async def make_city(db: AsyncSession) -> City:
    """A city with one district, one street, two communities (A and B) and a few households each."""
    n = next(_serial)
    city = await create_area(db, None, name=f"测试市{n}", level=AreaLevel.city, code=f"C{n}", parent=None)
    district = await create_area(db, None, name="东城区", level=AreaLevel.district, code=f"C{n}D", parent=city)
    street = await create_area(db, None, name="东华门街道", level=AreaLevel.street, code=f"C{n}S", parent=district)
    community_a = await create_area(db, None, name="多福巷社区", level=AreaLevel.community, code=f"C{n}A",
                                    parent=street)
    community_b = await create_area(db, None, name="韶九社区", level=AreaLevel.community, code=f"C{n}B",
                                    parent=street)
    compound_a = await create_area(db, None, name="1号院", level=AreaLevel.compound, code=f"C{n}A1",
                                   parent=community_a)
    households_a = [
        await create_household(db, None, community=community_a, compound=compound_a, address=f"1号院{i}01室",
                               floor_area=Decimal("80.50") + i)
        for i in range(1, 4)
    ]
    households_b = [
        await create_household(db, None, community=community_b, address=f"2号楼{i}02室", floor_area=Decimal(90))
        for i in range(1, 3)
    ]
    return City(city, district, street, community_a, community_b, compound_a, households_a, households_b)


async def make_user(
    db: AsyncSession,
    *,
    name: str = "王小明",
    role: Role | None = Role.resident,
    area: Area | None = None,
    unit: Unit | None = None,
    home: Area | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> User:
    """A user with a password of ``PASSWORD``; ``role`` is granted for ``area`` (or ``unit``)."""
    serial = next(_serial)
    user = User(
        phone=phone if phone is not None or email is not None else f"139{serial:08d}",
        email=email.lower() if email else None,
        display_name=name,
        password_hash=_HASH,
        home_area_id=(home or area).id if (home or area) is not None and role is not Role.admin else None,
    )
    db.add(user)
    await db.flush()
    if role is not None:
        db.add(RoleGrant(user_id=user.id, role=role, area_id=area.id if area else None,
                         unit_id=unit.id if unit else None))
        await db.flush()
    return user


async def verified_resident(db: AsyncSession, household: Household, community: Area, *,
                            name: str = "李秀英") -> User:
    user = await make_user(db, name=name, area=community)
    system = Actor(user_id=None, grants=(Grant(Role.admin),))
    await verify_resident(db, system, user, household, VerificationMethod.in_person)
    return user


def identifier(user: User) -> str:
    return user.phone or user.email or ""
