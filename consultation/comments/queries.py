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
from functools import cache
from typing import Any, Literal

from sqlalchemy import ColumnElement, Executable, Integer, and_, bindparam, case, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload
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
    stance_counts: dict[Stance, int] = field(default_factory=lambda: dict.fromkeys(Stance, 0))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


# The thread's statements are built once per kind of viewer (with bound parameters) and reused:
# building them costs several times more Python than running them.
# Which comments a viewer sees (``visible_to``): "all" for the community's staff, "own" for a signed-in
# person (their own held comments too), "shown" for an anonymous visitor (no held comments).
_Visibility = Literal["all", "own", "shown"]
_MINE_BIT = {kind: 1 << i for i, kind in enumerate(ReactionKind)}


def _visibility(actor: Actor, topic: Topic) -> _Visibility:
    if is_staff_of(actor, topic.community):
        return "all"
    return "own" if actor.user_id is not None else "shown"


def _visible(visibility: _Visibility) -> ColumnElement[bool]:
    """``visible_to`` with the topic as ``:topic_id`` and the viewer as ``:user_id``."""
    of_topic = Comment.topic_id == bindparam("topic_id", type_=Integer)
    if visibility == "all":
        return of_topic
    if visibility == "own":
        own = Comment.author_id == bindparam("user_id", type_=Integer)
        return and_(of_topic, or_(Comment.status != CommentStatus.held, own))
    return and_(of_topic, Comment.status != CommentStatus.held)


@cache
def _counts_statement(visibility: _Visibility) -> Executable:
    """Top-level comments the viewer sees, and shown ones, per stance."""
    return (select(Comment.stance, func.count(Comment.id),
                   func.count(Comment.id).filter(Comment.status == CommentStatus.visible))
            .where(_visible(visibility), Comment.depth == 1).group_by(Comment.stance))


@cache
def _page_statement(visibility: _Visibility) -> Executable:
    """One page (``:offset``, ``:limit``) of top-level comments with their replies, authors, reaction
    counts (one correlated subquery per kind, bounded by the page) and, for a signed-in viewer, their own
    reactions as a bit mask. The page's ids come first (its top-level comments through the thread index,
    their replies through root_id), then the rows by primary key: the work grows with the page, not the topic."""
    where = _visible(visibility)
    top_page = (select(Comment.id).where(where, Comment.depth == 1).order_by(Comment.created_at, Comment.id)
                .offset(bindparam("offset", type_=Integer)).limit(bindparam("limit", type_=Integer)).cte("top_page"))
    page_ids = union_all(
        select(top_page.c.id),
        select(Comment.id).where(where, Comment.root_id.in_(select(top_page.c.id))),
    ).cte("page_ids")
    columns: list[ColumnElement[Any]] = [
        select(func.count(CommentReaction.id)).where(CommentReaction.comment_id == Comment.id,
                                                     CommentReaction.kind == kind).correlate(Comment).scalar_subquery()
        for kind in ReactionKind]
    if visibility != "shown":
        mine = case(*[(CommentReaction.kind == kind, bit) for kind, bit in _MINE_BIT.items()], else_=0)
        viewer = bindparam("user_id", type_=Integer)
        columns.append(select(func.coalesce(func.sum(mine), 0))
                       .where(CommentReaction.comment_id == Comment.id, CommentReaction.user_id == viewer)
                       .correlate(Comment).scalar_subquery())
    return (select(Comment, *columns).options(joinedload(Comment.author))
            .where(Comment.id.in_(select(page_ids.c.id))).order_by(Comment.created_at, Comment.id))


async def thread(session: AsyncSession, actor: Actor, topic: Topic, number: int = 1) -> Thread:
    """One page of ``topic``'s top-level comments (oldest first) with their replies, reaction counts,
    the actor's own reactions and the stance counts. ``topic.community`` must be loaded.

    Two statements whatever the page holds: the counts (top-level comments the actor sees, and shown
    ones per stance), then the page's comments and their replies with authors and reactions."""
    visibility = _visibility(actor, topic)
    parameters: dict[str, Any] = {"topic_id": topic.id, "user_id": actor.user_id}
    counts = (await session.execute(_counts_statement(visibility), parameters)).all()
    total = sum(int(n) for _, n, _ in counts)
    stances = dict.fromkeys(Stance, 0)
    stances.update({Stance(stance): int(shown) for stance, _, shown in counts if stance is not None})
    pages = max(1, -(-total // PER_PAGE))
    number = max(1, min(number, pages))
    if total == 0:
        return Thread([], number, pages, total, stances)
    rows = (await session.execute(_page_statement(visibility),
                                  parameters | {"offset": (number - 1) * PER_PAGE, "limit": PER_PAGE})).all()
    kinds = list(ReactionKind)
    nodes: dict[int, Node] = {}
    top: list[Node] = []
    replies: list[Node] = []
    for row in rows:
        c = row[0]
        set_committed_value(c, "area", topic.community)  # every comment of a topic is moderated in its community
        node = Node(c, reactions={kind: int(n) for kind, n in zip(kinds, row[1:1 + len(kinds)], strict=True) if n})
        if visibility != "shown":
            bits = int(row[1 + len(kinds)] or 0)
            node.mine = {kind for kind, bit in _MINE_BIT.items() if bits & bit}
        nodes[c.id] = node
        (top if c.depth == 1 else replies).append(node)
    for reply in replies:
        parent = nodes.get(reply.comment.parent_id) if reply.comment.parent_id else None
        if parent is not None:
            parent.replies.append(reply)
    return Thread(top, number, pages, total, stances)


async def _reactions(session: AsyncSession, actor: Actor, nodes: dict[int, Node]) -> None:
    """Reaction counts and the actor's own reactions of ``nodes`` (the JSON API's single comments;
    a thread page has them as columns of its own statement)."""
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
