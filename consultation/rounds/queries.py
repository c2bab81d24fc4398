"""Reading comment rounds: a round with its draft and version, its areas, the public comment list of an
article (group leads, anonymised), the staff queue, per-article counts and a commenter's own comments.

No function loads all of a round's comments: lists are paginated and figures are SQL aggregates. The
lists and counts read the partial indexes of ``models`` (a round of 80,000 comments, issue 6): an
article's page of comments is 20 entries of an index, its counts are index-only scans.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, Integer, Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.orm.util import identity_key

from consultation import counters, direct
from consultation.accounts.models import User
from consultation.areas.models import Area
from consultation.areas.queries import Page, paginate
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import NotFound
from consultation.rounds.models import (
    SHOWN_LEAD,
    CommentRound,
    DraftComment,
    DraftCommentSupport,
    DraftCommentTheme,
    Outcome,
    RoundArea,
    RoundTheme,
)

PER_PAGE = 20
QUEUE_PER_PAGE = 30
WHOLE_DRAFT = 0  # the "article" filter value for comments on the whole draft

_NEW_VERSION = aliased(DraftVersion)  # built once: each aliased() call makes objects in reference cycles


class QueueStatus(StrEnum):
    all = "all"
    pending = "pending"
    answered = "answered"


async def get_round(session: AsyncSession, round_id: int) -> CommentRound:
    """The round with its draft (and the draft's area) and its version, in one statement. The version's
    full text is not loaded (``version_text`` reads it where it is needed)."""
    round_ = await session.scalar(
        select(CommentRound).where(CommentRound.id == round_id)
        .options(joinedload(CommentRound.draft, innerjoin=True).joinedload(Draft.area, innerjoin=True),
                 joinedload(CommentRound.version, innerjoin=True).defer(DraftVersion.text, raiseload=True)))
    if round_ is None:
        raise NotFound()
    return round_


async def round_alone(session: AsyncSession, round_id: int) -> CommentRound:
    """The round without its draft and version (enough to send a comment or a support: its window,
    audience and version id)."""
    round_ = await session.get(CommentRound, round_id)
    if round_ is None:
        raise NotFound()
    return round_


# the round's columns, counting a hit: run on the driver (``consultation.direct``), the round made from them
_ROUND_COUNTING = counters.counting(select(*direct.columns_of(CommentRound))
                                    .where(CommentRound.id == bindparam("round_id", type_=Integer)))


async def round_for_comment(session: AsyncSession, round_id: int, hit: counters.Hit | None
                            ) -> tuple[CommentRound, tuple[int, datetime] | None]:
    """``round_alone`` for someone about to comment, counting ``hit`` (their rate-limit hit) in the same
    statement on PostgreSQL, in the request's transaction as ``web.ratelimit.limit`` counts it; the count and
    window start, or None when the caller must count it."""
    if not counters.counts_along(session, hit):
        return await round_alone(session, round_id), None
    assert hit is not None
    row = await direct.first(session, _ROUND_COUNTING, {"round_id": round_id, **hit.parameters()})
    round_ = direct.loaded(session, CommentRound, row) if row is not None else None
    if round_ is None:
        raise NotFound()
    return round_, counters.counted_in(row)


async def version_text(session: AsyncSession, version: DraftVersion) -> str:
    """A version's full text (``get_round`` leaves it out)."""
    return str(await session.scalar(select(DraftVersion.text).where(DraftVersion.id == version.id)))


async def rounds_of(session: AsyncSession, draft: Draft) -> list[CommentRound]:
    """Oldest first, each with its version loaded."""
    return list(await session.scalars(
        select(CommentRound).where(CommentRound.draft_id == draft.id).order_by(CommentRound.opens_at)
        .options(selectinload(CommentRound.version))))


async def round_on_version(session: AsyncSession, version_id: int) -> CommentRound | None:
    """The comment round held on a version, if any (with its version loaded)."""
    return await session.scalar(select(CommentRound).where(CommentRound.version_id == version_id)
                                .options(selectinload(CommentRound.version)))


async def open_rounds(session: AsyncSession, now: datetime, limit: int = 20) -> list[CommentRound]:
    """Rounds open now, closing soonest first (for the drafts list and home pages)."""
    return list(await session.scalars(
        select(CommentRound).where(CommentRound.opens_at <= now, CommentRound.closes_at > now)
        .order_by(CommentRound.closes_at).limit(limit)
        .options(selectinload(CommentRound.draft), selectinload(CommentRound.version))))


_ROUND_AREAS = (select(Area.path, Area.name).join(RoundArea, RoundArea.area_id == Area.id)
                .where(RoundArea.round_id == bindparam("round_id", type_=Integer)).order_by(Area.path))


async def round_areas(session: AsyncSession, round_: CommentRound) -> list[tuple[str, str]]:
    """(path, name) of the areas whose verified residents may comment (a ``residents`` round)."""
    rows = await session.execute(_ROUND_AREAS, {"round_id": round_.id})
    return [(path, name) for path, name in rows.all()]


async def get_comment(session: AsyncSession, comment_id: int) -> DraftComment:
    comment = await session.get(DraftComment, comment_id)
    if comment is None:
        raise NotFound()
    return comment


async def get_provision(session: AsyncSession, version: DraftVersion, provision_id: int) -> Provision:
    provision = await session.get(Provision, provision_id)
    if provision is None or provision.version_id != version.id:
        raise NotFound()
    return provision


# --- counts ----------------------------------------------------------------------------------------

async def article_counts(session: AsyncSession, round_id: int, *, public: bool = True) -> dict[int | None, int]:
    """Comments per article id (None: on the whole draft); ``public`` leaves out held comments."""
    query = (select(DraftComment.article_id, func.count()).where(DraftComment.round_id == round_id)
             .group_by(DraftComment.article_id))
    if public:
        query = query.where(DraftComment.held.is_(False))
    return {article_id: int(n) for article_id, n in (await session.execute(query)).all()}


@dataclass
class ArticleFigures:
    comments: int  # shown comments on the article (copies in groups included)
    groups: int  # shown group leads: the length of the article's public list


async def article_figures(session: AsyncSession, round_id: int, article_id: int) -> ArticleFigures:
    """The shown comments and groups on one article (``WHOLE_DRAFT``: on the whole draft), in one
    statement of two index-only counts."""
    shown = select(func.count()).select_from(DraftComment).where(
        DraftComment.round_id == round_id, _on_article(article_id), DraftComment.held.is_(False))
    groups = select(func.count()).select_from(DraftComment).where(
        DraftComment.round_id == round_id, _on_article(article_id), SHOWN_LEAD)
    row = (await session.execute(select(shown.scalar_subquery(), groups.scalar_subquery()))).one()
    return ArticleFigures(int(row[0] or 0), int(row[1] or 0))


# --- lists -----------------------------------------------------------------------------------------

def _on_article(article_id: int | None) -> ColumnElement[bool]:
    if article_id == WHOLE_DRAFT:
        return DraftComment.article_id.is_(None)
    return DraftComment.article_id == article_id


async def public_comments(session: AsyncSession, round_id: int, article_id: int | None,
                          number: int = 1, per_page: int = PER_PAGE, *, total: int | None = None) -> Page[DraftComment]:
    """The shown group leads on an article (``WHOLE_DRAFT``: on the whole draft; None: all), the largest
    groups and most supported first; each lead's ``group_size`` is the true count. ``total``: the number
    of such leads when the caller knows it (``article_figures``), which saves counting them again."""
    query = (select(DraftComment).where(DraftComment.round_id == round_id, SHOWN_LEAD)
             .order_by(DraftComment.group_size.desc(), DraftComment.support_count.desc(), DraftComment.id))
    if article_id is not None:
        query = query.where(_on_article(article_id))
    return await _page(session, query, number, per_page, total)


async def _page(session: AsyncSession, query: Select[DraftComment], number: int, per_page: int,
                total: int | None) -> Page[DraftComment]:
    if total is None:
        return await paginate(session, query, number, per_page)
    number = min(number, max(1, -(-total // per_page)))
    items = list((await session.scalars(query.limit(per_page).offset((number - 1) * per_page))).all())
    return Page(items, number, per_page, total)


async def supported_by(session: AsyncSession, user_id: int | None, comment_ids: list[int]) -> set[int]:
    if user_id is None or not comment_ids:
        return set()
    return set(await session.scalars(select(DraftCommentSupport.comment_id).where(
        DraftCommentSupport.user_id == user_id, DraftCommentSupport.comment_id.in_(comment_ids))))


@dataclass
class QueueFilter:
    article_id: int | None = None  # WHOLE_DRAFT for comments on the whole draft
    theme_id: int | None = None
    status: QueueStatus = QueueStatus.pending
    outcome: Outcome | None = None
    representatives: bool = False


def _queue_query(round_id: int, wanted: QueueFilter) -> Select[DraftComment]:
    query = select(DraftComment).where(DraftComment.round_id == round_id, DraftComment.lead_id.is_(None))
    if wanted.article_id is not None:
        query = query.where(_on_article(wanted.article_id))
    if wanted.theme_id is not None:
        query = query.where(DraftComment.id.in_(select(DraftCommentTheme.comment_id)
                                                .where(DraftCommentTheme.theme_id == wanted.theme_id)))
    if wanted.status is QueueStatus.pending:
        query = query.where(DraftComment.outcome.is_(None))
    elif wanted.status is QueueStatus.answered:
        query = query.where(DraftComment.outcome.is_not(None))
    if wanted.outcome is not None:
        query = query.where(DraftComment.outcome == wanted.outcome)
    if wanted.representatives:
        query = query.where(DraftComment.by_representative.is_(True))
    return query


async def queue(session: AsyncSession, round_id: int, wanted: QueueFilter, number: int = 1,
                per_page: int = QUEUE_PER_PAGE, *, total: int | None = None) -> Page[DraftComment]:
    """Group leads for staff, biggest groups first (a campaign is one row with its true count). ``total``:
    the filter's ``queue_count`` when the caller has it."""
    query = _queue_query(round_id, wanted).order_by(DraftComment.group_size.desc(), DraftComment.id)
    return await _page(session, query, number, per_page, total)


async def queue_count(session: AsyncSession, round_id: int, wanted: QueueFilter) -> int:
    """How many groups the queue's filter holds."""
    return int(await session.scalar(select(func.count()).select_from(_queue_query(round_id, wanted).subquery()))
               or 0)


async def queue_totals(session: AsyncSession, round_id: int) -> dict[str, int]:
    """Comments and groups, pending and answered, for the queue's header."""
    row = (await session.execute(select(
        func.count(), func.count(DraftComment.outcome),
        func.count().filter(DraftComment.lead_id.is_(None)),
        func.count().filter(and_(DraftComment.lead_id.is_(None), DraftComment.outcome.is_(None))))
        .where(DraftComment.round_id == round_id))).one()
    return {"comments": int(row[0]), "answered": int(row[1]), "groups": int(row[2]),
            "pending_groups": int(row[3])}


async def group_members(session: AsyncSession, lead: DraftComment, limit: int = 50) -> list[DraftComment]:
    """Comments of a lead's group other than the lead (the first ``limit``)."""
    return list(await session.scalars(select(DraftComment).where(DraftComment.round_id == lead.round_id,
                                                                 DraftComment.lead_id == lead.id)
                                      .order_by(DraftComment.id).limit(limit)))


async def themes_of(session: AsyncSession, round_id: int) -> list[RoundTheme]:
    return list(await session.scalars(select(RoundTheme).where(RoundTheme.round_id == round_id)
                                      .order_by(RoundTheme.name)))


async def themes_by_comment(session: AsyncSession, comment_ids: list[int]) -> dict[int, list[str]]:
    if not comment_ids:
        return {}
    rows = await session.execute(select(DraftCommentTheme.comment_id, RoundTheme.name)
                                 .join(RoundTheme, RoundTheme.id == DraftCommentTheme.theme_id)
                                 .where(DraftCommentTheme.comment_id.in_(comment_ids)).order_by(RoundTheme.name))
    found: dict[int, list[str]] = {}
    for comment_id, name in rows.all():
        found.setdefault(comment_id, []).append(name)
    return found


async def provisions_by_id(session: AsyncSession, ids: set[int | None]) -> dict[int, Provision]:
    """Provisions by id; those the session holds already (a comment's target after posting it) cost no
    statement."""
    found: dict[int, Provision] = {}
    for i in ids:
        if i is not None and isinstance(held := session.identity_map.get(identity_key(Provision, i)), Provision):
            found[i] = held
    wanted = {i for i in ids if i is not None and i not in found}
    if wanted:
        found |= {p.id: p for p in await session.scalars(select(Provision).where(Provision.id.in_(wanted)))}
    return found


async def authors_by_id(session: AsyncSession, ids: set[int | None]) -> dict[int, User]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {u.id: u for u in await session.scalars(select(User).where(User.id.in_(wanted)))}


# --- a commenter's own comments ------------------------------------------------------------------

@dataclass
class MyComment:
    comment: DraftComment
    round: CommentRound
    draft_title: str
    draft_id: int
    provision: Provision | None
    new_provision: Provision | None  # where the answer links the new wording
    new_version: int | None


async def my_comments(session: AsyncSession, user_id: int, number: int = 1,
                      per_page: int = PER_PAGE) -> Page[MyComment]:
    """The person's comments in every round, newest first, with the answer and the new wording."""
    query = (select(DraftComment).where(DraftComment.author_id == user_id)
             .order_by(DraftComment.created_at.desc(), DraftComment.id.desc()))
    page = await paginate(session, query, number, per_page)
    comments = page.items
    round_ids = {c.round_id for c in comments}
    rounds = {r.id: r for r in await session.scalars(
        select(CommentRound).where(CommentRound.id.in_(round_ids))
        .options(selectinload(CommentRound.draft), selectinload(CommentRound.version)))} if round_ids else {}
    provisions = await provisions_by_id(session, {c.provision_id for c in comments}
                                        | {c.changed_provision_id for c in comments})
    new_version = _NEW_VERSION
    numbers = dict((await session.execute(
        select(Provision.id, new_version.number).join(new_version, new_version.id == Provision.version_id)
        .where(Provision.id.in_({c.changed_provision_id for c in comments if c.changed_provision_id}))))
        .all()) if any(c.changed_provision_id for c in comments) else {}
    items = [MyComment(c, rounds[c.round_id], rounds[c.round_id].draft.title, rounds[c.round_id].draft_id,
                       provisions.get(c.provision_id) if c.provision_id else None,
                       provisions.get(c.changed_provision_id) if c.changed_provision_id else None,
                       numbers.get(c.changed_provision_id) if c.changed_provision_id else None)
             for c in comments]
    return Page(items, page.number, page.per_page, page.total)

