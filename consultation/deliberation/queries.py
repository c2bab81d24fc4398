"""Reads for topics: the access function, area listings, the public timeline, "my topics" and the
workers' triage queue. Topics are public, so ``get_topic`` only hides what does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, Integer, Select, bindparam, case, func, or_, select
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


@cache
def _topic_statement() -> Select[Topic]:
    """``get_topic``'s statement, built once (building it costs more than running it)."""
    return _with_relations(select(Topic).where(Topic.id == bindparam("topic_id", type_=Integer)))


async def get_topic(session: AsyncSession, topic_id: int) -> Topic:
    topic = await session.scalar(_topic_statement(), {"topic_id": topic_id})
    if topic is None:
        raise NotFound()
    return topic


@dataclass
class TopicGroup:
    key: str
    label: str
    topics: list[Topic]


@cache
def _area_topics_statement(level: AreaLevel) -> Executable:
    """The topics of the community (or compound) ``:area_id`` in one statement for every group: rank the
    topics within their group, keep the first AREA_GROUP_LIMIT. Built once per level and reused."""
    area_id = bindparam("area_id", type_=Integer)
    where = Topic.community_id == area_id if level is AreaLevel.community else Topic.area_id == area_id
    group_key = case(*[(Topic.state.in_(states), key) for key, _, states in AREA_GROUPS])
    newest_first = (Topic.updated_at.desc(), Topic.id.desc())
    ranked = (
        select(Topic.id.label("id"), group_key.label("group_key"),
               func.row_number().over(partition_by=group_key, order_by=newest_first).label("rank"))
        .where(where, Topic.state.in_({state for _, _, states in AREA_GROUPS for state in states}))
        .subquery()
    )
    # Only the topic's area is loaded: the list shows nothing else of its relations (the others raise if read).
    return (select(Topic, ranked.c.group_key).options(joinedload(Topic.area)).join(ranked, ranked.c.id == Topic.id)
            .where(ranked.c.rank <= AREA_GROUP_LIMIT).order_by(*newest_first))


async def area_topics(session: AsyncSession, area: Area) -> list[TopicGroup] | None:
    """Topics of a community (or of one compound) grouped by state; ``None`` above community level."""
    if area.level not in (AreaLevel.community, AreaLevel.compound):
        return None
    rows = (await session.execute(_area_topics_statement(area.level), {"area_id": area.id})).all()
    by_group: dict[str, list[Topic]] = {key: [] for key, _, _ in AREA_GROUPS}
    for topic, key in rows:
        by_group[key].append(topic)
    return [TopicGroup(key, label, by_group[key]) for key, label, _ in AREA_GROUPS]


@cache
def _timeline_statement() -> Select[TopicTransition]:
    return (select(TopicTransition).where(TopicTransition.topic_id == bindparam("topic_id", type_=Integer))
            .order_by(TopicTransition.created_at, TopicTransition.id))


async def timeline(session: AsyncSession, topic: Topic) -> list[TopicTransition]:
    return list((await session.scalars(_timeline_statement(), {"topic_id": topic.id})).all())


@dataclass
class Viewer:
    cosigned: bool = False
    following: bool = False


async def viewer_of(session: AsyncSession, topic: Topic, user_id: int | None) -> Viewer:
    if user_id is None:
        return Viewer()
    row = (await session.execute(_page_state_statement(), {"topic_id": topic.id, "community_id": topic.community_id,
                                                             "user_id": user_id})).one()
    return Viewer(bool(row[1]), bool(row[2]))


def _viewer_columns(topic_id: Any) -> list[ColumnElement[bool]]:
    """Whether ``:user_id`` co-signed and follows the topic, as two EXISTS columns."""
    user_id = bindparam("user_id", type_=Integer)
    return [select(TopicCoSign.id).where(TopicCoSign.topic_id == topic_id, TopicCoSign.user_id == user_id).exists(),
            select(TopicFollow.id).where(TopicFollow.topic_id == topic_id, TopicFollow.user_id == user_id).exists()]


def _threshold_column(community_id: Any) -> ColumnElement[int]:
    """The community's co-sign threshold (the default where it has no settings row)."""
    configured = (select(CommunitySettings.cosign_threshold).where(CommunitySettings.community_id == community_id)
                  .scalar_subquery())
    return func.coalesce(configured, DEFAULT_COSIGN_THRESHOLD)


@dataclass
class TopicPage:
    """What the topic page shows about the topic itself besides its sections."""

    topic: Topic
    viewer: Viewer
    threshold: int


@cache
def _topic_page_statement(signed_in: bool) -> Executable:
    """``get_topic``'s statement with the threshold and, for a signed-in viewer, their co-sign and follow."""
    columns: list[ColumnElement[Any]] = [_threshold_column(Topic.community_id)]
    if signed_in:
        columns += _viewer_columns(Topic.id)
    return _with_relations(select(Topic, *columns)).where(Topic.id == bindparam("topic_id", type_=Integer))


@cache
def _page_state_statement() -> Executable:
    """The threshold of ``:community_id`` and whether ``:user_id`` co-signed and follows ``:topic_id``."""
    topic_id = bindparam("topic_id", type_=Integer)
    return select(_threshold_column(bindparam("community_id", type_=Integer)), *_viewer_columns(topic_id))


async def topic_page(session: AsyncSession, topic_id: int, user_id: int | None) -> TopicPage:
    """The topic (as ``get_topic``), the viewer's co-sign and follow, and the community's co-sign
    threshold, in one statement."""
    row = (await session.execute(_topic_page_statement(user_id is not None),
                                 {"topic_id": topic_id, "user_id": user_id})).one_or_none()
    if row is None:
        raise NotFound()
    viewer = Viewer(bool(row[2]), bool(row[3])) if user_id is not None else Viewer()
    return TopicPage(row[0], viewer, int(row[1]))


async def page_state(session: AsyncSession, topic: Topic, user_id: int | None) -> tuple[Viewer, int]:
    """The viewer and the threshold of ``topic_page`` for a topic already loaded (one statement)."""
    row = (await session.execute(_page_state_statement(), {"topic_id": topic.id, "community_id": topic.community_id,
                                                             "user_id": user_id})).one()
    return (Viewer(bool(row[1]), bool(row[2])) if user_id is not None else Viewer()), int(row[0])


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
