"""Reads of a person's own data: sessions, verification records, and the "download my data" export.

The export holds what the platform keeps about the person and leaves out secrets (password hash,
session token hashes, one-time code hashes).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import AuthSession, ResidentVerification
from consultation.accounts.queries import get_user, grants_of
from consultation.areas.models import Area, Household
from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.errors import NotFound
from consultation.notifications.queries import all_of as notifications_of

EXPORT_FORMAT = 1


async def active_sessions(session: AsyncSession, user_id: int) -> list[AuthSession]:
    return list((await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow())
        .order_by(AuthSession.last_seen_at.desc(), AuthSession.id.desc())
    )).all())


async def own_session(session: AsyncSession, user_id: int, session_id: int) -> AuthSession:
    auth_session = await session.scalar(
        select(AuthSession).where(AuthSession.id == session_id, AuthSession.user_id == user_id)
    )
    if auth_session is None:
        raise NotFound()
    return auth_session


async def verifications(session: AsyncSession, user_id: int) -> list[tuple[ResidentVerification, str, str]]:
    """The person's verification records with the household address and community name."""
    rows = (await session.execute(
        select(ResidentVerification, Household.address, Area.name)
        .join(Household, Household.id == ResidentVerification.household_id)
        .join(Area, Area.id == Household.community_id)
        .where(ResidentVerification.user_id == user_id)
        .order_by(ResidentVerification.id)
    )).all()
    return [(record, address, community) for record, address, community in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def _row(obj: object, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in fields}


async def export(session: AsyncSession, user_id: int) -> dict[str, Any]:
    user = await get_user(session, user_id)
    household = user.household
    profile = _row(user, ("id", "display_name", "show_full_name", "phone", "email", "locale", "elderly_mode",
                          "created_at", "verified_at"))
    profile["home_area"] = {"id": user.home_area.id, "name": user.home_area.name} if user.home_area else None
    profile["household"] = (
        {"id": household.id, "address": household.address, "floor_area": _plain(household.floor_area)}
        if household else None
    )
    roles = [
        {"role": grant.role.value, "area": grant.area.name if grant.area else None,
         "unit": grant.unit.name if grant.unit else None, "granted_at": _plain(grant.created_at)}
        for grant in await grants_of(session, user.id)
    ]
    verification_records = [
        {**_row(record, ("method", "note", "created_at")), "household_address": address, "community": community}
        for record, address, community in await verifications(session, user.id)
    ]
    sessions = [
        _row(s, ("created_at", "last_seen_at", "expires_at", "revoked_at", "ip", "user_agent"))
        for s in (await session.scalars(
            select(AuthSession).where(AuthSession.user_id == user.id).order_by(AuthSession.id)
        )).all()
    ]
    notifications = [
        _row(n, ("kind", "title", "body", "url", "created_at", "read_at"))
        for n in await notifications_of(session, user.id)
    ]
    events = (await session.scalars(
        select(AuditEvent)
        .where(or_(AuditEvent.actor_id == user.id,
                   and_(AuditEvent.object_type == "user", AuditEvent.object_id == str(user.id))))
        .order_by(AuditEvent.id)
    )).all()
    # Staff also act on other people's records: of those, only what was done is exported, never the
    # before/after values, which can hold the other person's data (an address, a household).
    audit_events = [
        {**_row(e, ("action", "object_type", "object_id", "ip", "created_at")),
         **(_row(e, ("before", "after")) if _about(e, user.id) else {}),
         "by_you": e.actor_id == user.id}
        for e in events
    ]
    return {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "profile": profile,
        "roles": roles,
        "verifications": verification_records,
        "sessions": sessions,
        "notifications": notifications,
        "audit_events": audit_events,
    }


def _about(event: AuditEvent, user_id: int) -> bool:
    return event.object_type == "user" and event.object_id == str(user_id)
