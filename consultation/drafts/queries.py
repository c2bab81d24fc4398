"""Reading drafts: the list, one draft, its versions, a version's provision tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import NotFound
from consultation.policy import Actor

LIST_LIMIT = 200


@dataclass
class DraftRow:
    draft: Draft
    area_name: str
    versions: int


@dataclass
class TreeNode:
    """A stored provision with its children, shaped like the parser's ``Node`` for the templates."""

    provision: Provision
    children: list[TreeNode] = field(default_factory=list)

    @property
    def kind(self) -> Kind:
        return self.provision.kind

    @property
    def key(self) -> str:
        return self.provision.key

    @property
    def label(self) -> str:
        return self.provision.label

    @property
    def title(self) -> str:
        return self.provision.title

    @property
    def text(self) -> str:
        return self.provision.text

    @property
    def body(self) -> str:
        return self.provision.body

    @property
    def number(self) -> int:
        return self.provision.number


async def list_drafts(session: AsyncSession, limit: int = LIST_LIMIT) -> list[DraftRow]:
    versions = (select(DraftVersion.draft_id, func.count(DraftVersion.id).label("n"))
                .group_by(DraftVersion.draft_id).subquery())
    rows = await session.execute(
        select(Draft, Area.name, versions.c.n)
        .join(Area, Area.id == Draft.area_id)
        .join(versions, versions.c.draft_id == Draft.id)
        .order_by(Draft.created_at.desc(), Draft.id.desc())
        .limit(limit))
    return [DraftRow(draft, name, int(n)) for draft, name, n in rows.all()]


async def get_draft(session: AsyncSession, draft_id: int) -> Draft:
    draft = await session.scalar(select(Draft).where(Draft.id == draft_id).options(selectinload(Draft.area)))
    if draft is None:
        raise NotFound()
    return draft


async def versions_of(session: AsyncSession, draft: Draft) -> list[DraftVersion]:
    """Oldest first."""
    return list(await session.scalars(
        select(DraftVersion).where(DraftVersion.draft_id == draft.id).order_by(DraftVersion.number)))


async def get_version(session: AsyncSession, draft: Draft, number: int) -> DraftVersion:
    version = await session.scalar(
        select(DraftVersion).where(DraftVersion.draft_id == draft.id, DraftVersion.number == number))
    if version is None:
        raise NotFound()
    return version


async def latest_version(session: AsyncSession, draft: Draft) -> DraftVersion:
    version = await session.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id)
                                   .order_by(DraftVersion.number.desc()).limit(1))
    if version is None:
        raise NotFound()
    return version


async def provisions_of(session: AsyncSession, version: DraftVersion) -> list[Provision]:
    """Every provision of a version in document (tree) order."""
    return list(await session.scalars(
        select(Provision).where(Provision.version_id == version.id).order_by(Provision.position)))


def tree_of(provisions: list[Provision]) -> list[TreeNode]:
    """The top-level nodes of a version's tree (provisions in document order)."""
    nodes = {p.id: TreeNode(p) for p in provisions}
    roots: list[TreeNode] = []
    for p in provisions:
        parent = nodes.get(p.parent_id) if p.parent_id is not None else None
        (parent.children if parent else roots).append(nodes[p.id])
    return roots


async def manageable_areas(session: AsyncSession, actor: Actor) -> list[Area]:
    """Cities and districts a drafter may create drafts for (every one for an admin)."""
    areas = await session.scalars(select(Area).where(Area.level.in_([AreaLevel.city, AreaLevel.district]))
                                  .order_by(Area.path))
    return [a for a in areas if actor.is_admin or actor.has_role_over(Role.drafter, a.path)]
