"""Reads for the administrative tree, households and the community worker's scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, make_transient_to_detached, selectinload

from consultation.accounts.models import Role, RoleGrant, User
from consultation.areas.models import Area, AreaLevel, Household, Unit
from consultation.audit import AuditEvent
from consultation.errors import NotFound
from consultation.policy import Actor, can
from consultation.table_cache import TableCache

T = TypeVar("T")

# Aliases are built once: each aliased() call makes a graph of a hundred objects in reference cycles.
_DISTRICT, _BELOW, _CHILD, _COMMUNITY = aliased(Area), aliased(Area), aliased(Area), aliased(Area)


@dataclass
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 100_000))
    except ValueError:
        return 1


async def paginate(session: AsyncSession, query: Select[T], number: int, per_page: int) -> Page[T]:
    total = int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    number = min(number, max(1, -(-total // per_page)))
    items = list((await session.scalars(query.limit(per_page).offset((number - 1) * per_page))).all())
    return Page(items, number, per_page, total)


async def get_area(session: AsyncSession, area_id: int) -> Area:
    area = await session.get(Area, area_id)
    if area is None:
        raise NotFound()
    return area


async def get_area_by_code(session: AsyncSession, code: str) -> Area | None:
    return await session.scalar(select(Area).where(Area.code == code))


async def communities(session: AsyncSession) -> list[tuple[Area, str]]:
    """Every community with its full label ("东城区 / 东华门街道 / 多福巷社区") for pickers."""
    areas = {a.id: a for a in (await session.scalars(select(Area).where(Area.level != AreaLevel.compound))).all()}
    result = []
    for area in areas.values():
        if area.level is AreaLevel.community:
            names = [areas[i].name for i in area.ancestor_ids if i in areas and areas[i].level is not AreaLevel.city]
            result.append((area, " / ".join(names)))
    return sorted(result, key=lambda pair: pair[1])


async def area_choices(session: AsyncSession) -> list[tuple[Area, str]]:
    """Every area above the compounds, labelled with its full path, in tree order (for role grants, units)."""
    areas = {a.id: a for a in (await session.scalars(select(Area).where(Area.level != AreaLevel.compound))).all()}
    labelled = [(area, [areas[i].name for i in area.ancestor_ids if i in areas]) for area in areas.values()]
    labelled.sort(key=lambda pair: pair[1])
    return [(area, " / ".join(names)) for area, names in labelled]


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
    district, below = _DISTRICT, _BELOW
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


@dataclass
class ChildSummary:
    """A sub-area with how many areas sit directly below it and how many households below it."""

    area: Area
    children: int
    households: int


async def children_with_counts(session: AsyncSession, parent: Area) -> list[ChildSummary]:
    kids = await children(session, parent.id)
    if not kids:
        return []
    ids = [kid.id for kid in kids]
    grandchildren = dict(
        (await session.execute(
            select(Area.parent_id, func.count(Area.id)).where(Area.parent_id.in_(ids)).group_by(Area.parent_id)
        )).all()
    )
    if parent.level is AreaLevel.community:  # the children are compounds: count by the household's compound
        households = dict(
            (await session.execute(
                select(Household.compound_id, func.count(Household.id))
                .where(Household.compound_id.in_(ids)).group_by(Household.compound_id)
            )).all()
        )
    else:
        child, community = _CHILD, _COMMUNITY
        households = dict(
            (await session.execute(
                select(child.id, func.count(Household.id))
                .join(community, community.path.startswith(child.path))
                .join(Household, Household.community_id == community.id)
                .where(child.id.in_(ids))
                .group_by(child.id)
            )).all()
        )
    return [ChildSummary(kid, int(grandchildren.get(kid.id, 0)), int(households.get(kid.id, 0))) for kid in kids]


async def household_count(session: AsyncSession, area: Area) -> int:
    """Households in a community, in a compound, or anywhere below a higher area."""
    return int(await session.scalar(_household_count_query(area)) or 0)


@dataclass
class AreaPage:
    """The public area page's own part: the area, its trail (root first), its sub-areas with their
    counts (as ``children_with_counts``) and its household total (as ``household_count``)."""

    area: Area
    trail: list[Area]
    children: list[ChildSummary]
    household_total: int


def _household_count_query(area: Area) -> Select[int]:
    """The statement of ``household_count``."""
    if area.level is AreaLevel.community:
        return select(func.count(Household.id)).where(Household.community_id == area.id)
    if area.level is AreaLevel.compound:
        return select(func.count(Household.id)).where(Household.compound_id == area.id)
    return (select(func.count(Household.id)).join(Area, Area.id == Household.community_id)
            .where(Area.path.startswith(area.path)))


async def area_page(session: AsyncSession, area_id: int) -> AreaPage:
    """Everything ``AreaPage`` holds, from the process's copy of the tree (``area_tree``): no statement
    while it is kept."""
    tree = await area_tree(session)
    area = tree.areas.get(area_id)
    if area is None and await session.scalar(select(Area.id).where(Area.id == area_id)) is not None:
        _TREE.forget(session, "tree")  # made by another process the change feed has not told of yet
        tree = await area_tree(session)
        area = tree.areas.get(area_id)
    if area is None:
        raise NotFound()
    trail = [tree.areas[i] for i in area.ancestor_ids[:-1] if i in tree.areas]
    children = [ChildSummary(kid, len(tree.kids.get(kid.id, ())), tree.households.get(kid.id, 0))
                for kid in tree.kids.get(area.id, ())]
    return AreaPage(area, trail, children, tree.households.get(area.id, 0))


@dataclass(frozen=True)
class AreaTree:
    """Every area, as copies that belong to no session (for reading their columns; no relationship is
    loaded), with each one's sub-areas in name order and the households in or below it."""

    areas: dict[int, Area]
    kids: dict[int, list[Area]]
    households: dict[int, int]


