"""The feedback report of a round (征求意见情况说明) and the export of all its comments with answers.

Every figure is an SQL aggregate and the export streams in batches, so a round of 100,000 comments is
reported without holding its comments in memory. Public figures leave out held comments; the export
(for staff) has them all, with commenters replaced by a number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.drafts import compare as comparing
from consultation.drafts.model import Kind, cite
from consultation.drafts.models import DraftVersion, Provision
from consultation.drafts.parser import parse
from consultation.rounds.models import CommentRound, DraftComment, DraftCommentTheme, Outcome, RoundTheme

TOP_THEMES = 10
COMMENTS_PER_CHANGE = 5
EXPORT_BATCH = 1000


@dataclass
class Totals:
    comments: int
    commenters: int
    representative_comments: int
    representatives: int
    groups: int
    supports: int
    answered: int


@dataclass
class ArticleHeat:
    provision: Provision
    count: int
    level: int  # 0..5, for the heat map's colour


@dataclass
class ChapterHeat:
    provision: Provision | None  # None: articles outside any chapter
    count: int
    articles: list[ArticleHeat] = field(default_factory=list)


@dataclass
class ChangedArticle:
    change: comparing.ArticleChange
    comments: list[DraftComment]  # group leads on the old article that were adopted or partly adopted
    count: int  # all comments (groups counted in full) on the old article that were adopted or partly


@dataclass
class Report:
    round: CommentRound
    totals: Totals
    chapters: list[ChapterHeat]
    whole_draft: int
    themes: list[tuple[str, int]]
    outcomes: dict[Outcome | None, int]
    next_version: DraftVersion | None
    changed: list[ChangedArticle]


async def totals(session: AsyncSession, round_id: int) -> Totals:
    shown = (DraftComment.round_id == round_id) & DraftComment.held.is_(False)
    row = (await session.execute(select(
        func.count(), func.count(DraftComment.author_id.distinct()),
        func.count().filter(DraftComment.by_representative.is_(True)),
        func.count(DraftComment.author_id.distinct()).filter(DraftComment.by_representative.is_(True)),
        func.count().filter(DraftComment.lead_id.is_(None)),
        func.coalesce(func.sum(DraftComment.support_count), 0),
        func.count(DraftComment.outcome)).where(shown))).one()
    return Totals(*(int(v or 0) for v in row))


async def heat(session: AsyncSession, round_: CommentRound) -> tuple[list[ChapterHeat], int]:
    """Comments per chapter and article of the round's version, in document order; and on the whole draft."""
    counts = dict((await session.execute(
        select(DraftComment.article_id, func.count()).where(DraftComment.round_id == round_.id,
                                                            DraftComment.held.is_(False))
        .group_by(DraftComment.article_id))).all())
    structure = list(await session.scalars(
        select(Provision).where(Provision.version_id == round_.version_id,
                                Provision.kind.in_([Kind.CHAPTER, Kind.ARTICLE]))
        .order_by(Provision.position)))
    top = max([n for key, n in counts.items() if key is not None], default=0)
    chapters: list[ChapterHeat] = []
    current: ChapterHeat | None = None
    for provision in structure:
        if provision.kind is Kind.CHAPTER:
            current = ChapterHeat(provision, 0)
            chapters.append(current)
            continue
        if current is None:
            current = ChapterHeat(None, 0)
            chapters.append(current)
        n = int(counts.get(provision.id, 0))
        level = 0 if n == 0 or top == 0 else max(1, round(5 * n / top))
        current.articles.append(ArticleHeat(provision, n, level))
        current.count += n
    return chapters, int(counts.get(None, 0))


async def top_themes(session: AsyncSession, round_id: int, limit: int = TOP_THEMES) -> list[tuple[str, int]]:
    """Themes by the number of comments they cover (a group counts with all its comments)."""
    rows = await session.execute(
        select(RoundTheme.name, func.sum(DraftComment.group_size).label("n"))
        .join(DraftCommentTheme, DraftCommentTheme.theme_id == RoundTheme.id)
        .join(DraftComment, DraftComment.id == DraftCommentTheme.comment_id)
        .where(RoundTheme.round_id == round_id, DraftComment.held.is_(False))
        .group_by(RoundTheme.name).order_by(func.sum(DraftComment.group_size).desc(), RoundTheme.name)
        .limit(limit))
    return [(name, int(n)) for name, n in rows.all()]


async def outcomes(session: AsyncSession, round_id: int) -> dict[Outcome | None, int]:
    """Comments per outcome (None: not answered yet), every outcome present."""
    rows = dict((await session.execute(
        select(DraftComment.outcome, func.count()).where(DraftComment.round_id == round_id,
                                                         DraftComment.held.is_(False))
        .group_by(DraftComment.outcome))).all())
    found: dict[Outcome | None, int] = {o: int(rows.get(o, 0)) for o in Outcome}
    found[None] = int(rows.get(None, 0))
    return found


async def next_version(session: AsyncSession, round_: CommentRound) -> DraftVersion | None:
    return await session.scalar(select(DraftVersion).where(
        DraftVersion.draft_id == round_.draft_id, DraftVersion.number > round_.version.number)
        .order_by(DraftVersion.number).limit(1))


