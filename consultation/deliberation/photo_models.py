"""Photos of topics. A photo is first a pending upload owned by the person who sent it (so a form
that fails validation does not lose it); proposing the topic attaches it. The served copies are
stored in the database, so any number of stateless app processes can serve them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from consultation.db import Base, utcnow

FILE_NAME_MAX = 100


class Photo(Base):
    """One photo; ``topic_id`` is None while it is a pending upload of ``owner_id``."""

    __tablename__ = "photo"
    __table_args__ = (
        Index("ix_photo_topic", "topic_id", "position"),
        Index("ix_photo_pending", "owner_id", "created_at"),
        # Ids are never reused: a photo's URL is cached as immutable, so it must always mean one photo.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    topic_id: Mapped[int | None] = mapped_column(ForeignKey("topic.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    # The name the file had on the uploader's device, shown only to them while the photo is pending.
    file_name: Mapped[str] = mapped_column(String(FILE_NAME_MAX), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attached_at: Mapped[datetime | None]

    variants: Mapped[list[PhotoVariant]] = relationship(lazy="raise", cascade="all, delete-orphan",
                                                        passive_deletes=True)


class PhotoVariant(Base):
    """One re-encoded copy of a photo ("display" or "thumb"), without any metadata."""

    __tablename__ = "photo_variant"
    __table_args__ = (UniqueConstraint("photo_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("photo.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(16))
    content_type: Mapped[str] = mapped_column(String(32))
    width: Mapped[int]
    height: Mapped[int]
    byte_size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # loaded only when served
