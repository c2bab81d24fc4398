"""Granting and revoking roles: found by phone or email, scoped to an area or unit, audited."""

from __future__ import annotations

from sqlalchemy import select

from consultation.accounts.models import Role, RoleGrant
from consultation.areas.models import Unit
from consultation.audit import AuditEvent
from tests.areas.helpers import log_in_as
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, identifier, make_city, make_user


async def test_admin_grants_and_revokes_a_worker_role(client: WebClient, make_client, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    admin = await log_in_as(client, db, Role.admin)
    person = await make_user(db, name="赵社工", email="zhao@example.org", area=city.community_a)
    found = await client.submit("/admin/roles/find", {"identifier": "ZHAO@example.org"})
    assert found.status_code == 303 and found.headers["location"] == f"/admin/roles/users/{person.id}"
    granted = await client.submit(f"/admin/roles/users/{person.id}/grant",
                                  {"role": "worker", "area_id": str(city.community_a.id), "unit_id": ""})
    assert granted.status_code == 303
    grant = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == person.id, RoleGrant.role == Role.worker))
    assert grant is not None and grant.area_id == city.community_a.id and grant.granted_by_id == admin.id
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "role.granted"))
    assert event is not None and event.actor_id == admin.id and event.after is not None
    assert event.after["role"] == "worker" and event.object_id == str(person.id)
    page = text_of((await client.get(f"/admin/roles/users/{person.id}")).text)
    assert "社区工作者" in page and "多福巷社区" in page

    worker = make_client()
    await worker.login("zhao@example.org", PASSWORD)
    assert (await worker.get("/worker")).status_code == 200

    revoked = await client.submit(f"/admin/roles/users/{person.id}/grants/{grant.id}/revoke")
    assert revoked.status_code == 303
    assert await db.scalar(select(RoleGrant.id).where(RoleGrant.id == grant.id)) is None
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "role.revoked"))
    assert event is not None and event.before is not None and event.before["area_id"] == city.community_a.id
    assert (await worker.get("/worker")).status_code == 403


async def test_grant_form_errors_come_back_filled_in(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    person = await make_user(db, name="钱代表", area=city.community_a)
    no_area = await client.submit(f"/admin/roles/users/{person.id}/grant", {"role": "representative", "area_id": ""})
    assert no_area.status_code == 422
    assert "请选择该角色覆盖的区域" in text_of(no_area.text)
    assert '<option value="representative" selected>' in no_area.text
    no_unit = await client.submit(f"/admin/roles/users/{person.id}/grant", {"role": "unit_staff"})
    assert "请选择此人所在的单位" in text_of(no_unit.text)
    no_role = await client.submit(f"/admin/roles/users/{person.id}/grant", {"role": "emperor"})
    assert "请选择角色。" in text_of(no_role.text)
    duplicate = await client.submit(f"/admin/roles/users/{person.id}/grant",
                                    {"role": "resident", "area_id": str(city.community_a.id)})
    assert duplicate.status_code == 422 and "此人在该处已担任该角色" in text_of(duplicate.text)
    grants = (await db.scalars(select(RoleGrant).where(RoleGrant.user_id == person.id))).all()
    assert [g.role for g in grants] == [Role.resident]


async def test_unit_staff_is_granted_for_a_unit(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    unit = Unit(name="东城区水务局", area_id=city.district.id)
    db.add(unit)
    await db.flush()
    await log_in_as(client, db, Role.admin)
    person = await make_user(db, name="孙科员", role=None)
    response = await client.submit(f"/admin/roles/users/{person.id}/grant",
                                   {"role": "unit_staff", "unit_id": str(unit.id), "area_id": str(city.street.id)})
    assert response.status_code == 303
    grant = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == person.id))
    assert grant is not None and grant.unit_id == unit.id and grant.area_id is None


async def test_unknown_person_and_own_admin_role(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    admin = await log_in_as(client, db, Role.admin)
    missing = await client.submit("/admin/roles/find", {"identifier": "13700000000"})
    assert missing.status_code == 422
    assert "没有使用该手机号或邮箱的账号" in text_of(missing.text) and 'value="13700000000"' in missing.text
    own = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == admin.id))
    assert own is not None
    response = await client.submit(f"/admin/roles/users/{admin.id}/grants/{own.id}/revoke")
    assert response.status_code == 303
    assert "不能撤销自己的管理员角色" in text_of((await client.get(response.headers["location"])).text)
    assert await db.scalar(select(RoleGrant.id).where(RoleGrant.id == own.id)) == own.id


async def test_a_grant_of_someone_else_cannot_be_revoked_through_another_person(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    first = await make_user(db, area=city.community_a)
    second = await make_user(db, area=city.community_b)
    grant = await db.scalar(select(RoleGrant).where(RoleGrant.user_id == second.id))
    assert grant is not None
    response = await client.submit(f"/admin/roles/users/{first.id}/grants/{grant.id}/revoke")
    assert response.status_code == 404
    assert await db.scalar(select(RoleGrant.id).where(RoleGrant.id == grant.id)) == grant.id
    assert identifier(first)