async def changed_articles(session: AsyncSession, round_: CommentRound, later: DraftVersion,
                           comparison: comparing.Comparison | None = None) -> list[ChangedArticle]:
    """Each article that changed, was added or removed from the round's version to ``later``, with the
    comments that led to it: adopted or partly adopted comments on the old article, and comments whose
    answer links the new article. ``comparison`` of the two versions, when the caller has it already."""
    if comparison is None:
        comparison = comparing.compare(parse(round_.version.text), parse(later.text))
    old_keys = {c.old.key for c in comparison.changes if c.old is not None}
    new_keys = {c.new.key for c in comparison.changes if c.new is not None}
    old_ids = await _ids_by_key(session, round_.version_id, old_keys)
    new_ids = await _ids_by_key(session, later.id, new_keys)
    adopted = DraftComment.outcome.in_([Outcome.adopted, Outcome.partly])
    found: list[ChangedArticle] = []
    for change in comparison.changes:
        if change.change in (comparing.Change.UNCHANGED, comparing.Change.RENUMBERED):
            continue
        reasons: list[ColumnElement[bool]] = []
        if change.old is not None and (old_id := old_ids.get(change.old.key)) is not None:
            reasons.append((DraftComment.article_id == old_id) & adopted)
        if change.new is not None and (new_id := new_ids.get(change.new.key)) is not None:
            reasons.append(DraftComment.changed_provision_id == new_id)
        comments: list[DraftComment] = []
        count = 0
        if reasons:
            led = (DraftComment.round_id == round_.id) & or_(*reasons)
            count = int(await session.scalar(select(func.count()).select_from(DraftComment).where(led)) or 0)
            comments = list(await session.scalars(
                select(DraftComment).where(led, DraftComment.lead_id.is_(None), DraftComment.held.is_(False))
                .order_by(DraftComment.group_size.desc(), DraftComment.id).limit(COMMENTS_PER_CHANGE)))
        found.append(ChangedArticle(change, comments, count))
    return found


async def _ids_by_key(session: AsyncSession, version_id: int, keys: set[str]) -> dict[str, int]:
    if not keys:
        return {}
    rows = await session.execute(select(Provision.key, Provision.id).where(
        Provision.version_id == version_id, Provision.key.in_(keys)))
    return {key: pid for key, pid in rows.all()}


async def build(session: AsyncSession, round_: CommentRound) -> Report:
    """The whole report (``round_.version`` loaded)."""
    chapters, whole = await heat(session, round_)
    later = await next_version(session, round_)
    return Report(round_, await totals(session, round_.id), chapters, whole, await top_themes(session, round_.id),
                  await outcomes(session, round_.id), later,
                  await changed_articles(session, round_, later) if later is not None else [])


# --- export --------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("comment", "submitted_at", "provision", "chapter", "commenter", "representative", "comment_text",
                  "proposed_wording", "group_of", "group_size", "supports", "themes", "outcome", "reason",
                  "new_provision")


async def export_rows(session: AsyncSession, round_: CommentRound) -> AsyncIterator[list[object]]:
    """Every comment of the round with its answer, in batches (keyset by id), commenters as numbers."""
    labels = {p.id: (p.label or p.key) for p in await session.scalars(
        select(Provision).where(Provision.version_id == round_.version_id,
                                Provision.kind.in_([Kind.CHAPTER, Kind.ARTICLE])))}
    later_labels: dict[int, str] = {}
    commenters: dict[int, int] = {}
    last_id = 0
    while True:
        batch = list(await session.scalars(
            select(DraftComment).where(DraftComment.round_id == round_.id, DraftComment.id > last_id)
            .order_by(DraftComment.id).limit(EXPORT_BATCH)))
        if not batch:
            return
        ids = [c.id for c in batch]
        themes: dict[int, list[str]] = {}
        lead_ids = {c.lead_id or c.id for c in batch}
        for comment_id, name in (await session.execute(
                select(DraftCommentTheme.comment_id, RoundTheme.name)
                .join(RoundTheme, RoundTheme.id == DraftCommentTheme.theme_id)
                .where(DraftCommentTheme.comment_id.in_(lead_ids)))).all():
            themes.setdefault(comment_id, []).append(name)
        targets = {p.id: p for p in await session.scalars(select(Provision).where(
            Provision.id.in_({c.provision_id for c in batch if c.provision_id})))}
        missing = {c.changed_provision_id for c in batch if c.changed_provision_id} - set(later_labels)
        if missing:
            rows = await session.execute(select(Provision.id, Provision.label, Provision.key, DraftVersion.number)
                                         .join(DraftVersion, DraftVersion.id == Provision.version_id)
                                         .where(Provision.id.in_(missing)))
            later_labels.update({pid: f"v{number} {label or key}" for pid, label, key, number in rows.all()})
        for comment in batch:
            target = targets.get(comment.provision_id) if comment.provision_id else None
            provision = "" if target is None else cite(target.kind, target.label, target.number,
                                                       labels.get(comment.article_id or 0, ""))
            commenter = ""
            if comment.author_id is not None:
                commenter = str(commenters.setdefault(comment.author_id, len(commenters) + 1))
            yield [comment.id, comment.created_at, provision, labels.get(comment.chapter_id or 0, ""), commenter,
                   comment.by_representative, comment.body, comment.proposed_wording, comment.lead_id or "",
                   comment.group_size if comment.lead_id is None else "", comment.support_count,
                   "、".join(themes.get(comment.lead_id or comment.id, [])),
                   comment.outcome.value if comment.outcome else "", comment.reason,
                   later_labels.get(comment.changed_provision_id or 0, "")]
        last_id = ids[-1]
        for comment in batch:  # keep the identity map small
            session.expunge(comment)
