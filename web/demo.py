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
from consultation.deliberation import services as deliberation
from consultation.deliberation.models import CommunitySettings, TopicState
from consultation.policy import Actor, Grant
from web.composition import build_services
from web.database import make_engine, make_sessionmaker, make_write_sessionmaker
from web.demo_drafts import load_drafts
from web.demo_story import load_story
from web.settings import DEFAULT_SECRET, Settings

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
            logins = await build_demo(session, receipt_key=settings.secret_key.encode("utf-8"))
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


async def build_demo(session: AsyncSession, seed: int = 20261126, *,
                     receipt_key: bytes = DEFAULT_SECRET.encode("utf-8")) -> list[DemoLogin]:
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
    await _demo_topics(session)
    await load_story(session, receipt_key, DEMO_PASSWORD)
    await load_drafts(session)
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


# Topics per community: (title, category, description, state to leave it in, triage note or reason).
DEMO_TOPICS = {
    "多福巷社区": [
        ("北门电动车充电桩不够用", "charging", "北门只有4个充电桩，晚上经常排队，有人从楼上拉飞线充电，存在火灾隐患。",
         TopicState.collecting, ""),
        ("3号楼楼道灯坏了", "public_facilities", "3号楼2单元楼道灯坏了两周，晚上漆黑，老人上下楼很危险。",
         TopicState.triage, ""),
        ("1号院加装电梯意向征集", "lifts", "1号院6层老楼没有电梯，想了解各户加装电梯的意愿和费用分摊。",
         TopicState.deliberating, "列入下月小院议事会议程。"),
        ("楼下广场舞音响太吵", "neighbours", "每天晚上8点到10点音响声音很大，影响休息。",
         TopicState.declined, "已与舞蹈队协商，音量和时间已调整，不再单独立项。"),
        ("胡同口路面塌陷", "parking", "胡同口市政路面塌陷一个坑，车辆经过很危险。",
         TopicState.referred, "属于市政道路，由区城管委负责维修。"),
    ],
    "韶九社区": [
        ("垃圾分类桶站异味大", "sanitation", "2号楼前的桶站夏天异味很大，希望增加清运次数。",
         TopicState.collecting, ""),
        ("增设非机动车停车棚", "parking", "自行车随意停放堵塞消防通道，希望在空地增设车棚。",
         TopicState.deliberating, "列入本季度议事会议程。"),
    ],
}


async def _demo_topics(session: AsyncSession) -> None:
    """Topics in several states in two communities, raised and co-signed through the services."""
    for community_name, topics in DEMO_TOPICS.items():
        community = await session.scalar(select(Area).where(Area.name == community_name,
                                                            Area.level == AreaLevel.community))
        assert community is not None
        session.add(CommunitySettings(community_id=community.id, cosign_threshold=2))
        worker_id = await session.scalar(select(RoleGrant.user_id).where(
            RoleGrant.role == Role.worker, RoleGrant.area_id == community.id))
        worker = Actor(user_id=worker_id, grants=(Grant(Role.worker, community.path),))
        people = (await session.scalars(select(User).where(User.home_area_id == community.id,
                                                           User.id != worker_id).order_by(User.id))).all()
        residents = [Actor(user_id=p.id, verified=p.verified_at is not None, home_area_path=community.path,
                           grants=(Grant(Role.resident, community.path),)) for p in people]
        verified = [r for r in residents if r.verified]
        for index, (title, category, description, state, note) in enumerate(topics):
            author = residents[index % len(residents)]
            topic = await deliberation.propose(session, author, community, title=title, description=description,
                                               category=category)
            cosigners = [r for r in verified if r.user_id != author.user_id]
            for cosigner in cosigners[: 1 if state is TopicState.collecting else 2]:
                await deliberation.cosign(session, cosigner, topic)
            if state is TopicState.deliberating:
                await deliberation.accept(session, worker, topic, note)
            elif state is TopicState.declined:
                await deliberation.decline(session, worker, topic, note)
            elif state is TopicState.referred:
                await deliberation.refer(session, worker, topic, note, "12345市民服务热线")
