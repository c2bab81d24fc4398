"""Who may do what with comments, as named predicates (plus ``*_problem`` twins whose message a
person reads when refused).

Decisions:
- Commenting is open to signed-in residents whose home community is the topic's, verified or not
  (like proposing a topic): speech is moderated after the fact, while acts that are counted as
  support (co-signs, ballots) need verification. Workers of the community and admins may comment
  too; their comments carry a staff badge and may be marked as the official answer.
- Comments are written, edited and reacted to only while the topic is open for deliberation
  (``OPEN_FOR_COMMENTS``). Reports, deletions by the author and moderation stay possible on a
  closed topic, so abuse can always be dealt with.
- Moderation is for workers of the comment's community (a grant above it covers it) and admins:
  a worker of community B can do nothing to community A's comments.
- Reporting is for the people who may speak in the comment's community (``may_speak_in``), like
  commenting: people of another community cannot hide a discussion that is not theirs. Every report
  goes to the workers' queue, but only reports of *verified* residents of the community and of its
  staff (``counts_toward_hiding``) count toward ``REPORT_THRESHOLD``: unverified accounts are cheap
  to make, so they alone never hide a comment.
- A comment waiting for a worker's review (``held`` for a sensitive word, or hidden by reports) cannot
  be deleted by its author until the worker has decided: deleting would take it out of the queue and
  replace the public "hidden after reports" record by "deleted by its author".
- Posting, editing and reporting are rate-limited per person (``POSTING``, ``EDITING``, ``REPORTING``;
  the pages and the JSON API count in the same buckets).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from consultation.accounts.models import Role
from consultation.areas.models import Area
from consultation.comments.models import Comment, CommentStatus
from consultation.db import utcnow
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.policy import is_staff_of
from consultation.errors import N_, Message, msg
from consultation.policy import Actor, permission

EDIT_WINDOW = timedelta(minutes=15)
REPORT_THRESHOLD = 3  # reports (of different people) that hide a comment until a worker reviews it
OPEN_FOR_COMMENTS = frozenset({TopicState.collecting, TopicState.triage, TopicState.deliberating,
                               TopicState.deciding})
CLOSED = N_("This topic is closed for comments.")
GONE = frozenset({CommentStatus.hidden, CommentStatus.deleted})
UNDER_REVIEW = frozenset({CommentStatus.held, CommentStatus.reported})


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_hits`` actions of one person in ``per_seconds`` (HTTP 429 after that)."""

    name: str
    max_hits: int
    per_seconds: int

    def key(self, user_id: int | None) -> str:
        return f"{self.name}:user:{user_id}"

    def of(self, user_id: int | None) -> dict[str, Any]:
        """Keyword arguments for ``web.ratelimit.limit``: ``await limit(ctx, **POSTING.of(user_id))``."""
        return {"key": self.key(user_id), "max_hits": self.max_hits, "per_seconds": self.per_seconds}


# Comments and replies: enough for a lively discussion, too few for a flood.
POSTING = RateLimit("comment", max_hits=10, per_seconds=300)
# Edits (each keeps a revision and an audit row): plenty for fixing typos, not for churning.
EDITING = RateLimit("comment-edit", max_hits=10, per_seconds=300)
# Reports: someone cleaning up a spam wave can report many comments, nobody can report a whole board.
REPORTING = RateLimit("comment-report", max_hits=20, per_seconds=3600)
POST_LIMIT = POSTING.max_hits
POST_WINDOW_SECONDS = POSTING.per_seconds


def may_speak_in(actor: Actor, community: Area) -> bool:
    """Residents of the community, its workers and admins."""
    return actor.home_area_path == community.path or is_staff_of(actor, community)