# The whole tree, kept per process until an area or a household changes (``consultation.table_cache``):
# a city of 4,111 areas and 100,000 households loads in two statements and takes a few MiB, and every area
# page reads it, a community's or compound's first visit included.
_TREE = TableCache[AreaTree](("area", "household"), max_entries=4)
_AREA_COLUMNS = tuple(Area.__table__.columns)


def _detached(row: Row[Any]) -> Area:
    """An ``Area`` with the row's columns that no session holds, known as persistent: a relationship it has not
    loaded raises instead of reading as empty, and a session it is added to does not insert it."""
    area = Area(**{column.key: getattr(row, column.key) for column in _AREA_COLUMNS})
    make_transient_to_detached(area)
    return area


async def area_tree(session: AsyncSession) -> AreaTree:
    return await _TREE.get(session, "tree", lambda: _load_tree(session))


async def _load_tree(session: AsyncSession) -> AreaTree:
    rows = (await session.execute(select(*_AREA_COLUMNS).order_by(Area.name, Area.id))).all()
    areas = {row.id: _detached(row) for row in rows}
    kids: dict[int, list[Area]] = {}
    for row in rows:  # in name order, as the page lists them
        if row.parent_id is not None:
            kids.setdefault(row.parent_id, []).append(areas[row.id])
    households: dict[int, int] = {}
    counts = await session.execute(select(Household.community_id, Household.compound_id, func.count(Household.id))
                                   .group_by(Household.community_id, Household.compound_id))
    for community_id, compound_id, n in counts:
        if compound_id is not None:
            households[compound_id] = households.get(compound_id, 0) + n
        community = areas.get(community_id)
        for above in community.ancestor_ids if community is not None else [community_id]:
            households[above] = households.get(above, 0) + n
    return AreaTree(areas, kids, households)


@dataclass
class TreeNode:
    area: Area
    children: list[TreeNode] = field(default_factory=list)


async def subtree(session: AsyncSession, root: Area | None, depth: int) -> list[TreeNode]:
    """The areas below ``root`` (or the whole tree) down to ``depth`` levels, as nested nodes."""
    top = root.level.depth + 1 if root is not None else 0
    levels = [level for level in AreaLevel if top <= level.depth < top + depth]
    query = select(Area).where(Area.level.in_(levels))
    if root is not None:
        query = query.where(Area.path.startswith(root.path), Area.id != root.id)
    areas = sorted((await session.scalars(query)).all(), key=lambda a: (a.level.depth, a.name))
    nodes = {area.id: TreeNode(area) for area in areas}
    roots: list[TreeNode] = []
    for area in areas:
        parent = nodes.get(area.parent_id) if area.parent_id is not None else None
        (parent.children if parent is not None else roots).append(nodes[area.id])
    return roots


async def areas_at_level(session: AsyncSession, level: AreaLevel, number: int, per_page: int = 50) -> Page[Area]:
    query = select(Area).where(Area.level == level).order_by(Area.path)
    return await paginate(session, query, number, per_page)


async def units(session: AsyncSession) -> list[Unit]:
    return list((await session.scalars(select(Unit).options(selectinload(Unit.area)).order_by(Unit.name))).all())


# --- the community worker's scope ---------------------------------------------------------------

async def community_for(session: AsyncSession, actor: Actor, community_id: int) -> Area:
    """A community whose households the actor keeps; anything else (missing or not theirs) is NotFound."""
    area = await session.get(Area, community_id)
    if area is None or area.level is not AreaLevel.community or not can(actor, "areas.manage_households", area):
        raise NotFound()
    return area


async def household_for(session: AsyncSession, community: Area, household_id: int) -> Household:
    """A household of ``community`` (reached through ``community_for``); others look missing."""
    household = await session.scalar(
        select(Household).options(selectinload(Household.compound))
        .where(Household.id == household_id, Household.community_id == community.id)
    )
    if household is None:
        raise NotFound()
    return household


async def compounds_of(session: AsyncSession, community: Area) -> list[Area]:
    return list((await session.scalars(
        select(Area).where(Area.parent_id == community.id, Area.level == AreaLevel.compound).order_by(Area.name)
    )).all())


