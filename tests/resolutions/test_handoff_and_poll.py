"""The decision by a poll (what the voting issue hands over), the hand-off of agreed actions to the
governance-task pipeline (once, when the work starts after publicity), the minutes of a session,
and recent resolutions on the area home."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from consultation.db import utcnow
from consultation.deliberation import handoff, resolutions, services
from consultation.deliberation.models import TopicState
from consultation.deliberation.resolution_models import ActionStatus, AgreedAction, Method, Resolution
from consultation.errors import ValidationFailed
from consultation.meetings.models import Meeting, MeetingAgendaItem, MeetingState
from consultation.meetings.models import Outcome as ItemOutcome
from consultation.outbox import OutboxMessage
from tests.areas.helpers import section
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import actor_of, make_world
from tests.resolutions.helpers import deciding, in_days, today, units

POLL = resolutions.PollOutcome(reference="poll:42", eligible=200, ballots_cast=150,
                               counts=(("同意", 120), ("反对", 25), ("弃权", 5)), passed=True,
                               closed_at=datetime(2026, 3, 1, 12, tzinfo=UTC),
                               explanation="参与表决 150 人，超过半数同意，通过。")


def drafts(*rows: tuple[str, int, str]) -> list[resolutions.ActionDraft]:
    return [resolutions.ActionDraft(d, str(u), t) for d, u, t in rows]


async def handoff_rows(db: Any) -> list[OutboxMessage]:
    return list((await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == handoff.OUTBOX_TOPIC)
                                  .order_by(OutboxMessage.id))).all())


async def test_a_poll_outcome_decides_the_topic_with_its_counts(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, _ = await units(db, world)
    worker = actor_of(world.worker_a, world)
    resolution = await resolutions.record_resolution(
        db, worker, topic, method=Method.poll, summary="经居民表决，同意加装电动自行车充电桩。", poll_result=POLL,
        actions=drafts(("加装充电桩", street.id, in_days(60))))
    assert topic.state is TopicState.decided_agreed
    assert (resolution.poll_reference, resolution.poll_eligible, resolution.poll_ballots_cast,
            resolution.poll_passed, resolution.turnout_percent) == ("poll:42", 200, 150, True, 75)
    assert resolution.poll_options == [("同意", 120), ("反对", 25), ("弃权", 5)]
    assert resolution.decided_on.isoformat() == "2026-03-01" and resolution.minutes_reference is None
    await db.commit()
    page = text_of(section((await client.get(f"/topics/{topic.id}")).text, "section",
                           'aria-labelledby="resolution-heading"'))
    for text in ["poll:42", "150", "200", "75%", "同意 120", "反对 25", "弃权 5", "超过半数同意", "加装充电桩"]:
        assert text in page


async def test_a_failed_poll_is_not_agreed_and_an_incomplete_result_is_refused(db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    worker = actor_of(world.worker_a, world)
    for broken in (None, POLL.__class__(**{**POLL.__dict__, "ballots_cast": 201}),
                   POLL.__class__(**{**POLL.__dict__, "reference": ""})):
        with pytest.raises(ValidationFailed) as refused:
            await resolutions.record_resolution(db, worker, topic, method=Method.poll, summary="表决结果",
                                                poll_result=broken)
        assert "poll" in refused.value.errors
    assert topic.state is TopicState.deciding
    failed = POLL.__class__(**{**POLL.__dict__, "passed": False, "counts": (("同意", 60), ("反对", 90))})
    resolution = await resolutions.record_resolution(db, worker, topic, method=Method.poll, summary="未通过",
                                                     poll_result=failed)
    assert topic.state is TopicState.decided_not_agreed and resolution.poll_passed is False


async def test_actions_are_handed_off_once_when_the_work_starts(db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, office, _ = await units(db, world)
    worker = actor_of(world.worker_a, world)
    resolution = await resolutions.record_resolution(
        db, worker, topic, method=Method.consensus, outcome="agreed", summary="同意", decided_on=today().isoformat(),
        minutes_reference="居委会存档", actions=drafts(("更换楼道灯", street.id, in_days(14)),
                                                        ("加装声控开关", office.id, in_days(30))))
    await services.transition(db, topic, TopicState.publicised, worker,
                              publicity_ends_at=utcnow() + timedelta(days=7))
    assert await handoff_rows(db) == []  # publicity first: nothing is handed to a unit yet
    await services.transition(db, topic, TopicState.in_action, worker)
    rows = await handoff_rows(db)
    actions = (await db.scalars(select(AgreedAction).where(AgreedAction.resolution_id == resolution.id)
                                .order_by(AgreedAction.position))).all()
    assert len(rows) == 1
    assert rows[0].payload == {"version": 1, "resolution_id": resolution.id, "topic_id": topic.id,
                               "community_id": world.city.community_a.id, "action_ids": [a.id for a in actions]}
    for action in actions:
        await db.refresh(action)
        assert action.status is ActionStatus.handed_off and action.handed_off_at is not None
    assert await handoff.hand_off_topic(db, topic) == []  # again: nothing new
    assert len(await handoff_rows(db)) == 1


async def test_a_decision_not_agreed_hands_nothing_off(db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    worker = actor_of(world.worker_a, world)
    await resolutions.record_resolution(db, worker, topic, method=Method.consensus, outcome="not_agreed",
                                        summary="不同意", decided_on=today().isoformat(), minutes_reference="纪要")
    await services.transition(db, topic, TopicState.publicised, worker,
                              publicity_ends_at=utcnow() + timedelta(days=7))
    await services.transition(db, topic, TopicState.in_action, worker)
    assert await handoff_rows(db) == []


async def test_a_consensus_links_the_published_minutes_of_a_session(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, _ = await units(db, world)
    starts = utcnow() - timedelta(days=2)
    meeting = Meeting(community_id=world.city.community_a.id, title="三月居民议事会", starts_at=starts,
                      ends_at=starts + timedelta(hours=2), capacity=30, state=MeetingState.minutes_published)
    draft = Meeting(community_id=world.city.community_a.id, title="四月居民议事会", starts_at=starts,
                    ends_at=starts + timedelta(hours=2), capacity=30, state=MeetingState.held)
    db.add_all([meeting, draft])
    await db.flush()
    published = MeetingAgendaItem(meeting_id=meeting.id, position=1, topic_id=topic.id, title="楼道灯",
                                  minutes_text="与会居民一致同意更换。", outcome=ItemOutcome.agreed)
    unpublished = MeetingAgendaItem(meeting_id=draft.id, position=1, topic_id=topic.id, title="楼道灯（续）",
                                    minutes_text="待整理", outcome=ItemOutcome.agreed)
    db.add_all([published, unpublished])
    await db.flush()
    worker = actor_of(world.worker_a, world)
    common: dict[str, Any] = {"method": Method.consensus, "summary": "同意更换", "decided_on": today().isoformat(),
                              "actions": drafts(("更换楼道灯", street.id, in_days(14)))}
    for item, outcome in ((unpublished, "agreed"), (published, "not_agreed")):
        with pytest.raises(ValidationFailed) as refused:
            await resolutions.record_resolution(db, worker, topic, outcome=outcome,
                                                meeting_agenda_item_id=item.id, **common)
        assert "meeting_agenda_item_id" in refused.value.errors
    resolution = await resolutions.record_resolution(db, worker, topic, outcome="agreed",
                                                     meeting_agenda_item_id=published.id, **common)
    assert resolution.meeting_agenda_item_id == published.id and resolution.minutes_reference is None
    await db.commit()
    page = (await client.get(f"/topics/{topic.id}")).text
    assert f'href="/meetings/{meeting.id}#item-{published.id}"' in page


async def test_the_area_home_lists_recent_resolutions_of_the_area_and_below(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    other = await deciding(db, world, title="韶九社区停车难", community_b=True)
    worker = actor_of(world.worker_a, world)
    await resolutions.record_resolution(db, worker, topic, method=Method.consensus, outcome="not_agreed",
                                        summary="暂不更换，下季度再议。", decided_on=today().isoformat(),
                                        minutes_reference="纪要")
    await resolutions.record_resolution(db, actor_of(world.worker_b, world), other, method=Method.poll,
                                        summary="同意划线停车。", poll_result=POLL,
                                        actions=drafts(("划线", (await units(db, world))[0].id, in_days(9))))
    await db.commit()

    def recent(html: str) -> str:
        return text_of(section(html, "section", 'aria-labelledby="recent-resolutions"'))

    community_a = recent((await client.get(f"/areas/{world.city.community_a.id}")).text)
    assert "3号楼楼道灯坏了" in community_a and "暂不更换" in community_a and "韶九社区停车难" not in community_a
    street = recent((await client.get(f"/areas/{world.city.street.id}")).text)
    assert "3号楼楼道灯坏了" in street and "韶九社区停车难" in street
    assert street.index("韶九社区停车难") < street.index("3号楼楼道灯坏了")  # newest first
    count = await db.scalar(select(func.count(Resolution.id)))
    assert count == 2
