"""Search without Meilisearch: the database fallback (SQLite FTS5, PostgreSQL LIKE) behind the
same page, with facets, highlighting, pagination, synonyms, and bad input that never answers 500."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from consultation.accounts.models import Role
from consultation.accounts.selfservice import ProfileChange, update_profile
from consultation.areas.models import AreaLevel
from consultation.areas.roles import grant_role
from consultation.areas.services import create_area, delete_area, rename_area
from consultation.outbox import OutboxMessage
from consultation.policy import Actor, Grant
from consultation.search_index import SEARCH_INDEX_TOPIC, SearchDocument, search_changed
from tests.conftest import WebClient
from tests.factories import make_city, make_user
from tests.search.conftest import drain, results_of, visible

FALLBACK_NOTE = "结果来自数据库备用搜索"


async def test_without_meilisearch_the_database_answers_and_says_so(app: Starlette, client: WebClient,
                                                                    db: Any) -> None:
    city = await make_city(db)
    await drain(app, db)
    message = await db.scalar(select(OutboxMessage).where(OutboxMessage.topic == SEARCH_INDEX_TOPIC)
                              .execution_options(populate_existing=True))
    assert message.processed_at is not None  # no Meilisearch configured: the fallback table is all there is
    assert await db.scalar(select(func.count(SearchDocument.id))) == 6

    response = await client.get("/search", params={"q": "多福巷"})
    assert response.status_code == 200
    page = visible(response.text)
    assert FALLBACK_NOTE in page and "多福巷社区" in page and "共 2 条结果" in page  # the community and 1号院
    assert "<mark>多福巷</mark>社区" in response.text
    assert f'href="/areas/{city.community_a.id}"' in response.text
    assert "辖区 (2)" in page and "东城区 (2)" in page


async def test_fallback_filters_by_type_and_area_below(app: Starlette, client: WebClient, db: Any) -> None:
    city = await make_city(db)
    other = await create_area(db, None, name="西城区", level=AreaLevel.district, code="XC-B", parent=city.city)
    await create_area(db, None, name="新街口街道", level=AreaLevel.street, code="XC-B1", parent=other)
    worker = await make_user(db, name="周社工", role=Role.worker, area=city.community_b)
    search_changed(db, "profile", [worker.id])
    await drain(app, db)

    everything = visible((await client.get("/search", params={"q": "街道"})).text)
    assert "东华门街道" in everything and "新街口街道" in everything and "西城区 (1)" in everything

    west = visible((await client.get("/search", params={"q": "街道", "area": str(other.id)})).text)
    assert "新街口街道" in west and "东华门街道" not in west and "范围：西城区" in west

    people = visible((await client.get("/search", params={"q": "社区工作者", "type": "profile"})).text)
    assert "周*工" in people and "共 1 条结果" in people

    browse = visible((await client.get("/search", params={"type": "area", "area": str(city.street.id)})).text)
    assert "共 4 条结果" in browse  # the street, two communities and a compound


async def test_fallback_synonyms_pagination_and_escaping(app: Starlette, client: WebClient, db: Any) -> None:
    city = await make_city(db)
    await create_area(db, None, name="<i>电梯</i>加装试点院", level=AreaLevel.compound, code="LIFT",
                      parent=city.community_b)
    for n in range(2, 25):
        await create_area(db, None, name=f"{n}号院", level=AreaLevel.compound, code=f"P-{n}", parent=city.community_a)
    await drain(app, db)

    lift = await client.get("/search", params={"q": "升降梯"})  # a synonym of 电梯
    assert "加装试点院" in visible(lift.text)
    assert "&lt;i&gt;<mark>电梯</mark>&lt;/i&gt;" in lift.text and "<i>" not in lift.text

    first = await client.get("/search", params={"q": "号院"})
    assert "共 24 条结果" in visible(first.text) and 'rel="next"' in first.text
    second = await client.get("/search", params={"q": "号院", "page": "2"})
    assert second.text.count('class="result"') == 4 and 'rel="prev"' in second.text

    json = (await client.get("/api/v1/search", params={"q": "号院", "page": "2"})).json()
    assert json["total"] == 24 and json["pages"] == 2 and json["from_fallback"] is True
    assert len(json["hits"]) == 4 and json["facets"]["type"] == [{"value": "area", "label": "辖区", "count": 24}]


async def test_bad_search_input_never_fails(app: Starlette, client: WebClient, db: Any) -> None:
    await make_city(db)
    await drain(app, db)
    for params in ({"q": '"*) OR (NEAR "'}, {"q": "多福巷", "page": "abc"}, {"q": "多福巷", "page": "-3"},
                   {"q": "多福巷", "page": "99999"}, {"q": "多福巷", "type": "bogus", "area": "x"},
                   {"q": "巷" * 5000}, {"q": "％_\\"}, {"q": "   "}, {"area": "0"}):
        response = await client.get("/search", params=params)
        assert response.status_code == 200, params
        assert (await client.get("/api/v1/search", params=params)).status_code == 200
    empty = visible((await client.get("/search", params={"q": "不存在的地方"})).text)
    assert "没有找到与“不存在的地方”相关的结果" in empty
    assert "请输入一两个词" in visible((await client.get("/search")).text)


async def test_deleted_area_leaves_the_index(app: Starlette, client: WebClient, db: Any) -> None:
    city = await make_city(db)
    temporary = await create_area(db, None, name="临时安置院", level=AreaLevel.compound, code="TMP",
                                  parent=city.community_b)
    await drain(app, db)
    assert "临时安置院" in visible((await client.get("/search", params={"q": "临时安置"})).text)
    await delete_area(db, Actor(grants=(Grant(Role.admin),)), temporary)
    await drain(app, db)
    assert "临时安置院" not in visible((await client.get("/search", params={"q": "临时安置"})).text)
    assert await db.scalar(select(func.count(SearchDocument.id)).where(SearchDocument.doc_type == "area")) == 6


async def test_account_and_area_services_queue_reindexing(app: Starlette, client: WebClient, db: Any) -> None:
    city = await make_city(db)
    admin = Actor(grants=(Grant(Role.admin),))
    resident = await make_user(db, name="李秀英", area=city.community_a)
    await drain(app, db)
    assert results_of((await client.get("/search", params={"q": "李秀英"})).text) == ""

    await update_profile(db, resident, ProfileChange(display_name="李秀英", show_full_name=True, locale="zh_CN",
                                                     elderly_mode=False), locales=("zh_CN", "en"), ip=None)
    await drain(app, db)
    assert "李秀英" in results_of((await client.get("/search", params={"q": "李秀英"})).text)

    worker = await make_user(db, name="周建国", area=city.community_b)
    await grant_role(db, admin, worker, Role.worker, area=city.community_b)
    await drain(app, db)
    assert "周*国" in results_of((await client.get("/search", params={"q": "社区工作者"})).text)

    await rename_area(db, admin, city.street, name="东华门新街道")
    await drain(app, db)
    renamed = results_of((await client.get("/search", params={"q": "东华门新街道"})).text)
    assert "多福巷社区" in renamed and "1号院" in renamed  # breadcrumbs below the street follow the new name
