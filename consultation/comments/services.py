"""Write use cases of residents (and staff) on comments: post, reply, edit, delete, react, report.

Every function takes the session, the acting ``Actor``, the object (a ``Topic`` or a ``Comment``
loaded through ``queries``) and plain values, and returns model objects; the HTML routes and the
JSON API call the same functions. They check permissions through ``policy`` (raising ``Forbidden``
or ``InvalidState`` with a message a person can read), validate input (``ValidationFailed`` with
field errors: ``body``, ``stance``, ``reason``), write an ``AuditEvent`` for every change, queue
reindexing of the ``comment`` search document and only ``flush()``.

Threads have three levels. A reply to a third-level comment is attached at the third level, under
the same second-level comment (the thread stays readable on a phone, and nobody's answer is lost);
the author of the comment actually replied to is the one notified.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit, search_index
from consultation.comments import policy, words
from consultation.comments.models import (
    BODY_MAX,
    CLIENT_TOKEN_MAX,
    MAX_DEPTH,
    REPORT_REASON_MAX,
    Comment,
    CommentReaction,
    CommentReport,
    CommentRevision,
    CommentStatus,
    ReactionKind,
    Stance,
)
from consultation.db import insert_ignore, insert_ignore_returning, utcnow
from consultation.deliberation.models import Topic
from consultation.deliberation.policy import is_staff_of
from consultation.errors import N_, Conflict, Forbidden, InvalidState, Message, NotFound, ValidationFailed, msg
from consultation.notifications.services import notify
from consultation.policy import Actor, require
from consultation.validation import check_length

SEARCH_TYPE = "comment"
DUPLICATE_WINDOW = timedelta(seconds=60)  # the same text again this soon is a double submit, not a new comment
NEW_COMMENT_TITLE = N_("New comment on your topic")
NEW_REPLY_TITLE = N_("New reply to your comment")


# --- posting -------------------------------------------------------------------------------------

async def post_comment(session: AsyncSession, actor: Actor, topic: Topic, *, body: str, stance: str,
                       client_token: str | None = None) -> Comment:
    """A top-level comment with a stance ("support", "oppose" or "neutral") on ``topic`` (with
    ``topic.community`` loaded). Returns the comment; a repeat of the same submission (same
    ``client_token``, or without a token the same text and stance within ``DUPLICATE_WINDOW``) returns
    the first one instead; a ``client_token`` already used for another topic or parent is ``Conflict``.
    A text with a listed sensitive word is saved as ``held`` (pending review)."""
    _check_may_comment(actor, topic)
    body = body.strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(body, minimum=1, maximum=BODY_MAX):
        errors["body"] = problem
    if stance not in Stance.__members__:
        errors["stance"] = msg("Choose your stance: support, oppose or neutral.")
    if errors:
        raise ValidationFailed(errors)
    return await _create(session, actor, topic, None, body=body, stance=Stance(stance), client_token=client_token)


async def reply(session: AsyncSession, actor: Actor, parent: Comment, *, body: str,
                client_token: str | None = None) -> Comment:
    """A reply to ``parent`` (which the actor can see); replies carry no stance. See the module
    docstring for replies to third-level comments."""
    topic = await topic_of(session, parent)
    _check_may_comment(actor, topic)
    if parent.status is not CommentStatus.visible:
        raise InvalidState(msg("You can only reply to a comment that is shown."))
    body = body.strip()
    if problem := check_length(body, minimum=1, maximum=BODY_MAX):
        raise ValidationFailed({"body": problem})
    return await _create(session, actor, topic, parent, body=body, stance=None, client_token=client_token)


def _check_may_comment(actor: Actor, topic: Topic) -> None:
    if (problem := policy.comment_problem(actor, topic)) is not None:
        raise InvalidState(problem) if problem.msgid == policy.CLOSED else Forbidden(problem)


async def _create(session: AsyncSession, actor: Actor, topic: Topic, parent: Comment | None, *, body: str,
                  stance: Stance | None, client_token: str | None) -> Comment:
    assert actor.user_id is not None
    token = (client_token or "").strip()[:CLIENT_TOKEN_MAX] or None
    if parent is None:
        depth, parent_id, root_id = 1, None, None
    elif parent.depth >= MAX_DEPTH:
        depth, parent_id, root_id = MAX_DEPTH, parent.parent_id, parent.root_id
    else:
        depth, parent_id, root_id = parent.depth + 1, parent.id, parent.root_id or parent.id
    if (earlier := await _same_submission(session, actor.user_id, topic, parent_id, stance, body, token)) is not None:
        return earlier
    held = await words.matches(session, body)
    new_id = await insert_ignore_returning(session, Comment, {
        "topic_id": topic.id, "area_id": topic.community_id, "parent_id": parent_id, "root_id": root_id,
        "depth": depth, "author_id": actor.user_id, "by_staff": is_staff_of(actor, topic.community),
        "stance": stance, "body": body, "status": CommentStatus.held if held else CommentStatus.visible,
        "report_count": 0, "is_official_answer": False, "client_token": token, "created_at": utcnow(),
    }, ["author_id", "client_token"], Comment.id)
    if new_id is None:  # the same form was submitted twice at once: the other request saved it
        earlier = await _same_submission(session, actor.user_id, topic, parent_id, stance, body, token)
        assert earlier is not None
        return earlier
    comment = await _load(session, new_id)
    await audit.record(session, "comment.posted", "comment", comment.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"topic_id": topic.id, "parent_id": parent_id, "depth": depth,
                              "stance": stance.value if stance else None, "status": comment.status.value,
                              "held_for": held or None})
    if comment.status is CommentStatus.visible:
        await announce(session, comment, topic, replied_to=parent)
        search_index.search_changed(session, SEARCH_TYPE, [comment.id])
    return comment


TOKEN_REUSED = N_("This form was already used for another comment. Reload the page and write your comment again.")


async def _same_submission(session: AsyncSession, user_id: int, topic: Topic, parent_id: int | None,
                           stance: Stance | None, body: str, token: str | None) -> Comment | None:
    """The earlier comment this submission repeats, if any. With a ``token`` only the token decides
    (the same token for another topic or parent is a client error: ``Conflict``); without one, the
    same text with the same stance under the same parent (or top-level on the same topic) within
    ``DUPLICATE_WINDOW`` is a double submit. ``parent_id`` is where the reply is stored."""
    if token is not None:
        found = await session.execute(select(Comment.id, Comment.topic_id, Comment.parent_id).where(
            Comment.author_id == user_id, Comment.client_token == token))
        row = found.one_or_none()
        if row is None:
            return None
        if (row.topic_id, row.parent_id) != (topic.id, parent_id):
            raise Conflict(msg(TOKEN_REUSED))
        return await _load(session, row.id)
    found_id = await session.scalar(
        select(Comment.id).where(
            Comment.author_id == user_id, Comment.topic_id == topic.id, Comment.body == body,
            Comment.created_at >= utcnow() - DUPLICATE_WINDOW, Comment.status != CommentStatus.deleted,
            Comment.parent_id.is_(None) if parent_id is None else Comment.parent_id == parent_id,
            Comment.stance.is_(None) if stance is None else Comment.stance == stance)
        .order_by(Comment.id).limit(1))
    return None if found_id is None else await _load(session, found_id)


async def announce(session: AsyncSession, comment: Comment, topic: Topic, replied_to: Comment | None) -> None:
    """Tell the topic's author about a new top-level comment, or the replied-to author about a reply
    (never the writer themself). Called when the comment becomes visible to others."""
    recipient = topic.author_id if replied_to is None else replied_to.author_id
    if recipient is None or recipient == comment.author_id:
        return
    title = NEW_COMMENT_TITLE if replied_to is None else NEW_REPLY_TITLE
    await notify(session, recipient, "comment.new" if replied_to is None else "comment.reply", title,
                 body=topic.title, url=f"/comments/{comment.id}")


# --- the author's own changes --------------------------------------------------------------------

async def edit_comment(session: AsyncSession, actor: Actor, comment: Comment, *, body: str,
                       now: datetime | None = None) -> Comment:
    """The author changes the text within ``policy.EDIT_WINDOW`` of posting (``now`` is for tests).
    The old text is kept as a ``CommentRevision`` for moderators; the comment shows "edited"."""
    now = now or utcnow()
    if (problem := policy.edit_problem(actor, comment, now)) is not None:
        raise Forbidden(problem) if actor.user_id != comment.author_id else InvalidState(problem)
    topic = await topic_of(session, comment)
    if topic.state not in policy.OPEN_FOR_COMMENTS:
        raise InvalidState(msg(policy.CLOSED))
    body = body.strip()
    if problem := check_length(body, minimum=1, maximum=BODY_MAX):
        raise ValidationFailed({"body": problem})
    if body == comment.body:
        return comment
    before = comment.body
    session.add(CommentRevision(comment_id=comment.id, body=before, written_at=comment.edited_at or comment.created_at,
                                replaced_at=now))
    comment.body = body
    comment.edited_at = now
    newly_held = await words.matches(session, body)
    if newly_held and comment.status is CommentStatus.visible:
        comment.status = CommentStatus.held
    await session.flush()
    await audit.record(session, "comment.edited", "comment", comment.id, actor_id=actor.user_id, ip=actor.ip,
                       before={"body": before}, after={"body": body, "status": comment.status.value,
                                                       "held_for": newly_held or None})
    search_index.search_changed(session, SEARCH_TYPE, [comment.id])
    return comment


async def delete_comment(session: AsyncSession, actor: Actor, comment: Comment) -> Comment:
    """Soft delete by the author: a tombstone stays in the thread (replies too); the stance no longer counts.
    Refused while the comment waits for review (held, or hidden by reports: ``policy.delete_problem``).
    A compare-and-set on the status: a worker's decision made meanwhile wins (``Conflict``)."""
    if (problem := policy.delete_problem(actor, comment)) is not None:
        raise Forbidden(problem) if actor.user_id != comment.author_id else InvalidState(problem)
    before = comment.status
    await move_status(session, comment, {before}, CommentStatus.deleted, deleted_at=utcnow())
    await audit.record(session, "comment.deleted", "comment", comment.id, actor_id=actor.user_id, ip=actor.ip,
                       before={"status": before.value}, after={"status": comment.status.value})
    search_index.search_changed(session, SEARCH_TYPE, [comment.id])
    return comment


