"""The document types searchable today: areas, public profiles and deliberation topics. A later capability writes its
own ``DocumentType`` (in its own module) and adds it to ``build_registry``; nothing else changes.

Public profiles contain only what anyone may see: the public name (``public_name``, masked unless
the person opted out) and, for staff, their public role and the areas or units they serve. Phone,
email, household and a resident's home area never enter a document.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from consultation.accounts.display import public_name
from consultation.accounts.models import ROLE_LABELS, Role, RoleGrant, User
from consultation.areas.models import LEVEL_LABELS, Area, AreaLevel, Unit
from consultation.deliberation.models import CATEGORY_LABELS, STATE_LABELS, Category, Topic, TopicState
from consultation.errors import N_
from search.documents import DocumentType, Registry, SearchDoc

PUBLIC_ROLES = (Role.worker, Role.representative, Role.unit_staff, Role.drafter)
# Index vocabulary in the content language, so that "人大代表" finds representatives. Searchable, never shown.
ROLE_WORDS = {
    Role.resident: "居民",
    Role.worker: "社区工作者 社工",
    Role.representative: "人大代表",
    Role.unit_staff: "承办单位 工作人员",
    Role.drafter: "立法 工作人员",
}


async def id_chunks(session: AsyncSession, column: InstrumentedAttribute[int], *where: ColumnElement[bool],
                    size: int) -> AsyncIterator[list[int]]:
    """Every id matching ``where`` in ascending chunks (keyset pagination: no OFFSET scans)."""
    last = 0
    while True:
        query = select(column).where(column > last, *where).order_by(column).limit(size)
        ids = list((await session.scalars(query)).all())
        if not ids:
            return
        yield ids
        last = ids[-1]


async def _areas_by_id(session: AsyncSession, ids: set[int]) -> dict[int, Area]:
    if not ids:
        return {}
    return {area.id: area for area in (await session.scalars(select(Area).where(Area.id.in_(ids)))).all()}


def _district_of(chain: Sequence[int], areas: dict[int, Area]) -> int | None:
    return next((i for i in chain if i in areas and areas[i].level is AreaLevel.district), None)


async def build_areas(session: AsyncSession, ids: Sequence[int]) -> list[SearchDoc]:
    found = await _areas_by_id(session, set(ids))
    known = await _areas_by_id(session, {i for area in found.values() for i in area.ancestor_ids})
    documents = []
    for area in found.values():
        chain = area.ancestor_ids
        documents.append(SearchDoc(
            doc_type="area", object_id=area.id, title=area.name,
            body=" › ".join(known[i].name for i in chain[:-1] if i in known),
            url=f"/areas/{area.id}", area_ids=chain, district_id=_district_of(chain, known),
            attributes={"level": area.level.value}, created_at=area.created_at,
        ))
    return documents


async def area_ids(session: AsyncSession, size: int) -> AsyncIterator[list[int]]:
    async for chunk in id_chunks(session, Area.id, size=size):
        yield chunk


def area_badges(attributes: dict[str, Any]) -> list[str]:
    level = attributes.get("level")
    return [LEVEL_LABELS[level]] if level in LEVEL_LABELS else []


async def build_profiles(session: AsyncSession, ids: Sequence[int]) -> list[SearchDoc]:
    users = (await session.scalars(select(User).where(User.id.in_(ids), User.deleted_at.is_(None)))).all()
    grants = (await session.scalars(
        select(RoleGrant).where(RoleGrant.user_id.in_([u.id for u in users]), RoleGrant.role.in_(PUBLIC_ROLES))
        .order_by(RoleGrant.id)
    )).all()
    units = {unit.id: unit for unit in (await session.scalars(
        select(Unit).where(Unit.id.in_({g.unit_id for g in grants if g.unit_id is not None}))
    )).all()}
    served = {g.area_id for g in grants if g.area_id} | {u.area_id for u in units.values()}
    places = await _areas_by_id(session, served)
    known = await _areas_by_id(session, {i for area in places.values() for i in area.ancestor_ids})
    by_user: dict[int, list[RoleGrant]] = defaultdict(list)
    for grant in grants:
        by_user[grant.user_id].append(grant)
    documents = []
    for user in users:
        public = by_user.get(user.id, [])
        if not public and not user.show_full_name:
            continue  # a resident who did not opt in is not findable
        roles = sorted({g.role for g in public}) or [Role.resident]
        serves = [place for g in public if (place := _served_place(g, units, places)) is not None]
        chain = sorted({i for area, _ in serves for i in area.ancestor_ids})
        documents.append(SearchDoc(
            doc_type="profile", object_id=user.id, title=public_name(user),
            body=" · ".join(dict.fromkeys(name for _, name in serves)),
            url=f"/areas/{serves[0][0].id}" if serves else "", area_ids=chain,
            district_id=_district_of(serves[0][0].ancestor_ids, known) if serves else None,
            keywords=" ".join(ROLE_WORDS[r] for r in roles), attributes={"roles": [r.value for r in roles]},
            created_at=user.created_at,
        ))
    return documents


def _served_place(grant: RoleGrant, units: dict[int, Unit], places: dict[int, Area]) -> tuple[Area, str] | None:
    """The area a public role is held in, and the name to show: the unit's for unit staff."""
    if grant.unit_id is not None and grant.unit_id in units and units[grant.unit_id].area_id in places:
        unit = units[grant.unit_id]
        return places[unit.area_id], unit.name
    if grant.area_id is not None and grant.area_id in places:
        return places[grant.area_id], places[grant.area_id].name
    return None


