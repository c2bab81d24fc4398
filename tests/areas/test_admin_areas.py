"""Admin pages for the tree: browse, create, rename, delete; units. Only admins get in."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel, Unit
from consultation.audit import AuditEvent
from tests.areas.helpers import log_in_as
from tests.conftest import WebClient, text_of
from tests.factories import make_city


async def _audit(db, action: str, object_id: int | None = None) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    query = select(AuditEvent).where(AuditEvent.action == action)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == str(object_id))
    return list((await db.scalars(query)).all())


async def test_admin_browses_the_tree_and_each_level(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    tree = await client.get("/admin/areas")
    assert tree.status_code == 200
    assert f'href="/admin/areas/{city.street.id}">东华门街道</a>' in tree.text
    assert "<details" in tree.text and "<summary>" in tree.text  # folds without script
    level = await client.get("/admin/areas?level=community")
    page = text_of(level.text)
    assert "多福巷社区" in page and "韶九社区" in page and "东华门街道" not in page.split("全部该级区域")[-1]


async def test_admin_creates_a_child_area_with_the_level_implied(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    response = await client.submit(f"/admin/areas/{city.community_a.id}/children",
                                   {"child_name": "5号楼", "child_code": f"{city.community_a.code}-5"})
    assert response.status_code == 303
    created = await db.scalar(select(Area).where(Area.code == f"{city.community_a.code}-5"))
    assert created is not None and created.level is AreaLevel.compound
    assert created.parent_id == city.community_a.id and created.path == f"{city.community_a.path}{created.id}/"
    assert len(await _audit(db, "area.created", created.id)) == 1
    page = await client.get(response.headers["location"])
    assert "5号楼已创建" in text_of(page.text)


async def test_bad_child_comes_back_filled_in_and_creates_nothing(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    before = await db.scalar(select(func.count(Area.id)))
    response = await client.submit(f"/admin/areas/{city.street.id}/children",
                                   {"child_name": "多福巷社区", "child_code": city.community_b.code})
    assert response.status_code == 422
    page = text_of(response.text)
    assert "上级区域下已有同名区域" in page
    assert "该编码已被其他区域使用" in page
    assert f'value="{city.community_b.code}"' in response.text
    assert 'value="多福巷社区"' in response.text
    long_name = await client.submit(f"/admin/areas/{city.street.id}/children", {"child_name": "名" * 81,
                                                                              "child_code": ""})
    assert long_name.status_code == 422
    assert "最多输入80个字符" in text_of(long_name.text) and "此项为必填项" in text_of(long_name.text)
    assert await db.scalar(select(func.count(Area.id))) == before


async def test_admin_creates_a_city(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    await log_in_as(client, db, Role.admin)
    response = await client.submit("/admin/areas/cities", {"name": "天津市", "code": "120000"})
    assert response.status_code == 303
    city = await db.scalar(select(Area).where(Area.code == "120000"))
    assert city is not None and city.level is AreaLevel.city and city.parent_id is None


async def test_admin_renames_an_area_and_it_is_audited(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    response = await client.submit(f"/admin/areas/{city.community_b.id}/rename", {"name": "韶九新社区"})
    assert response.status_code == 303
    await db.refresh(city.community_b)
    assert city.community_b.name == "韶九新社区"
    [event] = await _audit(db, "area.renamed", city.community_b.id)
    assert event.before == {"name": "韶九社区"} and event.after == {"name": "韶九新社区"}
    clash = await client.submit(f"/admin/areas/{city.community_b.id}/rename", {"name": "多福巷社区"})
    assert clash.status_code == 422
    assert "上级区域下已有同名区域" in text_of(clash.text) and 'value="多福巷社区"' in clash.text


async def test_delete_is_refused_while_anything_hangs_on_the_area(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    with_children = await client.submit(f"/admin/areas/{city.street.id}/delete")
    assert with_children.status_code == 303
    page = text_of((await client.get(with_children.headers["location"])).text)
    assert "东华门街道下还有子区域（2个），请先删除" in page
    with_households = await client.submit(f"/admin/areas/{city.community_b.id}/delete")
    page = text_of((await client.get(with_households.headers["location"])).text)
    assert "韶九社区下还有住户（2户），请先移除" in page
    assert await db.get(Area, city.community_b.id) is not None
    assert await _audit(db, "area.deleted") == []


async def test_admin_deletes_an_empty_area(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    await client.submit(f"/admin/areas/{city.community_b.id}/children", {"child_name": "空楼", "child_code": "EMPTY1"})
    empty = await db.scalar(select(Area).where(Area.code == "EMPTY1"))
    assert empty is not None
    response = await client.submit(f"/admin/areas/{empty.id}/delete")
    assert response.status_code == 303 and response.headers["location"] == f"/admin/areas/{city.community_b.id}"
    assert await db.scalar(select(Area.id).where(Area.code == "EMPTY1")) is None
    [event] = await _audit(db, "area.deleted", empty.id)
    assert event.before is not None and event.before["code"] == "EMPTY1"


@pytest.mark.parametrize("role", [None, Role.resident, Role.worker, Role.representative])
async def test_non_admins_are_refused(client: WebClient, db, role: Role | None) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    if role is not None:
        await log_in_as(client, db, role, city.community_a, name="张三")
    refused = 403 if role is not None else 303  # anonymous visitors are sent to log in first
    for path in ("/admin/areas", f"/admin/areas/{city.street.id}", "/admin/areas/import", "/admin/units",
                 "/admin/roles", "/admin/areas/import/template.csv"):
        assert (await client.get(path)).status_code == refused, path
    for path, data in ((f"/admin/areas/{city.street.id}/children", {"child_name": "x", "child_code": "x"}),
                       (f"/admin/areas/{city.street.id}/rename", {"name": "x"}),
                       (f"/admin/areas/{city.compound_a.id}/delete", {}),
                       ("/admin/areas/cities", {"name": "x", "code": "x"}),
                       ("/admin/units", {"name": "x", "area_id": str(city.street.id)})):
        assert (await client.submit(path, data)).status_code == refused, path
    await db.refresh(city.street)
    assert city.street.name == "东华门街道"
    assert await db.scalar(select(func.count(Area.id)).where(Area.code == "x")) == 0


async def test_admin_creates_units(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    response = await client.submit("/admin/units", {"name": "东城区房管局", "area_id": str(city.district.id)})
    assert response.status_code == 303
    unit = await db.scalar(select(Unit).where(Unit.name == "东城区房管局"))
    assert unit is not None and unit.area_id == city.district.id
    listing = await client.get("/admin/units")
    assert "东城区房管局" in text_of(listing.text)
    again = await client.submit("/admin/units", {"name": "东城区房管局", "area_id": ""})
    assert again.status_code == 422
    assert "已有同名单位" in text_of(again.text) and "请选择该单位服务的区域" in text_of(again.text)
    assert 'value="东城区房管局"' in again.text
    assert await db.scalar(select(func.count(Unit.id)).where(Unit.name == "东城区房管局")) == 1
