"""Households of a community: listed, added and edited by its workers only; CSV import."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from consultation.accounts.models import Role
from consultation.areas.models import Household
from consultation.areas.services import create_household
from consultation.audit import AuditEvent
from tests.areas.helpers import csv_file, log_in_as, section
from tests.conftest import WebClient, text_of
from tests.factories import make_city


async def test_worker_lists_households_with_pagination_and_search(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    for n in range(60):
        await create_household(db, None, community=city.community_a, address=f"9号楼{n:03d}室", floor_area=None)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    first = await client.get(f"/worker/communities/{city.community_a.id}/households")
    assert first.status_code == 200
    page = text_of(first.text)
    assert "共63户" in page or "63户" in page
    assert "1号院101室" in page and "81.50" in page
    assert "第1页，共2页" in page
    second = await client.get(f"/worker/communities/{city.community_a.id}/households?page=2")
    assert "9号楼059室" in text_of(second.text)
    found = await client.get(f"/worker/communities/{city.community_a.id}/households?q=9号楼01")
    rows = section(found.text, "table", "")
    assert rows.count("<tr>") == 11 and "9号楼019室" in rows and "1号院101室" not in rows


async def test_worker_adds_a_household(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    worker = await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    response = await client.submit(f"/worker/communities/{city.community_a.id}/households/new", {
        "address": "1号院4单元402室", "compound_id": str(city.compound_a.id), "floor_area": "85.5㎡"})
    assert response.status_code == 303
    household = await db.scalar(select(Household).where(Household.address == "1号院4单元402室"))
    assert household is not None and household.floor_area == Decimal("85.50")
    assert household.compound_id == city.compound_a.id and household.community_id == city.community_a.id
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "household.created",
                                                     AuditEvent.object_id == str(household.id)))
    assert event is not None and event.actor_id == worker.id
    again = await client.submit(f"/worker/communities/{city.community_a.id}/households/new", {
        "address": "1号院4单元402室", "compound_id": "", "floor_area": ""})
    assert again.status_code == 422 and "该社区已有此地址的住户" in text_of(again.text)
    assert await db.scalar(select(func.count(Household.id)).where(Household.address == "1号院4单元402室")) == 1


@pytest.mark.parametrize("floor_area, expected", [
    ("八十", "请以平方米为单位填写数字"),
    ("85.555", "面积最多保留两位小数"),
    ("-3", "请输入0到100000平方米之间的面积"),
    ("NaN", "请以平方米为单位填写数字"),
])
async def test_bad_household_input_comes_back_filled_in(client: WebClient, db, floor_area: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    response = await client.submit(f"/worker/communities/{city.community_a.id}/households/new", {
        "address": "地" * 201, "compound_id": str(city.compound_a.id), "floor_area": floor_area})
    assert response.status_code == 422
    page = text_of(response.text)
    assert expected in page and "最多输入200个字符" in page
    assert f'value="{floor_area}"' in response.text
    assert f'<option value="{city.compound_a.id}" selected>' in response.text


async def test_worker_edits_a_household_and_it_is_audited(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    household = city.households_a[0]
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    form = await client.get(f"/worker/communities/{city.community_a.id}/households/{household.id}/edit")
    assert form.status_code == 200 and f'value="{household.address}"' in form.text and 'value="81.50"' in form.text
    response = await client.submit(f"/worker/communities/{city.community_a.id}/households/{household.id}/edit", {
        "address": "1号院1单元101室", "compound_id": "", "floor_area": "90"})
    assert response.status_code == 303
    await db.refresh(household)
    assert household.address == "1号院1单元101室" and household.compound_id is None
    assert household.floor_area == Decimal("90.00")
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "household.updated"))
    assert event is not None and event.before is not None and event.before["address"] == "1号院101室"
    clash = await client.submit(f"/worker/communities/{city.community_a.id}/households/{household.id}/edit", {
        "address": city.households_a[1].address, "compound_id": "", "floor_area": ""})
    assert clash.status_code == 422 and "该社区已有此地址的住户" in text_of(clash.text)


async def test_a_worker_of_another_community_sees_nothing(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    b, foreign = city.community_b, city.households_b[0]
    assert (await client.get(f"/worker/communities/{b.id}/households")).status_code == 404
    assert (await client.get(f"/worker/communities/{b.id}/households/new")).status_code == 404
    assert (await client.get(f"/worker/communities/{b.id}/households/{foreign.id}/edit")).status_code == 404
    assert (await client.get(f"/worker/communities/{b.id}/households/import")).status_code == 404
    created = await client.submit(f"/worker/communities/{b.id}/households/new",
                                  {"address": "闯入地址", "floor_area": ""})
    assert created.status_code == 404
    # reaching B's household through A's address is no better
    through_a = await client.submit(f"/worker/communities/{city.community_a.id}/households/{foreign.id}/edit",
                                    {"address": "改掉", "floor_area": ""})
    assert through_a.status_code == 404
    # a compound of another community cannot be attached either
    other_compound = await client.submit(f"/worker/communities/{city.community_a.id}/households/new",
                                         {"address": "新地址", "compound_id": str(city.street.id)})
    assert other_compound.status_code == 422
    await db.refresh(foreign)
    assert foreign.address == "2号楼102室"
    assert await db.scalar(select(func.count(Household.id)).where(Household.address.in_(["闯入地址", "新地址"]))) == 0


async def test_a_street_worker_covers_its_communities_and_admins_cover_all(client: WebClient, make_client, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.street, name="钱街道")
    assert (await client.get(f"/worker/communities/{city.community_b.id}/households")).status_code == 200
    admin = make_client()
    await log_in_as(admin, db, Role.admin)
    assert (await admin.get(f"/worker/communities/{city.community_b.id}/households")).status_code == 200
    assert (await admin.get(f"/worker/communities/{city.street.id}/households")).status_code == 404


@pytest.mark.parametrize("role", [None, Role.resident, Role.representative])
async def test_people_without_the_console_are_refused(client: WebClient, db, role: Role | None) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    if role is not None:
        await log_in_as(client, db, role, city.community_a, name="张三")
    refused = 403 if role is not None else 303  # anonymous visitors are sent to log in first
    assert (await client.get("/worker")).status_code == refused
    assert (await client.get(f"/worker/communities/{city.community_a.id}/households")).status_code == refused
    response = await client.submit(f"/worker/communities/{city.community_a.id}/households/new",
                                   {"address": "x", "floor_area": ""})
    assert response.status_code == refused


async def _import(client: WebClient, community_id: int, text: str, **kwargs):  # type: ignore[no-untyped-def]
    token = await client.csrf()
    return await client.post(f"/worker/communities/{community_id}/households/import",
                             data={"csrf_token": token}, files=csv_file(text, **kwargs))


async def test_worker_imports_households_from_csv(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    text = "address,compound,floor_area\n1号院2单元201室,1号院,72.30\n平房东区7号,,\n\"3号楼,东侧\",, 60 \n"
    response = await _import(client, city.community_a.id, text, bom=True)
    assert response.status_code == 303, text_of(response.text)
    summary = text_of((await client.get(response.headers["location"])).text)
    assert "已为多福巷社区添加3户" in summary and "3号楼,东侧" in summary
    added = {h.address: h for h in (await db.scalars(select(Household).where(
        Household.community_id == city.community_a.id, Household.address.in_(
            ["1号院2单元201室", "平房东区7号", "3号楼,东侧"])))).all()}
    assert added["1号院2单元201室"].compound_id == city.compound_a.id
    assert added["1号院2单元201室"].floor_area == Decimal("72.30")
    assert added["平房东区7号"].floor_area is None and added["3号楼,东侧"].floor_area == Decimal("60.00")


async def test_household_csv_with_bad_rows_imports_nothing(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    before = await db.scalar(select(func.count(Household.id)))
    text = (
        "address,compound,floor_area\n"
        "好地址,1号院,80\n"             # 2 fine
        ",1号院,80\n"                  # 3 missing address
        "坏面积,,八十\n"                # 4 bad number
        "好地址,,\n"                   # 5 duplicate in the file
        "1号院101室,,\n"               # 6 already in the database
        "无院落,9号院,\n"               # 7 unknown compound
        f"{'长' * 201},,\n"            # 8 overlong
        "多一格,1号院,80,多余\n"         # 9 more cells than the header
    )
    response = await _import(client, city.community_a.id, text)
    assert response.status_code == 422
    table = section(response.text, "section", 'class="row-errors"')
    lines = sorted({int(text_of(row).split(" ")[0]) for row in table.split("<tr>")[2:]})
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    page = text_of(table)
    assert "address 字段为空" in page and "地址 好地址 已在第2行出现" in page and "没有名为 9号院 的院落" in page
    assert "双引号" in page
    assert await db.scalar(select(func.count(Household.id))) == before


async def test_household_csv_for_another_community_is_404(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    response = await _import(client, city.community_b.id, "address,compound,floor_area\n入侵,,\n")
    assert response.status_code == 404
    assert await db.scalar(select(Household.id).where(Household.address == "入侵")) is None


async def test_templates_download_and_import_results_are_private(client: WebClient, make_client, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    for kind, header in (("households", b"address,compound,floor_area"), ("verifications", b"phone,address")):
        template = await client.get(f"/worker/communities/{city.community_a.id}/{kind}/import/template.csv")
        assert template.status_code == 200 and template.content.startswith(b"\xef\xbb\xbf" + header)
    assert (await client.get(f"/worker/communities/{city.community_a.id}/elsewhere/import")).status_code == 404
    response = await _import(client, city.community_a.id, "address,compound,floor_area\n新地址,,\n")
    assert response.status_code == 303
    colleague = make_client()
    await log_in_as(colleague, db, Role.worker, city.community_a, name="钱社工")
    assert (await colleague.get(response.headers["location"])).status_code == 404
    assert (await client.get(response.headers["location"])).status_code == 200
