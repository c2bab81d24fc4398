"""Category and state facets on the search page and its JSON twin, answered by the database fallback and
by the real Meilisearch alike: counts per value, filtering by a value, and links that keep the query."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from consultation.deliberation import services
from search import fallback
from search.catalog import build_registry
from search.results import SearchQuery
from tests import harness
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, in_triage, make_world
from tests.search.conftest import drain, visible
from tests.web.test_query_counts import statements


async def _topics(db: Any) -> World:
    world = await make_world(db)
    community = world.city.community_a
    await services.propose(db, actor_of(world.author, world), community, title="北门充电桩不够用",
                           description="电动车充电排长队。", category="charging")
    await services.propose(db, actor_of(world.neighbours[1], world), community, title="南门充电桩损坏",
                           description="充电桩屏幕坏了。", category="charging")
    triaged = await in_triage(db, world, title="充电车棚漏雨")
    await services.accept(db, actor_of(world.worker_a, world), triaged)
    return world


async def _check_facets(client: WebClient) -> None:
    body = (await client.get("/api/v1/search", params={"q": "充电", "type": "topic"})).json()
    categories = {f["value"]: f["count"] for f in body["facets"]["category"]}
    states = {f["value"]: f["count"] for f in body["facets"]["state"]}
    assert categories == {"charging": 2, "public_facilities": 1}
    assert states == {"collecting": 2, "deliberating": 1}
    assert {f["label"] for f in body["facets"]["state"]} == {"正在征集联署", "已列入议程，正在商议"}

    only = (await client.get("/api/v1/search", params={"q": "充电", "type": "topic", "state": "deliberating"})).json()
    assert [hit["title_html"] for hit in only["hits"]] == ["<mark>充电</mark>车棚漏雨"]
    assert only["query"]["state"] == "deliberating"
    ignored = (await client.get("/api/v1/search", params={"q": "充电", "category": "no-such-category"})).json()
    assert ignored["query"]["category"] is None and ignored["total"] == 3

    page = await client.get("/search", params={"q": "充电", "category": "charging"})
    text = visible(page.text)
    assert "北门充电桩不够用" in text and "充电车棚漏雨" not in text
    assert "类别" in text and "状态" in text
    assert 'href="/search?q=%E5%85%85%E7%94%B5&amp;category=charging&amp;state=collecting"' in page.text
    assert '<input type="hidden" name="category" value="charging">' in page.text


async def test_category_and_state_facets_from_the_fallback(app: Starlette, client: WebClient, db: Any) -> None:
    await _topics(db)
    await drain(app, db)
    await _check_facets(client)


@pytest.mark.meili
async def test_category_and_state_facets_from_meilisearch(
    meili_app: Starlette, meili_client: WebClient, db: Any,
) -> None:
    await _topics(db)
    await drain(meili_app, db)
    assert (await meili_client.get("/api/v1/search", params={"q": "充电"})).json()["from_fallback"] is False
    await _check_facets(meili_client)


@pytest.mark.skipif(harness.backend() != "postgres",
                    reason="the PostgreSQL fallback's one scan (SQLite counts through its FTS5 index)")
async def test_the_postgresql_fallback_reads_the_documents_once(app: Starlette, db: Any, connection: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Each ``LIKE`` pass reads every document, so on PostgreSQL the total, all facets and the page's ids come
    from one pass (a materialized CTE, ``GROUPING SETS``) and the page's documents are then read by id: the
    same counts and hits, in the same order and at any offset, as a query per facet and one for the page."""
    await _topics(db)
    await drain(app, db)
    registry = build_registry()
    for text, page, match_any in (("充电", 1, False), ("充电", 2, False), ("充电 漏雨", 1, False),
                                  ("充电 漏雨", 1, True), ("没有这样的词", 1, False)):
        query = SearchQuery(text=text, page=page, per_page=2, match_any=match_any)
        with statements(connection) as seen:
            one_pass = await fallback.search(db, query, registry)
        scans = [sql for sql in seen if "LIKE" in sql.upper()]
        assert len(scans) == 1, seen  # the documents are read once; the page's rows then by id
        assert len(seen) == (2 if one_pass.hits else 1), seen
        with monkeypatch.context() as patched:
            patched.setattr(fallback, "_in_one_scan", fallback._one_by_one)
            per_facet = await fallback.search(db, query, registry)
        assert one_pass.total == per_facet.total
        assert one_pass.type_counts == per_facet.type_counts
        assert one_pass.district_counts == per_facet.district_counts
        assert one_pass.attribute_counts == per_facet.attribute_counts
        assert [hit.url for hit in one_pass.hits] == [hit.url for hit in per_facet.hits]
        assert (one_pass.total > 0) is (text != "没有这样的词")
        if text == "充电":
            assert one_pass.attribute_counts["category"] == {"charging": 2, "public_facilities": 1}
            assert len(one_pass.hits) == (2 if page == 1 else 1)