async def profile_ids(session: AsyncSession, size: int) -> AsyncIterator[list[int]]:
    has_public_role = exists().where(RoleGrant.user_id == User.id, RoleGrant.role.in_(PUBLIC_ROLES))
    async for chunk in id_chunks(session, User.id, User.deleted_at.is_(None),
                                 or_(User.show_full_name.is_(True), has_public_role), size=size):
        yield chunk


def profile_badges(attributes: dict[str, Any]) -> list[str]:
    return [ROLE_LABELS[role] for role in attributes.get("roles", []) if role in ROLE_LABELS]


async def build_topics(session: AsyncSession, ids: Sequence[int]) -> list[SearchDoc]:
    """Topics are public in every state (a merged or declined one still says why)."""
    topics = (await session.scalars(select(Topic).where(Topic.id.in_(ids)))).all()
    places = await _areas_by_id(session, {t.area_id for t in topics})
    known = await _areas_by_id(session, {i for area in places.values() for i in area.ancestor_ids})
    documents = []
    for topic in topics:
        chain = places[topic.area_id].ancestor_ids if topic.area_id in places else []
        documents.append(SearchDoc(
            doc_type="topic", object_id=topic.id, title=topic.title,
            body=" ".join(filter(None, [topic.place, topic.description])),
            url=f"/topics/{topic.id}", area_ids=chain, district_id=_district_of(chain, known),
            attributes={"state": topic.state.value, "category": topic.category.value},
            created_at=topic.created_at,
        ))
    return documents


async def topic_ids(session: AsyncSession, size: int) -> AsyncIterator[list[int]]:
    async for chunk in id_chunks(session, Topic.id, size=size):
        yield chunk


def topic_badges(attributes: dict[str, Any]) -> list[str]:
    badges = []
    if attributes.get("state") in TopicState.__members__:
        badges.append(STATE_LABELS[TopicState(attributes["state"])])
    if attributes.get("category") in Category.__members__:
        badges.append(CATEGORY_LABELS[Category(attributes["category"])])
    return badges


AREAS = DocumentType(name="area", label=N_("Areas"), build=build_areas, all_ids=area_ids, facets=("level",),
                     badges=area_badges)
PROFILES = DocumentType(name="profile", label=N_("People"), build=build_profiles, all_ids=profile_ids,
                        facets=("roles",), badges=profile_badges)

TOPICS = DocumentType(name="topic", label=N_("Topics"), build=build_topics, all_ids=topic_ids,
                      facets=("state", "category"), badges=topic_badges)


def build_registry() -> Registry:
    from search.comment_documents import COMMENTS  # it reuses this module's helpers
    from search.draft_documents import DRAFT_COMMENTS, PROVISIONS  # likewise

    return Registry(AREAS, PROFILES, TOPICS, COMMENTS, PROVISIONS, DRAFT_COMMENTS)
