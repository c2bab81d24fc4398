"""Posting and reading comments through the app: stances and their counts, three levels of replies,
notifications, pagination, bad input that comes back filled in, closed topics, outsiders, double
submits and the rate limit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from consultation.comments import policy, queries, services
from consultation.comments.models import Comment, CommentStatus, Stance
from consultation.errors import Forbidden, InvalidState, ValidationFailed
from consultation.notifications.models import Notification
from tests.areas.helpers import section
from tests.comments.helpers import closed_topic, comment, count, english, open_topic, reply
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import actor_of, make_world


def comments_of(html: str) -> str:
    return text_of(section(html, "section", 'id="comments"'))


async def test_a_resident_comments_with_a_stance_and_the_counts_show(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    await comment(db, world, topic, world.neighbours[1], "反对，应该先问物业。", "oppose")
    await english(client, world.neighbours[0])
    page = await client.get(f"/topics/{topic.id}")
    assert 'name="stance"' in page.text and 'maxlength="2000"' in page.text and "<legend>" in page.text
    token = page.text.split('name="client_token" value="')[1].split('"')[0]
    response = await client.submit(f"/topics/{topic.id}/comments", {
        "stance": "support", "body": "支持！\n晚上确实看不见台阶。", "client_token": token})
    assert response.status_code == 303
    posted = await db.scalar(select(Comment).where(Comment.author_id == world.neighbours[0].id))
    assert posted.stance is Stance.support and posted.depth == 1 and posted.status is CommentStatus.visible
    assert response.headers["location"] == f"/topics/{topic.id}#comment-{posted.id}"
    html = (await client.get(f"/topics/{topic.id}")).text
    text = comments_of(html)
    assert "In favour 1" in text and "Against 1" in text and "Neutral 0" in text
    assert "支持！" in text and "晚上确实看不见台阶。" in text and "李**0" in text
    assert f'id="comment-{posted.id}"' in html
    # the topic's author was told about both top-level comments; the writer was not told about their own
    titles = (await db.scalars(select(Notification.title).where(Notification.user_id == world.author.id))).all()
    assert titles.count(services.NEW_COMMENT_TITLE) == 2
    assert await count(db, Notification, Notification.user_id == world.neighbours[0].id,
                       Notification.kind.startswith("comment.")) == 0


async def test_replies_nest_three_levels_and_deeper_ones_stay_at_the_third(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    top = await comment(db, world, topic, world.neighbours[0])
    second = await reply(db, world, top, world.author, "谢谢支持")
    third = await reply(db, world, second, world.neighbours[1], "我也看到了")
    fourth = await reply(db, world, third, world.neighbours[0], "那就一起反映")
    assert (top.depth, second.depth, third.depth, fourth.depth) == (1, 2, 3, 3)
    assert second.stance is None and third.root_id == top.id and fourth.root_id == top.id
    assert fourth.parent_id == second.id  # attached at the third level, under the same second-level comment
    # whoever was replied to is told, the topic's author about the top-level comment only once
    assert await count(db, Notification, Notification.user_id == world.neighbours[1].id,
                       Notification.title == services.NEW_REPLY_TITLE) == 1
    assert await count(db, Notification, Notification.user_id == world.neighbours[0].id,
                       Notification.title == services.NEW_REPLY_TITLE) == 1

    await english(client, world.neighbours[2])
    html = (await client.get(f"/topics/{topic.id}")).text
    assert f'<li class="comment depth-2" id="comment-{second.id}">' in html
    assert f'<li class="comment depth-3" id="comment-{fourth.id}">' in html
    assert html.index(f'id="comment-{top.id}"') < html.index('class="comment-replies') < html.index(
        f'id="comment-{second.id}"')
    assert f'action="/comments/{third.id}/reply"' in html  # still offered: it lands at the third level
    response = await client.submit(f"/comments/{third.id}/reply", {"body": "加一"})
    assert response.status_code == 303
    latest = await db.scalar(select(Comment).order_by(Comment.id.desc()).limit(1))
    assert latest.depth == 3 and latest.parent_id == second.id
    assert response.headers["location"] == f"/topics/{topic.id}#comment-{latest.id}"

    # the stance belongs to top-level comments only
    form = await client.get(f"/comments/{top.id}/reply")
    assert form.status_code == 200 and 'name="stance"' not in form.text and "同意，晚上太黑了。" in form.text


async def test_bad_input_comes_back_filled_in_and_saves_nothing(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    await english(client, world.neighbours[0])
    empty = await client.submit(f"/topics/{topic.id}/comments", {"stance": "support", "body": "   "})
    assert empty.status_code == 422
    assert 'id="comment-body-error"' in empty.text and "This field is required." in empty.text
    assert 'value="support" required checked' in empty.text  # the chosen stance is kept
    long_text = "长" * 2001
    overlong = await client.submit(f"/topics/{topic.id}/comments", {"stance": "", "body": long_text})
    assert overlong.status_code == 422
    text = text_of(overlong.text)
    assert "Enter at most 2000 characters." in text and "Choose your stance: support, oppose or neutral." in text
    assert long_text in overlong.text  # the text is kept for correcting
    assert "3号楼楼道灯坏了" in text  # the topic page itself, not an error page
    nothing_reply = await client.submit(f"/comments/{(await comment(db, world, topic, world.author)).id}/reply",
                                        {"body": ""})
    assert nothing_reply.status_code == 422 and "This field is required." in text_of(nothing_reply.text)
    assert await count(db, Comment, Comment.author_id == world.neighbours[0].id) == 0


async def test_a_closed_topic_refuses_comments_with_a_clear_message(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await closed_topic(db, world)
    await english(client, world.neighbours[0])
    page = comments_of((await client.get(f"/topics/{topic.id}")).text)
    assert "This topic is closed for comments." in page and "Post the comment" not in page
    response = await client.submit(f"/topics/{topic.id}/comments", {"stance": "support", "body": "还想说"})
    assert response.status_code == 409 and "This topic is closed for comments." in text_of(response.text)
    assert await count(db, Comment, Comment.topic_id == topic.id) == 0
    with pytest.raises(InvalidState):
        await services.post_comment(db, actor_of(world.author, world), topic, body="x", stance="neutral")


async def test_only_people_of_the_community_comment(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    # an unverified resident of the community may (speech is moderated; co-signing needs verification)
    assert policy.can_comment(actor_of(world.unverified, world), topic)
    assert policy.can_comment(actor_of(world.worker_a, world), topic)
    assert policy.can_comment(actor_of(world.admin, world), topic)
    assert not policy.can_comment(actor_of(world.worker_b, world), topic)
    with pytest.raises(Forbidden):
        await services.post_comment(db, actor_of(world.outsider, world), topic, body="路过", stance="neutral")
    await english(client, world.outsider)
    page = comments_of((await client.get(f"/topics/{topic.id}")).text)
    assert "Only residents of 多福巷社区 can comment on this topic." in page
    response = await client.submit(f"/topics/{topic.id}/comments", {"stance": "support", "body": "路过"})
    assert response.status_code == 403
    staff = await comment(db, world, topic, world.worker_a, "社区已联系物业。", "neutral")
    assert staff.by_staff
    shown = comments_of((await client.get(f"/topics/{topic.id}")).text)
    assert "社区已联系物业。" in shown and "Community worker" in shown


async def test_a_double_submit_saves_one_comment(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    await english(client, world.neighbours[0])
    form = {"stance": "neutral", "body": "建议装声控灯", "client_token": "tok-1"}
    first = await client.submit(f"/topics/{topic.id}/comments", form)
    second = await client.submit(f"/topics/{topic.id}/comments", form)
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    # without a token (another tab, an API client) the same text within a minute is the same comment
    again = await client.submit(f"/topics/{topic.id}/comments", {"stance": "neutral", "body": "建议装声控灯"})
    assert again.headers["location"] == first.headers["location"]
    assert await count(db, Comment, Comment.topic_id == topic.id) == 1
    # a different text is a new comment
    await client.submit(f"/topics/{topic.id}/comments", {"stance": "neutral", "body": "另外楼梯扶手也松了"})
    assert await count(db, Comment, Comment.topic_id == topic.id) == 2


async def test_posting_is_rate_limited(client: WebClient, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(policy, "POSTING", policy.RateLimit("comment", max_hits=2, per_seconds=300))
    world = await make_world(db)
    topic = await open_topic(db, world)
    await english(client, world.neighbours[0])
    statuses = [(await client.submit(f"/topics/{topic.id}/comments", {"stance": "support", "body": f"第{n}条"}))
                .status_code for n in range(3)]
    assert statuses == [303, 303, 429]
    assert await count(db, Comment, Comment.topic_id == topic.id) == 2


async def test_stance_counts_count_only_shown_top_level_comments(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    kept = await comment(db, world, topic, world.neighbours[0], "支持", "support")
    gone = await comment(db, world, topic, world.neighbours[1], "支持+1", "support")
    await comment(db, world, topic, world.neighbours[2], "反对", "oppose")
    await reply(db, world, kept, world.author, "谢谢")  # replies have no stance and do not count
    await services.delete_comment(db, actor_of(world.neighbours[1], world), gone)
    counts = await queries.stance_counts(db, topic.id)
    assert counts == {Stance.support: 1, Stance.oppose: 1, Stance.neutral: 0}
    with pytest.raises(ValidationFailed):
        await services.post_comment(db, actor_of(world.author, world), topic, body="x", stance="maybe")


async def test_top_level_comments_are_paginated_oldest_first(client: WebClient, db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(queries, "PER_PAGE", 2)
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = [await comment(db, world, topic, world.neighbours[i % 3], f"意见{i}号", "neutral") for i in range(5)]
    late_reply = await reply(db, world, posted[0], world.author, "回复第一条")
    await english(client)
    first = comments_of((await client.get(f"/topics/{topic.id}")).text)
    assert "意见0号" in first and "意见1号" in first and "意见2号" not in first and "回复第一条" in first
    assert "Page 1 of 3" in first
    last = comments_of((await client.get(f"/topics/{topic.id}?comments_page=3")).text)
    assert "意见4号" in last and "意见0号" not in last
    permalink = await client.get(f"/comments/{posted[4].id}")
    assert permalink.headers["location"] == f"/topics/{topic.id}?comments_page=3#comment-{posted[4].id}"
    reply_link = await client.get(f"/comments/{late_reply.id}")
    assert reply_link.headers["location"] == f"/topics/{topic.id}#comment-{late_reply.id}"


async def test_the_thread_has_unique_ids_and_labelled_controls_for_a_moderator(client: WebClient, db: Any) -> None:
    """Many inline forms on one page: every id is unique and every text field has its label."""
    import re

    world = await make_world(db)
    topic = await open_topic(db, world)
    top = await comment(db, world, topic, world.neighbours[0])
    await reply(db, world, top, world.worker_a, "社区答复")
    await comment(db, world, topic, world.neighbours[1], "第二条", "oppose")
    await english(client, world.worker_a)
    html = (await client.get(f"/topics/{topic.id}")).text
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    for field_id in re.findall(r'<(?:textarea|input) id="([^"]+)"', html):
        assert f'for="{field_id}"' in html, field_id
