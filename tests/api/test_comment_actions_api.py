"""The author's edit, reactions and reports through the JSON API: the edit window (409 after it),
someone else's comment (403, or 404 when it is held and so invisible), idempotent reactions with
counts, one report per person, and the refusals (401 without a session, 403 without the CSRF token)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import update

from consultation.comments import policy
from consultation.comments.models import Comment, CommentReaction, CommentReport, CommentRevision, SensitiveWord
from consultation.deliberation import services as deliberation
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in, send
from tests.comments.helpers import comment, count, open_topic
from tests.conftest import WebClient
from tests.deliberation.helpers import actor_of, in_triage, make_world


async def test_the_author_edits_within_the_window(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "建议装灯")
    db.add(SensitiveWord(word="违禁词"))
    await db.commit()
    await log_in(client, world.neighbours[0])
    url = f"/api/v1/comments/{posted.id}"
    edited = await send(client, "PATCH", url, {"body": "  建议装声控灯 "})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert_matches("CommentNode", body)
    assert body["body"] == "建议装声控灯" and body["edited_at"] is not None and body["mine"] is True
    assert body["stance"] == "support" and body["pending"] is False
    assert_no_personal_data(edited, world.neighbours[0])
    assert await count(db, CommentRevision, CommentRevision.comment_id == posted.id) == 1
    same = await send(client, "PATCH", url, {"body": "建议装声控灯"})
    assert same.status_code == 200 and same.json()["edited_at"] == body["edited_at"]
    assert await count(db, CommentRevision, CommentRevision.comment_id == posted.id) == 1  # nothing changed
    empty = await send(client, "PATCH", url, {"body": " "})
    assert empty.status_code == 422 and empty.json()["error"]["fields"] == {"body": "此项为必填项。"}
    wrong_type = await send(client, "PATCH", url, {"body": 12})
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["fields"] == {"body": "请输入文字。"}
    held = await send(client, "PATCH", url, {"body": "这里有违禁词"})
    assert held.status_code == 200 and held.json()["pending"] is True and held.json()["status"] == "held"
    others = await make_client().get(url)
    assert others.status_code == 404  # a held comment exists only for its author and the workers


async def test_editing_after_the_window_is_409_and_someone_elses_comment_403_or_404(
        client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "原文")
    db.add(SensitiveWord(word="违禁词"))
    await db.flush()
    held = await comment(db, world, topic, world.neighbours[1], "我的违禁词评论", stance="oppose")
    await db.commit()
    url = f"/api/v1/comments/{posted.id}"
    other = await log_in(make_client(), world.neighbours[1])
    refused = await send(other, "PATCH", url, {"body": "改别人的"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert refused.json()["error"]["message"] == "只有评论作者可以修改评论。"
    hidden_from_them = await send(client, "PATCH", f"/api/v1/comments/{held.id}", {"body": "x"})
    assert hidden_from_them.status_code == 401  # anonymous: signed in first
    author = await log_in(client, world.neighbours[0])
    assert (await send(author, "PATCH", f"/api/v1/comments/{held.id}", {"body": "x"})).status_code == 404
    await db.execute(update(Comment).where(Comment.id == posted.id).values(
        created_at=posted.created_at - policy.EDIT_WINDOW - timedelta(seconds=5)))
    await db.commit()
    late = await send(author, "PATCH", url, {"body": "太晚了"}, **{"accept-language": "en"})
    assert late.status_code == 409 and late.json()["error"]["code"] == "invalid_state"
    assert late.json()["error"]["message"] == "Comments can be edited for 15 minutes after posting."
    await db.refresh(posted)
    assert posted.body == "原文" and posted.edited_at is None
    assert (await send(author, "PATCH", "/api/v1/comments/987654", {"body": "x"})).status_code == 404


async def test_reactions_are_idempotent_and_return_the_counts(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.author, "建议装灯")
    await db.commit()
    await log_in(client, world.neighbours[0])
    url = f"/api/v1/comments/{posted.id}/reactions/agree"
    first = await send(client, "PUT", url)
    again = await send(client, "PUT", url)
    assert (first.status_code, again.status_code) == (200, 200)
    assert_matches("ReactionStatus", first.json())
    assert first.json() == {"comment_id": posted.id, "kind": "agree", "on": True, "changed": True,
                            "reactions": {"agree": 1, "thanks": 0, "question": 0}, "my_reactions": ["agree"]}
    assert again.json()["changed"] is False and again.json()["reactions"]["agree"] == 1
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id) == 1
    thanks = await send(client, "PUT", f"/api/v1/comments/{posted.id}/reactions/thanks")
    assert thanks.json()["my_reactions"] == ["agree", "thanks"]
    other = await log_in(make_client(), world.neighbours[1])
    second = await send(other, "PUT", url)
    assert second.json()["reactions"] == {"agree": 2, "thanks": 1, "question": 0}
    assert second.json()["my_reactions"] == ["agree"]
    assert_no_personal_data(second, world.neighbours[0], world.neighbours[1], world.author)
    single = (await other.get(f"/api/v1/comments/{posted.id}")).json()
    assert single["reactions"] == {"agree": 2, "thanks": 1, "question": 0} and single["my_reactions"] == ["agree"]
    thread = (await other.get(f"/api/v1/topics/{topic.id}/comments")).json()
    assert thread["items"][0]["reactions"]["agree"] == 2
    off = await send(client, "DELETE", url)
    off_again = await send(client, "DELETE", url)
    assert off.status_code == 200 and off.json()["changed"] is True and off.json()["on"] is False
    assert off_again.json()["changed"] is False
    assert off_again.json()["reactions"] == {"agree": 1, "thanks": 1, "question": 0}
    assert off_again.json()["my_reactions"] == ["thanks"]
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id) == 2
    unknown = await send(client, "PUT", f"/api/v1/comments/{posted.id}/reactions/love")
    assert unknown.status_code == 422 and "kind" in unknown.json()["error"]["fields"]
    outsider = await log_in(make_client(), world.outsider)
    refused = await send(outsider, "PUT", url)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id) == 2


async def test_reacting_on_a_closed_topic_is_409(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await in_triage(db, world)
    posted = await comment(db, world, topic, world.author, "建议装灯")
    await deliberation.decline(db, actor_of(world.worker_a, world), topic, "不属于社区议事范围")
    await db.commit()
    await log_in(client, world.neighbours[1])
    closed = await send(client, "PUT", f"/api/v1/comments/{posted.id}/reactions/thanks")
    assert closed.status_code == 409 and closed.json()["error"]["message"] == "该议题已关闭，不能再发表评论。"
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id) == 0


async def test_a_report_is_one_per_person_and_enough_reports_hide_the_comment(
        client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=policy.REPORT_THRESHOLD)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.author, "不当言论")
    await db.commit()
    url = f"/api/v1/comments/{posted.id}/reports"
    reporters = [await log_in(make_client(), person) for person in world.neighbours]
    first = await send(reporters[0], "POST", url, {"reason": "人身攻击"})
    assert first.status_code == 201, first.text
    assert_matches("ReportReceipt", first.json())
    assert first.json()["reason"] == "人身攻击" and first.json()["comment_status"] == "visible"
    again = await send(reporters[0], "POST", url, {"reason": "换个理由再举报"})
    assert again.status_code == 200 and again.json()["reason"] == "人身攻击"
    assert again.json()["reported_at"] == first.json()["reported_at"]
    assert await count(db, CommentReport, CommentReport.comment_id == posted.id) == 1
    empty = await send(reporters[1], "POST", url, {"reason": ""})
    assert empty.status_code == 422 and set(empty.json()["error"]["fields"]) == {"reason"}
    author = await log_in(client, world.author)
    own = await send(author, "POST", url, {"reason": "自己举报自己"})
    assert own.status_code == 403 and own.json()["error"]["message"] == "不能举报自己的评论。"
    answers = [await send(r, "POST", url, {"reason": "不友善"}) for r in reporters[1:]]
    assert [a.status_code for a in answers] == [201] * (policy.REPORT_THRESHOLD - 1)
    assert answers[-1].json()["comment_status"] == "reported"
    assert_no_personal_data(answers[-1], *world.neighbours, world.author)
    assert await count(db, CommentReport, CommentReport.comment_id == posted.id) == policy.REPORT_THRESHOLD
    tomb = (await make_client().get(f"/api/v1/comments/{posted.id}")).json()
    assert tomb["status"] == "reported" and tomb["body"] is None and tomb["shown"] is False
    repeat_after_hiding = await send(reporters[0], "POST", url, {"reason": "人身攻击"})
    assert repeat_after_hiding.status_code == 200


async def test_anonymous_writes_are_401_and_missing_csrf_403(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.author, "建议装灯")
    await db.commit()
    writes = [("PATCH", f"/api/v1/comments/{posted.id}", {"body": "改了"}),
              ("PUT", f"/api/v1/comments/{posted.id}/reactions/agree", None),
              ("DELETE", f"/api/v1/comments/{posted.id}/reactions/agree", None),
              ("POST", f"/api/v1/comments/{posted.id}/reports", {"reason": "x"})]
    for method, url, body in writes:
        anonymous = await send(client, method, url, body)
        assert anonymous.status_code == 401, (method, url)
        assert anonymous.json()["error"] == {"code": "login_required", "status": 401, "message": "请先登录。"}
    author = await log_in(make_client(), world.author)
    neighbour = await log_in(make_client(), world.neighbours[0])
    for method, url, body in writes:
        who = author if method == "PATCH" else neighbour
        forged = await who.request(method, url, json=body)
        assert forged.status_code == 403 and forged.json()["error"]["code"] == "csrf_failed", (method, url)
    await db.refresh(posted)
    assert posted.body == "建议装灯" and posted.edited_at is None and posted.report_count == 0
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id) == 0
    assert await count(db, CommentReport, CommentReport.comment_id == posted.id) == 0
