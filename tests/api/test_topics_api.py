"""Topics through the JSON API: list with filters and pages, detail, propose, co-sign, follow, and
every refusal as JSON in the caller's language, with nothing personal in any answer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from consultation.deliberation import services
from consultation.deliberation.models import Topic, TopicCoSign, TopicFollow, TopicState
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in, send
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, make_world, raise_topic


async def count(db: Any, *where: Any, model: Any = Topic) -> int:
    return int(await db.scalar(select(func.count(model.id)).where(*where)) or 0)


async def three_topics(db: Any, world: World) -> list[Topic]:
    """A's community-wide topic, a topic in A's compound, and one in B (oldest first)."""
    first = await raise_topic(db, world, title="3号楼楼道灯坏了")
    second = await services.propose(db, actor_of(world.author, world), world.city.community_a, title="院里停车乱",
                                    description="晚上车停满消防通道。", category="parking",
                                    compound=world.city.compound_a)
    third = await raise_topic(db, world, title="韶九社区垃圾站太臭", community_b=True)
    await db.commit()
    return [first, second, third]


async def test_list_filters_by_area_with_sub_areas_state_and_category(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    first, second, third = await three_topics(db, world)
    city = world.city

    async def ids(query: str) -> list[int]:
        response = await client.get(f"/api/v1/topics?{query}")
        assert response.status_code == 200, response.text
        assert_matches("TopicSummaryPage", response.json())
        return [item["id"] for item in response.json()["items"]]

    assert await ids(f"area={city.district.id}") == [third.id, second.id, first.id]  # newest first
    assert await ids(f"area={city.community_a.id}") == [second.id, first.id]  # with its compound
    assert await ids(f"area={city.compound_a.id}") == [second.id]
    assert await ids(f"area={city.district.id}&category=parking") == [second.id]
    assert await ids(f"area={city.district.id}&state=collecting") == [third.id, second.id, first.id]
    assert await ids(f"area={city.district.id}&state=triage") == []
    item = (await client.get(f"/api/v1/topics?area={city.compound_a.id}")).json()["items"][0]
    assert item["title"] == "院里停车乱" and item["state"] == "collecting" and item["state_label"] == "正在征集联署"
    assert item["community"] == {"id": city.community_a.id, "name": "多福巷社区"}
    assert item["area"] == {"id": city.compound_a.id, "name": "1号院"} and item["cosign_count"] == 0


async def test_list_is_paged_within_bounds(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    first, second, third = await three_topics(db, world)
    area = world.city.district.id
    body = (await client.get(f"/api/v1/topics?area={area}&per_page=2")).json()
    assert [i["id"] for i in body["items"]] == [third.id, second.id]
    assert (body["page"], body["per_page"], body["total"]) == (1, 2, 3)
    body = (await client.get(f"/api/v1/topics?area={area}&per_page=2&page=2")).json()
    assert [i["id"] for i in body["items"]] == [first.id] and body["total"] == 3
    body = (await client.get(f"/api/v1/topics?area={area}&page=9")).json()
    assert body["items"] == [] and body["total"] == 3
    response = await client.get(f"/api/v1/topics?area={area}&per_page=1000&page=0")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"] == {"per_page": "请输入 1 到 100 之间的整数。", "page": "请输入 1 到 10000 之间的整数。"}
    for query in ("state=nonsense", "category=x", "area=99999999", "area=abc"):
        response = await client.get(f"/api/v1/topics?{query}")
        assert response.status_code == 422 and response.json()["error"]["code"] == "validation_failed", query


async def test_detail_has_the_public_timeline_and_masked_author(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await db.commit()
    response = await client.get(f"/api/v1/topics/{topic.id}")
    assert response.status_code == 200
    body = response.json()
    assert_matches("TopicDetail", body)
    assert body["author"] == {"name": "张*国"} and body["description"] == "晚上楼道漆黑，老人上下楼很危险。"
    assert [(s["state"], s["by_role"]) for s in body["timeline"]] == [("proposed", "proposer"),
                                                                       ("collecting", "system")]
    assert body["timeline"][0]["by_role_label"] == "提议人"
    assert body["cosign_threshold"] == 5 and body["merged_into"] is None
    assert body["viewer"] == {"signed_in": False, "cosigned": False, "following": False, "can_cosign": False,
                              "cosign_problem": None}
    assert_no_personal_data(response, world.author)
    await log_in(client, world.neighbours[0])
    viewer = (await client.get(f"/api/v1/topics/{topic.id}")).json()["viewer"]
    assert viewer["can_cosign"] is True and viewer["signed_in"] is True
    missing = await client.get("/api/v1/topics/987654")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_a_resident_proposes_through_the_api(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    response = await send(client, "POST", "/api/v1/topics", {
        "area_id": world.city.community_a.id, "title": "  东门路灯不亮 ", "description": "晚上看不清路。",
        "category": "public_facilities", "compound_id": world.city.compound_a.id, "place": "东门"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert_matches("TopicDetail", body)
    assert response.headers["location"] == f"/api/v1/topics/{body['id']}"
    assert body["title"] == "东门路灯不亮" and body["state"] == "collecting" and body["place"] == "东门"
    assert body["area"]["id"] == world.city.compound_a.id and body["viewer"]["following"] is True
    assert_no_personal_data(response, world.author)
    topic = await db.get(Topic, body["id"])
    assert topic is not None and topic.author_id == world.author.id and topic.state is TopicState.collecting


async def test_invalid_proposal_gets_field_errors_in_the_callers_language(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    bad = {"area_id": world.city.community_a.id, "title": "", "description": "说" * 5001, "category": "nonsense"}
    response = await send(client, "POST", "/api/v1/topics", bad)
    assert response.status_code == 422
    error = response.json()["error"]
    assert_matches("Error", response.json())
    assert error["code"] == "validation_failed" and error["status"] == 422
    assert error["fields"] == {"title": "此项为必填项。", "description": "最多输入5000个字符。",
                               "category": "请选择类别。"}
    english = await send(client, "POST", "/api/v1/topics", bad, **{"accept-language": "en-GB,en;q=0.9,zh;q=0.5"})
    assert english.json()["error"]["fields"]["title"] == "This field is required."
    client.cookies.set("lang", "en")
    by_cookie = await send(client, "POST", "/api/v1/topics", bad)
    assert by_cookie.json()["error"]["fields"]["category"] == "Choose a category."
    wrong_types = await send(client, "POST", "/api/v1/topics", {"area_id": "one", "title": 5, "description": "x",
                                                                "category": "other"})
    assert set(wrong_types.json()["error"]["fields"]) == {"area_id", "title"}
    assert wrong_types.json()["error"]["fields"]["title"] == "Enter text."
    not_json = await client.post("/api/v1/topics", content=b"title=x",
                                 headers={"x-csrf-token": await client.csrf(), "content-type": "text/plain"})
    assert not_json.status_code == 422 and "body" in not_json.json()["error"]["fields"]
    broken = await client.post("/api/v1/topics", content=b"{not json",
                               headers={"x-csrf-token": await client.csrf(), "content-type": "application/json"})
    assert broken.status_code == 422 and "body" in broken.json()["error"]["fields"]
    assert await count(db, Topic.author_id == world.author.id) == 0


async def test_proposing_outside_ones_community_is_refused(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.outsider)
    response = await send(client, "POST", "/api/v1/topics", {
        "area_id": world.city.community_a.id, "title": "外人提议", "description": "x", "category": "other"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden" and "多福巷社区" in response.json()["error"]["message"]
    assert await count(db, Topic.author_id == world.outsider.id) == 0


async def test_idempotency_key_makes_a_retry_create_nothing(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    await log_in(client, world.author)
    topic = {"area_id": world.city.community_a.id, "title": "重复提交", "description": "x", "category": "other"}
    first = await send(client, "POST", "/api/v1/topics", topic, **{"idempotency-key": "abc-1"})
    retry = await send(client, "POST", "/api/v1/topics", topic, **{"idempotency-key": "abc-1"})
    assert first.status_code == 201 and retry.status_code == 409
    assert retry.json()["error"]["code"] == "conflict"
    assert await count(db, Topic.author_id == world.author.id) == 1
    failed = await send(client, "POST", "/api/v1/topics", {**topic, "title": ""}, **{"idempotency-key": "abc-2"})
    assert failed.status_code == 422  # rolled back, so the key is free again
    again = await send(client, "POST", "/api/v1/topics", topic, **{"idempotency-key": "abc-2"})
    assert again.status_code == 201
    assert await count(db, Topic.author_id == world.author.id) == 2


async def test_cosigning_twice_counts_once_and_never_lists_names(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await db.commit()
    neighbour = world.neighbours[0]
    await log_in(client, neighbour)
    first = await send(client, "POST", f"/api/v1/topics/{topic.id}/cosigns")
    second = await send(client, "POST", f"/api/v1/topics/{topic.id}/cosigns")
    assert (first.status_code, second.status_code) == (201, 200)
    assert_matches("CosignStatus", first.json())
    assert first.json() == {"topic_id": topic.id, "count": 1, "threshold": 5, "collecting": True,
                            "cosigned": True, "state": "collecting"}
    assert second.json()["count"] == 1
    assert await count(db, TopicCoSign.topic_id == topic.id, model=TopicCoSign) == 1
    mine = (await client.get(f"/api/v1/topics/{topic.id}/cosigns")).json()
    assert mine["count"] == 1 and mine["cosigned"] is True
    anonymous = WebClient(transport=client._transport, base_url="http://testserver")
    async with anonymous:
        response = await anonymous.get(f"/api/v1/topics/{topic.id}/cosigns")
        assert response.json()["cosigned"] is False and response.json()["count"] == 1
        assert_no_personal_data(response, neighbour, world.author)
        assert "李" not in response.text


async def test_outsider_cosign_is_a_403_with_the_reason(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await db.commit()
    await log_in(client, world.outsider)
    response = await send(client, "POST", f"/api/v1/topics/{topic.id}/cosigns")
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "forbidden", "status": 403,
                                        "message": "只有多福巷社区的居民才能联署这个议题。"}
    assert await count(db, TopicCoSign.topic_id == topic.id, model=TopicCoSign) == 0


async def test_anonymous_writes_are_401_json(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await db.commit()
    for method, url, body in [("POST", "/api/v1/topics", {"area_id": world.city.community_a.id, "title": "x",
                                                          "description": "x", "category": "other"}),
                              ("POST", f"/api/v1/topics/{topic.id}/cosigns", None),
                              ("POST", f"/api/v1/topics/{topic.id}/follow", None),
                              ("DELETE", f"/api/v1/topics/{topic.id}/follow", None)]:
        response = await send(client, method, url, body)
        assert response.status_code == 401, url
        assert response.json()["error"] == {"code": "login_required", "status": 401, "message": "请先登录。"}
    assert await count(db, Topic.community_id == world.city.community_a.id) == 1


async def test_writes_without_the_csrf_token_are_403_json(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await db.commit()
    await log_in(client, world.neighbours[0])
    response = await client.post(f"/api/v1/topics/{topic.id}/cosigns")
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    response = await client.post(f"/api/v1/topics/{topic.id}/cosigns", headers={"x-csrf-token": "forged-" * 4})
    assert response.status_code == 403 and response.json()["error"]["code"] == "csrf_failed"
    english = await client.post(f"/api/v1/topics/{topic.id}/cosigns", headers={"accept-language": "en"})
    assert "expired" in english.json()["error"]["message"]
    assert await count(db, TopicCoSign.topic_id == topic.id, model=TopicCoSign) == 0


async def test_follow_and_unfollow(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await raise_topic(db, world)
    await db.commit()
    await log_in(client, world.outsider)  # anyone signed in may follow a public topic
    followed = await send(client, "POST", f"/api/v1/topics/{topic.id}/follow")
    assert followed.status_code == 200 and followed.json() == {"topic_id": topic.id, "following": True}
    assert (await send(client, "POST", f"/api/v1/topics/{topic.id}/follow")).status_code == 200
    where = (TopicFollow.topic_id == topic.id, TopicFollow.user_id == world.outsider.id)
    assert await count(db, *where, model=TopicFollow) == 1
    assert (await client.get(f"/api/v1/topics/{topic.id}")).json()["viewer"]["following"] is True
    unfollowed = await send(client, "DELETE", f"/api/v1/topics/{topic.id}/follow")
    assert unfollowed.json() == {"topic_id": topic.id, "following": False}
    assert await count(db, *where, model=TopicFollow) == 0
