"""Similar topics while a title is typed, answered by the real Meilisearch (the fallback is covered in
tests/deliberation/test_similar.py): Chinese words match inside longer titles, other areas stay out."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from tests.conftest import WebClient
from tests.deliberation.helpers import make_world, raise_topic
from tests.search.conftest import drain

pytestmark = pytest.mark.meili


async def test_similar_topics_come_from_meilisearch_within_the_area(
    meili_app: Starlette, meili_client: WebClient, db: Any,
) -> None:
    world = await make_world(db)
    charging = await raise_topic(db, world, title="北门电动车充电桩不够用")
    await raise_topic(db, world, title="3号楼楼道灯坏了")
    await raise_topic(db, world, title="韶九社区充电桩损坏", community_b=True)
    await drain(meili_app, db)

    response = await meili_client.get("/api/v1/topics/similar",
                                      params={"area": world.city.community_a.id, "q": "充电桩坏了"})
    assert response.status_code == 200
    body = response.json()
    assert body["from_fallback"] is False
    titles = [hit["title"] for hit in body["hits"]]
    assert titles[0] == "北门电动车充电桩不够用" and "韶九社区充电桩损坏" not in titles
    assert body["hits"][0]["url"] == f"/topics/{charging.id}"
    assert "正在征集联署" in body["hits"][0]["badges"]
