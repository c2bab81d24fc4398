"""Log-in by one-time code: the whole journey through the dev outbox, and every way it must refuse."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from consultation import counters
from consultation.accounts.models import AuthSession, OneTimeCode, RateLimitBucket, User
from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.notifications.models import Notification
from consultation.outbox import OutboxMessage
from tests.accounts.messages import dev_messages, forget_rate_limits, latest_code
from tests.conftest import WebClient, text_of
from tests.factories import make_city, make_user


async def _actions(db: AsyncSession, user_id: int | None = None) -> list[str]:
    query = select(AuditEvent.action).order_by(AuditEvent.id)
    if user_id is not None:
        query = query.where(AuditEvent.object_id == str(user_id))
    return list((await db.scalars(query)).all())


async def _ask(client: WebClient, identifier: str, url: str = "/login/code"):  # type: ignore[no-untyped-def]
    return await client.submit(url, {"identifier": identifier})


async def test_code_login_full_journey(client: WebClient, app: Starlette, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, phone="13800001111", area=city.community_a)

    form = await client.get("/login/code")
    assert form.status_code == 200 and 'name="identifier"' in form.text
    response = await _ask(client, "138 0000 1111")
    assert response.status_code == 303 and response.headers["location"] == "/login/code/enter"
    enter = await client.get("/login/code/enter")
    assert "如果有账号使用 13800001111，6位验证码已发送" in text_of(enter.text)
    assert 'value="13800001111"' in enter.text  # the destination is filled in for the next step

    code = await latest_code(client, app, "13800001111")
    stored = await db.scalar(select(OneTimeCode).where(OneTimeCode.destination == "13800001111"))
    assert stored is not None and code not in stored.code_hash and stored.used_at is None
    assert stored.expires_at - stored.created_at == timedelta(minutes=10)

    response = await client.submit("/login/code/enter", {"identifier": "13800001111", "code": code, "next": "/account"})
    assert response.status_code == 303 and response.headers["location"] == "/account"
    assert "退出登录</button>" in (await client.get("/")).text
    await db.refresh(stored)
    assert stored.used_at is not None and stored.attempts == 1
    assert await db.scalar(select(func.count(AuthSession.id)).where(AuthSession.user_id == user.id)) == 1
    actions = await _actions(db, user.id)
    assert "code.sent" in actions and "login.succeeded" in actions
    title = await db.scalar(select(Notification.title).where(Notification.user_id == user.id))
    assert title == "New log-in with a one-time code"


async def test_wrong_code_counts_attempts_and_the_fifth_ends_the_code(client: WebClient, app: Starlette,
                                                                      db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, email="li@example.org", area=city.community_a)
    await _ask(client, "li@example.org")
    code = await latest_code(client, app, "li@example.org")
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    first = await client.submit("/login/code/enter", {"identifier": "li@example.org", "code": wrong})
    assert first.status_code == 422
    assert "验证码错误或已过期" in text_of(first.text)  # the same answer as for an unknown account
    assert 'value="li@example.org"' in first.text  # the form comes back filled in
    for _ in range(3):
        await client.submit("/login/code/enter", {"identifier": "li@example.org", "code": wrong})
    fifth = await client.submit("/login/code/enter", {"identifier": "li@example.org", "code": wrong})
    assert "验证码错误或已过期" in text_of(fifth.text)
    # Even the right code no longer works: the code allowed five checks.
    right = await client.submit("/login/code/enter", {"identifier": "li@example.org", "code": code})
    assert right.status_code == 422 and "验证码错误或已过期" in text_of(right.text)
    assert "退出登录</button>" not in (await client.get("/")).text
    assert (await _actions(db, user.id)).count("code.failed") == 6


async def test_malformed_code_is_refused_without_using_an_attempt(client: WebClient, app: Starlette,
                                                                 db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13800002222", area=city.community_a)
    await _ask(client, "13800002222")
    await latest_code(client, app, "13800002222")
    response = await client.submit("/login/code/enter", {"identifier": "13800002222", "code": "12ab"})
    assert response.status_code == 422 and "请输入消息中的6位验证码" in text_of(response.text)
    assert await db.scalar(select(OneTimeCode.attempts).where(OneTimeCode.destination == "13800002222")) == 0


async def test_expired_code_is_refused(client: WebClient, app: Starlette, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13800003333", area=city.community_a)
    await _ask(client, "13800003333")
    code = await latest_code(client, app, "13800003333")
    await db.execute(update(OneTimeCode).where(OneTimeCode.destination == "13800003333")
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    response = await client.submit("/login/code/enter", {"identifier": "13800003333", "code": code})
    assert response.status_code == 422
    assert "验证码错误或已过期" in text_of(response.text)


async def test_a_code_works_only_once(client: WebClient, make_client, app: Starlette, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, phone="13800004444", area=city.community_a)
    await _ask(client, "13800004444")
    code = await latest_code(client, app, "13800004444")
    assert (await client.submit("/login/code/enter", {"identifier": "13800004444", "code": code})).status_code == 303
    other = make_client()
    again = await other.submit("/login/code/enter", {"identifier": "13800004444", "code": code})
    assert again.status_code == 422 and "验证码错误或已过期" in text_of(again.text)


async def test_a_new_code_replaces_the_previous_one(client: WebClient, app: Starlette, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13800005555", area=city.community_a)
    await _ask(client, "13800005555")
    old = await latest_code(client, app, "13800005555")
    await forget_rate_limits(db)
    await _ask(client, "13800005555")
    new = await latest_code(client, app, "13800005555")
    if old != new:
        refused = await client.submit("/login/code/enter", {"identifier": "13800005555", "code": old})
        assert refused.status_code == 422
    assert (await client.submit("/login/code/enter", {"identifier": "13800005555", "code": new})).status_code == 303


async def test_code_sending_is_limited_per_destination(client: WebClient, make_client, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, phone="13800006666", area=city.community_a)
    assert (await _ask(client, "13800006666")).status_code == 303
    # Another visitor, and the password-reset form, share the destination's limit.
    again = await _ask(make_client(), "+86 138-0000-6666", url="/password/forgot")
    assert again.status_code == 429
    assert int(again.headers["retry-after"]) > 0
    assert "验证码刚刚已发送到这个地址" in text_of(again.text)
    assert await db.scalar(select(func.count(OneTimeCode.id))) == 1


async def test_code_sending_is_limited_per_hour_per_destination(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13800007777", area=city.community_a)
    for _ in range(5):
        assert (await _ask(client, "13800007777")).status_code == 303
        await _expire_minute_window(db, "13800007777")
    sixth = await _ask(client, "13800007777")
    assert sixth.status_code == 429


async def _expire_minute_window(db: AsyncSession, destination: str) -> None:
    """Moves the one-a-minute window into the past, as if the person had waited."""
    key = counters.stored_key(f"code:dest:{destination}:minute")
    await db.execute(update(RateLimitBucket).where(RateLimitBucket.key == key)
                     .values(window_start=utcnow() - timedelta(minutes=2)))


async def test_code_sending_is_limited_per_ip(client: WebClient, db: AsyncSession) -> None:
    for n in range(20):
        assert (await _ask(client, f"1390000{n:04d}")).status_code == 303
    blocked = await _ask(client, "13900009999")
    assert blocked.status_code == 429
    assert "尝试次数过多" in text_of(blocked.text)


async def test_same_answer_whether_or_not_the_account_exists(make_client, app: Starlette, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, phone="13800008888", area=city.community_a)
    pages = []
    for identifier in ("13800008888", "13700000000"):
        visitor = make_client()
        response = await _ask(visitor, identifier)
        follow = await visitor.get(response.headers["location"])
        pages.append((response.status_code, response.headers["location"],
                      text_of(follow.text).replace(identifier, "#")))
    assert pages[0] == pages[1]
    assert await dev_messages(make_client(), app, "13700000000") == []
    assert await db.scalar(select(func.count(User.id)).where(User.phone == "13700000000")) == 0
    assert await db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.topic == "message.send")) == 1
    assert "code.requested_unknown" in await _actions(db)


async def test_bad_identifier_comes_back_filled_in(client: WebClient, db: AsyncSession) -> None:
    response = await _ask(client, "12345")
    assert response.status_code == 422
    assert "请输入11位大陆手机号或电子邮箱地址" in text_of(response.text)
    assert 'value="12345"' in response.text
    missing = await client.submit("/login/code/enter", {"identifier": "", "code": ""})
    assert missing.status_code == 422
