"""notify_many: many people told in a few statements, each once, emails only to those with an address."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from consultation.db import utcnow
from consultation.notifications import services
from consultation.notifications.models import Notification
from consultation.notifications.services import MESSAGE_TOPIC, notify_many
from consultation.outbox import OutboxMessage
from tests.conftest import WebClient
from tests.factories import PASSWORD, identifier, make_city, make_user
from tests.web.test_query_counts import statements


async def _told(db: AsyncSession, kind: str) -> list[tuple[int, str, str, str | None]]:
    return [tuple(row) for row in (await db.execute(
        select(Notification.user_id, Notification.title, Notification.body, Notification.url)
        .where(Notification.kind == kind).order_by(Notification.user_id))).all()]


async def _emails(db: AsyncSession) -> list[dict[str, Any]]:
    return list((await db.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == MESSAGE_TOPIC)
                                  .order_by(OutboxMessage.id))).all())


async def test_each_person_is_told_once_and_emailed_only_with_an_address(db: AsyncSession) -> None:
    city = await make_city(db)
    mailed = await make_user(db, area=city.community_a, email="mailed@example.org")
    no_address = await make_user(db, area=city.community_a)
    gone = await make_user(db, area=city.community_a, email="gone@example.org")
    gone.deleted_at = utcnow()
    await db.flush()
    told = await notify_many(db, [mailed.id, no_address.id, mailed.id, gone.id], "test.many", "Poll closes soon",
                             body="加装电梯", url="/polls/7", email=True)
    assert told == 3
    assert await _told(db, "test.many") == sorted(
        (user.id, "Poll closes soon", "加装电梯", "/polls/7") for user in (mailed, no_address, gone))
    emails = await _emails(db)
    assert [(e["recipient"], e["subject"], e["body"], e["url"]) for e in emails] == [
        ("mailed@example.org", "Poll closes soon", "加装电梯", "/polls/7")]


async def test_without_email_nothing_is_queued_and_no_one_is_no_statement(db: AsyncSession,
                                                                           connection: AsyncConnection) -> None:
    city = await make_city(db)
    user = await make_user(db, area=city.community_a, email="a@example.org")
    assert await notify_many(db, [user.id], "test.quiet", "In-app only") == 1
    assert await _emails(db) == []
    with statements(connection) as seen:
        assert await notify_many(db, [], "test.none", "Nobody", email=True) == 0
    assert seen == []


async def test_statements_do_not_grow_with_the_people_told(db: AsyncSession, connection: AsyncConnection,
                                                         monkeypatch: Any) -> None:
    city = await make_city(db)
    people = [await make_user(db, area=city.community_a, email=f"p{i}@example.org") for i in range(30)]
    counts = []
    for n in (3, 30):
        with statements(connection) as seen:
            await notify_many(db, [p.id for p in people[:n]], f"test.count{n}", "Title", email=True)
        counts.append(len(seen))
    assert counts == [3, 3]  # the notifications, the addresses, the emails: however many people
    monkeypatch.setattr(services, "NOTIFY_CHUNK", 7)  # 30 people in five chunks: every one told, once
    assert await notify_many(db, [p.id for p in people], "test.chunks", "Title", email=True) == 30
    assert await db.scalar(select(func.count()).select_from(Notification)
                           .where(Notification.kind == "test.chunks")) == 30
    assert sum(1 for e in await _emails(db) if e["subject"] == "Title") == 3 + 30 + 30


async def test_the_centre_shows_a_notification_told_to_many(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    reader = await make_user(db, area=city.community_a)
    other = await make_user(db, area=city.community_a)
    await notify_many(db, [other.id, reader.id], "poll.reminder", "A poll you can vote in closes soon",
                      body="是否同意加装电梯", url="/polls/7")
    await client.login(identifier(reader), PASSWORD)
    page = await client.get("/notifications")
    assert page.status_code == 200
    assert "您可以参加的一项表决即将截止" in page.text  # the title, translated for the reader
    assert "是否同意加装电梯" in page.text
    assert '<span class="count-badge">1<' in (await client.get("/")).text  # unread, counted once
