"""Similar topics while typing a title: the ``topic`` search document and ``/api/v1/topics/similar``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.applications import Starlette

from consultation.search_index import SearchDocument
from tests.conftest import WebClient
from tests.deliberation.helpers import make_world, raise_topic
from tests.factories import PASSWORD, identifier
from tests.search.conftest import drain, visible


async def test_similar_topics_are_suggested_within_the_area(app: Starlette, client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world, title="北门电动车充电桩不够用")
    await raise_topic(db, world, title="韶九社区充电桩损坏", community_b=True)
    await drain(app, db)
    document = await db.scalar(select(SearchDocument).where(SearchDocument.doc_type == "topic",
                                                            SearchDocument.object_id == topic.id))
    assert document is not None and document.attributes == {"state": "collecting", "category": "public_facilities"}

    response = await client.get("/api/v1/topics/similar", params={"area": world.city.community_a.id, "q": "充电桩"})
    assert response.status_code == 200
    body = response.json()
    assert [hit["title"] for hit in body["hits"]] == ["北门电动车充电桩不够用"]
    assert body["hits"][0]["url"] == f"/topics/{topic.id}" and "正在征集联署" in body["hits"][0]["badges"]
    assert body["from_fallback"] is True
    for params in [{"area": world.city.community_a.id, "q": "充"}, {"area": "x", "q": "充电桩"}, {"q": "充电桩"}]:
        nothing = await client.get("/api/v1/topics/similar", params=params)
        assert nothing.status_code == 200 and nothing.json()["hits"] == []


async def test_topics_appear_in_site_search_with_their_state(app: Starlette, client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await raise_topic(db, world, title="北门电动车充电桩不够用")
    await drain(app, db)
    page = visible((await client.get("/search", params={"q": "充电桩", "type": "topic"})).text)
    assert "北门电动车充电桩不够用" in page and "正在征集联署" in page


async def test_the_propose_form_offers_suggestions_to_scripts(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await client.login(identifier(world.author), PASSWORD)
    page = await client.get(f"/topics/new?area={world.city.community_a.id}")
    assert f'data-similar-topics="{world.city.community_a.id}"' in page.text
    assert 'id="similar-topics"' in page.text and 'aria-live="polite"' in page.text
