"""A small world for deliberation tests: two communities, their workers and residents, topics."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, User
from consultation.deliberation import services
from consultation.deliberation.models import CommunitySettings, Topic, TopicState
from consultation.policy import Actor, Grant
from tests.factories import City, make_city, make_user, verified_resident


@dataclass
class World:
    city: City
    author: User  # verified resident of A
    neighbours: list[User]  # verified residents of A
    unverified: User  # resident of A, not verified
    outsider: User  # verified resident of B
    neighbour_b: User  # another verified resident of B
    worker_a: User
    worker_b: User
    admin: User


async def make_world(db: AsyncSession, neighbours: int = 3) -> World:
    city = await make_city(db)
    households = city.households_a
    author = await verified_resident(db, households[0], city.community_a, name="张建国")
    others = [await verified_resident(db, households[(i + 1) % len(households)], city.community_a,
                                      name=f"李邻居{i}") for i in range(neighbours)]
    unverified = await make_user(db, name="赵未认证", area=city.community_a)
    outsider = await verified_resident(db, city.households_b[0], city.community_b, name="韶外人")
    neighbour_b = await verified_resident(db, city.households_b[1], city.community_b, name="韶邻居")
    worker_a = await make_user(db, name="多福社工", role=Role.worker, area=city.community_a)
    worker_b = await make_user(db, name="韶九社工", role=Role.worker, area=city.community_b)
    admin = await make_user(db, name="管理员", role=Role.admin)
    return World(city, author, others, unverified, outsider, neighbour_b, worker_a, worker_b, admin)


def actor_of(user: User, world: World) -> Actor:
    """The actor the request pipeline would build for one of the world's people."""
    city = world.city
    if user is world.worker_a:
        return Actor(user_id=user.id, grants=(Grant(Role.worker, city.community_a.path),))
    if user is world.worker_b:
        return Actor(user_id=user.id, grants=(Grant(Role.worker, city.community_b.path),))
    if user is world.admin:
        return Actor(user_id=user.id, grants=(Grant(Role.admin),))
    home = city.community_b if user in (world.outsider, world.neighbour_b) else city.community_a
    return Actor(user_id=user.id, verified=user.verified_at is not None, home_area_path=home.path,
                 grants=(Grant(Role.resident, home.path),))


async def raise_topic(db: AsyncSession, world: World, *, title: str = "3号楼楼道灯坏了",
                      author: User | None = None, community_b: bool = False) -> Topic:
    who = author or (world.outsider if community_b else world.author)
    community = world.city.community_b if community_b else world.city.community_a
    return await services.propose(db, actor_of(who, world), community, title=title,
                                  description="晚上楼道漆黑，老人上下楼很危险。", category="public_facilities")


async def in_triage(db: AsyncSession, world: World, *, title: str = "3号楼楼道灯坏了",
                    community_b: bool = False) -> Topic:
    """A topic that reached its community's threshold (set to one co-sign) and waits for review."""
    community = world.city.community_b if community_b else world.city.community_a
    await db.merge(CommunitySettings(community_id=community.id, cosign_threshold=1))
    await db.flush()
    topic = await raise_topic(db, world, title=title, community_b=community_b)
    cosigner = world.neighbour_b if community_b else world.neighbours[0]
    await services.cosign(db, actor_of(cosigner, world), topic)
    assert topic.state is TopicState.triage
    return topic