CHANGED_MEANWHILE = N_("This comment has changed meanwhile. Reload the page and try again.")


async def move_status(session: AsyncSession, comment: Comment, sources: Collection[CommentStatus],
                      target: CommentStatus, **values: Any) -> CommentStatus:
    """Compare-and-set: move ``comment`` from its loaded status (one of ``sources``) to ``target``
    with ``values``, only if nobody changed the status since it was loaded (else ``Conflict``; a
    status outside ``sources`` is ``InvalidState``). Returns the status it had."""
    if comment.status not in sources:
        raise InvalidState(msg(CHANGED_MEANWHILE))
    before = comment.status
    values = {"status": target, **values}
    result = await session.execute(
        update(Comment).where(Comment.id == comment.id, Comment.status == before).values(**values)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(msg(CHANGED_MEANWHILE))
    for key, value in values.items():
        set_committed_value(comment, key, value)
    return before


# --- reactions and reports -----------------------------------------------------------------------

async def set_reaction(session: AsyncSession, actor: Actor, comment: Comment, kind: str, on: bool) -> bool:
    """Turn the actor's reaction ``kind`` ("agree", "thanks", "question") on or off; idempotent, so a
    double click or two requests at once leave one row. Returns True if anything changed."""
    if kind not in ReactionKind.__members__:
        raise ValidationFailed({"kind": msg("Choose a reaction.")})
    require(actor, "comments.react", comment)
    topic = await topic_of(session, comment)
    if topic.state not in policy.OPEN_FOR_COMMENTS:
        raise InvalidState(msg(policy.CLOSED))
    assert actor.user_id is not None
    if on:
        return await insert_ignore(session, CommentReaction, {
            "comment_id": comment.id, "user_id": actor.user_id, "kind": ReactionKind(kind), "created_at": utcnow(),
        }, ["comment_id", "user_id", "kind"])
    result = await session.execute(delete(CommentReaction).where(
        CommentReaction.comment_id == comment.id, CommentReaction.user_id == actor.user_id,
        CommentReaction.kind == ReactionKind(kind)))
    return getattr(result, "rowcount", 0) == 1


async def report_comment(session: AsyncSession, actor: Actor, comment: Comment, reason: str) -> bool:
    """Report ``comment`` (with ``comment.area`` loaded) with a reason; True if this added a report
    (one per person and comment). Only people who may speak in the comment's community report
    (``policy.report_problem``). Every report puts the comment in the workers' queue; the
    ``policy.REPORT_THRESHOLD``-th open report that ``policy.counts_toward_hiding`` (verified residents
    of the community, its staff) hides the comment until a worker reviews it."""
    if actor.user_id is not None and await session.scalar(select(CommentReport.id).where(
            CommentReport.comment_id == comment.id, CommentReport.user_id == actor.user_id)) is not None:
        return False
    if (problem := policy.report_problem(actor, comment)) is not None:
        raise Forbidden(problem)
    reason = reason.strip()
    if problem := check_length(reason, minimum=1, maximum=REPORT_REASON_MAX):
        raise ValidationFailed({"reason": problem})
    assert actor.user_id is not None
    counted = policy.counts_toward_hiding(actor, comment.area)
    if not await insert_ignore(session, CommentReport, {
            "comment_id": comment.id, "user_id": actor.user_id, "reason": reason, "counts_toward_hiding": counted,
            "created_at": utcnow()}, ["comment_id", "user_id"]):
        return False  # the same person's other request got there first
    # Incremented under the comment's row lock: concurrent reports of different people all count, and the
    # weighty reports counted after it include those of every request that took the lock before.
    count = int((await session.execute(
        update(Comment).where(Comment.id == comment.id).values(report_count=Comment.report_count + 1)
        .returning(Comment.report_count).execution_options(synchronize_session=False))).scalar_one())
    set_committed_value(comment, "report_count", count)
    weighty = int(await session.scalar(select(func.count(CommentReport.id)).where(
        CommentReport.comment_id == comment.id, CommentReport.resolved_at.is_(None),
        CommentReport.counts_toward_hiding.is_(True))) or 0) if counted else 0
    await audit.record(session, "comment.reported", "comment", comment.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"report_count": count, "counts_toward_hiding": counted})
    if weighty >= policy.REPORT_THRESHOLD:
        hidden = await session.execute(
            update(Comment).where(Comment.id == comment.id, Comment.status == CommentStatus.visible)
            .values(status=CommentStatus.reported).execution_options(synchronize_session=False))
        if getattr(hidden, "rowcount", 0) == 1:
            set_committed_value(comment, "status", CommentStatus.reported)
            await audit.record(session, "comment.auto_hidden", "comment", comment.id,
                               before={"status": CommentStatus.visible.value},
                               after={"status": CommentStatus.reported.value, "report_count": count,
                                      "weighty_reports": weighty})
            search_index.search_changed(session, SEARCH_TYPE, [comment.id])
    return True


# --- shared --------------------------------------------------------------------------------------

async def _load(session: AsyncSession, comment_id: int) -> Comment:
    comment = await session.scalar(
        select(Comment).options(selectinload(Comment.area), selectinload(Comment.author))
        .where(Comment.id == comment_id).execution_options(populate_existing=True))
    if comment is None:
        raise NotFound()
    return comment


async def topic_of(session: AsyncSession, comment: Comment) -> Topic:
    """The topic a comment is on, with its community loaded."""
    topic = await session.scalar(select(Topic).options(selectinload(Topic.community))
                                 .where(Topic.id == comment.topic_id))
    if topic is None:
        raise NotFound()
    return topic


async def topic_changed(session: AsyncSession, topic_id: int) -> None:
    """Call when a topic's state, category or area changes: its shown comments carry those as search
    facets, so their documents are rebuilt."""
    ids = (await session.scalars(select(Comment.id).where(Comment.topic_id == topic_id,
                                                          Comment.status == CommentStatus.visible))).all()
    search_index.search_changed(session, SEARCH_TYPE, ids)
