from __future__ import annotations

from sqlalchemy import func, select

from consultation.accounts.models import AuthSession, Role, RoleGrant, User
from consultation.audit import AuditEvent
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, make_city, make_user


async def test_register_then_logged_in_as_resident_of_the_community(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    response = await client.submit("/register", {
        "identifier": "+86 139-1234-5678", "display_name": "王小明", "home_area_id": str(city.community_a.id),
        "password": "abc12345", "password_confirm": "abc12345",
    })
    assert response.status_code == 303
    user = await db.scalar(select(User).where(User.phone == "13912345678"))
    assert user is not None and user.home_area_id == city.community_a.id and user.verified_at is None
    grant = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == user.id))
    assert grant is not None and grant.role is Role.resident and grant.area_id == city.community_a.id
    home = await client.get("/")
    assert "您好，王小明" in text_of(home.text)


async def test_register_with_bad_input_comes_back_filled_in(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    await make_city(db)
    response = await client.submit("/register", {
        "identifier": "12345", "display_name": "王" * 41, "home_area_id": "999999",
        "password": "short", "password_confirm": "short",
    })
    assert response.status_code == 422
    page = text_of(response.text)
    assert "请输入11位大陆手机号或电子邮箱地址" in page
    assert "最多输入40个字符" in page
    assert "请选择您居住的社区" in page
    assert "请至少输入8个字符" in page
    assert 'value="12345"' in response.text  # what was typed survives
    assert "short" not in response.text  # passwords are never echoed
    assert await db.scalar(select(func.count(User.id))) == 0


async def test_duplicate_registration_is_refused(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, phone="13912345678", area=city.community_a)
    response = await client.submit("/register", {
        "identifier": "13912345678", "display_name": "张三", "home_area_id": str(city.community_a.id),
        "password": "abc12345", "password_confirm": "abc12345",
    })
    assert response.status_code == 422
    assert "该手机号或邮箱已注册" in text_of(response.text)


async def test_login_and_logout(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    user = await make_user(db, email="Wang@Example.org", area=city.community_a)
    await client.login("wang@example.org", PASSWORD)
    assert await db.scalar(select(func.count(AuthSession.id)).where(AuthSession.user_id == user.id)) == 1
    assert "退出登录</button>" in (await client.get("/")).text
    await client.submit("/logout")
    assert "退出登录</button>" not in (await client.get("/")).text
    revoked = await db.scalar(select(AuthSession.revoked_at).where(AuthSession.user_id == user.id))
    assert revoked is not None


async def test_wrong_password_is_refused_and_counted(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    response = await client.submit("/login", {"identifier": user.phone, "password": "wrong-password1"})
    assert response.status_code == 422
    assert "手机号、邮箱或密码不正确" in text_of(response.text)
    assert f'value="{user.phone}"' in response.text
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(user.id)))).all()
    assert "login.failed" in actions


async def test_lockout_after_five_failures(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    user = await make_user(db, area=city.community_a)
    for _ in range(5):
        await client.submit("/login", {"identifier": user.phone, "password": "wrong-password1"})
    response = await client.submit("/login", {"identifier": user.phone, "password": PASSWORD})
    assert response.status_code == 422
    assert "账号已锁定" in text_of(response.text)


async def test_login_is_rate_limited_with_429(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    statuses = []
    for _ in range(12):
        response = await client.submit("/login", {"identifier": "13900000001", "password": "wrong-password1"})
        statuses.append(response.status_code)
    assert statuses[:10] == [422] * 10
    assert statuses[-1] == 429
    assert "尝试次数过多" in text_of(response.text)
    assert int(response.headers["retry-after"]) > 0


async def test_lockout_answers_the_same_for_accounts_that_do_not_exist(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        await client.submit("/login", {"identifier": "13977776666", "password": "wrong-password1"})
    response = await client.submit("/login", {"identifier": "139 7777 6666", "password": "wrong-password1"})
    assert "账号已锁定" in text_of(response.text)  # no account has this number: nothing is revealed
