"""Comments in search: only shown comments are indexed (held, hidden and deleted ones leave the index),
with their topic's area, category and state as facets — in the database fallback and in Meilisearch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from consultation.comments import moderation, services, words
from consultation.deliberation.models import Category, TopicState
from consultation.search_index import SearchDocument
from tests.comments.helpers import comment, english, open_topic
from tests.conftest import WebClient
from tests.deliberation.helpers import actor_of, make_world
from tests.search.conftest import drain, indexer_of, results_of


async def indexed(db: Any) -> dict[int, dict[str, Any]]:
    rows = (await db.scalars(select(SearchDocument).where(SearchDocument.doc_type == "comment")
                             .execution_options(populate_existing=True))).all()
    return {row.object_id: {**row.attributes, "area_ids": row.area_ids, "url": row.url} for row in rows}


async def test_shown_comments_are_found_in_the_fallback_with_their_facets(
    app: Starlette, client: WebClient, db: Any,
) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world, title="北门充电桩不够用")
    other = await open_topic(db, world, title="韶九社区垃圾分类", community_b=True)
    shown = await comment(db, world, topic, world.neighbours[0], "建议增设电动自行车充电桩", "support")
    hidden = await comment(db, world, topic, world.neighbours[1], "充电桩被占用太久", "oppose")
    deleted = await comment(db, world, topic, world.neighbours[2], "充电桩收费太贵", "neutral")
    await words.add_word(db, actor_of(world.admin, world), "刷单")
    await comment(db, world, topic, world.author, "充电桩旁刷单广告", "neutral")  # held for the word
    elsewhere = await comment(db, world, other, world.outsider, "充电桩也要装在韶九", "support")
    await drain(app, db)
    documents = await indexed(db)
    assert set(documents) == {shown.id, hidden.id, deleted.id, elsewhere.id}  # held: never indexed
    facet = documents[shown.id]
    assert facet["state"] == "collecting" and facet["category"] == "public_facilities"
    assert facet["stance"] == "support" and facet["url"] == f"/comments/{shown.id}"
    assert f" {world.city.community_a.id} " in facet["area_ids"] and f" {world.city.district.id} " in facet["area_ids"]

    await moderation.hide(db, actor_of(world.worker_a, world), hidden, "与议题无关")
    await services.delete_comment(db, actor_of(world.neighbours[2], world), deleted)
    await drain(app, db)
    assert set(await indexed(db)) == {shown.id, elsewhere.id}

    await english(client)
    found = results_of((await client.get("/search", params={"q": "充电桩", "type": "comment"})).text)
    assert "建议增设电动自行车充电桩" in found and "充电桩也要装在韶九" in found
    assert "被占用" not in found and "收费太贵" not in found and "刷单" not in found
    in_a = results_of((await client.get("/search", params={"q": "充电桩", "type": "comment",
                                                             "area": str(world.city.community_a.id)})).text)
    assert "建议增设" in in_a and "韶九" not in in_a
    assert "In favour" in found and "Collecting co-signs" in found  # stance and the topic's state as badges

    # the topic's state is a facet of its comments: a state change rebuilds them
    topic.state = TopicState.triage
    await db.flush()
    await services.topic_changed(db, topic.id)
    await drain(app, db)
    assert (await indexed(db))[shown.id]["state"] == "triage"


@pytest.mark.meili
async def test_meilisearch_filters_comments_by_area_category_and_state(
    meili_app: Starlette, meili_client: WebClient, db: Any,
) -> None:
    world = await make_world(db)
    lights = await open_topic(db, world, title="楼道灯坏了")
    charging = await open_topic(db, world, title="充电桩不够用")
    charging.category = Category.charging
    await db.flush()
    elsewhere = await open_topic(db, world, title="韶九楼道灯", community_b=True)
    first = await comment(db, world, lights, world.neighbours[0], "楼道需要声控灯", "support")
    second = await comment(db, world, charging, world.neighbours[1], "楼道里不能充电", "oppose")
    third = await comment(db, world, elsewhere, world.outsider, "楼道灯也坏了", "neutral")
    held_topic_comment = await comment(db, world, lights, world.neighbours[2], "楼道隐患", "neutral")
    await moderation.hide(db, actor_of(world.worker_a, world), held_topic_comment, "重复")
    await drain(meili_app, db)

    gateway = indexer_of(meili_app).gateway
    assert gateway is not None

    def search(filters: str) -> dict[str, Any]:
        index = gateway._client().index(gateway.live_index)
        return dict(index.search("楼道", {"filter": filters, "facets": ["category", "state", "district_id"]}))

    everything = await asyncio.to_thread(search, "type = 'comment'")
    assert {hit["object_id"] for hit in everything["hits"]} == {first.id, second.id, third.id}
    assert everything["facetDistribution"]["category"] == {"public_facilities": 2, "charging": 1}
    assert everything["facetDistribution"]["state"] == {"collecting": 3}
    in_a = await asyncio.to_thread(search, f"type = 'comment' AND area_ids = {world.city.community_a.id}")
    assert {hit["object_id"] for hit in in_a["hits"]} == {first.id, second.id}
    by_category = await asyncio.to_thread(search, "type = 'comment' AND category = 'charging'")
    assert [hit["object_id"] for hit in by_category["hits"]] == [second.id]
    none_deciding = await asyncio.to_thread(search, "type = 'comment' AND state = 'deciding'")
    assert none_deciding["hits"] == []

    page = results_of((await meili_client.get("/search", params={"q": "楼道", "type": "comment"})).text)
    assert "楼道需要声控灯" in page and "楼道隐患" not in page
