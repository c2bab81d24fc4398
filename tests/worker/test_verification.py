"""Resident verification by a worker of the resident's community, one by one or from a CSV list."""

from __future__ import annotations

from sqlalchemy import func, select

from consultation.accounts.models import ResidentVerification, Role, User, VerificationMethod
from consultation.audit import AuditEvent
from tests.areas.helpers import csv_file, log_in_as, section
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, identifier, make_city, make_user


async def test_worker_verifies_a_resident_who_then_sees_the_badge(client: WebClient, make_client, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    resident = await make_user(db, name="王小明", area=city.community_a, phone="13912345678")
    worker = await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    console = await client.get("/worker")
    assert console.status_code == 200
    queue = section(console.text, "section", 'aria-labelledby="queue"')
    assert "王小明" in queue and "13912345678" in queue
    assert f'href="/worker/residents/{resident.id}/verify"' in queue
    form = await client.get(f"/worker/residents/{resident.id}/verify")
    assert form.status_code == 200
    assert "1号院101室" in form.text and "当面核验" in text_of(form.text)
    household = city.households_a[1]
    response = await client.submit(f"/worker/residents/{resident.id}/verify", {
        "household_id": str(household.id), "method": "household_register", "note": "查验户口簿"})
    assert response.status_code == 303
    await db.refresh(resident)
    assert resident.verified_at is not None and resident.household_id == household.id
    record = await db.scalar(select(ResidentVerification).where(ResidentVerification.user_id == resident.id))
    assert record is not None and record.actor_id == worker.id
    assert record.method is VerificationMethod.household_register and record.note == "查验户口簿"
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "resident.verified"))
    assert event is not None and event.actor_id == worker.id
    after = text_of((await client.get(response.headers["location"])).text)
    assert "王小明已认证为1号院201室的居民" in after

    visitor = make_client()
    await visitor.login("13912345678", PASSWORD)
    assert "已认证居民" in text_of((await visitor.get("/")).text)


