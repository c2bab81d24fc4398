from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.areas.models import Area, Household, Unit
from consultation.db import Base, TimestampMixin, utcnow
from consultation.errors import N_


class Role(enum.StrEnum):
    resident = "resident"
    worker = "worker"
    representative = "representative"
    unit_staff = "unit_staff"
    drafter = "drafter"
    admin = "admin"


ROLE_LABELS = {
    Role.resident: N_("Resident"),
    Role.worker: N_("Community worker"),
    Role.representative: N_("People's congress representative"),
    Role.unit_staff: N_("Responsible unit staff"),
    Role.drafter: N_("Legislative staff"),
    Role.admin: N_("Administrator"),
}


class VerificationMethod(enum.StrEnum):
    in_person = "in_person"
    household_register = "household_register"
    csv_import = "csv_import"


class User(TimestampMixin, Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    email: Mapped[str | None] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str] = mapped_column(String(40))
    show_full_name: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(String(10), default="zh_CN")
    elderly_mode: Mapped[bool] = mapped_column(default=False)
    home_area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="SET NULL"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("household.id", ondelete="SET NULL"), index=True)
    verified_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    home_area: Mapped[Area | None] = relationship(lazy="raise")
    household: Mapped[Household | None] = relationship(lazy="raise")

    @property
    def is_active(self) -> bool:
        return self.deleted_at is None

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None


class RoleGrant(TimestampMixin, Base):
    """A role for an area (covering its descendants) or for a unit; admin needs neither."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "role", "area_id", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=20))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("area.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))

    area: Mapped[Area | None] = relationship(lazy="raise")
    unit: Mapped[Unit | None] = relationship(lazy="raise")


class ResidentVerification(TimestampMixin, Base):
    """Who verified which resident, bound to which household, and how."""

    __tablename__ = "resident_verification"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("household.id", ondelete="CASCADE"), index=True)
    method: Mapped[VerificationMethod] = mapped_column(Enum(VerificationMethod, native_enum=False, length=24))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    note: Mapped[str | None] = mapped_column(String(200))


class AuthSession(Base):
    """A server-side log-in session; the cookie carries a random token whose hash is stored here."""

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    user_agent: Mapped[str | None] = mapped_column(String(255))
    ip: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(lazy="raise")


class CodePurpose(enum.StrEnum):
    login = "login"
    reset = "reset"


class OneTimeCode(Base):
    """A six-digit code sent to a phone or email for log-in or password reset."""

    __tablename__ = "one_time_code"
    __table_args__ = (Index("ix_one_time_code_lookup", "destination", "purpose", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    destination: Mapped[str] = mapped_column(String(254))
    purpose: Mapped[CodePurpose] = mapped_column(Enum(CodePurpose, native_enum=False, length=16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)


class RateLimitBucket(Base):
    """Fixed-window counters shared by every app process (the app keeps no local state)."""

    __tablename__ = "rate_limit_bucket"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int] = mapped_column(default=0)
