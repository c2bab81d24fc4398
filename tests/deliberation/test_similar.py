"""Similar topics while typing a title: the ``topic`` search document and ``/api/v1/topics/similar``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from consultation.deliberation.models import Topic
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


async def test_without_javascript_the_check_button_lists_similar_topics_and_keeps_the_form(
    app: Starlette, client: WebClient, db: Any,
) -> None:
    world = await make_world(db)
    existing = await raise_topic(db, world, title="北门电动车充电桩不够用")
    await drain(app, db)
    await client.login(identifier(world.neighbours[0]), PASSWORD)
    form = {"title": "北门充电桩", "description": "晚上排队。", "category": "charging", "check_similar": "1"}
    response = await client.submit(f"/topics/new?area={world.city.community_a.id}", form)
    assert response.status_code == 200
    assert f'href="/topics/{existing.id}"' in response.text and 'value="北门充电桩"' in response.text
    assert "晚上排队。" in response.text
    assert await db.scalar(select(func.count(Topic.id))) == 1  # nothing was published

    nothing = await client.submit(f"/topics/new?area={world.city.community_a.id}",
                                  {**form, "title": "垃圾桶站异味"})
    assert nothing.status_code == 200 and "本社区还没有人提出类似的议题" in nothing.text
    assert await db.scalar(select(func.count(Topic.id))) == 1


async def test_a_longer_title_still_finds_its_near_duplicate(app: Starlette, client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await raise_topic(db, world, title="3号楼楼道灯坏了")
    await raise_topic(db, world, title="北门电动车充电桩不够用")
    await drain(app, db)
    response = await client.get("/api/v1/topics/similar", params={"area": world.city.community_a.id,
                                                                  "q": "3号楼楼道灯不亮，晚上看不见台阶"})
    titles = [hit["title"] for hit in response.json()["hits"]]
    assert titles[0] == "3号楼楼道灯坏了"  # most words in common first; the other shares only its description
