"""Moderation by the workers of a comment's community (and admins): hide with a public reason,
restore, approve a held comment, dismiss reports, mark a staff reply as the official answer.

Each action checks ``comments.moderate``, moves the status with a compare-and-set (two workers
acting at once cannot both apply a stale decision: the second gets ``Conflict``), resolves the
comment's open reports where it decides on them, writes an ``AuditEvent`` and queues reindexing.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit, search_index
from consultation.comments import services
from consultation.comments.models import HIDE_REASON_MAX, Comment, CommentReport, CommentStatus
from consultation.db import utcnow
from consultation.errors import InvalidState, ValidationFailed, msg
from consultation.policy import Actor, require
from consultation.validation import check_length

S = CommentStatus


async def hide(session: AsyncSession, actor: Actor, comment: Comment, reason: str) -> Comment:
    """Hide a comment; the reason is shown publicly in its place ("hidden by a community worker: …")."""
    require(actor, "comments.moderate", comment)
    reason = reason.strip()
    if problem := check_length(reason, minimum=1, maximum=HIDE_REASON_MAX):
        raise ValidationFailed({"reason": problem})
    await _move(session, actor, comment, {S.visible, S.held, S.reported}, S.hidden, "comment.hidden",
                hidden_reason=reason, is_official_answer=False, status_before_hidden=comment.status)
    await _resolve_reports(session, comment)
    return comment


async def restore(session: AsyncSession, actor: Actor, comment: Comment) -> Comment:
    """Show a hidden comment again (the worker changed their mind, or the author appealed). A comment
    that was held for review when it was hidden goes back to held: it is published (and announced)
    only by ``approve``."""
    require(actor, "comments.moderate", comment)
    target = S.held if comment.status_before_hidden is S.held else S.visible
    await _move(session, actor, comment, {S.hidden}, target, "comment.restored", hidden_reason=None,
                status_before_hidden=None)
    return comment


async def approve(session: AsyncSession, actor: Actor, comment: Comment) -> Comment:
    """Publish a comment held for a sensitive word; its topic's or parent's author is notified now."""
    require(actor, "comments.moderate", comment)
    await _move(session, actor, comment, {S.held}, S.visible, "comment.approved")
    topic = await services.topic_of(session, comment)
    parent = await session.get(Comment, comment.parent_id) if comment.parent_id else None
    await services.announce(session, comment, topic, replied_to=parent)
    return comment


async def dismiss_reports(session: AsyncSession, actor: Actor, comment: Comment) -> Comment:
    """The reports were unfounded: resolve them and show the comment again if reports had hidden it."""
    require(actor, "comments.moderate", comment)
    if comment.status is S.reported:
        await _move(session, actor, comment, {S.reported}, S.visible, "comment.reports_dismissed")
    elif comment.report_count == 0:
        raise InvalidState(msg("This comment has no open reports."))
    else:
        await audit.record(session, "comment.reports_dismissed", "comment", comment.id, actor_id=actor.user_id,
                           ip=actor.ip, before={"report_count": comment.report_count}, after={"report_count": 0})
    await _resolve_reports(session, comment)
    return comment


async def mark_official(session: AsyncSession, actor: Actor, comment: Comment, official: bool = True) -> Comment:
    """Mark (or unmark) a shown reply written by staff as the official answer (官方答复)."""
    require(actor, "comments.moderate", comment)
    if official and (comment.depth == 1 or not comment.by_staff or comment.status is not S.visible):
        raise InvalidState(msg("Only a shown reply written by a community worker can be the official answer."))
    if comment.is_official_answer == official:
        return comment
    comment.is_official_answer = official
    comment.moderated_at = utcnow()
    await session.flush()
    await audit.record(session, "comment.official_answer", "comment", comment.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"official": not official}, after={"official": official})
    return comment


async def _move(session: AsyncSession, actor: Actor, comment: Comment, sources: Collection[S], target: S,
                action: str, **values: Any) -> None:
    before = await services.move_status(session, comment, sources, target, moderated_at=utcnow(), **values)
    await audit.record(session, action, "comment", comment.id, actor_id=actor.user_id, ip=actor.ip,
                       before={"status": before.value},
                       after={"status": target.value, "reason": values.get("hidden_reason")})
    search_index.search_changed(session, services.SEARCH_TYPE, [comment.id])


async def _resolve_reports(session: AsyncSession, comment: Comment) -> None:
    now = utcnow()
    await session.execute(update(CommentReport).where(CommentReport.comment_id == comment.id,
                                                      CommentReport.resolved_at.is_(None)).values(resolved_at=now))
    await session.execute(update(Comment).where(Comment.id == comment.id).values(report_count=0)
                          .execution_options(synchronize_session=False))
    set_committed_value(comment, "report_count", 0)
