"""The search pipeline against a real Meilisearch: outbox-driven indexing, the page, facets,
highlighting, reindex with swap, privacy of profiles, and catching up after an outage."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import meilisearch
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.applications import Starlette

from consultation.accounts.models import Role
from consultation.areas.models import AreaLevel
from consultation.areas.services import create_area
from consultation.db import utcnow
from consultation.outbox import OutboxMessage
from consultation.search_index import SEARCH_INDEX_TOPIC, SearchDocument, search_changed
from search.results import SearchQuery
from tests.conftest import WebClient
from tests.factories import make_city, make_user
from tests.search.conftest import (
    SwitchableProxy,
    drain,
    drop_indexes,
    indexer_of,
    results_of,
    running_app,
    search_of,
    visible,
)
from tests.web.test_query_counts import statements
from web.settings import Settings

pytestmark = pytest.mark.meili

FALLBACK_NOTE = "结果来自数据库备用搜索"


def meili_documents(app: Starlette) -> list[dict[str, Any]]:
    gateway = indexer_of(app).gateway
    assert gateway is not None
    client = gateway._client()
    return [dict(doc) for doc in client.index(gateway.live_index).get_documents({"limit": 1000}).results]


async def test_area_is_indexed_through_the_outbox_and_found_on_the_page(
    meili_app: Starlette, meili_client: WebClient, db: Any,
) -> None:
    city = await make_city(db)
    pending = (await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == SEARCH_INDEX_TOPIC))).all()
    assert [m.payload["type"] for m in pending] == ["area"]  # six areas, one message for the transaction
    assert set(pending[0].payload["ids"]) >= {city.district.id, city.community_a.id}
    assert (await meili_client.get("/search?q=多福巷")).status_code == 200

    assert await drain(meili_app, db) >= 1
    response = await meili_client.get("/search", params={"q": "多福巷"})
    assert response.status_code == 200
    page = visible(response.text)
    assert "多福巷社区" in page and FALLBACK_NOTE not in page
    assert "<mark>多福巷</mark>社区" in response.text
    assert f'href="/areas/{city.community_a.id}"' in response.text
    document = next(d for d in await asyncio.to_thread(meili_documents, meili_app)
                    if d["id"] == f"area-{city.community_a.id}")
    assert document["area_ids"] == [city.city.id, city.district.id, city.street.id, city.community_a.id]
    assert document["district_id"] == city.district.id and document["level"] == "community"


async def test_facet_counts_and_filters(meili_app: Starlette, meili_client: WebClient, db: Any) -> None:
    city = await make_city(db)
    other = await create_area(db, None, name="西城区", level=AreaLevel.district, code="XC-F", parent=city.city)
    await create_area(db, None, name="什刹海社区服务站", level=AreaLevel.street, code="XC-F1", parent=other)
    worker = await make_user(db, name="周社工", role=Role.worker, area=city.community_b)
    search_changed(db, "profile", [worker.id])
    await drain(meili_app, db)

    # 多福巷社区, 韶九社区, 什刹海社区服务站, 1号院 (its breadcrumb names its community) and the worker of 韶九社区
    html = (await meili_client.get("/search?q=社区")).text
    page = visible(html)
    assert "5 条结果" in page
    assert "辖区 (4)" in page and "人员 (1)" in page
    assert "东城区 (4)" in page and "西城区 (1)" in page

    in_district = await meili_client.get("/search", params={"q": "社区", "area": str(city.district.id)})
    assert "4 条结果" in visible(in_district.text) and "什刹海" not in in_district.text
    assert f'href="/search?q=%E7%A4%BE%E5%8C%BA&amp;area={other.id}"' in html  # facet links keep the query
    assert 'href="/search?q=%E7%A4%BE%E5%8C%BA"' in in_district.text  # "all areas" drops only the filter

    people = visible((await meili_client.get("/search", params={"q": "社区", "type": "profile"})).text)
    assert "1 条结果" in people and "周*工" in people and "社区工作者" in people


async def test_a_search_reads_no_table_once_its_facet_labels_are_kept(
    meili_app: Starlette, meili_client: WebClient, db: Any, connection: AsyncConnection,
) -> None:
    await make_city(db)
    await drain(meili_app, db)
    assert "东城区 (" in visible((await meili_client.get("/search?q=社区&seen=1")).text)  # labels kept
    with statements(connection) as seen:  # another address: searched and rendered afresh, not kept
        response = await meili_client.get("/search?q=社区&seen=2")
    assert response.status_code == 200 and "东城区 (" in visible(response.text)
    assert seen == []


async def test_pagination(meili_app: Starlette, meili_client: WebClient, db: Any) -> None:
    city = await make_city(db)
    for n in range(2, 25):
        await create_area(db, None, name=f"{n}号院", level=AreaLevel.compound, code=f"F-{n}", parent=city.community_a)
    await drain(meili_app, db)
    first = await meili_client.get("/search", params={"q": "号院"})
    assert "24 条结果" in visible(first.text)
    assert 'rel="next"' in first.text and 'aria-current="page">1<' in first.text
    second = await meili_client.get("/search", params={"q": "号院", "page": "2"})
    assert second.text.count('class="result"') == 4 and 'rel="prev"' in second.text
    assert 'rel="next"' not in second.text


async def test_highlighting_escapes_document_text_and_synonyms_apply(
    meili_app: Starlette, meili_client: WebClient, db: Any,
) -> None:
    city = await make_city(db)
    await create_area(db, None, name="<b>多福</b>新村", level=AreaLevel.community, code="XSS-1", parent=city.street)
    await create_area(db, None, name="加装电梯试点院", level=AreaLevel.compound, code="LIFT-1", parent=city.community_b)
    await drain(meili_app, db)
    response = await meili_client.get("/search?q=新村")
    assert "&lt;b&gt;" in response.text and "<b>多福</b>" not in response.text
    assert "<mark>新村</mark>" in response.text
    assert "加装电梯试点院" in results_of((await meili_client.get("/search?q=升降梯")).text)  # synonyms


async def test_full_reindex_swaps_in_a_new_index_and_search_never_goes_empty(
    meili_app: Starlette, db: Any,
) -> None:
    city = await make_city(db)
    await drain(meili_app, db)
    indexer, service = indexer_of(meili_app), search_of(meili_app)
    gateway = indexer.gateway
    assert gateway is not None

    # Asked straight of the live index because the test's database connection is busy with the reindex, and with
    # a timeout of its own: what is checked is that the index never answers empty. In a full test run Meilisearch
    # has once taken more than the site's 2 s (after which the site searches the database) to answer one search
    # while a reindex swapped and deleted indexes.
    probe = meilisearch.Client(gateway.url, gateway.api_key, timeout=30)

    async def found() -> int:  # 多福巷社区 and 1号院 below it
        raw = await asyncio.to_thread(lambda: probe.index(gateway.live_index).search("多福巷"))
        return int(raw["estimatedTotalHits"])

    assert await found() == 2
    assert not (await service.search(db, SearchQuery(text="多福巷"))).from_fallback
    uid, count = await indexer.build_index()
    assert count == 6 and uid.startswith(f"{gateway.live_index}_")
    assert await found() == 2  # the live index still answers while the new one is filled
    await indexer.swap_in(uid)
    assert await found() == 2
    names = await gateway.call(lambda c: [i.uid for i in c.get_indexes({"limit": 1000})["results"]])
    assert names.count(gateway.live_index) == 1 and uid not in names

    # A reindex while searches keep coming: every answer has the document.
    await db.execute(update(SearchDocument).values(title="stale"))
    totals: list[int] = []
    reindex = asyncio.create_task(meili_app.state.services.reindex())
    while not reindex.done():
        totals.append(await found())
    assert await reindex == 6
    assert totals and all(total == 2 for total in totals)
    assert await db.scalar(select(SearchDocument.title).where(SearchDocument.object_id == city.community_a.id,
                                                              SearchDocument.doc_type == "area")) == "多福巷社区"


async def test_profiles_are_indexed_only_when_public_and_without_contact_details(
    meili_app: Starlette, meili_client: WebClient, db: Any,
) -> None:
    city = await make_city(db)
    private = await make_user(db, name="王小明", area=city.community_a, phone="13900001111")
    public = await make_user(db, name="赵敏", area=city.community_a, phone="13900002222")
    public.show_full_name = True
    worker = await make_user(db, name="李秀英", role=Role.worker, area=city.community_b, phone="13900003333")
    search_changed(db, "profile", [private.id, public.id, worker.id])
    await drain(meili_app, db)

    assert results_of((await meili_client.get("/search?q=王小明")).text) == ""
    opted_in = results_of((await meili_client.get("/search?q=赵敏")).text)
    assert "赵敏" in opted_in and "居民" in opted_in
    staff = results_of((await meili_client.get("/search?q=社区工作者")).text)
    assert "李*英" in staff and "韶九社区" in staff and "李秀英" not in staff
    documents = await asyncio.to_thread(meili_documents, meili_app)
    assert {d["id"] for d in documents if d["type"] == "profile"} == {f"profile-{public.id}", f"profile-{worker.id}"}
    everything = str(documents) + str((await db.execute(select(SearchDocument.__table__))).all())
    for secret in ("13900001111", "13900002222", "13900003333", "1号院101室"):
        assert secret not in everything

    public.show_full_name = False  # opting out removes the profile again
    search_changed(db, "profile", [public.id])
    await drain(meili_app, db)
    assert "赵敏" not in results_of((await meili_client.get("/search?q=赵敏")).text)


async def test_meilisearch_outage_falls_back_and_loses_nothing(
    meili_settings: Settings, meili_proxy: SwitchableProxy, sessionmaker: Any, db: Any,
) -> None:
    settings = meili_settings.with_(meili_url=meili_proxy.url, meili_timeout=1.0)  # proxy not started: refused
    async with running_app(settings, sessionmaker) as app:
        async with WebClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            city = await make_city(db)
            assert await drain(app, db) == 1
            message = await db.scalar(select(OutboxMessage).where(OutboxMessage.topic == SEARCH_INDEX_TOPIC)
                                      .execution_options(populate_existing=True))
            assert message.processed_at is None and message.failed_at is None and message.attempts == 1
            assert "Meili" in (message.last_error or "")

            response = await client.get("/search?q=多福巷")
            assert response.status_code == 200
            page = visible(response.text)
            assert FALLBACK_NOTE in page and "多福巷社区" in page and "<mark>" in response.text
            assert (await client.get("/api/v1/search?q=多福巷")).json()["from_fallback"] is True

            await meili_proxy.start()  # Meilisearch is back; the retry comes due
            await db.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
            assert await drain(app, db) == 1
            message = await db.scalar(select(OutboxMessage).where(OutboxMessage.id == message.id)
                                      .execution_options(populate_existing=True))
            assert message.processed_at is not None and message.attempts == 2
            response = await client.get("/search?q=多福巷")
            assert FALLBACK_NOTE not in visible(response.text) and "多福巷社区" in visible(response.text)
            assert f"area-{city.community_a.id}" in {d["id"] for d in await asyncio.to_thread(meili_documents, app)}
    assert meili_settings.meili_url and meili_settings.meili_master_key
    await asyncio.to_thread(drop_indexes, meili_settings.meili_url, meili_settings.meili_master_key,
                            meili_settings.meili_index_prefix)


async def test_the_live_index_is_configured_as_index_settings_says(meili_app: Starlette, db: Any) -> None:
    """Proximity by attribute (indexing a surge's comments costs a quarter less), the document types'
    facets filterable and the texts read as Chinese."""
    await make_city(db)
    assert await drain(meili_app, db) >= 1
    indexer = indexer_of(meili_app)
    gateway = indexer.gateway
    assert gateway is not None
    index = gateway._client().index(gateway.live_index)
    settings = await asyncio.to_thread(index.get_settings)
    assert settings["proximityPrecision"] == "byAttribute"
    assert set(settings["filterableAttributes"]) == set(indexer.registry.filterable())
    assert settings["localizedAttributes"] == [{"attributePatterns": ["title", "body", "keywords"], "locales": ["cmn"]}]
