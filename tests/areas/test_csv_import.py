"""CSV import of the tree: every bad row reported by line, nothing imported until the file is clean."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel
from consultation.audit import AuditEvent
from tests.areas.helpers import csv_file, log_in_as, section
from tests.conftest import WebClient, text_of
from tests.factories import City, make_city


async def _upload(client: WebClient, files: dict[str, tuple[str, bytes, str]]):  # type: ignore[no-untyped-def]
    token = await client.csrf()
    return await client.post("/admin/areas/import", data={"csrf_token": token}, files=files)


def _good_file(city: City) -> str:
    # children before their parents on purpose: the order in the file does not matter
    return (
        "code,name,level,parent_code\n"
        "X-S1-C1-1,1号楼,compound,X-S1-C1\n"
        "X-S1-C1,永安里社区,社区,X-S1\n"  # the Chinese level name works too
        f"X-S1,建外街道,street,{city.district.code}\n"
        f"X-D2,朝阳区,district,{city.city.code}\n"
        "X-D2-S1,六里屯街道,street,X-D2\n"
    )


async def test_a_clean_file_is_imported_and_summarised(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    admin = await log_in_as(client, db, Role.admin)
    response = await _upload(client, csv_file(_good_file(city)))
    assert response.status_code == 303, text_of(response.text)
    summary = await client.get(response.headers["location"])
    page = text_of(summary.text)
    assert "已导入5个区域" in page
    assert "永安里社区" in page and "1号楼" in page
    community = await db.scalar(select(Area).where(Area.code == "X-S1-C1"))
    street = await db.scalar(select(Area).where(Area.code == "X-S1"))
    compound = await db.scalar(select(Area).where(Area.code == "X-S1-C1-1"))
    assert community is not None and street is not None and compound is not None
    assert street.parent_id == city.district.id and community.parent_id == street.id
    assert compound.level is AreaLevel.compound and compound.path == f"{community.path}{compound.id}/"
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "areas.imported"))
    assert event is not None and event.actor_id == admin.id and event.after is not None
    assert event.after["count"] == 5 and event.after["by_level"]["street"] == 2


async def test_a_utf8_bom_is_accepted(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    response = await _upload(client, csv_file(_good_file(city), bom=True))
    assert response.status_code == 303
    assert await db.scalar(select(func.count(Area.id)).where(Area.code.startswith("X-"))) == 5


async def test_every_bad_row_is_reported_by_line_and_nothing_is_imported(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    before = await db.scalar(select(func.count(Area.id)))
    text = (
        "code,name,level,parent_code\n"                                   # line 1
        f"Y-1,好街道,street,{city.district.code}\n"                        # 2 fine
        f"Y-2,,street,{city.district.code}\n"                             # 3 missing name
        "Y-3,无主社区,community,NO-SUCH-CODE\n"                            # 4 unknown parent
        f"Y-1,重复街道,street,{city.district.code}\n"                      # 5 duplicate code in the file
        f"{city.community_a.code},旧代码,street,{city.district.code}\n"    # 6 code already in the database
        f"Y-6,跳级院落,compound,{city.street.code}\n"                      # 7 compound directly under a street
        f"Y-7,{'长' * 81},street,{city.district.code}\n"                   # 8 overlong name
        f"Y-8,怪级别,planet,{city.district.code}\n"                        # 9 unknown level
        f"Y-9,东华门街道,street,{city.district.code}\n"                    # 10 name taken under that parent
    )
    response = await _upload(client, csv_file(text))
    assert response.status_code == 422
    page = text_of(response.text)
    assert "未导入任何数据" in page
    table = section(response.text, "section", 'class="row-errors"')
    rows = {int(text_of(row).split(" ")[0]): text_of(row) for row in table.split("<tr>")[2:]}
    assert sorted(rows) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "name 字段为空" in rows[3]
    assert "未知的上级编码 NO-SUCH-CODE" in rows[4]
    assert "编码 Y-1 已在第2行出现" in rows[5]
    assert f"编码 {city.community_a.code} 已被区域 多福巷社区 使用" in rows[6]
    assert "院落（楼栋）不能直接设在街道（乡镇）之下" in rows[7]
    assert "name 字段超过80个字符" in rows[8]
    assert "未知的层级 planet" in rows[9]
    assert "东华门街道" in rows[10] and "已有名为" in rows[10]
    assert await db.scalar(select(func.count(Area.id))) == before


async def test_a_bad_parent_line_is_reported_once_not_on_each_child(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    text = (
        "code,name,level,parent_code\n"
        f"W-1,,street,{city.district.code}\n"   # 2: no name
        "W-1-1,一社区,community,W-1\n"            # 3: fine in itself
        "W-1-2,二社区,community,W-1\n"            # 4: fine in itself
    )
    response = await _upload(client, csv_file(text))
    assert response.status_code == 422
    table = section(response.text, "section", 'class="row-errors"')
    assert [int(text_of(row).split(" ")[0]) for row in table.split("<tr>")[2:]] == [2]


async def test_a_file_that_is_not_utf8_is_refused_with_a_clear_message(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.admin)
    before = await db.scalar(select(func.count(Area.id)))
    response = await _upload(client, csv_file(_good_file(city), encoding="gbk"))
    assert response.status_code == 422
    assert "文件不是UTF-8编码，请另存为UTF-8后重新上传" in text_of(response.text)
    assert await db.scalar(select(func.count(Area.id))) == before


async def test_an_oversize_file_is_refused(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    await log_in_as(client, db, Role.admin)
    big = "code,name,level,parent_code\n" + "Z,名,city,\n" * 250_000
    assert len(big.encode()) > 2 * 1024 * 1024
    response = await _upload(client, csv_file(big))
    assert response.status_code == 422
    assert "文件超过2 MB" in text_of(response.text)


@pytest.mark.parametrize("name, content, expected", [
    ("areas.xlsx", "code,name,level,parent_code\n", "请选择CSV格式的文件"),
    ("areas.csv", "", "文件是空的"),
    ("areas.csv", "code,name\nA,b\n", "缺少：level, parent_code"),
    ("areas.csv", "code,name,level,parent_code\n", "表头下没有数据行"),
])
async def test_unusable_files_are_explained(client: WebClient, db, name: str, content: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    await log_in_as(client, db, Role.admin)
    response = await _upload(client, csv_file(content, name=name))
    assert response.status_code == 422
    assert expected in text_of(response.text)


async def test_no_file_chosen(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    await log_in_as(client, db, Role.admin)
    response = await client.submit("/admin/areas/import", {})
    assert response.status_code == 422
    assert "请选择要上传的CSV文件" in text_of(response.text)


async def test_the_template_downloads_as_utf8_with_a_bom(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    await log_in_as(client, db, Role.admin)
    response = await client.get("/admin/areas/import/template.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbfcode,name,level,parent_code\r\n") or \
        response.content.startswith(b"\xef\xbb\xbfcode,name,level,parent_code\n")


async def test_only_admins_import(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    response = await _upload(client, csv_file(_good_file(city)))
    assert response.status_code == 403
    assert await db.scalar(select(func.count(Area.id)).where(Area.code.startswith("X-"))) == 0