def comment_problem(actor: Actor, topic: Topic) -> Message | None:
    """Why ``actor`` may not comment on ``topic`` now (``None``: they may). Needs ``topic.community``."""
    if not actor.authenticated:
        return msg("Please log in first.")
    if not may_speak_in(actor, topic.community):
        return msg("Only residents of {community} can comment on this topic.", community=topic.community.name)
    if topic.state not in OPEN_FOR_COMMENTS:
        return msg(CLOSED)
    return None


@permission("comments.post")
def can_comment(actor: Actor, topic: Topic) -> bool:
    return comment_problem(actor, topic) is None


def edit_problem(actor: Actor, comment: Comment, now: datetime | None = None) -> Message | None:
    if actor.user_id is None or actor.user_id != comment.author_id:
        return msg("Only the author can edit a comment.")
    if comment.status in GONE or comment.status is CommentStatus.reported:
        return msg("This comment can no longer be edited.")
    if (now or utcnow()) > comment.created_at + EDIT_WINDOW:
        return msg("Comments can be edited for {minutes} minutes after posting.",
                   minutes=int(EDIT_WINDOW.total_seconds() // 60))
    return None


@permission("comments.edit")
def can_edit(actor: Actor, comment: Comment) -> bool:
    """The author, within ``EDIT_WINDOW`` of posting, while the comment is not hidden or deleted."""
    return edit_problem(actor, comment) is None


def delete_problem(actor: Actor, comment: Comment) -> Message | None:
    if actor.user_id is None or actor.user_id != comment.author_id:
        return msg("Only the author can delete a comment.")
    if comment.status in UNDER_REVIEW:
        return msg("This comment is waiting for a community worker's review and cannot be deleted until then.")
    if comment.status in GONE:
        return msg("This comment can no longer be deleted.")
    return None


@permission("comments.delete")
def can_delete(actor: Actor, comment: Comment) -> bool:
    """The author, any time, unless it is already deleted (a hidden comment stays hidden: the tombstone
    with the worker's reason is the public record) or waiting for review (held or hidden by reports:
    the worker decides first)."""
    return delete_problem(actor, comment) is None


@permission("comments.react")
def can_react(actor: Actor, comment: Comment) -> bool:
    """People who may comment in the community, on a visible comment. The open state is the service's check."""
    return (actor.authenticated and comment.status is CommentStatus.visible
            and may_speak_in(actor, comment.area))


def report_problem(actor: Actor, comment: Comment) -> Message | None:
    """Why ``actor`` may not report ``comment`` (``None``: they may). Needs ``comment.area``."""
    if not actor.authenticated:
        return msg("Please log in first.")
    if actor.user_id == comment.author_id:
        return msg("You cannot report your own comment.")
    if not may_speak_in(actor, comment.area):
        return msg("Only residents of {community} can report comments here.", community=comment.area.name)
    if comment.status is not CommentStatus.visible:
        return msg("This comment cannot be reported.")
    return None


@permission("comments.report")
def can_report(actor: Actor, comment: Comment) -> bool:
    """People who may speak in the comment's community (``may_speak_in``) except the author, on a
    comment that is still shown."""
    return report_problem(actor, comment) is None


def counts_toward_hiding(actor: Actor, community: Area) -> bool:
    """Whether a report of ``actor`` counts toward ``REPORT_THRESHOLD``: verified residents of the
    community and its staff. Other reports (unverified residents) only put the comment in the queue."""
    return (actor.verified and actor.home_area_path == community.path) or is_staff_of(actor, community)


@permission("comments.moderate")
def can_moderate(actor: Actor, comment: Comment) -> bool:
    """Hide, restore, approve, dismiss reports, mark the official answer: staff of the comment's area."""
    return is_staff_of(actor, comment.area)


@permission("comments.moderation_queue")
def can_open_queue(actor: Actor, _: object = None) -> bool:
    return actor.is_admin or Role.worker in actor.roles()


@permission("comments.manage_words")
def can_manage_words(actor: Actor, _: object = None) -> bool:
    """The sensitive-word list is one list for the whole platform, kept by administrators."""
    return actor.is_admin
