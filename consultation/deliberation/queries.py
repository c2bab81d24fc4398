"""Reads for topics: the access function, area listings, the public timeline, "my topics" and the
workers' triage queue. Topics are public, so ``get_topic`` only hides what does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel
from consultation.deliberation import policy, rules
from consultation.deliberation.models import (
    DEFAULT_COSIGN_THRESHOLD,
    CommunitySettings,
    Topic,
    TopicCoSign,
    TopicFollow,
    TopicState,
    TopicTransition,
)
from consultation.errors import N_, NotFound
from consultation.policy import Actor

AREA_GROUP_LIMIT = 30
_Query = TypeVar("_Query", bound=Select[Any])

# How the area page groups topics, in this order.
AREA_GROUPS: tuple[tuple[str, str, frozenset[TopicState]], ...] = (
    ("raised", N_("Raised: collecting co-signs or under review"),
     frozenset({TopicState.collecting, TopicState.triage})),
    ("deliberating", N_("On the agenda"), frozenset({TopicState.deliberating, TopicState.deciding})),
    ("decided", N_("Decided and being carried out"),
     frozenset({TopicState.decided_agreed, TopicState.decided_not_agreed, TopicState.publicised,
                TopicState.in_action, TopicState.evaluated})),
    ("closed", N_("Declined, referred or merged"), rules.CLOSED_EARLY),
)


def _with_relations(query: _Query) -> _Query:
    """The topic's many-to-one relations joined into the same statement (one query, not one per relation)."""
    return query.options(joinedload(Topic.community), joinedload(Topic.area), joinedload(Topic.author),
                         joinedload(Topic.merged_into))


async def get_topic(session: AsyncSession, topic_id: int) -> Topic:
    topic = await session.scalar(_with_relations(select(Topic).where(Topic.id == topic_id)))
    if topic is None:
        raise NotFound()
    return topic


@dataclass
class TopicGroup:
    key: str
    label: str
    topics: list[Topic]


async def area_topics(session: AsyncSession, area: Area) -> list[TopicGroup] | None:
    """Topics of a community (or of one compound) grouped by state; ``None`` above community level."""
    if area.level is AreaLevel.community:
        where = Topic.community_id == area.id
    elif area.level is AreaLevel.compound:
        where = Topic.area_id == area.id
    else:
        return None
    # One statement for every group: rank the topics within their group, keep the first AREA_GROUP_LIMIT.
    group_key = case(*[(Topic.state.in_(states), key) for key, _, states in AREA_GROUPS])
    newest_first = (Topic.updated_at.desc(), Topic.id.desc())
    ranked = (
        select(Topic.id.label("id"), group_key.label("group_key"),
               func.row_number().over(partition_by=group_key, order_by=newest_first).label("rank"))
        .where(where, Topic.state.in_({state for _, _, states in AREA_GROUPS for state in states}))
        .subquery()
    )
    rows = (await session.execute(
        _with_relations(select(Topic, ranked.c.group_key)).join(ranked, ranked.c.id == Topic.id)
        .where(ranked.c.rank <= AREA_GROUP_LIMIT).order_by(*newest_first)
    )).all()
    by_group: dict[str, list[Topic]] = {key: [] for key, _, _ in AREA_GROUPS}
    for topic, key in rows:
        by_group[key].append(topic)
    return [TopicGroup(key, label, by_group[key]) for key, label, _ in AREA_GROUPS]


async def timeline(session: AsyncSession, topic: Topic) -> list[TopicTransition]:
    return list((await session.scalars(
        select(TopicTransition).where(TopicTransition.topic_id == topic.id)
        .order_by(TopicTransition.created_at, TopicTransition.id)
    )).all())


@dataclass
class Viewer:
    cosigned: bool = False
    following: bool = False


async def viewer_of(session: AsyncSession, topic: Topic, user_id: int | None) -> Viewer:
    if user_id is None:
        return Viewer()
    cosigned = await session.scalar(select(TopicCoSign.id).where(TopicCoSign.topic_id == topic.id,
                                                                 TopicCoSign.user_id == user_id))
    following = await session.scalar(select(TopicFollow.id).where(TopicFollow.topic_id == topic.id,
                                                                  TopicFollow.user_id == user_id))
    return Viewer(cosigned is not None, following is not None)


@dataclass
class MyTopics:
    proposed: list[Topic]
    cosigned: list[Topic]
    following: list[Topic]


async def my_topics(session: AsyncSession, user_id: int) -> MyTopics:
    async def of(query: Select[Topic]) -> list[Topic]:
        return list((await session.scalars(_with_relations(query).order_by(Topic.updated_at.desc()))).all())

    cosigned = select(TopicCoSign.topic_id).where(TopicCoSign.user_id == user_id)
    followed = select(TopicFollow.topic_id).where(TopicFollow.user_id == user_id)
    return MyTopics(
        proposed=await of(select(Topic).where(Topic.author_id == user_id)),
        cosigned=await of(select(Topic).where(Topic.id.in_(cosigned))),
        following=await of(select(Topic).where(Topic.id.in_(followed), or_(Topic.author_id.is_(None),
                                                                           Topic.author_id != user_id))),
    )


async def triage_queue(session: AsyncSession, actor: Actor) -> list[Topic]:
    """Topics waiting in triage in the communities the actor serves (every community for admins)."""
    query = _with_relations(select(Topic)).where(Topic.state == TopicState.triage)
    if not actor.is_admin:
        paths = [g.area_path for g in actor.grants if g.role is Role.worker and g.area_path]
        if not paths:
            return []
        query = query.join(Area, Area.id == Topic.community_id).where(or_(*(Area.path.startswith(p) for p in paths)))
    return list((await session.scalars(query.order_by(Topic.updated_at, Topic.id))).all())


async def cosign_thresholds(session: AsyncSession, community_ids: list[int]) -> dict[int, int]:
    """Each community's co-sign threshold in one query (the default where it has no settings row)."""
    if not community_ids:
        return {}
    rows = (await session.execute(
        select(CommunitySettings.community_id, CommunitySettings.cosign_threshold)
        .where(CommunitySettings.community_id.in_(community_ids))
    )).all()
    found = {community_id: threshold for community_id, threshold in rows}
    return {community_id: found.get(community_id, DEFAULT_COSIGN_THRESHOLD) for community_id in community_ids}


async def topic_for_triage(session: AsyncSession, actor: Actor, topic_id: int) -> Topic:
    """A topic the actor may triage now; anything else (missing, another community's) looks missing."""
    topic = await get_topic(session, topic_id)
    if not policy.is_staff_of(actor, topic.community):
        raise NotFound()
    return topic


async def merge_targets(session: AsyncSession, topic: Topic) -> list[Topic]:
    return list((await session.scalars(
        select(Topic).where(Topic.community_id == topic.community_id, Topic.id != topic.id,
                            Topic.state.in_(rules.OPEN_STATES)).order_by(Topic.title)
    )).all())


async def topic_or_none(session: AsyncSession, topic_id: int | None) -> Topic | None:
    """A merge target as the form named it (``None`` if missing); the service checks it belongs."""
    if topic_id is None:
        return None
    return await session.get(Topic, topic_id)
