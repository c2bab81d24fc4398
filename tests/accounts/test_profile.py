"""The profile page, masked names, password change and the logged-in devices list."""

from __future__ import annotations

from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.display import public_name
from consultation.accounts.models import AuthSession, Role, RoleGrant, User
from consultation.audit import AuditEvent
from consultation.notifications.models import Notification
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, identifier, make_city, make_user, verified_resident


async def _actions(db: AsyncSession, user_id: int) -> list[str]:
    return list((await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user_id)))).all())


async def test_anonymous_visitors_are_sent_to_log_in(client: WebClient) -> None:
    for path in ("/account", "/account/sessions", "/account/password", "/account/delete", "/notifications"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?" + urlencode({"next": path})


async def test_profile_shows_verification_household_and_roles(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await verified_resident(db, city.households_a[0], city.community_a, name="李秀英")
    db.add(RoleGrant(user_id=user.id, role=Role.worker, area_id=city.community_b.id))
    await db.flush()
    await client.login(identifier(user), PASSWORD)
    page = text_of((await client.get("/account")).text)
    assert "他人看到的您的名字： 李*英" in page
    assert "已认证居民" in page
    assert f"家庭住址 {city.households_a[0].address}" in page
    assert "居民 · 多福巷社区" in page and "社区工作者 · 韶九社区" in page
    assert "当面核验" in page  # the verification record and its method


async def test_profile_edit_changes_name_masking_and_language(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, name="王小明", area=city.community_a)
    await client.login(identifier(user), PASSWORD)
    response = await client.submit("/account", {"display_name": " 王晓明 ", "show_full_name": "1",
                                                "locale": "en", "elderly_mode": "1"})
    assert response.status_code == 303
    await db.refresh(user)
    assert (user.display_name, user.show_full_name, user.locale, user.elderly_mode) == ("王晓明", True, "en", True)
    assert public_name(user) == "王晓明"
    page = await client.get("/account")
    assert "Your profile has been saved." in text_of(page.text)  # now in English
    assert 'class="elderly"' in page.text
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "profile.updated",
                                                     AuditEvent.object_id == str(user.id)))
    assert event is not None and event.after == {"display_name": "王晓明", "show_full_name": True, "locale": "en",
                                                 "elderly_mode": True}
    await client.submit("/account", {"display_name": "王晓明", "locale": "zh_CN"})
    await db.refresh(user)
    assert public_name(user) == "王*明" and user.elderly_mode is False


async def test_profile_with_bad_input_comes_back_filled_in(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, name="王小明", area=city.community_a)
    await client.login(identifier(user), PASSWORD)
    long_name = "很" * 41
    response = await client.submit("/account", {"display_name": long_name, "show_full_name": "1", "locale": "fr"})
    assert response.status_code == 422
    page = text_of(response.text)
    assert "最多输入40个字符" in page and "请从列表中选择一种语言" in page
    assert f'value="{long_name}"' in response.text
    assert 'name="show_full_name" type="checkbox" value="1" checked' in response.text
    await db.refresh(user)
    assert user.display_name == "王小明" and user.show_full_name is False
    empty = await client.submit("/account", {"display_name": "   ", "locale": "zh_CN"})
    assert empty.status_code == 422 and "此项为必填项" in text_of(empty.text)


async def test_change_password_keeps_this_session_and_ends_the_others(make_client, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    here, there = make_client(), make_client()
    await here.login(identifier(user), PASSWORD)
    await there.login(identifier(user), PASSWORD)

    wrong = await here.submit("/account/password", {"current_password": "not-it-123", "password": "fresh-pass-1",
                                                     "password_confirm": "fresh-pass-1"})
    assert wrong.status_code == 422 and "当前密码不正确" in text_of(wrong.text)
    assert "fresh-pass-1" not in wrong.text
    weak = await here.submit("/account/password", {"current_password": PASSWORD, "password": "short",
                                                    "password_confirm": "short"})
    assert weak.status_code == 422 and "请至少输入8个字符" in text_of(weak.text)

    done = await here.submit("/account/password", {"current_password": PASSWORD, "password": "fresh-pass-1",
                                                    "password_confirm": "fresh-pass-1"})
    assert done.status_code == 303
    assert "另有1台设备已退出登录" in text_of((await here.get("/account")).text)
    assert "退出登录</button>" not in (await there.get("/")).text
    await make_client().login(identifier(user), "fresh-pass-1")
    actions = await _actions(db, user.id)
    assert {"password.change_failed", "password.changed", "session.revoked_all"} <= set(actions)
    assert await db.scalar(select(func.count(Notification.id)).where(
        Notification.user_id == user.id, Notification.kind == "security.password_changed")) == 1


async def test_sessions_list_and_logging_devices_out(make_client, db: AsyncSession) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    stranger = await make_user(db, area=city.community_a)
    here = make_client()
    here.headers["user-agent"] = "Phone browser 1.0"
    there = make_client()
    there.headers["user-agent"] = "Desk browser 2.0"
    await here.login(identifier(user), PASSWORD)
    await there.login(identifier(user), PASSWORD)
    third = make_client()
    await third.login(identifier(user), PASSWORD)
    other = make_client()
    await other.login(identifier(stranger), PASSWORD)

    page = await here.get("/account/sessions")
    text = text_of(page.text)
    assert "Phone browser 1.0 当前设备" in text and "Desk browser 2.0" in text
    assert "token" not in page.text.lower().replace("csrf_token", "")
    there_id = await db.scalar(select(AuthSession.id).where(AuthSession.user_id == user.id,
                                                            AuthSession.user_agent == "Desk browser 2.0"))
    # Someone else's session looks missing.
    assert (await other.submit(f"/account/sessions/{there_id}/revoke")).status_code == 404
    assert (await here.submit(f"/account/sessions/{there_id}/revoke")).status_code == 303
    assert "退出登录</button>" not in (await there.get("/")).text
    assert "session.revoked" in (await db.scalars(select(AuditEvent.action))).all()

    assert (await here.submit("/account/sessions/revoke-others")).status_code == 303
    assert "退出登录</button>" not in (await third.get("/")).text
    assert "退出登录</button>" in (await here.get("/")).text
    assert "退出登录</button>" in (await other.get("/")).text  # another person's sessions are untouched

    everywhere = await here.submit("/account/sessions/revoke-all")
    assert everywhere.status_code == 303 and everywhere.headers["location"] == "/login"
    assert "退出登录</button>" not in (await here.get("/")).text
    assert await db.scalar(select(func.count(AuthSession.id)).where(
        AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))) == 0


async def test_public_name_is_masked_unless_the_person_opts_out(db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, name="欧阳春晓", area=city.community_a)
    assert public_name(user) == "欧**晓"
    user.show_full_name = True
    assert public_name(user) == "欧阳春晓"
    two = await make_user(db, name="李四", area=city.community_a)
    assert public_name(two) == "李*"
    assert isinstance(await db.get(User, user.id), User)


async def test_guessing_the_current_password_is_throttled(client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    await client.login(identifier(user), PASSWORD)
    for _ in range(5):
        wrong = await client.submit("/account/password", {"current_password": "guess-1234", "password": "abc12345x",
                                                          "password_confirm": "abc12345x"})
        assert wrong.status_code == 422
    blocked = await client.submit("/account/password", {"current_password": PASSWORD, "password": "abc12345x",
                                                        "password_confirm": "abc12345x"})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert "尝试次数过多" in text_of(blocked.text)
