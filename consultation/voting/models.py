"""Polls (表决), their frozen eligibility roll, ballots, paper-ballot batches and the ballot chain
published at close.

Secrecy (DESIGN §10): for a secret poll, ``PollVoter`` records *who* voted and ``Ballot`` *what* was
chosen, and nothing joins the two: a ballot has a random UUID for its id, no voter reference, no
timestamp and (for secret polls) no channel. Because rows written in one transaction can still be
joined (PostgreSQL ``xmin``, SQLite ``rowid`` order), a secret poll's ballot is *sealed* while the poll
is open (``Ballot.sealed``, ``choices`` NULL; see ``seal.py``) and its rows are deleted at close, when
the unsealed ballots are published as the chain in one transaction, sorted by receipt hash.
The voter finds their ballot again by the receipt code,
whose SHA-256 is ``Ballot.receipt_hash``; the code itself is an HMAC under the server's secret key,
so a database reader cannot recompute it. Open polls (and owners' joint decisions, which are always
open) store ``Ballot.voter_id``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Enum,
    ForeignKey,
    Index,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.areas.models import Area
from consultation.db import Base, utcnow
from consultation.errors import N_

TITLE_MAX = 80
DESCRIPTION_MAX = 5000
OPTION_LABEL_MAX = 120
MAX_OPTIONS = 30
REASON_MAX = 500
HASH_LEN = 64


class PollKind(enum.StrEnum):
    yes_no = "yes_no"
    single = "single"
    multiple = "multiple"
    ranked = "ranked"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    PollKind.yes_no: N_("Yes / no / abstain"),
    PollKind.single: N_("Single choice"),
    PollKind.multiple: N_("Multiple choice"),
    PollKind.ranked: N_("Ranked choice (instant run-off)"),
}


class Eligibility(enum.StrEnum):
    verified_residents = "verified_residents"
    all_residents = "all_residents"
    households = "households"
    owners = "owners"

    @property
    def label(self) -> str:
        return ELIGIBILITY_LABELS[self]

    @property
    def by_household(self) -> bool:
        """The roll lists households (one ballot each), not people."""
        return self in (Eligibility.households, Eligibility.owners)


ELIGIBILITY_LABELS = {
    Eligibility.verified_residents: N_("Verified residents of the area"),
    Eligibility.all_residents: N_("All residents of the area (verified or not)"),
    Eligibility.households: N_("One ballot per household"),
    Eligibility.owners: N_("Owners' joint decision (weighted by floor area)"),
}


class RuleKind(enum.StrEnum):
    simple_majority = "simple_majority"
    majority_of_eligible = "majority_of_eligible"
    two_thirds = "two_thirds"
    custom = "custom"
    art278_major = "art278_major"
    art278_ordinary = "art278_ordinary"

    @property
    def label(self) -> str:
        return RULE_LABELS[self]

    @property
    def is_art278(self) -> bool:
        return self in (RuleKind.art278_major, RuleKind.art278_ordinary)


RULE_LABELS = {
    RuleKind.simple_majority: N_("Simple majority of ballots cast"),
    RuleKind.majority_of_eligible: N_("Majority of all eligible voters"),
    RuleKind.two_thirds: N_("Two thirds of ballots cast"),
    RuleKind.custom: N_("Custom participation quorum and pass threshold"),
    RuleKind.art278_major: N_("Civil Code art. 278, matters (6)–(8): three quarters"),
    RuleKind.art278_ordinary: N_("Civil Code art. 278, other matters: more than half"),
}


class PollState(enum.StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"
    cancelled = "cancelled"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    PollState.draft: N_("Draft"),
    PollState.open: N_("Open for voting"),
    PollState.closed: N_("Closed"),
    PollState.cancelled: N_("Cancelled"),
}


class Channel(enum.StrEnum):
    online = "online"
    paper = "paper"


class PaperBatchState(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"

    @property
    def label(self) -> str:
        return BATCH_STATE_LABELS[self]


BATCH_STATE_LABELS = {
    PaperBatchState.pending: N_("Waiting for a second worker to confirm"),
    PaperBatchState.confirmed: N_("Confirmed"),
    PaperBatchState.rejected: N_("Rejected"),
}


def new_ballot_id() -> str:
    """A ballot's id: random, so that its order tells nothing."""
    return str(uuid.uuid4())


