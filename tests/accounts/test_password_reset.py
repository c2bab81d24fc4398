"""Password reset by code: every session is revoked, the event is audited and notified."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from consultation.accounts.models import AuthSession, OneTimeCode
from consultation.audit import AuditEvent
from consultation.notifications.models import Notification
from consultation.outbox import OutboxMessage
from tests.accounts.messages import latest_code
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, make_city, make_user

NEW_PASSWORD = "new-secret-456"


async def test_reset_changes_the_password_and_revokes_every_session(make_client, app: Starlette,  # type: ignore[no-untyped-def]
                                                                    db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, email="zhang@example.org", area=city.community_a)
    elsewhere = make_client()
    await elsewhere.login("zhang@example.org", PASSWORD)
    assert "退出登录</button>" in (await elsewhere.get("/")).text

    visitor = make_client()
    form = await visitor.get("/password/forgot")
    assert form.status_code == 200 and 'action="/password/forgot"' in form.text
    asked = await visitor.submit("/password/forgot", {"identifier": "Zhang@Example.org"})
    assert asked.status_code == 303 and asked.headers["location"] == "/password/reset"
    reset_page = await visitor.get("/password/reset")
    assert 'value="zhang@example.org"' in reset_page.text
    code = await latest_code(visitor, app, "zhang@example.org")

    mismatch = await visitor.submit("/password/reset", {"identifier": "zhang@example.org", "code": code,
                                                        "password": NEW_PASSWORD, "password_confirm": "other-pass-1"})
    assert mismatch.status_code == 422 and "两次输入的密码不一致" in text_of(mismatch.text)
    assert NEW_PASSWORD not in mismatch.text and code not in mismatch.text
    # A typo in the new password does not use up an attempt of the code.
    assert await db.scalar(select(OneTimeCode.attempts).where(OneTimeCode.destination == "zhang@example.org")) == 0

    done = await visitor.submit("/password/reset", {"identifier": "zhang@example.org", "code": code,
                                                    "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["location"] == "/login"
    assert "密码已修改，所有设备均已退出登录" in text_of((await visitor.get("/login")).text)

    assert "退出登录</button>" not in (await elsewhere.get("/")).text
    live = await db.scalar(select(func.count(AuthSession.id)).where(AuthSession.user_id == user.id,
                                                                    AuthSession.revoked_at.is_(None)))
    assert live == 0
    refused = await make_client().submit("/login", {"identifier": "zhang@example.org", "password": PASSWORD})
    assert refused.status_code == 422
    await make_client().login("zhang@example.org", NEW_PASSWORD)

    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id)))).all()
    assert {"code.sent", "password.reset", "session.revoked_all"} <= set(actions)
    assert await db.scalar(select(Notification.title).where(Notification.user_id == user.id)) == \
        "Your password was changed"
    emails = (await db.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == "message.send"))).all()
    assert any(p.get("subject") == "Your password was changed" and p.get("recipient") == "zhang@example.org"
               for p in emails)
    # The same code cannot reset the password twice.
    again = await visitor.submit("/password/reset", {"identifier": "zhang@example.org", "code": code,
                                                     "password": "third-pass-7", "password_confirm": "third-pass-7"})
    assert again.status_code == 422


async def test_reset_with_a_wrong_code_keeps_the_password(client: WebClient, app: Starlette,
                                                          db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13600001111", area=city.community_a)
    await client.submit("/password/forgot", {"identifier": "13600001111"})
    code = await latest_code(client, app, "13600001111")
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    response = await client.submit("/password/reset", {"identifier": "13600001111", "code": wrong,
                                                       "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert response.status_code == 422 and "验证码错误或已过期" in text_of(response.text)
    assert 'value="13600001111"' in response.text
    await client.login("13600001111", PASSWORD)


async def test_reset_answers_the_same_for_an_unknown_account(make_client, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, phone="13600002222", area=city.community_a)
    answers = []
    for identifier in ("13600002222", "13600003333"):
        visitor = make_client()
        response = await visitor.submit("/password/forgot", {"identifier": identifier})
        page = await visitor.get(response.headers["location"])
        answers.append((response.status_code, text_of(page.text).replace(identifier, "#")))
    assert answers[0] == answers[1]
    unknown = await make_client().submit("/password/reset", {
        "identifier": "13600003333", "code": "123456", "password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert unknown.status_code == 422 and "验证码错误或已过期" in text_of(unknown.text)
