"""Topics raised in a community, their co-signs and followers, and the public record of every
state change. Comments, sessions (议事会) and resolutions hang off ``Topic`` (its id, its community
and its state) in their own modules."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.accounts.models import User
from consultation.areas.models import Area
from consultation.db import Base, utcnow
from consultation.errors import N_

TITLE_MAX = 60
DESCRIPTION_MAX = 5000
PLACE_MAX = 120
REASON_MAX = 1000
REFERRED_TO_MAX = 120
DEFAULT_COSIGN_THRESHOLD = 5


class Category(enum.StrEnum):
    """诉求类别 of a neighbourhood topic (a fixed list; labels are message ids)."""

    sanitation = "sanitation"
    parking = "parking"
    lifts = "lifts"
    charging = "charging"
    property_services = "property_services"
    public_facilities = "public_facilities"
    neighbours = "neighbours"
    other = "other"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]


CATEGORY_LABELS = {
    Category.sanitation: N_("Environment and sanitation"),
    Category.parking: N_("Parking and traffic"),
    Category.lifts: N_("Adding lifts"),
    Category.charging: N_("Charging facilities"),
    Category.property_services: N_("Property management services"),
    Category.public_facilities: N_("Public facilities"),
    Category.neighbours: N_("Neighbourly relations"),
    Category.other: N_("Other"),
}


class TopicState(enum.StrEnum):
    proposed = "proposed"
    collecting = "collecting"
    triage = "triage"
    deliberating = "deliberating"
    deciding = "deciding"
    decided_agreed = "decided_agreed"
    decided_not_agreed = "decided_not_agreed"
    publicised = "publicised"
    in_action = "in_action"
    evaluated = "evaluated"
    declined = "declined"
    referred = "referred"
    merged = "merged"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    TopicState.proposed: N_("Proposed"),
    TopicState.collecting: N_("Collecting co-signs"),
    TopicState.triage: N_("Awaiting review by community workers"),
    TopicState.deliberating: N_("On the agenda, being deliberated"),
    TopicState.deciding: N_("Being decided"),
    TopicState.decided_agreed: N_("Decided: agreed"),
    TopicState.decided_not_agreed: N_("Decided: not agreed"),
    TopicState.publicised: N_("Publicised"),
    TopicState.in_action: N_("Being carried out"),
    TopicState.evaluated: N_("Evaluated by residents"),
    TopicState.declined: N_("Declined"),
    TopicState.referred: N_("Referred elsewhere"),
    TopicState.merged: N_("Merged into another topic"),
}


class ActorRole(enum.StrEnum):
    """The role a transition is publicly attributed to (never the person's name for staff actions)."""

    proposer = "proposer"
    resident = "resident"
    worker = "worker"
    admin = "admin"
    system = "system"

    @property
    def label(self) -> str:
        return ACTOR_ROLE_LABELS[self]


ACTOR_ROLE_LABELS = {
    ActorRole.proposer: N_("Proposer"),
    ActorRole.resident: N_("Resident"),
    ActorRole.worker: N_("Community worker"),
    ActorRole.admin: N_("Administrator"),
    ActorRole.system: N_("Automatic (the platform)"),
}


class CommunitySettings(Base):
    """Per-community deliberation settings; a community without a row uses the defaults."""

    __tablename__ = "community_settings"
    __table_args__ = (CheckConstraint("cosign_threshold >= 1", name="cosign_threshold_positive"),)

    community_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"), primary_key=True)
    cosign_threshold: Mapped[int] = mapped_column(default=DEFAULT_COSIGN_THRESHOLD)


class Topic(Base):
    """议题. ``community_id`` scopes permissions; ``area_id`` is the community itself or a compound in it."""

    __tablename__ = "topic"
    __table_args__ = (
        Index("ix_topic_community_state", "community_id", "state"),
        CheckConstraint("cosign_count >= 0", name="cosign_count_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[Category] = mapped_column(Enum(Category, native_enum=False, length=24))
    place: Mapped[str | None] = mapped_column(String(PLACE_MAX))
    state: Mapped[TopicState] = mapped_column(Enum(TopicState, native_enum=False, length=24),
                                              default=TopicState.proposed)
    cosign_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    publicity_ends_at: Mapped[datetime | None]

    community: Mapped[Area] = relationship(foreign_keys=[community_id], lazy="raise")
    area: Mapped[Area] = relationship(foreign_keys=[area_id], lazy="raise")
    author: Mapped[User | None] = relationship(lazy="raise")
    merged_into: Mapped[Topic | None] = relationship(remote_side=[id], lazy="raise")


class TopicCoSign(Base):
    """联署: a verified resident of the topic's community supports raising it."""

    __tablename__ = "topic_cosign"
    __table_args__ = (UniqueConstraint("topic_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TopicFollow(Base):
    """A person notified of each state change of a topic."""

    __tablename__ = "topic_follow"
    __table_args__ = (UniqueConstraint("topic_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TopicTransition(Base):
    """One public, dated step of a topic's lifecycle, attributed to a role (the audit log has the person)."""

    __tablename__ = "topic_transition"
    __table_args__ = (Index("ix_topic_transition_topic", "topic_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    from_state: Mapped[TopicState | None] = mapped_column(Enum(TopicState, native_enum=False, length=24))
    to_state: Mapped[TopicState] = mapped_column(Enum(TopicState, native_enum=False, length=24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    actor_role: Mapped[ActorRole] = mapped_column(Enum(ActorRole, native_enum=False, length=16))
    reason: Mapped[str | None] = mapped_column(Text)
    referred_to: Mapped[str | None] = mapped_column(String(REFERRED_TO_MAX))
    target_topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
