"""At the session: attendance (sign-ups ticked, walk-ins found by phone or added by name), then the
minutes per agenda item, published on the session page and linked from each topic's page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consultation.audit import AuditEvent
from consultation.errors import NotFound
from consultation.meetings import queries, services
from consultation.meetings.models import MeetingAttendee, MeetingState, Outcome
from consultation.notifications.models import Notification
from tests.areas.helpers import section
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import actor_of, make_world
from tests.factories import make_user
from tests.meetings.helpers import agenda_topic, count, log_in, move_start, schedule


async def test_attendance_with_walk_ins(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    meeting = await schedule(db, world, [await agenda_topic(db, world)], capacity=5)
    for person in (world.author, world.neighbours[0]):
        await services.sign_up(db, actor_of(person, world), meeting)
    walker = await make_user(db, name="孙大妈", area=world.city.community_a, phone="13812345678")
    await db.commit()
    await log_in(client, world.worker_a)
    url = f"/worker/meetings/{meeting.id}/attendance"
    early = await client.get(url)
    assert "from one hour before the session" in text_of(early.text)
    assert (await client.submit(url, {"present": f"user:{world.author.id}"})).status_code == 409

    await move_start(db, meeting, timedelta(minutes=30))
    await db.commit()
    sheet = await client.get(url)
    assert world.author.display_name in sheet.text and world.neighbours[0].display_name in sheet.text
    assert (await client.submit(url, {"present": f"user:{world.author.id}"})).status_code == 303
    await db.refresh(meeting)
    assert meeting.state is MeetingState.held

    found = await client.get(url, params={"q": "138 1234 5678"})
    assert "孙大妈" in section(found.text, "ul", 'class="plain found-residents"')
    assert "138****5678" in found.text
    outsider_search = await client.get(url, params={"q": world.outsider.phone})
    assert f"No resident of {world.city.community_a.name} matches." in text_of(outsider_search.text)
    assert (await client.submit(f"{url}/walk-in", {"user_id": str(walker.id)})).status_code == 303
    assert (await client.submit(f"{url}/walk-in", {"user_id": str(walker.id)})).status_code == 303  # once only
    refused = await client.submit(f"{url}/walk-in", {"user_id": str(world.outsider.id)})
    assert refused.status_code == 422 and "Choose a resident of" in text_of(refused.text)
    empty = await client.submit(f"{url}/walk-in", {"name": "  "})
    assert empty.status_code == 422
    assert "This field is required." in text_of(section(empty.text, "p", 'id="f-name-error"'))
    assert (await client.submit(f"{url}/walk-in", {"name": "王大爷（无账号）"})).status_code == 303

    page = await client.get(url)
    counts = text_of(section(page.text, "ul", 'class="stat-list"'))
    assert counts == "2 signed up 1 of them present 2 walk-ins 3 present in all"
    assert "王大爷（无账号）" in page.text
    rows = (await db.scalars(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting.id))).all()
    assert sorted((r.user_id or 0, r.name or "", r.walk_in, r.present) for r in rows) == sorted([
        (0, "王大爷（无账号）", True, True), (world.author.id, "", False, True),
        (world.neighbours[0].id, "", False, False), (walker.id, "", True, True)])
    unregistered = next(r for r in rows if r.user_id is None)
    # Untick the unregistered walk-in, tick the second sign-up.
    await client.submit(url, {"present": [f"user:{world.author.id}", f"user:{world.neighbours[0].id}",
                                          f"walkin:{next(r.id for r in rows if r.user_id == walker.id)}"]})
    await db.refresh(unregistered)
    assert unregistered.present is False
    counts = text_of(section((await client.get(url)).text, "ul", 'class="stat-list"'))
    assert counts == "2 signed up 2 of them present 1 walk-ins 3 present in all"
    # The public page never shows who came.
    public = (await client.get(f"/meetings/{meeting.id}")).text
    assert "王大爷" not in public and "孙大妈" not in public


async def test_minutes_are_written_per_item_published_and_final(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    lights = await agenda_topic(db, world, title="3号楼楼道灯坏了")
    meeting = await schedule(db, world, [lights], other_items=["其他事项"])
    await services.sign_up(db, actor_of(world.author, world), meeting)
    await move_start(db, meeting, timedelta(hours=-2))
    await db.commit()
    first, other = meeting.agenda
    await log_in(client, world.worker_a)
    url = f"/worker/meetings/{meeting.id}/minutes"
    assert (await client.get(url)).status_code == 200
    draft = await client.submit(url, {"action": "save", f"text_{first.id}": "居民一致同意更换声控灯。",
                                      f"outcome_{first.id}": "agreed"})
    assert draft.status_code == 303
    with pytest.raises(NotFound):
        await queries.minutes_item(db, first.id)  # not public yet
    page = (await client.get(f"/meetings/{meeting.id}")).text
    assert "居民一致同意更换声控灯" not in page

    refused = await client.submit(url, {"action": "publish", f"text_{first.id}": "居民一致同意更换声控灯。",
                                        f"outcome_{first.id}": "agreed", f"text_{other.id}": "",
                                        f"outcome_{other.id}": "bogus"})
    assert refused.status_code == 422
    assert "Write what was discussed before publishing." in text_of(refused.text)
    assert "Choose the outcome." in text_of(refused.text)
    await db.refresh(meeting)
    assert meeting.state is MeetingState.held

    published = await client.submit(url, {"action": "publish", f"text_{first.id}": "居民一致同意更换声控灯。",
                                          f"outcome_{first.id}": "agreed", f"text_{other.id}": "下月征集新议题。",
                                          f"outcome_{other.id}": "continue_deliberation"})
    assert published.status_code == 303
    await db.refresh(meeting)
    assert meeting.state is MeetingState.minutes_published and meeting.minutes_published_at is not None
    await db.refresh(first)
    item = await queries.minutes_item(db, first.id)
    assert (item.outcome, item.minutes_text, item.topic_id, item.meeting.id) == (
        Outcome.agreed, "居民一致同意更换声控灯。", lights.id, meeting.id)
    minutes = text_of(section((await client.get(f"/meetings/{meeting.id}")).text, "section", 'id="minutes"'))
    assert "1. 3号楼楼道灯坏了 Agreed 居民一致同意更换声控灯。" in minutes
    assert "2. 其他事项 Continue deliberating 下月征集新议题。" in minutes
    topic_section = section((await client.get(f"/topics/{lights.id}")).text, "section",
                            'aria-labelledby="topic-meetings"')
    assert f'href="/meetings/{meeting.id}#item-{first.id}"' in topic_section
    assert "Outcome: Agreed" in text_of(topic_section)
    assert await count(db, Notification, Notification.kind == "meeting.minutes",
                       Notification.user_id == world.author.id) == 1
    assert await count(db, AuditEvent, AuditEvent.action == "meeting.minutes_published") == 1

    again = await client.submit(url, {"action": "save", f"text_{first.id}": "改一下"})
    assert again.status_code == 409
    await db.refresh(item)
    assert item.minutes_text == "居民一致同意更换声控灯。"
    attendance = await client.submit(f"/worker/meetings/{meeting.id}/attendance/walk-in", {"name": "迟到的人"})
    assert attendance.status_code == 409