async def households(session: AsyncSession, community: Area, *, number: int = 1, per_page: int = 50,
                     address: str = "") -> Page[Household]:
    query = (select(Household).options(selectinload(Household.compound))
             .where(Household.community_id == community.id).order_by(Household.address, Household.id))
    if address.strip():
        query = query.where(Household.address.contains(address.strip(), autoescape=True))
    return await paginate(session, query, number, per_page)


async def household_choices(session: AsyncSession, community: Area, address: str = "",
                            limit: int = 200) -> tuple[list[Household], int]:
    """Households to pick from (optionally filtered by address) and how many matched in all."""
    page = await households(session, community, per_page=limit, address=address)
    return page.items, page.total


@dataclass
class CommunityScope:
    community: Area
    label: str
    households: int
    unverified: int


async def worker_communities(session: AsyncSession, actor: Actor) -> list[CommunityScope]:
    """The communities a worker covers (a grant on a street covers its communities); admins cover all."""
    covered = [(area, label) for area, label in await communities(session)
               if can(actor, "areas.manage_households", area)]
    ids = [area.id for area, _ in covered]
    if not ids:
        return []
    household_counts = dict((await session.execute(
        select(Household.community_id, func.count(Household.id))
        .where(Household.community_id.in_(ids)).group_by(Household.community_id)
    )).all())
    unverified_counts = dict((await session.execute(
        _unverified(ids, actor).with_only_columns(User.home_area_id, func.count(User.id)).group_by(User.home_area_id)
    )).all())
    return [CommunityScope(area, label, int(household_counts.get(area.id, 0)),
                           int(unverified_counts.get(area.id, 0) or 0)) for area, label in covered]


def _unverified(community_ids: list[int] | None, actor: Actor) -> Select[User]:
    """Unverified people living in the given communities (``None``: anywhere, for admins)."""
    where_they_live = User.home_area_id.is_not(None) if community_ids is None else User.home_area_id.in_(community_ids)
    query = select(User).where(where_they_live, User.verified_at.is_(None), User.deleted_at.is_(None))
    if actor.user_id is not None:  # nobody verifies themself
        query = query.where(User.id != actor.user_id)
    return query


async def verification_queue(session: AsyncSession, actor: Actor, community_ids: list[int] | None, *,
                             number: int = 1, per_page: int = 30) -> Page[User]:
    """Residents of the given communities who still wait for verification, oldest registration first."""
    query = (_unverified(community_ids, actor).options(selectinload(User.home_area))
             .order_by(User.created_at, User.id))
    return await paginate(session, query, number, per_page)


async def resident_for_verification(session: AsyncSession, actor: Actor, user_id: int) -> tuple[User, Area]:
    """A resident the actor may verify, with their home community. Not theirs looks like missing."""
    user = await session.scalar(
        select(User).options(selectinload(User.home_area), selectinload(User.household))
        .where(User.id == user_id, User.deleted_at.is_(None))
    )
    if user is None or user.id == actor.user_id or user.home_area is None:
        raise NotFound()
    community = user.home_area
    if community.level is not AreaLevel.community or not can(actor, "accounts.verify_resident", community):
        raise NotFound()
    return user, community


async def import_event(session: AsyncSession, actor: Actor, event_id: int, action: str) -> AuditEvent:
    """The record of an import, shown only to the person who ran it."""
    event = await session.get(AuditEvent, event_id)
    if event is None or event.action != action or actor.user_id is None or event.actor_id != actor.user_id:
        raise NotFound()
    return event


async def areas_by_ids(session: AsyncSession, ids: list[int]) -> list[Area]:
    if not ids:
        return []
    return list((await session.scalars(select(Area).where(Area.id.in_(ids)).order_by(Area.path))).all())


async def households_by_ids(session: AsyncSession, community: Area, ids: list[int]) -> list[Household]:
    if not ids:
        return []
    return list((await session.scalars(
        select(Household).options(selectinload(Household.compound))
        .where(Household.id.in_(ids), Household.community_id == community.id).order_by(Household.address)
    )).all())


StaffGrant = tuple[User, Role, Area | None, Unit | None, int]


async def staff_grants(session: AsyncSession, limit: int = 300) -> list[StaffGrant]:
    """Every grant but the residents' own, for the roles overview (user, role, area, unit, grant id)."""
    rows = (await session.execute(
        select(User, RoleGrant.role, Area, Unit, RoleGrant.id)
        .join(RoleGrant, RoleGrant.user_id == User.id)
        .outerjoin(Area, Area.id == RoleGrant.area_id)
        .outerjoin(Unit, Unit.id == RoleGrant.unit_id)
        .where(RoleGrant.role != Role.resident, User.deleted_at.is_(None))
        .order_by(RoleGrant.role, Area.path, User.id)
        .limit(limit)
    )).all()
    return list(rows)


async def verified_residents(session: AsyncSession, community: Area, user_ids: list[int]) -> list[User]:
    if not user_ids:
        return []
    return list((await session.scalars(
        select(User).options(selectinload(User.household))
        .where(User.id.in_(user_ids), User.home_area_id == community.id).order_by(User.id)
    )).all())
