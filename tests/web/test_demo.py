"""The demo data set: built through the services, it shows the deliberation loop in every state —
topics in each state, comments (with an official answer, a held and a hidden one), a session with
published minutes and an upcoming one with sign-ups, resolutions with agreed actions, a photo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from consultation.comments.models import Comment
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.photo_models import Photo
from consultation.deliberation.resolution_models import AgreedAction, Resolution
from consultation.meetings.models import Meeting, MeetingSignup
from consultation.outbox import OutboxMessage
from consultation.voting import chain as ballot_chain
from consultation.voting import queries as poll_queries
from consultation.voting.models import Poll
from tests.conftest import WebClient, text_of
from web.demo import build_demo


async def test_demo_shows_every_step_of_deliberation(client: WebClient, db: Any) -> None:
    await build_demo(db)
    await db.flush()
    states = set((await db.scalars(select(Topic.state))).all())
    assert states == set(TopicState) - {TopicState.proposed}  # a proposed topic starts collecting at once
    statuses = dict((await db.execute(select(Comment.status, func.count()).group_by(Comment.status))).all())
    assert statuses["visible"] >= 8 and statuses["held"] == 1 and statuses["hidden"] == 1
    assert await db.scalar(select(func.count()).where(Comment.is_official_answer)) == 1
    meetings = dict((await db.execute(select(Meeting.state, func.count()).group_by(Meeting.state))).all())
    assert meetings == {"minutes_published": 1, "scheduled": 1}
    assert await db.scalar(select(func.count(MeetingSignup.id))) >= 5
    assert await db.scalar(select(func.count(Resolution.id))) == 5
    assert await db.scalar(select(func.count(AgreedAction.id))) == 5
    assert await db.scalar(select(func.count(Photo.id)).where(Photo.topic_id.is_not(None))) == 1
    assert await db.scalar(select(func.count(OutboxMessage.id))
                           .where(OutboxMessage.topic == "governance.actions_agreed")) == 2

    polls = {poll.title: poll for poll in (await db.scalars(select(Poll))).all()}
    assert polls["夜间临时停车收费是否上调"].state == "open" and polls["夜间临时停车收费是否上调"].topic_id is not None
    for title in ("社区活动室开放时间", "使用住宅专项维修资金维修2号院屋顶"):
        poll = polls[title]
        entries = poll_queries.as_chain(await poll_queries.chain(db, poll))
        assert poll.state == "closed" and entries
        assert ballot_chain.verify_chain(entries, expected_head=poll.chain_head) is None
    owners = polls["使用住宅专项维修资金维修2号院屋顶"]
    assert owners.rule == "art278_major" and owners.result["passed"] is True and owners.result["offline"] == 14

    roof = await db.scalar(select(Topic).where(Topic.title == "2号院屋顶漏水维修"))
    page = text_of((await client.get(f"/topics/{roof.id}")).text)
    assert "同意对2号院屋顶进行防水维修" in page and "官方答复" in page and "更换2号院屋顶防水层" in page
