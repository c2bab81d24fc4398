"""``yishiting demo``: a realistic city to click through (areas, households, people of every role)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, RoleGrant, User, VerificationMethod
from consultation.accounts.passwords import hash_password
from consultation.accounts.services import verify_resident
from consultation.areas.models import Area, AreaLevel, Household, Unit
from consultation.areas.services import create_area, create_household
from consultation.policy import Actor, Grant
from web.composition import build_services
from web.database import make_engine, make_sessionmaker, make_write_sessionmaker
from web.settings import Settings

DEMO_PASSWORD = "yishiting2026"  # noqa: S105 - printed for the demo on purpose

CITY = ("北京市", "110000")
TREE = {
    ("东城区", "110101"): {
        ("东华门街道", "110101001"): ["多福巷社区", "韶九社区"],
        ("景山街道", "110101002"): ["黄化门社区", "吉祥社区"],
    },
    ("西城区", "110102"): {
        ("新街口街道", "110102003"): ["前公用社区", "西里社区"],
        ("什刹海街道", "110102004"): ["西海社区", "柳荫街社区"],
    },
}
COMPOUNDS = ["1号院", "2号院", "3号楼"]
HOUSEHOLDS_PER_COMMUNITY = 50
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ["秀英", "建国", "桂兰", "志强", "海燕", "明", "丽", "伟", "静", "军", "红梅", "宇航", "子涵", "雨桐", "国华"]


@dataclass
class DemoLogin:
    role: str
    name: str
    identifier: str
    scope: str


async def load_demo(settings: Settings, *, force: bool = False) -> int:
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        async with make_sessionmaker(engine)() as session:
            if not force and (await session.scalar(select(func.count(Area.id)))):
                print("demo data already present (areas exist); use --force to load again")
                return 0
            logins = await build_demo(session)
            await session.commit()
        # The demo inserts in bulk; one full reindex makes it searchable (Meilisearch or the fallback).
        services = build_services(settings, make_write_sessionmaker(engine))
        try:
            print(f"indexed {await services.reindex()} documents for search")
        finally:
            await services.close()
    finally:
        await engine.dispose()
    print_logins(logins)
    return 0


def print_logins(logins: list[DemoLogin]) -> None:
    print(f"\nDemo log-ins (password for all: {DEMO_PASSWORD})")
    for login in logins:
        print(f"  {login.role:<15} {login.identifier:<14} {login.name:<6} {login.scope}")


async def build_demo(session: AsyncSession, seed: int = 20261126) -> list[DemoLogin]:
    rng = random.Random(seed)
    password_hash = hash_password(DEMO_PASSWORD)
    logins: list[DemoLogin] = []
    phones = iter(f"1380000{n:04d}" for n in range(10000))

    def person(name: str, *, home: Area | None = None) -> User:
        user = User(phone=next(phones), display_name=name, password_hash=password_hash,
                    home_area_id=home.id if home else None)
        session.add(user)
        return user

    def random_name() -> str:
        return rng.choice(SURNAMES) + rng.choice(GIVEN)

    async def grant(user: User, role: Role, area: Area | None = None, unit: Unit | None = None) -> None:
        await session.flush()
        session.add(RoleGrant(user_id=user.id, role=role, area_id=area.id if area else None,
                              unit_id=unit.id if unit else None))
        logins.append(DemoLogin(role.value, user.display_name, user.phone or "",
                                unit.name if unit else (area.name if area else "—")))

    city = await create_area(session, None, name=CITY[0], level=AreaLevel.city, code=CITY[1], parent=None)
    admin = person("系统管理员")
    await grant(admin, Role.admin)
    drafter = person("周立法")
    await grant(drafter, Role.drafter, city)

    community_serial = 0
    for (district_name, district_code), streets in TREE.items():
        district = await create_area(session, None, name=district_name, level=AreaLevel.district,
                                     code=district_code, parent=city)
        rep = person(random_name())
        await grant(rep, Role.representative, district)
        unit = Unit(name=f"{district_name}住房和城乡建设委员会", area_id=district.id)
        session.add(unit)
        staff = person(random_name())
        await grant(staff, Role.unit_staff, unit=unit)
        for (street_name, street_code), community_names in streets.items():
            street = await create_area(session, None, name=street_name, level=AreaLevel.street,
                                       code=street_code, parent=district)
            for community_name in community_names:
                community_serial += 1
                community = await create_area(session, None, name=community_name, level=AreaLevel.community,
                                              code=f"{street_code}{community_serial:03d}", parent=street)
                households = await _households(session, rng, community, community.code)
                worker = person(random_name(), home=community)
                await grant(worker, Role.worker, community)
                worker_actor = Actor(user_id=worker.id, grants=(Grant(Role.worker, community.path),))
                for index in range(4):
                    resident = person(random_name(), home=community)
                    await grant(resident, Role.resident, community)
                    if index < 3:  # the fourth resident of each community waits for verification
                        await verify_resident(session, worker_actor, resident, households[index * 7],
                                              rng.choice(list(VerificationMethod)))
    await session.flush()
    # Only a handful of residents are printed: the rest follow the same number pattern.
    residents = [login for login in logins if login.role == "resident"]
    others = [login for login in logins if login.role != "resident"]
    for login in residents[:4]:
        login.scope += " (verified)" if residents.index(login) < 3 else " (not yet verified)"
    return others + residents[:4]


async def _households(session: AsyncSession, rng: random.Random, community: Area, code: str) -> list[Household]:
    compounds = [
        await create_area(session, None, name=name, level=AreaLevel.compound, code=f"{code}{i:02d}", parent=community)
        for i, name in enumerate(COMPOUNDS, start=1)
    ]
    households = []
    for n in range(HOUSEHOLDS_PER_COMMUNITY):
        compound = compounds[n % len(compounds)]
        unit_no, floor, door = n % 3 + 1, n // 6 + 1, n % 2 + 1
        household = await create_household(
            session, None, community=community, compound=compound,
            address=f"{compound.name}{unit_no}单元{floor}0{door}室",
            floor_area=Decimal(rng.randrange(3800, 14000)) / 100,
        )
        households.append(household)
    return households