class Poll(Base):
    """表决. ``area_id`` scopes both who is eligible and which workers run it."""

    __tablename__ = "poll"
    __table_args__ = (
        Index("ix_poll_state_closes_at", "state", "closes_at"),
        CheckConstraint("min_choices >= 0 AND max_choices >= min_choices", name="choices_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[PollKind] = mapped_column(Enum(PollKind, native_enum=False, length=16))
    eligibility: Mapped[Eligibility] = mapped_column(Enum(Eligibility, native_enum=False, length=24))
    rule: Mapped[RuleKind] = mapped_column(Enum(RuleKind, native_enum=False, length=24))
    quorum_num: Mapped[int | None]
    quorum_den: Mapped[int | None]
    threshold_num: Mapped[int | None]
    threshold_den: Mapped[int | None]
    min_choices: Mapped[int] = mapped_column(default=1)
    max_choices: Mapped[int] = mapped_column(default=1)
    secret: Mapped[bool] = mapped_column(default=True)
    results_hidden_until_close: Mapped[bool] = mapped_column(default=True)
    allow_change: Mapped[bool] = mapped_column(default=False)
    opens_at: Mapped[datetime | None]
    closes_at: Mapped[datetime]
    state: Mapped[PollState] = mapped_column(Enum(PollState, native_enum=False, length=16), default=PollState.draft)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                      index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    eligible_count: Mapped[int | None]
    eligible_area: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Households left off an owners' roll because their floor area is unknown (shown as a warning).
    excluded_count: Mapped[int | None]
    result: Mapped[dict[str, Any] | None]
    chain_head: Mapped[str | None] = mapped_column(String(HASH_LEN))
    # The check of the published chain (links, head, recount), computed at close and on "verify again":
    # {"entries", "first_bad" (1-based or None), "recount_matches", "checked_at"}; see queries.verify_chain.
    chain_check: Mapped[dict[str, Any] | None]

    area: Mapped[Area] = relationship(lazy="raise")
    options: Mapped[list[PollOption]] = relationship(lazy="raise", order_by="PollOption.position",
                                                     cascade="all, delete-orphan")

    @property
    def by_household(self) -> bool:
        return self.eligibility.by_household

    @property
    def weighted(self) -> bool:
        return self.eligibility is Eligibility.owners

    @property
    def reference(self) -> str:
        return f"poll:{self.id}"


class PollOption(Base):
    __tablename__ = "poll_option"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"))
    position: Mapped[int]
    label: Mapped[str] = mapped_column(String(OPTION_LABEL_MAX))
    # "yes" / "no" / "abstain" for the options of a yes/no poll; None otherwise.
    code: Mapped[str | None] = mapped_column(String(16))


class PollVoter(Base):
    """One entry of the roll frozen when the poll opened, and whether (and how) it has voted.

    A person (``user_id``) or, for one-ballot-per-household polls, a household (``household_id``).
    Never points at the ballot: for secret polls that link must not exist."""

    __tablename__ = "poll_voter"
    __table_args__ = (
        UniqueConstraint("poll_id", "user_id"),
        UniqueConstraint("poll_id", "household_id"),
        Index("ix_poll_voter_pending", "poll_id", "voted_at"),
        CheckConstraint("user_id IS NOT NULL OR household_id IS NOT NULL", name="someone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id", ondelete="SET NULL"), index=True)
    weight: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(1))
    voted_at: Mapped[datetime | None]
    channel: Mapped[Channel | None] = mapped_column(Enum(Channel, native_enum=False, length=8))
    reminded_at: Mapped[datetime | None]
    # Household polls: which member cast the household's online ballot ("who voted", never "what"):
    # only they see the receipt and may change the vote.
    cast_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


class Ballot(Base):
    """What was chosen. ``id`` is random and there is no timestamp, so neither the id order nor a
    time can be joined to the roll; ``voter_id`` and ``channel`` are only filled for open polls.

    Open polls: ``choices`` and ``receipt_hash`` (SHA-256 of the receipt code) in clear. Secret polls,
    while open: ``choices`` NULL, ``sealed`` the encrypted {choices, receipt_hash, weight} and
    ``receipt_hash`` the keyed lookup value (``seal.lookup``); the rows are deleted at close."""

    __tablename__ = "ballot"
    __table_args__ = (UniqueConstraint("poll_id", "receipt_hash"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_ballot_id)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"), index=True)
    choices: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    weight: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal(1))
    receipt_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    sealed: Mapped[str | None] = mapped_column(Text)
    channel: Mapped[Channel | None] = mapped_column(Enum(Channel, native_enum=False, length=8))
    voter_id: Mapped[int | None] = mapped_column(ForeignKey("poll_voter.id", ondelete="SET NULL"), unique=True)


class PaperBatch(Base):
    """Paper ballots entered by one worker; counted only once a different worker confirms them."""

    __tablename__ = "paper_batch"
    __table_args__ = (Index("ix_paper_batch_poll_state", "poll_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                       index=True)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                        index=True)
    state: Mapped[PaperBatchState] = mapped_column(Enum(PaperBatchState, native_enum=False, length=16),
                                                   default=PaperBatchState.pending)
    note: Mapped[str | None] = mapped_column(String(REASON_MAX))
    reject_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    poll: Mapped[Poll] = relationship(lazy="raise")
    entries: Mapped[list[PaperEntry]] = relationship(lazy="raise", order_by="PaperEntry.id",
                                                     cascade="all, delete-orphan")


class PaperEntry(Base):
    """One named paper ballot of a batch. For secret polls ``choices`` is cleared once the batch is
    confirmed or rejected, so the named entry no longer says what was chosen."""

    __tablename__ = "paper_entry"
    __table_args__ = (UniqueConstraint("batch_id", "voter_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("paper_batch.id", ondelete="CASCADE"))
    voter_id: Mapped[int] = mapped_column(ForeignKey("poll_voter.id", ondelete="CASCADE"), index=True)
    choices: Mapped[list[int] | None] = mapped_column(JSON)


class PollChainEntry(Base):
    """The published ballot list: one entry per ballot, sorted by receipt hash, each carrying the
    hash of the previous entry, so a recount is possible and tampering shows."""

    __tablename__ = "poll_chain_entry"
    __table_args__ = (UniqueConstraint("poll_id", "seq"), UniqueConstraint("poll_id", "receipt_hash"))

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("poll.id", ondelete="CASCADE"))
    seq: Mapped[int]
    receipt_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    choices: Mapped[list[int]] = mapped_column(JSON)
    weight: Mapped[str] = mapped_column(String(20))
    prev_hash: Mapped[str] = mapped_column(String(HASH_LEN))
    hash: Mapped[str] = mapped_column(String(HASH_LEN))