async def test_a_second_click_verifies_only_once(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    resident = await make_user(db, area=city.community_a)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    data = {"household_id": str(city.households_a[0].id), "method": "in_person", "note": ""}
    assert (await client.submit(f"/worker/residents/{resident.id}/verify", data)).status_code == 303
    again = await client.submit(f"/worker/residents/{resident.id}/verify", data)
    assert again.status_code == 303
    count = select(func.count(ResidentVerification.id)).where(ResidentVerification.user_id == resident.id)
    assert await db.scalar(count) == 1


async def test_verification_form_errors_come_back_filled_in(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    resident = await make_user(db, area=city.community_a)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    response = await client.submit(f"/worker/residents/{resident.id}/verify", {
        "household_id": str(city.households_b[0].id), "method": "telepathy", "note": "备注" * 101})
    assert response.status_code == 422
    page = text_of(response.text)
    assert "请选择该居民在多福巷社区的住户" in page
    assert "请选择您核实居住情况的方式" in page
    assert "最多输入200个字符" in page
    assert "备注" * 101 in response.text
    await db.refresh(resident)
    assert resident.verified_at is None


async def test_household_search_on_the_verification_form(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    resident = await make_user(db, area=city.community_a)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    form = await client.get(f"/worker/residents/{resident.id}/verify?q=301")
    select_html = section(form.text, "select", 'name="household_id"')
    assert "1号院301室" in select_html and "1号院101室" not in select_html


async def test_a_worker_of_community_a_can_do_nothing_for_community_b(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    resident_b = await make_user(db, name="李四", area=city.community_b, phone="13900000002")
    resident_a = await make_user(db, name="王五", area=city.community_a)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    console = await client.get("/worker")
    assert "李四" not in console.text and "13900000002" not in console.text and "王五" in console.text
    assert "韶九社区" not in section(console.text, "section", 'aria-labelledby="my-communities"')
    assert (await client.get(f"/worker/residents/{resident_b.id}/verify")).status_code == 404
    response = await client.submit(f"/worker/residents/{resident_b.id}/verify", {
        "household_id": str(city.households_b[0].id), "method": "in_person"})
    assert response.status_code == 404
    # and a resident of A cannot be bound to a household of B
    response = await client.submit(f"/worker/residents/{resident_a.id}/verify", {
        "household_id": str(city.households_b[0].id), "method": "in_person"})
    assert response.status_code == 422
    for user in (resident_a, resident_b):
        await db.refresh(user)
        assert user.verified_at is None
    assert (await client.get(f"/worker/communities/{city.community_b.id}/verifications/import")).status_code == 404


async def test_a_worker_cannot_verify_themself(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    worker = await make_user(db, name="赵社工", role=Role.worker, area=city.community_a)
    await client.login(identifier(worker), PASSWORD)
    assert "赵社工" not in section((await client.get("/worker")).text, "section", 'aria-labelledby="queue"')
    assert (await client.get(f"/worker/residents/{worker.id}/verify")).status_code == 404


async def _upload(client: WebClient, community_id: int, text: str):  # type: ignore[no-untyped-def]
    token = await client.csrf()
    return await client.post(f"/worker/communities/{community_id}/verifications/import",
                             data={"csrf_token": token}, files=csv_file(text))


async def test_bulk_verification_from_csv(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    first = await make_user(db, name="王一", area=city.community_a, phone="13911110001")
    second = await make_user(db, name="王二", area=city.community_a, phone="13911110002")
    worker = await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    text = "phone,address\n13911110001,1号院101室\n+86 139-1111-0002,1号院201室\n"
    response = await _upload(client, city.community_a.id, text)
    assert response.status_code == 303, text_of(response.text)
    summary = text_of((await client.get(response.headers["location"])).text)
    assert "已认证多福巷社区的2位居民" in summary and "王二" in summary
    for user, household in ((first, city.households_a[0]), (second, city.households_a[1])):
        await db.refresh(user)
        assert user.verified_at is not None and user.household_id == household.id
    methods = (await db.scalars(select(ResidentVerification.method).where(
        ResidentVerification.actor_id == worker.id))).all()
    assert methods == [VerificationMethod.csv_import] * 2


async def test_bulk_verification_with_bad_rows_verifies_nobody(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, name="王一", area=city.community_a, phone="13911110001")
    await make_user(db, name="李四", area=city.community_b, phone="13922220001")
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    text = (
        "phone,address\n"
        "13911110001,1号院101室\n"      # 2 fine
        "12345,1号院101室\n"            # 3 not a mobile number
        "13922220001,1号院101室\n"      # 4 resident of community B: looks unknown
        "13911110001,1号院201室\n"      # 5 duplicate phone
        "13933330000,1号院201室\n"      # 6 nobody registered
        "13911110001,\n"               # 7 duplicate phone and missing address
    )
    response = await _upload(client, city.community_a.id, text)
    assert response.status_code == 422
    table = section(response.text, "section", 'class="row-errors"')
    rows = [text_of(row) for row in table.split("<tr>")[2:]]
    assert sorted({int(row.split(" ")[0]) for row in rows}) == [3, 4, 5, 6, 7]
    page = text_of(table)
    assert "12345 不是11位大陆手机号" in page
    assert "多福巷社区没有使用13922220001注册的居民" in page
    assert "已在第2行出现" in page and "address 字段为空" in page
    verified = select(func.count(User.id)).where(User.verified_at.is_not(None))
    assert await db.scalar(verified) == 0


async def test_an_admin_sees_every_community_in_the_queue(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await make_user(db, name="李四", area=city.community_b)
    await make_user(db, name="王五", area=city.community_a)
    await log_in_as(client, db, Role.admin)
    queue = section((await client.get("/worker")).text, "section", 'aria-labelledby="queue"')
    assert "李四" in queue and "王五" in queue
    only_b = section((await client.get(f"/worker?community={city.community_b.id}")).text, "section",
                     'aria-labelledby="queue"')
    assert "李四" in only_b and "王五" not in only_b


async def test_workers_see_the_contact_of_residents_waiting_in_their_community(client, db) -> None:  # type: ignore[no-untyped-def]
    from consultation.accounts.models import Role
    from tests.factories import PASSWORD, identifier, make_city, make_user

    city = await make_city(db)
    await make_user(db, name="等待认证", phone="13811112222", area=city.community_a)
    worker = await make_user(db, role=Role.worker, area=city.community_a)
    await client.login(identifier(worker), PASSWORD)
    assert "13811112222" in (await client.get("/worker")).text
