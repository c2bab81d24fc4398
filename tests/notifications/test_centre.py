"""The notification centre, the unread badge, and notify() with email through the outbox."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from consultation.accounts.models import Role, VerificationMethod
from consultation.accounts.services import verify_resident
from consultation.notifications.models import Notification
from consultation.notifications.services import notify
from consultation.outbox import OutboxMessage
from consultation.policy import Actor, Grant
from tests.accounts.messages import dev_messages
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, identifier, make_city, make_user

BADGE = re.compile(r'<span class="count-badge">(\d+)<span class="visually-hidden">条未读</span></span>')


def badge(html: str) -> int:
    found = BADGE.search(html)
    return int(found.group(1)) if found else 0


async def test_centre_lists_unread_first_and_the_badge_counts_them(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    first = await notify(db, user.id, "test.one", "First news", "Body one", url="/account")
    await notify(db, user.id, "test.two", "Second news", "Body two")
    old = await notify(db, user.id, "test.old", "Old news", "Already seen")
    await client.login(identifier(user), PASSWORD)
    await client.submit(f"/notifications/{old.id}/read")

    home = await client.get("/")
    assert badge(home.text) == 2
    page = await client.get("/notifications")
    titles = re.findall(r'<h2 class="notification-title">\s*(?:<span[^>]*>[^<]*</span>)?\s*([^<]+?)\s*</h2>', page.text)
    assert titles == ["Second news", "First news", "Old news"]  # unread first, newest first

    opened = await client.submit(f"/notifications/{first.id}/open")
    assert opened.status_code == 303 and opened.headers["location"] == "/account"
    await db.refresh(first)
    assert first.read_at is not None
    assert badge((await client.get("/")).text) == 1

    assert (await client.submit("/notifications/read-all")).status_code == 303
    page = await client.get("/notifications")
    assert badge(page.text) == 0 and "全部标为已读" not in page.text
    assert await db.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) == 0


async def test_security_notifications_are_shown_in_the_readers_language(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    await notify(db, user.id, "security.password_changed", "Your password was changed", "", url="/account")
    await client.login(identifier(user), PASSWORD)
    assert "您的密码已修改" in text_of((await client.get("/notifications")).text)
    await client.submit("/prefs/language", {"locale": "en", "next": "/"})
    assert "Your password was changed" in text_of((await client.get("/notifications")).text)


async def test_another_persons_notification_looks_missing(make_client, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    owner = await make_user(db, area=city.community_a)
    other = await make_user(db, area=city.community_a)
    mine = await notify(db, owner.id, "test", "Private", "For the owner only", url="/account")
    visitor = make_client()
    await visitor.login(identifier(other), PASSWORD)
    assert (await visitor.submit(f"/notifications/{mine.id}/open")).status_code == 404
    assert (await visitor.submit(f"/notifications/{mine.id}/read")).status_code == 404
    assert "Private" not in (await visitor.get("/notifications")).text
    await db.refresh(mine)
    assert mine.read_at is None


async def test_notification_links_stay_on_this_site(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    odd = await notify(db, user.id, "test", "Odd link", "", url="//evil.example/steal")
    await client.login(identifier(user), PASSWORD)
    response = await client.submit(f"/notifications/{odd.id}/open")
    assert response.headers["location"] == "/notifications"


async def test_notify_emails_only_when_asked_and_when_there_is_an_address(client: WebClient, app: Starlette,
                                                                           db: AsyncSession) -> None:
    city = await make_city(db)
    with_email = await make_user(db, email="mail@example.org", area=city.community_a)
    phone_only = await make_user(db, area=city.community_a)
    await notify(db, with_email.id, "test", "In-app only", "")
    await notify(db, with_email.id, "test", "Your password was changed", "", url="/account", email=True)
    await notify(db, phone_only.id, "test", "Your password was changed", "", email=True)
    payloads = (await db.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "message.send"))).all()
    assert [(p["recipient"], p["subject"]) for p in payloads] == [("mail@example.org", "Your password was changed")]
    bodies = await dev_messages(client, app, "mail@example.org")
    assert bodies and "http://testserver/account" in bodies[0]
    outbox = await client.get("/dev/outbox")
    assert "您的密码已修改" in outbox.text  # translated into the recipient's language when sent


async def test_verifying_a_resident_notifies_them(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, email="new@example.org", area=city.community_a)
    admin = Actor(user_id=None, grants=(Grant(Role.admin),))
    await verify_resident(db, admin, user, city.households_a[2], VerificationMethod.household_register)
    await client.login("new@example.org", PASSWORD)
    assert badge((await client.get("/")).text) == 1
    assert "您已通过居民认证" in text_of((await client.get("/notifications")).text)
    assert await db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.topic == "message.send")) == 1
