"""Reads for the notification centre and the development message outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from consultation.errors import NotFound
from consultation.notifications.models import DevMessage, Notification

PAGE_SIZE = 30


def _unread(user_id: Any) -> Any:
    return select(func.count()).select_from(Notification).where(Notification.user_id == user_id,
                                                                Notification.read_at.is_(None))


async def unread_count(session: AsyncSession, user_id: int) -> int:
    """One indexed COUNT (ix_notification_inbox), cheap enough for every page's header badge."""
    return int(await session.scalar(_unread(user_id)) or 0)


def unread_count_of(user_id: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[int]:
    """The same count as a column of a bigger statement (``user_id`` is that statement's user id column),
    so a page's header badge rides along with loading who is asking."""
    return _unread(user_id).scalar_subquery()


async def inbox(session: AsyncSession, user_id: int, *, page: int = 1) -> tuple[list[Notification], bool]:
    """A page of the person's notifications, unread first, newest first; and whether more follow."""
    rows = (
        await session.scalars(
            select(Notification)
            .where(Notification.user_id == user_id)
            .order_by(Notification.read_at.is_not(None), Notification.created_at.desc(), Notification.id.desc())
            .offset((max(page, 1) - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE + 1)
        )
    ).all()
    return list(rows[:PAGE_SIZE]), len(rows) > PAGE_SIZE


async def get_notification(session: AsyncSession, user_id: int, notification_id: int) -> Notification:
    """The person's own notification; someone else's looks exactly like a missing one."""
    notification = await session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    if notification is None:
        raise NotFound()
    return notification


async def all_of(session: AsyncSession, user_id: int) -> list[Notification]:
    return list((await session.scalars(
        select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
    )).all())


async def dev_messages(session: AsyncSession, *, limit: int = 100) -> list[DevMessage]:
    return list((await session.scalars(
        select(DevMessage).order_by(DevMessage.created_at.desc(), DevMessage.id.desc()).limit(limit)
    )).all())
