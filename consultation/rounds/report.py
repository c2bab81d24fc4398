"""The feedback report of a round (征求意见情况说明) and the export of all its comments with answers.

Every figure is an SQL aggregate and the export streams in batches, so a round of 100,000 comments is
reported without holding its comments in memory. Public figures leave out held comments; the export
(for staff) has them all, with commenters replaced by a number.

``build`` reads the comments three times whatever the round's size: one GROUP BY (article, outcome) gives
the heat map, the outcomes and every total but the distinct commenters, which a second pass counts, and
the themes a third; the changed articles' counts are one more grouped query. The pages keep a built
report for a few seconds (``web.page_cache``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, case, func, inspect, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.drafts import compare as comparing
from consultation.drafts.model import Kind, cite
from consultation.drafts.models import DraftVersion, Provision
from consultation.drafts.parser import parse
from consultation.rounds import queries
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


_Count = tuple[int | None, Outcome | None, int, int, int, int]


async def _counts(session: AsyncSession, round_id: int) -> list[_Count]:
    """Shown comments per (article, outcome): how many, by representatives, leading a group, supports."""
    rows = ((await session.execute(
        select(DraftComment.article_id, DraftComment.outcome, func.count(),
               func.count().filter(DraftComment.by_representative.is_(True)),
               func.count().filter(DraftComment.lead_id.is_(None)),
               func.coalesce(func.sum(DraftComment.support_count), 0))
        .where(DraftComment.round_id == round_id, DraftComment.held.is_(False))
        .group_by(DraftComment.article_id, DraftComment.outcome))).all())
    return [(article_id, outcome, int(n), int(reps), int(leads), int(supports or 0))
            for article_id, outcome, n, reps, leads, supports in rows]


async def _commenters(session: AsyncSession, round_id: int) -> tuple[int, int]:
    """Distinct people who commented, and distinct representatives among them (shown comments)."""
    row = (await session.execute(select(
        func.count(DraftComment.author_id.distinct()),
        func.count(DraftComment.author_id.distinct()).filter(DraftComment.by_representative.is_(True)))
        .where(DraftComment.round_id == round_id, DraftComment.held.is_(False)))).one()
    return int(row[0] or 0), int(row[1] or 0)


def _totals(counts: list[_Count], commenters: tuple[int, int]) -> Totals:
    return Totals(comments=sum(int(r[2]) for r in counts), commenters=commenters[0],
                  representative_comments=sum(int(r[3]) for r in counts), representatives=commenters[1],
                  groups=sum(int(r[4]) for r in counts), supports=sum(r[5] for r in counts),
                  answered=sum(int(r[2]) for r in counts if r[1] is not None))


def _outcomes(counts: list[_Count]) -> dict[Outcome | None, int]:
    found: dict[Outcome | None, int] = {o: 0 for o in Outcome}
    found[None] = 0
    for row in counts:
        found[row[1]] = found.get(row[1], 0) + int(row[2])
    return found


async def _structure(session: AsyncSession, round_: CommentRound) -> list[Provision]:
    return list(await session.scalars(
        select(Provision).where(Provision.version_id == round_.version_id,
                                Provision.kind.in_([Kind.CHAPTER, Kind.ARTICLE]))
        .order_by(Provision.position)))


def _heat(structure: list[Provision], counts: list[_Count]) -> tuple[list[ChapterHeat], int]:
    per_article: dict[int | None, int] = {}
    for row in counts:
        per_article[row[0]] = per_article.get(row[0], 0) + int(row[2])
    top = max([n for key, n in per_article.items() if key is not None], default=0)
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
        n = per_article.get(provision.id, 0)
        level = 0 if n == 0 or top == 0 else max(1, round(5 * n / top))
        current.articles.append(ArticleHeat(provision, n, level))
        current.count += n
    return chapters, per_article.get(None, 0)


async def totals(session: AsyncSession, round_id: int) -> Totals:
    return _totals(await _counts(session, round_id), await _commenters(session, round_id))


async def heat(session: AsyncSession, round_: CommentRound) -> tuple[list[ChapterHeat], int]:
    """Comments per chapter and article of the round's version, in document order; and on the whole draft."""
    return _heat(await _structure(session, round_), await _counts(session, round_.id))


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
    return _outcomes(await _counts(session, round_id))


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
        version = round_.version
        old_text = (await queries.version_text(session, version) if "text" in inspect(version).unloaded
                    else version.text)
        comparison = comparing.compare(parse(old_text), parse(later.text))
    old_keys = {c.old.key for c in comparison.changes if c.old is not None}
    new_keys = {c.new.key for c in comparison.changes if c.new is not None}
    old_ids = await _ids_by_key(session, round_.version_id, old_keys)
    new_ids = await _ids_by_key(session, later.id, new_keys)
    adopted = DraftComment.outcome.in_([Outcome.adopted, Outcome.partly])
    shown = [c for c in comparison.changes if c.change not in (comparing.Change.UNCHANGED, comparing.Change.RENUMBERED)]
    keys = [(old_ids.get(c.old.key) if c.old is not None else None,
             new_ids.get(c.new.key) if c.new is not None else None) for c in shown]
    # One grouped count for every change: a comment counts for a change through its old article (adopted)
    # or the new provision its answer links.
    groups: list[tuple[int | None, int | None, bool, int]] = []
    wanted_old = {old for old, _new in keys if old is not None}
    wanted_new = {new for _old, new in keys if new is not None}
    if wanted_old or wanted_new:
        is_adopted = case((adopted, True), else_=False)
        rows = await session.execute(
            select(DraftComment.article_id, DraftComment.changed_provision_id, is_adopted, func.count())
            .where(DraftComment.round_id == round_.id, DraftComment.held.is_(False),
                   or_(DraftComment.article_id.in_(wanted_old) & adopted,
                       DraftComment.changed_provision_id.in_(wanted_new)))
            .group_by(DraftComment.article_id, DraftComment.changed_provision_id, is_adopted))
        groups = [(article_id, changed_id, bool(flag), int(n)) for article_id, changed_id, flag, n in rows.all()]
    found: list[ChangedArticle] = []
    for change, (old_id, new_id) in zip(shown, keys, strict=True):
        count = sum(n for article_id, changed_id, flag, n in groups
                    if (old_id is not None and article_id == old_id and flag)
                    or (new_id is not None and changed_id == new_id))
        comments: list[DraftComment] = []
        if count:
            reasons: list[ColumnElement[bool]] = []
            if old_id is not None:
                reasons.append((DraftComment.article_id == old_id) & adopted)
            if new_id is not None:
                reasons.append(DraftComment.changed_provision_id == new_id)
            comments = list(await session.scalars(
                select(DraftComment).where(DraftComment.round_id == round_.id, or_(*reasons),
                                           DraftComment.lead_id.is_(None), DraftComment.held.is_(False))
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
    counts = await _counts(session, round_.id)
    chapters, whole = _heat(await _structure(session, round_), counts)
    later = await next_version(session, round_)
    return Report(round_, _totals(counts, await _commenters(session, round_.id)), chapters, whole,
                  await top_themes(session, round_.id), _outcomes(counts), later,
                  await changed_articles(session, round_, later) if later is not None else [])


# --- export --------------------------------------------------------------------------------------

EXPORT_COLUMNS = ("comment", "submitted_at", "provision", "chapter", "commenter", "representative", "held",
                  "comment_text", "proposed_wording", "group_of", "group_size", "supports", "themes", "outcome",
                  "reason", "new_provision")


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
                   comment.by_representative, comment.held, comment.body, comment.proposed_wording,
                   comment.lead_id or "",
                   comment.group_size if comment.lead_id is None else "", comment.support_count,
                   "、".join(themes.get(comment.lead_id or comment.id, [])),
                   comment.outcome.value if comment.outcome else "", comment.reason,
                   later_labels.get(comment.changed_provision_id or 0, "")]
        last_id = ids[-1]
        for comment in batch:  # keep the identity map small
            session.expunge(comment)
