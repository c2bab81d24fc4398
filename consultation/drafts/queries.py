"""Reading drafts: the list, one draft, its versions, a version's provision tree, and the targeted reads
of one article (its text, headings and neighbours) or one provision with its ancestors, so that pages and
comments on a single article do not load the whole version."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Integer, Select, bindparam, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel
from consultation.drafts.model import HEADING_KINDS, Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import NotFound
from consultation.policy import Actor
from consultation.table_cache import TableCache

LIST_LIMIT = 200

_PARENT = aliased(Provision)  # built once: each aliased() call makes objects in reference cycles


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


async def outline_of(session: AsyncSession, version: DraftVersion) -> list[Provision]:
    """The headings (parts, chapters, sections…) and articles of a version in document order, without the
    paragraphs and items (a table of contents)."""
    return list(await session.scalars(
        select(Provision).where(Provision.version_id == version.id, Provision.kind.in_([*HEADING_KINDS, Kind.ARTICLE]))
        .order_by(Provision.position)))


async def article_labels(session: AsyncSession, version_id: int) -> list[tuple[int, str]]:
    """(id, label) of a version's articles in document order (for choosing one)."""
    rows = await session.execute(select(Provision.id, Provision.label).where(
        Provision.version_id == version_id, Provision.kind == Kind.ARTICLE).order_by(Provision.position))
    return [(pid, label) for pid, label in rows.all()]


@dataclass
class ArticleParts:
    """One article of a version with what its page shows around it."""

    article: Provision
    paragraphs: list[Provision]
    items: dict[int, list[Provision]]  # paragraph id -> its items
    heading: list[Provision]  # the part, chapter, section… the article is in, outermost first
    previous: Provision | None  # the article before and after it in the version
    next: Provision | None


def _article_parts_statement() -> Select[Provision]:
    """Built once: the article (``:article_id``), its headings, paragraphs, items and neighbours."""
    article_id, version_id = bindparam("article_id", type_=Integer), bindparam("version_id", type_=Integer)
    position = select(Provision.position).where(Provision.id == article_id).scalar_subquery()
    articles = select(Provision.id).where(Provision.version_id == version_id, Provision.kind == Kind.ARTICLE)
    previous = articles.where(Provision.position < position).order_by(Provision.position.desc()).limit(1)
    following = articles.where(Provision.position > position).order_by(Provision.position).limit(1)
    children = select(Provision.id).where(Provision.parent_id == article_id)
    parent = _PARENT
    up = select(Provision.id, Provision.parent_id).where(Provision.id == article_id).cte("up", recursive=True)
    up = up.union_all(select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))
    wanted = union_all(select(up.c.id), children, select(Provision.id).where(Provision.parent_id.in_(children)),
                       select(previous.scalar_subquery()), select(following.scalar_subquery()))
    return select(Provision).where(Provision.id.in_(wanted)).order_by(Provision.position)


def _ancestors_statement() -> Select[Provision]:
    """Built once: the provision ``:provision_id`` and every provision it is in."""
    parent = aliased(Provision)
    up = (select(Provision.id, Provision.parent_id).where(Provision.id == bindparam("provision_id", type_=Integer))
          .cte("up", recursive=True))
    up = up.union_all(select(parent.id, parent.parent_id).join(up, parent.id == up.c.parent_id))
    return select(Provision).where(Provision.id.in_(select(up.c.id)))


_ARTICLE_PARTS = _article_parts_statement()
_ANCESTORS = _ancestors_statement()


async def article_parts(session: AsyncSession, version_id: int, article_id: int) -> ArticleParts | None:
    """The article ``article_id`` of the version with its paragraphs and items, the headings it is under
    and the articles before and after it, in one statement (None if the version has no such article)."""
    rows = list(await session.scalars(_ARTICLE_PARTS, {"article_id": article_id, "version_id": version_id}))
    by_id = {p.id: p for p in rows}
    article = by_id.get(article_id)
    if article is None or article.version_id != version_id or article.kind is not Kind.ARTICLE:
        return None
    paragraphs = [p for p in rows if p.parent_id == article.id and p.kind is Kind.PARAGRAPH]
    ids = {p.id for p in paragraphs}
    items: dict[int, list[Provision]] = {}
    for p in rows:
        if p.kind is Kind.ITEM and p.parent_id in ids:
            items.setdefault(p.parent_id, []).append(p)
    heading: list[Provision] = []
    node = by_id.get(article.parent_id) if article.parent_id is not None else None
    while node is not None:
        heading.insert(0, node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    others = [p for p in rows if p.kind is Kind.ARTICLE and p.id != article.id]
    return ArticleParts(article, paragraphs, items, heading,
                        next((p for p in reversed(others) if p.position < article.position), None),
                        next((p for p in others if p.position > article.position), None))


async def with_ancestors(session: AsyncSession, provision_id: int) -> list[Provision]:
    """A provision and the provisions it is in, innermost first, in one statement (empty if there is no
    such provision)."""
    by_id = {p.id: p for p in await session.scalars(_ANCESTORS, {"provision_id": provision_id})}
    chain: list[Provision] = []
    node = by_id.get(provision_id)
    while node is not None and len(chain) <= len(by_id):
        chain.append(node)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    return chain


# A comment surge reads the chain of the provision commented on with every comment; a version's provisions
# never change (a new text is a new version), so the chains are kept per process (``consultation.table_cache``).
_CHAINS = TableCache[list[Provision]](Provision.__tablename__, max_entries=4096)


async def shared_chain(session: AsyncSession, provision_id: int) -> list[Provision]:
    """``with_ancestors``, kept per process: copies that belong to no session, for reading their columns only
    (no relationship is loaded). The session's own provisions stay its own."""
    async def load() -> list[Provision]:
        return [_detached_copy(provision) for provision in await with_ancestors(session, provision_id)]

    return await _CHAINS.get(session, provision_id, load)


def _detached_copy(provision: Provision) -> Provision:
    return Provision(**{column.key: getattr(provision, column.key) for column in _PROVISION_COLUMNS})


_PROVISION_COLUMNS = tuple(Provision.__table__.columns)


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
