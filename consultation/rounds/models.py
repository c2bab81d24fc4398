"""Comment rounds (征求意见) on a draft version: the round, who may take part, the comments residents and
representatives send on an article, a paragraph or the whole draft, supports, theme tags and the
staff's answer to every comment.

Draft comments are formal submissions that each get an answer, not a discussion thread, so they live
beside the topic ``Comment`` rather than in it (no replies, stances or reactions; an answer, a proposed
wording, a group and themes instead). They share the sensitive-word list and the double-submit rules.

Grouping: a comment that repeats an earlier one (identical or near-identical text on the same article)
has ``lead_id``, the first comment of that group; a comment that leads has ``lead_id`` NULL.
``norm_hash`` is the hash of the normalised text (identical comments); ``sim0..sim5`` are the MinHash
LSH bands of ``similarity.Fingerprint`` (near-identical ones are found through an index on each band).
The lead carries ``group_size``, the true count of its group.

Indexes (issue 6: a round of 80,000 comments): the public list of an article's shown leads and the staff
queue are read in index order (``group_size`` first), per-article counts are index-only scans, and the
hash and band lookups of grouping only index shown leads (the copies that join a group, about a third of
a campaign-heavy round, touch five indexes instead of fourteen).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint, and_, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.accounts.models import User
from consultation.db import Base, utcnow
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import N_

INSTRUCTIONS_MAX = 4000
BODY_MAX = 3000
WORDING_MAX = 3000
REASON_MAX = 2000
THEME_MAX = 30
CLIENT_TOKEN_MAX = 64


class Audience(enum.StrEnum):
    everyone = "everyone"  # any signed-in account
    residents = "residents"  # verified residents of the round's areas
    representatives = "representatives"  # people's congress representatives only

    @property
    def label(self) -> str:
        return AUDIENCE_LABELS[self]


AUDIENCE_LABELS = {
    Audience.everyone: N_("Everyone with an account"),
    Audience.residents: N_("Verified residents of the chosen areas"),
    Audience.representatives: N_("People's congress representatives only"),
}


class Outcome(enum.StrEnum):
    """The answer to a comment (采纳情况)."""

    adopted = "adopted"
    partly = "partly"
    not_adopted = "not_adopted"
    already_provided = "already_provided"
    out_of_scope = "out_of_scope"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.adopted: N_("Adopted"),
    Outcome.partly: N_("Partly adopted"),
    Outcome.not_adopted: N_("Not adopted"),
    Outcome.already_provided: N_("Already provided for"),
    Outcome.out_of_scope: N_("Out of scope"),
}


class CommentRound(Base):
    __tablename__ = "comment_round"
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window_order"),
        UniqueConstraint("version_id"),  # one round per version (a double submit cannot open two)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("draft.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("draft_version.id", ondelete="CASCADE"))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    audience: Mapped[Audience] = mapped_column(Enum(Audience, native_enum=False, length=20))
    instructions: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    draft: Mapped[Draft] = relationship(lazy="raise")
    version: Mapped[DraftVersion] = relationship(lazy="raise")

    def is_open(self, now: datetime) -> bool:
        return self.opens_at <= now < self.closes_at


class RoundArea(Base):
    """An area whose verified residents may comment in a ``residents`` round."""

    __tablename__ = "round_area"

    round_id: Mapped[int] = mapped_column(ForeignKey("comment_round.id", ondelete="CASCADE"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"), primary_key=True)


class DraftComment(Base):
    __tablename__ = "draft_comment"
    __table_args__ = (
        UniqueConstraint("author_id", "client_token"),
        CheckConstraint("group_size >= 1", name="group_size_positive"),
        # per-article counts of shown comments (index-only), the queue's article filter, adopted comments
        Index("ix_draft_comment_round_article", "round_id", "article_id", "held"),
        # a group's members in order (staff detail, answer, attach)
        Index("ix_draft_comment_round_lead", "round_id", "lead_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("comment_round.id", ondelete="CASCADE"))
    # What the comment is on: a provision (article or paragraph) of the round's version, or the whole draft.
    provision_id: Mapped[int | None] = mapped_column(ForeignKey("provision.id", ondelete="CASCADE"))
    article_id: Mapped[int | None] = mapped_column(ForeignKey("provision.id", ondelete="CASCADE"))
    chapter_id: Mapped[int | None] = mapped_column(ForeignKey("provision.id", ondelete="CASCADE"))
    # (author_id, client_token) is unique: that index also finds a person's comments
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    by_representative: Mapped[bool] = mapped_column(default=False)
    body: Mapped[str] = mapped_column(Text)
    proposed_wording: Mapped[str] = mapped_column(Text, default="")
    held: Mapped[bool] = mapped_column(default=False)  # a listed sensitive word: not shown to the public
    client_token: Mapped[str | None] = mapped_column(String(CLIENT_TOKEN_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    norm_hash: Mapped[str] = mapped_column(String(16))
    sim0: Mapped[int]
    sim1: Mapped[int]
    sim2: Mapped[int]
    sim3: Mapped[int]
    sim4: Mapped[int]
    sim5: Mapped[int]
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("draft_comment.id", ondelete="SET NULL"))  # NULL: leads
    group_size: Mapped[int] = mapped_column(default=1)  # on a lead: how many comments its group holds
    support_count: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[Outcome | None] = mapped_column(Enum(Outcome, native_enum=False, length=20))
    reason: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    answered_at: Mapped[datetime | None]
    # The provision of a later version that this comment changed (its new wording).
    changed_provision_id: Mapped[int | None] = mapped_column(ForeignKey("provision.id", ondelete="SET NULL"))

    author: Mapped[User | None] = relationship(lazy="raise", foreign_keys=[author_id])
    provision: Mapped[Provision | None] = relationship(lazy="raise", foreign_keys=[provision_id])

    @property
    def is_lead(self) -> bool:
        return self.lead_id is None


SHOWN_LEAD = and_(DraftComment.lead_id.is_(None), DraftComment.held.is_(False))
"""A comment the public list shows: it leads its group and is not held."""
LEAD = DraftComment.lead_id.is_(None)
PENDING_LEAD = and_(DraftComment.lead_id.is_(None), DraftComment.outcome.is_(None))


def _where(postgresql: str, sqlite: str) -> dict[str, Any]:
    """A partial index's predicate, written as each backend renders the queries' own filters (``held IS
    false`` / ``held IS 0``), so that the planner sees the query's filter is the index's."""
    return {"postgresql_where": text(postgresql), "sqlite_where": text(sqlite)}


_SHOWN = _where("lead_id IS NULL AND held IS false", "lead_id IS NULL AND held IS 0")
_LEAD = _where("lead_id IS NULL", "lead_id IS NULL")
_PENDING = _where("lead_id IS NULL AND outcome IS NULL", "lead_id IS NULL AND outcome IS NULL")

# The public list of an article, in its order: biggest groups, most supported, oldest first.
Index("ix_draft_comment_shown_leads", DraftComment.round_id, DraftComment.article_id, DraftComment.group_size.desc(),
      DraftComment.support_count.desc(), DraftComment.id, **_SHOWN)
# The staff queue: every group, and the groups waiting for an answer (its default view), biggest first.
Index("ix_draft_comment_leads", DraftComment.round_id, DraftComment.group_size.desc(), DraftComment.id, **_LEAD)
Index("ix_draft_comment_pending_leads", DraftComment.round_id, DraftComment.group_size.desc(), DraftComment.id,
      **_PENDING)
# Grouping a new comment: shown leads on the same article with the same text hash or a shared LSH band.
Index("ix_draft_comment_lead_hash", DraftComment.round_id, DraftComment.article_id, DraftComment.norm_hash, **_SHOWN)
for _band in range(6):
    Index(f"ix_draft_comment_lead_sim{_band}", DraftComment.round_id, DraftComment.article_id,
          getattr(DraftComment, f"sim{_band}"), **_SHOWN)
del _band
# The report's changed articles: comments whose answer links a provision of a later version.
Index("ix_draft_comment_changed_provision", DraftComment.changed_provision_id,
      **_where("changed_provision_id IS NOT NULL", "changed_provision_id IS NOT NULL"))


class DraftCommentSupport(Base):
    __tablename__ = "draft_comment_support"

    comment_id: Mapped[int] = mapped_column(ForeignKey("draft_comment.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True,
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoundTheme(Base):
    """A theme tag staff use to sort a round's comments (养老, 停车, 程序…)."""

    __tablename__ = "round_theme"
    __table_args__ = (UniqueConstraint("round_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("comment_round.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(THEME_MAX))


class DraftCommentTheme(Base):
    __tablename__ = "draft_comment_theme"

    comment_id: Mapped[int] = mapped_column(ForeignKey("draft_comment.id", ondelete="CASCADE"), primary_key=True)
    theme_id: Mapped[int] = mapped_column(ForeignKey("round_theme.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
