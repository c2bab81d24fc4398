"""Write use cases for notifications and outgoing messages.

Titles and bodies are message ids (English source strings, marked with ``N_``) translated when
shown or sent, so one notification reads right in whichever language the person uses; text that
is not a message id is shown as it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import User
from consultation.db import utcnow
from consultation.notifications import queries
from consultation.notifications.models import Notification
from consultation.outbox import OutboxMessage, enqueue, enqueue_many

MESSAGE_TOPIC = "message.send"
EMAIL = "email"
SMS = "sms"


def send_message(
    session: AsyncSession,
    *,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    params: dict[str, Any] | None = None,
    locale: str = "zh_CN",
    url: str | None = None,
) -> OutboxMessage:
    """Queue a message in the caller's transaction; the outbox worker delivers it (with retries)."""
    return enqueue(session, MESSAGE_TOPIC, message_payload(channel=channel, recipient=recipient, subject=subject,
                                                           body=body, params=params, locale=locale, url=url))


def message_payload(*, channel: str, recipient: str, subject: str, body: str, params: dict[str, Any] | None = None,
                    locale: str = "zh_CN", url: str | None = None) -> dict[str, Any]:
    """The outbox payload of one outgoing message (``message.send``)."""
    return {"channel": channel, "recipient": recipient, "subject": subject, "body": body,
            "params": params or {}, "locale": locale, "url": url}


async def notify(
    session: AsyncSession,
    user_id: int,
    kind: str,
    title: str,
    body: str = "",
    url: str | None = None,
    email: bool = False,
) -> Notification:
    """An in-app notification; with ``email`` also an email, if the person has an address."""
    notification = Notification(user_id=user_id, kind=kind[:40], title=title[:200], body=body, url=url)
    session.add(notification)
    if email:
        user = await session.get(User, user_id)
        if user is not None and user.email and user.deleted_at is None:
            send_message(session, channel=EMAIL, recipient=user.email, subject=title, body=body,
                         locale=user.locale, url=url)
    await session.flush()
    return notification


# People told per statement by ``notify_many`` (an IN list of this many ids, and as many rows in one INSERT).
NOTIFY_CHUNK = 1000


async def notify_many(
    session: AsyncSession,
    user_ids: Iterable[int],
    kind: str,
    title: str,
    body: str = "",
    url: str | None = None,
    email: bool = False,
) -> int:
    """``notify`` for many people at once: a reminder to a whole roll, a change told to every follower or
    everyone signed up. The notifications are inserted together and, with ``email``, the addresses read
    together, ``NOTIFY_CHUNK`` people per statement instead of a query and an insert per person (a poll
    closing tomorrow reminds every resident who has not voted: tens of thousands at a city's scale). A person
    named twice is told once. Returns how many people were told."""
    people = list(dict.fromkeys(user_ids))
    now = utcnow()
    for start in range(0, len(people), NOTIFY_CHUNK):
        chunk = people[start:start + NOTIFY_CHUNK]
        await session.execute(insert(Notification), [
            {"user_id": user_id, "kind": kind[:40], "title": title[:200], "body": body, "url": url,
             "created_at": now} for user_id in chunk])
        if email:
            addresses = (await session.execute(
                select(User.id, User.email, User.locale)
                .where(User.id.in_(chunk), User.email.is_not(None), User.email != "", User.deleted_at.is_(None))
                .order_by(User.id))).all()
            await enqueue_many(session, MESSAGE_TOPIC, [
                message_payload(channel=EMAIL, recipient=address, subject=title, body=body, locale=locale, url=url)
                for _, address, locale in addresses if address])
    await session.flush()
    return len(people)


async def mark_read(session: AsyncSession, user_id: int, notification_id: int) -> Notification:
    notification = await queries.get_notification(session, user_id, notification_id)
    if notification.read_at is None:
        notification.read_at = utcnow()
        await session.flush()
    return notification


async def mark_all_read(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)
