"""Reports and automatic hiding, the sensitive-word hold, the workers' moderation (hide, restore,
approve, dismiss, official answer) with its permission matrix and audit, and the word list page."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from consultation.audit import AuditEvent
from consultation.comments import moderation, policy, queries, services, words
from consultation.comments.models import Comment, CommentReport, CommentStatus, SensitiveWord
from consultation.errors import Forbidden, InvalidState
from consultation.notifications.models import Notification
from consultation.policy import ANONYMOUS, Actor, can
from tests.areas.helpers import section
from tests.comments.helpers import comment, count, english, open_topic, reply
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import World, actor_of, make_world


def comments_of(html: str) -> str:
    return text_of(section(html, "section", 'id="comments"'))


async def add_words(db: Any, world: World, *items: str) -> None:
    for word in items:
        await words.add_word(db, actor_of(world.admin, world), word)


async def test_enough_reports_hide_a_comment_until_a_worker_reviews_it(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=4)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "骂人的话")
    reporters = [world.neighbours[1], world.neighbours[2], world.author]
    for n, who in enumerate(reporters, start=1):
        client = await english(make_client(), who)
        page = await client.get(f"/comments/{posted.id}/report")
        assert page.status_code == 200 and "骂人的话" in page.text
        assert (await client.submit(f"/comments/{posted.id}/report", {"reason": "人身攻击"})).status_code == 303
        again = await client.submit(f"/comments/{posted.id}/report", {"reason": "再举报一次"})
        assert again.status_code in (303, 403)  # one report per person, however often they click
        stored = await db.get(Comment, posted.id, populate_existing=True)
        assert stored.report_count == n
        expected = CommentStatus.reported if n >= policy.REPORT_THRESHOLD else CommentStatus.visible
        assert stored.status is expected
    assert await count(db, CommentReport, CommentReport.comment_id == posted.id) == 3
    viewer = await english(make_client(), world.neighbours[3])
    text = comments_of((await viewer.get(f"/topics/{topic.id}")).text)
    assert "hidden after several reports" in text and "骂人的话" not in text
    # no reason, no report; and nobody reports their own comment
    empty = await viewer.submit(f"/comments/{posted.id}/report", {"reason": ""})
    assert empty.status_code in (403, 422)
    with pytest.raises(Forbidden):
        await services.report_comment(db, actor_of(world.neighbours[0], world), posted, "自己")

    worker = await english(make_client(), world.worker_a)
    queue = text_of((await worker.get("/worker/moderation")).text)
    assert "骂人的话" in queue and "Hidden after reports" in queue and "3 reports" in queue
    assert (await worker.submit(f"/worker/moderation/comments/{posted.id}/dismiss", {"back": "queue"})
            ).status_code == 303
    stored = await db.get(Comment, posted.id, populate_existing=True)
    assert stored.status is CommentStatus.visible and stored.report_count == 0
    assert "骂人的话" not in text_of((await worker.get("/worker/moderation")).text)
    assert await count(db, AuditEvent, AuditEvent.action == "comment.auto_hidden") == 1
    assert await count(db, AuditEvent, AuditEvent.action == "comment.reports_dismissed") == 1


async def test_a_sensitive_word_holds_a_comment_for_review(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    await add_words(db, world, "代开发票")
    author = await english(make_client(), world.neighbours[0])
    response = await author.submit(f"/topics/{topic.id}/comments", {"stance": "neutral",
                                                                   "body": "需要的找我代 开-发票，价格优惠"})
    assert response.status_code == 303
    held = await db.scalar(select(Comment).where(Comment.author_id == world.neighbours[0].id))
    assert held.status is CommentStatus.held
    landing = (await author.get(response.headers["location"])).text
    assert "Your comment is waiting for review by a community worker." in text_of(landing)  # the flash
    mine = comments_of(landing)
    assert "价格优惠" in mine and "Pending review" in mine and "Only you and community workers" in mine
    assert "Neutral 0" in mine  # not counted until approved
    assert await count(db, Notification, Notification.user_id == world.author.id,
                       Notification.kind == "comment.new") == 0  # nobody is told yet

    other = await english(make_client(), world.neighbours[1])
    assert "价格优惠" not in (await other.get(f"/topics/{topic.id}")).text
    assert (await other.get(f"/comments/{held.id}")).status_code == 404  # for others it does not exist
    anonymous = make_client()
    assert "价格优惠" not in (await anonymous.get(f"/topics/{topic.id}")).text

    worker = await english(make_client(), world.worker_a)
    queue = text_of((await worker.get("/worker/moderation")).text)
    assert "价格优惠" in queue and "Held: sensitive word" in queue
    outsider_worker = await english(make_client(), world.worker_b)
    assert "价格优惠" not in (await outsider_worker.get("/worker/moderation")).text
    assert (await outsider_worker.submit(f"/worker/moderation/comments/{held.id}/approve")).status_code == 404

    assert (await worker.submit(f"/worker/moderation/comments/{held.id}/approve", {"back": "queue"})
            ).status_code == 303
    assert "价格优惠" in (await other.get(f"/topics/{topic.id}")).text
    assert await count(db, Notification, Notification.user_id == world.author.id,
                       Notification.kind == "comment.new") == 1  # told on approval


async def test_matching_ignores_case_width_and_spacing(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    await add_words(db, world, "VPN", "高利贷")
    assert await words.matches(db, "有ｖｐｎ吗") == ["VPN"]
    assert await words.matches(db, "高 利·贷 了解一下") == ["高利贷"]
    assert await words.matches(db, "楼道灯坏了") == []


async def test_a_worker_hides_with_a_public_reason_and_can_restore(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "含有隐私的电话号码")
    answer = await reply(db, world, posted, world.neighbours[1], "回复")
    await english(client, world.worker_a)
    missing_reason = await client.submit(f"/worker/moderation/comments/{posted.id}/hide", {"reason": " "})
    assert missing_reason.status_code == 303
    assert (await db.get(Comment, posted.id, populate_existing=True)).status is CommentStatus.visible
    await client.submit(f"/worker/moderation/comments/{posted.id}/hide", {"reason": "含个人隐私信息"})
    html = (await client.get(f"/topics/{topic.id}")).text
    text = comments_of(html)
    assert "This comment was hidden by a community worker: 含个人隐私信息" in text
    assert "含有隐私的电话号码" not in text and f'id="comment-{answer.id}"' in html
    assert "In favour 0" in text
    await client.submit(f"/worker/moderation/comments/{posted.id}/restore")
    assert "含有隐私的电话号码" in comments_of((await client.get(f"/topics/{topic.id}")).text)
    actions = (await db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "comment",
                                                                AuditEvent.object_id == str(posted.id))
                                .order_by(AuditEvent.id))).all()
    assert actions == ["comment.posted", "comment.hidden", "comment.restored"]


async def test_a_staff_reply_is_marked_as_the_official_answer(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    question = await comment(db, world, topic, world.neighbours[0], "什么时候修？", "neutral")
    staff = await reply(db, world, question, world.worker_a, "物业承诺本周五前修好。")
    resident = await reply(db, world, question, world.neighbours[1], "我猜下周")
    worker = actor_of(world.worker_a, world)
    with pytest.raises(InvalidState):
        await moderation.mark_official(db, worker, resident)  # a resident's reply is not an official answer
    with pytest.raises(InvalidState):
        await moderation.mark_official(db, worker, question)  # nor a top-level comment
    await english(client, world.worker_a)
    assert (await client.submit(f"/worker/moderation/comments/{staff.id}/official")).status_code == 303
    html = (await client.get(f"/topics/{topic.id}")).text
    assert f'<li class="comment depth-2 official" id="comment-{staff.id}">' in html
    assert "Official answer" in text_of(section(html, "article", f'aria-labelledby="comment-{staff.id}-by"'))
    await client.submit(f"/worker/moderation/comments/{staff.id}/unofficial")
    assert (await db.get(Comment, staff.id, populate_existing=True)).is_official_answer is False


ROLES = ["anonymous", "author", "resident", "outsider", "worker_a", "worker_b", "admin"]


def people(world: World) -> dict[str, Actor]:
    return {"anonymous": ANONYMOUS, "author": actor_of(world.neighbours[0], world),
            "resident": actor_of(world.neighbours[1], world), "outsider": actor_of(world.outsider, world),
            "worker_a": actor_of(world.worker_a, world), "worker_b": actor_of(world.worker_b, world),
            "admin": actor_of(world.admin, world)}


@pytest.mark.parametrize("status", [CommentStatus.visible, CommentStatus.held, CommentStatus.reported,
                                    CommentStatus.hidden])
async def test_permission_matrix(db: Any, status: CommentStatus) -> None:
    """Role × action × comment status: only the community's staff moderate; only the author edits
    and deletes (not while the comment waits for review); reports and reactions need a shown comment
    and someone who may speak in its community."""
    world = await make_world(db, neighbours=2)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0])
    posted.status = status
    expected = {
        "comments.moderate": {"worker_a", "admin"},
        "comments.edit": {"author"} if status in (CommentStatus.visible, CommentStatus.held) else set(),
        "comments.delete": {"author"} if status is CommentStatus.visible else set(),
        "comments.report": {"resident", "worker_a", "admin"} if status is CommentStatus.visible else set(),
        "comments.react": {"author", "resident", "worker_a", "admin"} if status is CommentStatus.visible else set(),
        "comments.moderation_queue": {"worker_a", "worker_b", "admin"},
        "comments.manage_words": {"admin"},
    }
    wrong = [(role, name, status.value) for role, actor in people(world).items() for name, allowed in expected.items()
             if can(actor, name, posted) != (role in allowed)]
    assert wrong == []


async def test_a_worker_of_another_community_can_do_nothing(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "本社区的评论")
    staff_reply = await reply(db, world, posted, world.worker_a, "答复")
    other = actor_of(world.worker_b, world)
    for action in (moderation.hide(db, other, posted, "理由"), moderation.restore(db, other, posted),
                   moderation.approve(db, other, posted), moderation.dismiss_reports(db, other, posted),
                   moderation.mark_official(db, other, staff_reply)):
        with pytest.raises(Forbidden):
            await action
    worker_b = await english(make_client(), world.worker_b)
    for action in ("hide", "restore", "approve", "dismiss", "official"):
        response = await worker_b.submit(f"/worker/moderation/comments/{posted.id}/{action}", {"reason": "越权"})
        assert response.status_code == 404, action
    resident = await english(make_client(), world.neighbours[1])
    assert (await resident.submit(f"/worker/moderation/comments/{posted.id}/hide", {"reason": "x"})).status_code == 403
    assert (await resident.get("/worker/moderation")).status_code == 403
    admin = await english(make_client(), world.admin)
    assert (await admin.submit(f"/worker/moderation/comments/{posted.id}/hide", {"reason": "管理员隐藏"})
            ).status_code == 303
    assert (await db.get(Comment, posted.id, populate_existing=True)).status is CommentStatus.hidden
    assert not await queries.moderation_queue(db, actor_of(world.worker_b, world))


async def test_admins_keep_the_sensitive_word_list(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    admin = await english(make_client(), world.admin)
    assert (await admin.submit("/admin/sensitive-words", {"word": " 刷单 "})).status_code == 303
    assert (await admin.submit("/admin/sensitive-words", {"word": "刷单"})).status_code == 303  # no duplicate
    bad = await admin.submit("/admin/sensitive-words", {"word": "x" * 41})
    assert bad.status_code == 422 and "Enter at most 40 characters." in text_of(bad.text)
    page = text_of((await admin.get("/admin/sensitive-words")).text)
    assert "刷单" in page
    word = await db.scalar(select(SensitiveWord).where(SensitiveWord.word == "刷单"))
    assert await count(db, SensitiveWord) == 1
    assert (await admin.submit(f"/admin/sensitive-words/{word.id}/delete")).status_code == 303
    assert await count(db, SensitiveWord) == 0
    assert await count(db, AuditEvent, AuditEvent.object_type == "sensitive_word") == 2
    worker = await english(make_client(), world.worker_a)
    assert (await worker.get("/admin/sensitive-words")).status_code == 403
    assert (await worker.submit("/admin/sensitive-words", {"word": "坏词"})).status_code == 403
    assert await words.seed_sample_words(db, actor_of(world.admin, world)) == len(words.SAMPLE_WORDS)
