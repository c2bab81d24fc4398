"""Download my data and delete my account."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.display import public_name
from consultation.accounts.models import AuthSession, ResidentVerification, RoleGrant, User
from consultation.audit import AuditEvent
from consultation.notifications.models import Notification
from consultation.notifications.services import notify
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, make_city, verified_resident


async def test_export_holds_the_persons_data_and_no_secrets(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await verified_resident(db, city.households_a[1], city.community_a, name="赵敏")
    await notify(db, user.id, "test.hello", "Hello", "A body", url="/account")
    await client.login(user.phone or "", PASSWORD)

    response = await client.submit("/account/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == f'attachment; filename="yishiting-my-data-{user.id}.json"'
    data = json.loads(response.text)
    assert data["profile"]["phone"] == user.phone and data["profile"]["display_name"] == "赵敏"
    assert data["profile"]["household"]["address"] == city.households_a[1].address
    assert data["profile"]["home_area"]["name"] == "多福巷社区"
    assert [r["role"] for r in data["roles"]] == ["resident"]
    assert data["verifications"][0]["method"] == "in_person"
    assert data["verifications"][0]["household_address"] == city.households_a[1].address
    assert len(data["sessions"]) == 1 and data["sessions"][0]["ip"] == "127.0.0.1"
    assert [n["title"] for n in data["notifications"]] == ["You are now a verified resident", "Hello"]
    actions = [e["action"] for e in data["audit_events"]]
    assert "resident.verified" in actions and "login.succeeded" in actions

    token_hashes = (await db.scalars(select(AuthSession.token_hash).where(AuthSession.user_id == user.id))).all()
    password_hash = await db.scalar(select(User.password_hash).where(User.id == user.id))
    assert password_hash and password_hash not in response.text and "argon2" not in response.text
    assert all(h not in response.text for h in token_hashes)
    assert "token_hash" not in response.text and "password" not in response.text
    assert await db.scalar(select(func.count(AuditEvent.id)).where(
        AuditEvent.action == "data.exported", AuditEvent.actor_id == user.id)) == 1


async def test_export_and_delete_need_a_logged_in_person_and_csrf(client: WebClient) -> None:
    assert (await client.submit("/account/export")).status_code == 303
    assert (await client.post("/account/delete", data={"password": PASSWORD})).status_code == 403


async def test_delete_my_account_anonymises_and_keeps_the_audit_trail(client: WebClient, make_client,  # type: ignore[no-untyped-def]
                                                                       db: AsyncSession) -> None:
    city = await make_city(db)
    user = await verified_resident(db, city.households_a[0], city.community_a, name="孙丽")
    phone = user.phone or ""
    await client.login(phone, PASSWORD)
    elsewhere = make_client()
    await elsewhere.login(phone, PASSWORD)
    confirm = await client.get("/account/delete")
    assert "孙*" in text_of(confirm.text) and "已注销用户" in text_of(confirm.text)

    wrong = await client.submit("/account/delete", {"password": "not-my-pass-1"})
    assert wrong.status_code == 422 and "密码不正确" in text_of(wrong.text)
    await db.refresh(user)
    assert user.deleted_at is None

    done = await client.submit("/account/delete", {"password": PASSWORD})
    assert done.status_code == 303
    assert "您的账号已注销" in text_of((await client.get("/")).text)
    assert "退出登录</button>" not in (await elsewhere.get("/")).text

    await db.refresh(user)
    assert user.deleted_at is not None and public_name(user) == "已注销用户"
    assert (user.phone, user.email, user.password_hash, user.household_id) == (None, None, None, None)
    assert user.display_name == "已注销用户"
    for model, column in ((RoleGrant, RoleGrant.user_id), (AuthSession, AuthSession.user_id),
                          (ResidentVerification, ResidentVerification.user_id),
                          (Notification, Notification.user_id)):
        assert await db.scalar(select(func.count()).select_from(model).where(column == user.id)) == 0
    # The audit trail stays, still pointing at the (now nameless) user row.
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.actor_id == user.id))).all()
    assert {"login.succeeded", "account.delete_failed", "account.deleted"} <= set(actions)
    assert "resident.verified" in (await db.scalars(select(AuditEvent.action).where(
        AuditEvent.object_id == str(user.id)))).all()

    refused = await make_client().submit("/login", {"identifier": phone, "password": PASSWORD})
    assert refused.status_code == 422
    code_login = await make_client().submit("/login/code", {"identifier": phone})
    assert code_login.status_code == 303  # same answer as for any unknown number; no code is sent
