"""Comments (评论): threads of up to three levels on a subject, with a stance on top-level comments,
reactions, reports, the author's edit history and the sensitive-word list.

A comment hangs off exactly one subject. Today that is a ``Topic``; a later issue adds a nullable
foreign key per new subject (e.g. ``provision_id`` for a draft-regulation article) and widens
the ``has_subject`` check to "exactly one subject is set". ``area_id`` is the area whose
workers moderate the comment (the topic's community), so moderation and its queue never need to
know what kind of subject a comment is on.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.accounts.models import User
from consultation.areas.models import Area
from consultation.db import Base, utcnow
from consultation.errors import N_

BODY_MAX = 2000
REPORT_REASON_MAX = 500
HIDE_REASON_MAX = 300
WORD_MAX = 40
CLIENT_TOKEN_MAX = 64
MAX_DEPTH = 3


class Stance(enum.StrEnum):
    """立场 of a top-level comment."""

    support = "support"
    oppose = "oppose"
    neutral = "neutral"

    @property
    def label(self) -> str:
        return STANCE_LABELS[self]


STANCE_LABELS = {
    Stance.support: N_("In favour"),
    Stance.oppose: N_("Against"),
    Stance.neutral: N_("Neutral"),
}


class CommentStatus(enum.StrEnum):
    visible = "visible"
    held = "held"  # contains a listed sensitive word: only its author and moderators see it
    reported = "reported"  # hidden automatically after enough reports, until a worker reviews it
    hidden = "hidden"  # hidden by a worker with a public reason (a tombstone stays)
    deleted = "deleted"  # deleted by its author (a tombstone stays, replies too)


class ReactionKind(enum.StrEnum):
    agree = "agree"
    thanks = "thanks"
    question = "question"

    @property
    def label(self) -> str:
        return REACTION_LABELS[self]


REACTION_LABELS = {
    ReactionKind.agree: N_("Agree"),
    ReactionKind.thanks: N_("Thanks"),
    ReactionKind.question: N_("I have a question"),
}


class Comment(Base):
    __tablename__ = "comment"
    __table_args__ = (
        CheckConstraint("topic_id IS NOT NULL", name="has_subject"),
        CheckConstraint(f"depth >= 1 AND depth <= {MAX_DEPTH}", name="depth_range"),
        CheckConstraint("(depth = 1 AND stance IS NOT NULL) OR (depth > 1 AND stance IS NULL)",
                        name="stance_on_top_level_only"),
        CheckConstraint("report_count >= 0", name="report_count_positive"),
        UniqueConstraint("author_id", "client_token"),
        Index("ix_comment_topic_thread", "topic_id", "depth", "created_at"),
        Index("ix_comment_area_status", "area_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"), index=True)
    # The top-level comment of the thread (None for a top-level comment): one query loads a page's replies.
    root_id: Mapped[int | None] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"), index=True)
    depth: Mapped[int] = mapped_column(default=1)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    by_staff: Mapped[bool] = mapped_column(default=False)  # written by a worker of the community or an admin
    stance: Mapped[Stance | None] = mapped_column(Enum(Stance, native_enum=False, length=16))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[CommentStatus] = mapped_column(Enum(CommentStatus, native_enum=False, length=16),
                                                  default=CommentStatus.visible)
    hidden_reason: Mapped[str | None] = mapped_column(String(HIDE_REASON_MAX))
    # The status a worker's hide replaced ("visible", "held" or "reported"): restoring a comment that was
    # held for review sends it back to held, so hiding and restoring never skips the approval.
    status_before_hidden: Mapped[CommentStatus | None] = mapped_column(
        Enum(CommentStatus, native_enum=False, length=16))
    report_count: Mapped[int] = mapped_column(default=0)
    is_official_answer: Mapped[bool] = mapped_column(default=False)
    client_token: Mapped[str | None] = mapped_column(String(CLIENT_TOKEN_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    moderated_at: Mapped[datetime | None]

    author: Mapped[User | None] = relationship(lazy="raise")
    area: Mapped[Area] = relationship(lazy="raise")


class CommentRevision(Base):
    """The text a comment had before an edit (for moderators; the public sees "edited" and the time)."""

    __tablename__ = "comment_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"), index=True)
    body: Mapped[str] = mapped_column(Text)
    written_at: Mapped[datetime]  # when this text was written (the comment's creation or previous edit)
    replaced_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommentReaction(Base):
    __tablename__ = "comment_reaction"
    __table_args__ = (UniqueConstraint("comment_id", "user_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ReactionKind] = mapped_column(Enum(ReactionKind, native_enum=False, length=16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommentReport(Base):
    """举报: one per person and comment; ``resolved_at`` is set when a worker reviews the comment.
    ``Comment.report_count`` counts all open reports; only those that ``counts_toward_hiding`` hide it."""

    __tablename__ = "comment_report"
    __table_args__ = (UniqueConstraint("comment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(ForeignKey("comment.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    # Whether the report counts toward hiding the comment automatically (``policy.counts_toward_hiding``:
    # verified residents of the comment's community and its staff). Every open report is in the queue.
    counts_toward_hiding: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]


class SensitiveWord(Base):
    """A word that holds a comment for review (敏感词). Managed by administrators."""

    __tablename__ = "sensitive_word"

    id: Mapped[int] = mapped_column(primary_key=True)
    word: Mapped[str] = mapped_column(String(WORD_MAX), unique=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
