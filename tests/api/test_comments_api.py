"""Comments through the JSON API: the thread with tombstones and stance counts, held comments only
for their author, posting and replying (double submits save one), deleting, and the refusals."""

from __future__ import annotations

from typing import Any

from consultation.comments import services as comment_services
from consultation.comments.models import Comment, SensitiveWord, Stance
from consultation.comments.policy import POST_LIMIT
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in, send
from tests.comments.helpers import closed_topic, comment, count, open_topic, reply
from tests.conftest import WebClient
from tests.deliberation.helpers import actor_of, make_world


async def test_the_thread_shows_tombstones_and_counts_but_not_others_held_comments(
        client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    first = await comment(db, world, topic, world.neighbours[0], body="同意，晚上太黑了。", stance="support")
    await reply(db, world, first, world.neighbours[1], body="我家门口也黑。")
    gone = await comment(db, world, topic, world.neighbours[2], body="不同意。", stance="oppose")
    await comment_services.delete_comment(db, actor_of(world.neighbours[2], world), gone)
    db.add(SensitiveWord(word="违禁词"))
    await db.flush()
    await comment(db, world, topic, world.unverified, body="这里有违禁词。", stance="neutral")
    await db.commit()

    response = await client.get(f"/api/v1/topics/{topic.id}/comments")
    assert response.status_code == 200
    body = response.json()
    assert_matches("CommentThread", body)
    assert body["stance_counts"] == {"support": 1, "oppose": 0, "neutral": 0}
    assert body["total"] == 2 and body["page"] == 1 and body["can_comment"] is False
    assert body["comment_problem"] == "请先登录。"
    top, tomb = body["items"]
    assert top["body"] == "同意，晚上太黑了。" and top["stance"] == "support" and top["author"] == {"name": "李**0"}
    assert [r["body"] for r in top["replies"]] == ["我家门口也黑。"] and top["replies"][0]["depth"] == 2
    assert tomb["status"] == "deleted" and tomb["body"] is None and tomb["stance"] is None
    english = (await client.get(f"/api/v1/topics/{topic.id}/comments", headers={"accept-language": "en"})).json()
    assert english["items"][1]["tombstone"] == "This comment was deleted by its author."
    assert english["items"][0]["stance_label"] == Stance.support.label  # English labels are the message ids
    assert "违禁词" not in response.text
    assert_no_personal_data(response, world.neighbours[0], world.neighbours[1], world.unverified)

    author = await log_in(make_client(), world.unverified)
    own = (await author.get(f"/api/v1/topics/{topic.id}/comments")).json()
    held = [item for item in own["items"] if item["pending"]]
    assert len(held) == 1 and held[0]["mine"] is True and held[0]["body"] == "这里有违禁词。"
    assert own["stance_counts"]["neutral"] == 0  # held comments do not count until approved


async def test_posting_and_replying_through_the_api(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    await db.commit()
    await log_in(client, world.neighbours[0])
    url = f"/api/v1/topics/{topic.id}/comments"
    first = await send(client, "POST", url, {"body": "支持尽快修灯。", "stance": "support"},
                       **{"idempotency-key": "k-1"})
    assert first.status_code == 201, first.text
    assert_matches("CommentNode", first.json())
    created = first.json()
    assert created["mine"] is True and created["stance"] == "support" and created["body"] == "支持尽快修灯。"
    assert first.headers["location"] == f"/api/v1/comments/{created['id']}"
    again = await send(client, "POST", url, {"body": "支持尽快修灯。", "stance": "support"},
                       **{"idempotency-key": "k-1"})
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    assert await count(db, Comment, Comment.topic_id == topic.id) == 1
    answer = await send(client, "POST", url, {"body": "补充：2单元也坏了。", "parent_id": created["id"]})
    assert answer.status_code == 201 and answer.json()["depth"] == 2 and answer.json()["stance"] is None
    assert answer.json()["parent_id"] == created["id"]
    single = await client.get(f"/api/v1/comments/{created['id']}")
    assert single.status_code == 200 and single.json()["body"] == "支持尽快修灯。"
    wrong_parent = await send(client, "POST", url, {"body": "x", "parent_id": 987654})
    assert wrong_parent.status_code == 422 and "parent_id" in wrong_parent.json()["error"]["fields"]
    no_stance = await send(client, "POST", url, {"body": "没有立场"}, **{"accept-language": "en"})
    assert no_stance.status_code == 422
    assert no_stance.json()["error"]["fields"] == {"stance": "Choose your stance: support, oppose or neutral."}
    empty = await send(client, "POST", url, {"body": "  ", "stance": "support"})
    assert empty.json()["error"]["fields"] == {"body": "此项为必填项。"}


async def test_comment_refusals_are_json(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    closed = await closed_topic(db, world)
    mine = await comment(db, world, topic, world.neighbours[0])
    await db.commit()
    anonymous = await send(client, "POST", f"/api/v1/topics/{topic.id}/comments", {"body": "x", "stance": "support"})
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "login_required"
    outsider = await log_in(make_client(), world.outsider)
    refused = await send(outsider, "POST", f"/api/v1/topics/{topic.id}/comments", {"body": "x", "stance": "support"})
    assert refused.status_code == 403 and "多福巷社区" in refused.json()["error"]["message"]
    neighbour = await log_in(make_client(), world.neighbours[1])
    late = await send(neighbour, "POST", f"/api/v1/topics/{closed.id}/comments", {"body": "x", "stance": "support"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_state"
    not_theirs = await send(neighbour, "DELETE", f"/api/v1/comments/{mine.id}")
    assert not_theirs.status_code == 403
    author = await log_in(make_client(), world.neighbours[0])
    deleted = await send(author, "DELETE", f"/api/v1/comments/{mine.id}")
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted" and deleted.json()["body"] is None
    assert await count(db, Comment, Comment.topic_id == topic.id) == 1


async def test_posting_shares_the_pages_rate_limit(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    await db.commit()
    await log_in(client, world.neighbours[0])
    url = f"/api/v1/topics/{topic.id}/comments"
    for i in range(POST_LIMIT - 1):
        assert (await send(client, "POST", url, {"body": f"第{i}条意见", "stance": "neutral"})).status_code == 201
    page = await client.submit(f"/topics/{topic.id}/comments", {"body": "从页面发的意见", "stance": "neutral"})
    assert page.status_code == 303
    refused = await send(client, "POST", url, {"body": "再来一条", "stance": "neutral"})
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) > 0
    assert await count(db, Comment, Comment.topic_id == topic.id) == POST_LIMIT
