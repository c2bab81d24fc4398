"""Reads for comments: the access function, a topic's thread page, stance counts, and the workers'
moderation queue.

Who sees what: a shown comment, everyone; a hidden, reported or deleted one, everyone as a
tombstone in its place; a held one (sensitive word), only its author (marked pending) and the
moderators of its community — for everybody else it does not exist, so ``get_comment`` answers
404 just as for a missing id. Top-level comments are paginated oldest first, ``PER_PAGE`` a page,
with all their replies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from consultation.accounts.models import Role
from consultation.areas.models import Area
from consultation.comments import policy
from consultation.comments.models import (
    Comment,
    CommentReaction,
    CommentReport,
    CommentRevision,
    CommentStatus,
    ReactionKind,
    Stance,
)
from consultation.deliberation.models import Topic
from consultation.deliberation.policy import is_staff_of
from consultation.errors import NotFound
from consultation.policy import Actor

PER_PAGE = 50
QUEUE_LIMIT = 200


def visible_to(actor: Actor, topic: Topic) -> ColumnElement[bool]:
    """Comments of ``topic`` the actor may see (shown, tombstones, and their own or moderated held ones)."""
    if is_staff_of(actor, topic.community):
        return Comment.topic_id == topic.id
    own_held = Comment.author_id == actor.user_id if actor.user_id is not None else Comment.id.is_(None)
    return and_(Comment.topic_id == topic.id, or_(Comment.status != CommentStatus.held, own_held))


async def get_comment(session: AsyncSession, actor: Actor, comment_id: int) -> Comment:
    """A comment the actor may see, with its area and author; otherwise NotFound."""
    comment = await session.scalar(select(Comment).options(selectinload(Comment.area), selectinload(Comment.author))
                                   .where(Comment.id == comment_id))
    if comment is None:
        raise NotFound()
    if (comment.status is CommentStatus.held and actor.user_id != comment.author_id
            and not is_staff_of(actor, comment.area)):
        raise NotFound()
    return comment


async def stance_counts(session: AsyncSession, topic_id: int) -> dict[Stance, int]:
    """Shown top-level comments per stance: derived by a query, so always right under concurrency."""
    rows = await session.execute(
        select(Comment.stance, func.count(Comment.id))
        .where(Comment.topic_id == topic_id, Comment.depth == 1, Comment.status == CommentStatus.visible)
        .group_by(Comment.stance))
    counts = dict.fromkeys(Stance, 0)
    counts.update({Stance(stance): int(n) for stance, n in rows if stance is not None})
    return counts


@dataclass
class Node:
    comment: Comment
    replies: list[Node] = field(default_factory=list)
    reactions: dict[ReactionKind, int] = field(default_factory=dict)
    mine: set[ReactionKind] = field(default_factory=set)


@dataclass
class Thread:
    nodes: list[Node]
    number: int
    pages: int
    total: int  # top-level comments the viewer sees

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


async def thread(session: AsyncSession, actor: Actor, topic: Topic, number: int = 1) -> Thread:
    """One page of ``topic``'s top-level comments (oldest first) with their replies, reaction counts
    and the actor's own reactions. ``topic.community`` must be loaded."""
    where = visible_to(actor, topic)
    total = int(await session.scalar(select(func.count(Comment.id)).where(where, Comment.depth == 1)) or 0)
    pages = max(1, -(-total // PER_PAGE))
    number = max(1, min(number, pages))
    top = list((await session.scalars(
        select(Comment).options(selectinload(Comment.author)).where(where, Comment.depth == 1)
        .order_by(Comment.created_at, Comment.id).offset((number - 1) * PER_PAGE).limit(PER_PAGE))).all())
    replies = list((await session.scalars(
        select(Comment).options(selectinload(Comment.author))
        .where(where, Comment.root_id.in_([c.id for c in top])).order_by(Comment.created_at, Comment.id)
    )).all()) if top else []
    for c in [*top, *replies]:
        set_committed_value(c, "area", topic.community)  # every comment of a topic is moderated in its community
    nodes = {c.id: Node(c) for c in [*top, *replies]}
    await _reactions(session, actor, nodes)
    for reply in replies:
        parent = nodes.get(reply.parent_id) if reply.parent_id else None
        if parent is not None:
            parent.replies.append(nodes[reply.id])
    return Thread([nodes[c.id] for c in top], number, pages, total)


async def _reactions(session: AsyncSession, actor: Actor, nodes: dict[int, Node]) -> None:
    if not nodes:
        return
    rows = await session.execute(
        select(CommentReaction.comment_id, CommentReaction.kind, func.count(CommentReaction.id))
        .where(CommentReaction.comment_id.in_(nodes)).group_by(CommentReaction.comment_id, CommentReaction.kind))
    for comment_id, kind, n in rows:
        nodes[comment_id].reactions[ReactionKind(kind)] = int(n)
    if actor.user_id is not None:
        mine = await session.execute(select(CommentReaction.comment_id, CommentReaction.kind).where(
            CommentReaction.comment_id.in_(nodes), CommentReaction.user_id == actor.user_id))
        for comment_id, kind in mine:
            nodes[comment_id].mine.add(ReactionKind(kind))


async def page_of(session: AsyncSession, actor: Actor, comment: Comment, topic: Topic) -> int:
    """The thread page that shows ``comment`` (its top-level comment's page)."""
    root_id = comment.root_id or comment.id
    root = await session.get(Comment, root_id)
    if root is None:
        return 1
    before = await session.scalar(select(func.count(Comment.id)).where(
        visible_to(actor, topic), Comment.depth == 1,
        or_(Comment.created_at < root.created_at, and_(Comment.created_at == root.created_at, Comment.id < root.id))))
    return int(before or 0) // PER_PAGE + 1


async def revisions(session: AsyncSession, comment_ids: list[int]) -> dict[int, list[CommentRevision]]:
    """Earlier texts of edited comments, oldest first (for moderators)."""
    found: dict[int, list[CommentRevision]] = defaultdict(list)
    if comment_ids:
        for revision in (await session.scalars(select(CommentRevision).where(
                CommentRevision.comment_id.in_(comment_ids)).order_by(CommentRevision.id))).all():
            found[revision.comment_id].append(revision)
    return found


@dataclass
class QueueItem:
    comment: Comment
    topic: Topic
    reports: list[CommentReport]
    revisions: list[CommentRevision]


async def moderation_queue(session: AsyncSession, actor: Actor) -> list[QueueItem]:
    """Comments waiting for a worker in the communities the actor serves (all for admins): held for a
    sensitive word, hidden by reports, or shown but reported. Oldest first."""
    waiting = or_(Comment.status.in_([CommentStatus.held, CommentStatus.reported]),
                  and_(Comment.status == CommentStatus.visible, Comment.report_count > 0))
    query = select(Comment).options(selectinload(Comment.area), selectinload(Comment.author)).where(waiting)
    if not actor.is_admin:
        paths = [g.area_path for g in actor.grants if g.role is Role.worker and g.area_path]
        if not paths:
            return []
        query = query.join(Area, Area.id == Comment.area_id).where(or_(*(Area.path.startswith(p) for p in paths)))
    comments = list((await session.scalars(query.order_by(Comment.created_at, Comment.id).limit(QUEUE_LIMIT))).all())
    comments = [c for c in comments if policy.can_moderate(actor, c)]
    ids = [c.id for c in comments]
    topics = {t.id: t for t in (await session.scalars(
        select(Topic).where(Topic.id.in_({c.topic_id for c in comments})))).all()} if comments else {}
    reports: dict[int, list[CommentReport]] = defaultdict(list)
    if ids:
        for report in (await session.scalars(select(CommentReport).where(
                CommentReport.comment_id.in_(ids), CommentReport.resolved_at.is_(None))
                .order_by(CommentReport.id))).all():
            reports[report.comment_id].append(report)
    edits = await revisions(session, ids)
    return [QueueItem(c, topics[c.topic_id], reports[c.id], edits[c.id]) for c in comments
            if c.topic_id in topics]
