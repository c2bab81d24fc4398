"""Stored drafts: a draft regulation for an area, its numbered versions (the normalised full text),
and each version's provision tree (headings, articles, paragraphs, items) as rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.areas.models import Area
from consultation.db import Base, utcnow
from consultation.drafts.model import Kind

TITLE_MAX = 120
SOURCE_NAME_MAX = 200
MAX_TEXT_BYTES = 2 * 1024 * 1024  # pasted text and uploads


class Draft(Base):
    __tablename__ = "draft"
    __table_args__ = (UniqueConstraint("area_id", "title"),)  # a double submit cannot make two drafts

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(TITLE_MAX))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    area: Mapped[Area] = relationship(lazy="raise")


class DraftVersion(Base):
    __tablename__ = "draft_version"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("draft.id", ondelete="CASCADE"))
    number: Mapped[int]
    source_name: Mapped[str] = mapped_column(String(SOURCE_NAME_MAX), default="")
    text: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    counts: Mapped[dict[str, Any]]


class Provision(Base):
    """One node of a version's tree; ``key`` is the parser's stable path key (``c3/s1/a12/p2``)."""

    __tablename__ = "provision"
    __table_args__ = (
        UniqueConstraint("version_id", "key"),
        Index("ix_provision_version_position", "version_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("draft_version.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("provision.id", ondelete="CASCADE"), index=True)
    kind: Mapped[Kind] = mapped_column(Enum(Kind, native_enum=False, length=12))
    number: Mapped[int]
    label: Mapped[str] = mapped_column(String(40), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int]  # document order within the version
    content_hash: Mapped[str] = mapped_column(String(16))
