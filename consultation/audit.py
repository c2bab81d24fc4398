"""Audit trail: every state change of a participation object and every security event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from consultation.db import Base, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


async def record(
    session: AsyncSession,
    action: str,
    object_type: str,
    object_id: object | None = None,
    *,
    actor_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    ip: str | None = None,
) -> None:
    """Write one audit event now. Whatever the session holds pending is flushed first, as the callers
    count on (an object added before its event has its id afterwards). The event itself is a plain
    INSERT, not an object of the session: the hottest writes (a ballot, a comment) pay one statement."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    await session.execute(_INSERT, {
        "actor_id": actor_id, "action": action, "object_type": object_type,
        "object_id": None if object_id is None else str(object_id), "before": before, "after": after, "ip": ip,
        "created_at": utcnow(),
    })


async def record_event(session: AsyncSession, action: str, object_type: str, object_id: object | None = None, *,
                       actor_id: int | None = None, before: dict[str, Any] | None = None,
                       after: dict[str, Any] | None = None, ip: str | None = None) -> AuditEvent:
    """``record`` for the callers that need the event (its id, to link it to what they store)."""
    event = AuditEvent(actor_id=actor_id, action=action, object_type=object_type,
                       object_id=None if object_id is None else str(object_id), before=before, after=after, ip=ip)
    session.add(event)
    await session.flush()
    return event


# The table's INSERT, not the entity's: a Core statement without the unit of work's bookkeeping.
_INSERT = insert(cast(Table, AuditEvent.__table__))
