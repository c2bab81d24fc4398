"""Audit trail: every state change of a participation object and every security event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, Index, String, Table, bindparam, insert, select
from sqlalchemy import cast as sql_cast
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
_CTE_COLUMNS = ("actor_id", "action", "object_type", "object_id", "after", "ip", "created_at")


def event_cte(source: Any, object_id: Any = None) -> Any:
    """``INSERT INTO audit_event … SELECT … FROM source`` as a ``WITH`` part (PostgreSQL), for a write that
    records its event in the same statement: written only if ``source`` has a row (it has one at most). The
    values are the parameters ``:e_actor_id``, ``:e_action``, … (``event_values``); ``object_id``, when given,
    is a column of ``source`` instead of ``:e_object_id``."""
    table = cast(Table, AuditEvent.__table__)
    values: list[Any] = [bindparam(f"e_{name}", type_=table.c[name].type) for name in _CTE_COLUMNS]
    if object_id is not None:
        values[_CTE_COLUMNS.index("object_id")] = sql_cast(object_id, String)
    return insert(table).from_select(list(_CTE_COLUMNS), select(*values).select_from(source)).cte("event")


def event_values(action: str, object_type: str, object_id: object | None = None, *, actor_id: int | None,
                 after: dict[str, Any] | None = None, ip: str | None = None,
                 created_at: datetime | None = None) -> dict[str, object]:
    """The parameters of an ``event_cte``."""
    return {"e_actor_id": actor_id, "e_action": action, "e_object_type": object_type,
            "e_object_id": None if object_id is None else str(object_id), "e_after": after, "e_ip": ip,
            "e_created_at": created_at or utcnow()}
