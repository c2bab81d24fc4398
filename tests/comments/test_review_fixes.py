"""Abuse and race fixes: who may report and whose reports hide a comment, the rate limits of reports
and edits, no deleting a comment that waits for review, double-submit detection per parent and
stance, client tokens tied to their subject, restore of a held comment, the author's delete as a
compare-and-set, and the shared INSERT … ON CONFLICT DO NOTHING helper."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from consultation.comments import moderation, policy, queries, services
from consultation.comments.models import Comment, CommentReport, CommentRevision, CommentStatus, SensitiveWord
from consultation.errors import Conflict, Forbidden, InvalidState
from consultation.notifications.models import Notification
from tests.api.helpers import log_in, send
from tests.comments.helpers import comment, count, english, open_topic, reply
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import World, actor_of, make_world
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]


async def queue_ids(db: Any, world: World) -> list[int]:
    return [item.comment.id for item in await queries.moderation_queue(db, actor_of(world.worker_a, world))]


# --- S1: reports --------------------------------------------------------------------------------

async def test_people_of_another_community_cannot_report(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "正常的意见")
    for who in (world.outsider, world.neighbour_b, world.worker_b):
        with pytest.raises(Forbidden) as refused:
            await services.report_comment(db, actor_of(who, world), posted, "spam")
        assert refused.value.message is not None
        assert refused.value.message.msgid == "Only residents of {community} can report comments here."
    assert await count(db, CommentReport, CommentReport.comment_id == posted.id) == 0
    assert posted.status is CommentStatus.visible and posted.report_count == 0
    await english(client, world.outsider)
    page = await client.get(f"/comments/{posted.id}/report")
    assert "This comment cannot be reported." in text_of(page.text) and 'name="reason"' not in page.text
    assert (await client.submit(f"/comments/{posted.id}/report", {"reason": "spam"})).status_code == 403


async def test_only_reports_of_verified_residents_and_staff_hide_a_comment(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "有争议的话")
    community = world.city.community_a
    sockpuppets = [await make_user(db, name=f"新账号{i}", area=community) for i in range(4)]
    for who in sockpuppets:  # unverified residents of the community may report ...
        assert await services.report_comment(db, actor_of(who, world), posted, "不友善")
    stored = await db.get(Comment, posted.id, populate_existing=True)
    assert stored.status is CommentStatus.visible and stored.report_count == 4  # ... but never hide it alone
    assert posted.id in await queue_ids(db, world)  # their reports still reach the workers
    reports = await db.scalars(select(CommentReport).where(CommentReport.comment_id == posted.id))
    assert {r.counts_toward_hiding for r in reports} == {False}
    await services.report_comment(db, actor_of(world.neighbours[1], world), posted, "不友善")
    await services.report_comment(db, actor_of(world.neighbours[2], world), posted, "不友善")
    assert posted.status is CommentStatus.visible  # two weighty reports: below the threshold
    await services.report_comment(db, actor_of(world.worker_a, world), posted, "需要核实")  # staff count too
    assert posted.status is CommentStatus.reported and posted.report_count == 7


async def test_reporting_is_rate_limited_per_person(client: WebClient, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(policy, "REPORTING", policy.RateLimit("comment-report", max_hits=2, per_seconds=3600))
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = [await comment(db, world, topic, world.neighbours[0], f"第{n}条") for n in range(3)]
    await english(client, world.neighbours[1])
    statuses = [(await client.submit(f"/comments/{c.id}/report", {"reason": "广告"})).status_code for c in posted]
    assert statuses == [303, 303, 429]
    assert await count(db, CommentReport, CommentReport.user_id == world.neighbours[1].id) == 2


# --- S2: no deleting a comment that waits for review ------------------------------------------------

async def test_the_author_cannot_delete_a_comment_hidden_by_reports(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "骂人的话")
    for who in (world.neighbours[1], world.neighbours[2], world.author):
        await services.report_comment(db, actor_of(who, world), posted, "人身攻击")
    assert posted.status is CommentStatus.reported
    with pytest.raises(InvalidState) as refused:
        await services.delete_comment(db, actor_of(world.neighbours[0], world), posted)
    assert refused.value.message is not None and refused.value.message.msgid == (
        "This comment is waiting for a community worker's review and cannot be deleted until then.")
    await english(client, world.neighbours[0])
    response = await client.submit(f"/comments/{posted.id}/delete")
    assert response.status_code == 409
    assert "review and cannot be deleted until then" in text_of(response.text)
    stored = await db.get(Comment, posted.id, populate_existing=True)
    assert stored.status is CommentStatus.reported and stored.deleted_at is None
    assert posted.id in await queue_ids(db, world)
    # once a worker has dismissed the reports, the author may delete it
    await moderation.dismiss_reports(db, actor_of(world.worker_a, world), stored)
    await services.delete_comment(db, actor_of(world.neighbours[0], world), stored)
    assert stored.status is CommentStatus.deleted


async def test_the_author_cannot_delete_a_held_comment_before_review(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    db.add(SensitiveWord(word="代开发票"))
    await db.flush()
    held = await comment(db, world, topic, world.neighbours[0], "代开发票找我")
    assert held.status is CommentStatus.held
    with pytest.raises(InvalidState):
        await services.delete_comment(db, actor_of(world.neighbours[0], world), held)
    assert held.id in await queue_ids(db, world)


# --- S3: edits are rate-limited -------------------------------------------------------------------

async def test_editing_is_rate_limited_per_person(client: WebClient, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(policy, "EDITING", policy.RateLimit("comment-edit", max_hits=3, per_seconds=300))
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "v0")
    await english(client, world.neighbours[0])
    statuses = [(await client.submit(f"/comments/{posted.id}/edit", {"body": f"v{n + 1}"})).status_code
                for n in range(5)]
    assert statuses == [303, 303, 303, 429, 429]
    assert await count(db, CommentRevision, CommentRevision.comment_id == posted.id) == 3


def test_the_limits_are_public_and_shared_with_the_api() -> None:
    assert policy.POSTING.key(7) == "comment:user:7"  # the bucket the pages and the API share
    assert policy.EDITING.of(7) == {"key": "comment-edit:user:7", "max_hits": policy.EDITING.max_hits,
                                    "per_seconds": policy.EDITING.per_seconds}
    assert (policy.POST_LIMIT, policy.POST_WINDOW_SECONDS) == (policy.POSTING.max_hits, policy.POSTING.per_seconds)
    for module in ("web/api/comments.py", "web/routes/comments.py"):
        tree = ast.parse((ROOT / module).read_text())
        imported = {(node.module, alias.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                    for alias in node.names}
        assert not {name for source, name in imported if source and source.startswith("web.routes")
                    and name.startswith("_")}, module  # no private names across modules
        assert ("web.routes.comments", "POST_LIMIT") not in imported


# --- C1: double-submit detection ------------------------------------------------------------------

async def test_the_same_words_to_different_comments_or_stances_are_different_comments(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    top = await comment(db, world, topic, world.author, "灯坏了")
    first = await reply(db, world, top, world.neighbours[0], "我也看到了")
    second = await reply(db, world, top, world.neighbours[1], "我明天去看看")
    to_first = await reply(db, world, first, world.neighbours[2], "谢谢")
    to_second = await reply(db, world, second, world.neighbours[2], "谢谢")
    assert to_first.id != to_second.id
    assert (to_first.parent_id, to_second.parent_id) == (first.id, second.id)
    again = await reply(db, world, first, world.neighbours[2], "谢谢")  # the same reply again: a double submit
    assert again.id == to_first.id
    support = await comment(db, world, topic, world.neighbours[0], "同意", stance="support")
    oppose = await comment(db, world, topic, world.neighbours[0], "同意", stance="oppose")
    assert support.id != oppose.id and oppose.stance.value == "oppose"
    assert (await comment(db, world, topic, world.neighbours[0], "同意", stance="support")).id == support.id


async def test_with_a_client_token_only_the_token_decides(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    actor = actor_of(world.neighbours[0], world)
    one = await services.post_comment(db, actor, topic, body="+1", stance="support", client_token="form-1")
    two = await services.post_comment(db, actor, topic, body="+1", stance="support", client_token="form-2")
    assert one.id != two.id  # two forms filled in on purpose
    repeat = await services.post_comment(db, actor, topic, body="+1", stance="support", client_token="form-1")
    assert repeat.id == one.id


# --- C2: a client token belongs to one subject ----------------------------------------------------

async def test_a_client_token_reused_on_another_subject_is_a_conflict(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    a = await open_topic(db, world, title="A 楼道灯坏了")
    b = await open_topic(db, world, title="B 电梯异响")
    actor = actor_of(world.neighbours[0], world)
    first = await services.post_comment(db, actor, a, body="first", stance="support", client_token="t1")
    with pytest.raises(Conflict) as refused:
        await services.post_comment(db, actor, b, body="else", stance="oppose", client_token="t1")
    assert refused.value.message is not None and refused.value.message.msgid == services.TOKEN_REUSED
    with pytest.raises(Conflict):  # a reply is another subject too
        await services.reply(db, actor, first, body="reply", client_token="t1")
    assert (await services.post_comment(db, actor, a, body="first", stance="support", client_token="t1")).id == first.id
    await db.commit()
    await log_in(client, world.neighbours[0])
    r1 = await send(client, "POST", f"/api/v1/topics/{a.id}/comments",
                    {"body": "api", "stance": "support", "client_token": "t2"})
    r2 = await send(client, "POST", f"/api/v1/topics/{b.id}/comments",
                    {"body": "something else", "stance": "oppose", "client_token": "t2"})
    assert r1.status_code == 201
    assert r2.status_code == 409 and r2.json()["error"]["code"] == "conflict"
    assert await count(db, Comment, Comment.topic_id == b.id) == 0


# --- C5: restoring a hidden held comment ----------------------------------------------------------

async def test_restoring_a_comment_hidden_while_held_sends_it_back_to_review(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    db.add(SensitiveWord(word="代开发票"))
    await db.flush()
    worker = actor_of(world.worker_a, world)
    held = await comment(db, world, topic, world.neighbours[0], "代开发票找我")
    await moderation.hide(db, worker, held, "广告")
    assert held.status is CommentStatus.hidden and held.status_before_hidden is CommentStatus.held
    await moderation.restore(db, worker, held)
    stored = await db.get(Comment, held.id, populate_existing=True)
    assert stored.status is CommentStatus.held and stored.status_before_hidden is None
    assert await count(db, Notification, Notification.user_id == world.author.id,
                       Notification.kind == "comment.new") == 0  # not announced
    assert held.id in await queue_ids(db, world)
    shown = await comment(db, world, topic, world.neighbours[1], "正常的意见")
    await moderation.hide(db, worker, shown, "误判")
    await moderation.restore(db, worker, shown)
    assert shown.status is CommentStatus.visible


# --- C6: the author's delete is a compare-and-set -------------------------------------------------

async def test_a_delete_does_not_overwrite_a_hide_made_meanwhile(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "要删的话")
    stale = await db.get(Comment, posted.id)
    assert stale is not None and stale.status is CommentStatus.visible
    # a worker hides it in another request while the author's page still shows it
    await db.execute(update(Comment).where(Comment.id == posted.id)
                     .values(status=CommentStatus.hidden, hidden_reason="人身攻击")
                     .execution_options(synchronize_session=False))
    with pytest.raises(Conflict):
        await services.delete_comment(db, actor_of(world.neighbours[0], world), stale)
    stored = await db.get(Comment, posted.id, populate_existing=True)
    assert stored.status is CommentStatus.hidden and stored.hidden_reason == "人身攻击" and stored.deleted_at is None


# --- V2: the shared insert-ignore -----------------------------------------------------------------

async def test_insert_ignore_adds_a_row_once(db: Any) -> None:
    from consultation.db import insert_ignore, insert_ignore_returning

    world = await make_world(db)
    values = {"word": "刷单", "added_by_id": world.admin.id}
    assert await insert_ignore(db, SensitiveWord, values, ["word"]) is True
    assert await insert_ignore(db, SensitiveWord, values, ["word"]) is False
    new_id = await insert_ignore_returning(db, SensitiveWord, {"word": "办证"}, ["word"], SensitiveWord.id)
    assert isinstance(new_id, int)
    assert await insert_ignore_returning(db, SensitiveWord, {"word": "办证"}, ["word"], SensitiveWord.id) is None
    assert await count(db, SensitiveWord) == 2
