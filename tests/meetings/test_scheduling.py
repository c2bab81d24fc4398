"""Scheduling, editing and cancelling a session through the worker's pages, and every kind of bad
input coming back beside its field with nothing saved. The session shows on its topics' pages and
on the area page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.meetings import services
from consultation.meetings.models import Meeting, MeetingAgendaItem, MeetingState
from consultation.notifications.models import Notification
from tests.areas.helpers import section
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import actor_of, make_world, raise_topic
from tests.meetings.helpers import agenda_topic, count, log_in, schedule
from web.i18n import TIMEZONE


def local(delta: timedelta) -> str:
    return (utcnow() + delta).astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")


def good_form(topic_ids: list[int]) -> dict[str, Any]:
    return {"title": "多福巷居民议事会：楼道照明", "starts_at": local(timedelta(days=2)),
            "ends_at": local(timedelta(days=2, hours=2)), "place": "社区活动室", "online_url": "",
            "capacity": "20", "description": "请带上身份证。", "topic_ids": [str(i) for i in topic_ids],
            "other_items": "其他事项：下月议题征集"}


async def test_a_worker_schedules_a_session_seen_on_its_pages(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    lights = await agenda_topic(db, world, title="3号楼楼道灯坏了")
    parking = await agenda_topic(db, world, title="北门停车太乱")
    await raise_topic(db, world, title="还在征集联署的议题")
    await db.commit()
    await log_in(client, world.worker_a)
    community = world.city.community_a
    form_page = await client.get(f"/worker/communities/{community.id}/meetings/new")
    assert form_page.status_code == 200
    assert "3号楼楼道灯坏了" in form_page.text and "北门停车太乱" in form_page.text
    assert "还在征集联署的议题" not in form_page.text  # only topics on the agenda can be chosen
    response = await client.submit(f"/worker/communities/{community.id}/meetings/new",
                                   good_form([parking.id, lights.id]))
    assert response.status_code == 303, response.text
    meeting = await db.scalar(select(Meeting).where(Meeting.community_id == community.id))
    assert response.headers["location"] == f"/meetings/{meeting.id}"
    assert meeting.capacity == 20 and meeting.state is MeetingState.scheduled
    assert meeting.starts_at.tzinfo is not None
    assert meeting.starts_at.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M") == good_form([])["starts_at"]
    items = (await db.scalars(select(MeetingAgendaItem).where(MeetingAgendaItem.meeting_id == meeting.id)
                              .order_by(MeetingAgendaItem.position))).all()
    assert [(i.position, i.topic_id, i.title) for i in items] == [
        (1, parking.id, "北门停车太乱"), (2, lights.id, "3号楼楼道灯坏了"), (3, None, "其他事项：下月议题征集")]
    assert await count(db, AuditEvent, AuditEvent.action == "meeting.scheduled") == 1

    page = (await client.get(f"/meetings/{meeting.id}")).text
    agenda = section(page, "section", 'aria-labelledby="agenda"')
    assert f'href="/topics/{parking.id}"' in agenda and f'href="/topics/{lights.id}"' in agenda
    assert "20 of 20 seats left" in text_of(page) and f'href="/meetings/{meeting.id}/calendar.ics"' in page
    topic_page = (await client.get(f"/topics/{lights.id}")).text
    assert f'href="/meetings/{meeting.id}"' in section(topic_page, "section", 'aria-labelledby="topic-meetings"')
    area_page = (await client.get(f"/areas/{community.id}")).text
    assert "多福巷居民议事会：楼道照明" in section(area_page, "section", 'aria-labelledby="area-meetings"')
    street_page = (await client.get(f"/areas/{world.city.street.id}")).text
    assert "多福巷居民议事会：楼道照明" in section(street_page, "section", 'aria-labelledby="area-meetings"')
    other_area = (await client.get(f"/areas/{world.city.community_b.id}")).text
    assert "多福巷居民议事会" not in other_area
    console = (await client.get("/worker/meetings")).text
    assert "多福巷居民议事会：楼道照明" in section(console, "section", 'aria-labelledby="upcoming"')


async def test_bad_input_comes_back_beside_each_field_and_nothing_is_saved(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic_b = await agenda_topic(db, world, title="韶九社区的议题", community_b=True)
    await db.commit()
    await log_in(client, world.worker_a)
    url = f"/worker/communities/{world.city.community_a.id}/meetings/new"
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"title": ""}, "title", "This field is required."),
        ({"title": "议" * 81}, "title", "Enter at most 80 characters."),
        ({"capacity": "0"}, "capacity", "Enter a whole number from 1 to 1000."),
        ({"capacity": "twenty"}, "capacity", "Enter a whole number from 1 to 1000."),
        ({"ends_at": local(timedelta(days=1))}, "ends_at", "The session must end after it starts."),
        ({"starts_at": local(timedelta(hours=-3)), "ends_at": local(timedelta(hours=-1))}, "starts_at",
         "The session must start in the future."),
        ({"starts_at": "next Tuesday"}, "starts_at", "Enter the date and time the session starts."),
        ({"online_url": "ftp://example.com/room"}, "online_url", "Enter a web address starting with http://"),
        ({"online_url": "javascript:alert(1)"}, "online_url", "Enter a web address starting with http://"),
        ({"place": "", "online_url": ""}, "place", "Give the place, an online link, or both."),
        ({"topic_ids": [str(topic_b.id)]}, "topic_ids", "Choose topics of 多福巷社区 only."),
        ({"topic_ids": []}, "topic_ids", "Choose at least one topic for the agenda."),
        ({"description": "说" * 2001}, "description", "Enter at most 2000 characters."),
    ]
    for change, field, message in cases:
        response = await client.submit(url, good_form([]) | change)
        assert response.status_code == 422, (change, response.status_code)
        error = section(response.text, "p", f'id="f-{field}-error"')
        assert message in text_of(error), (change, text_of(error))
    assert await count(db, Meeting) == 0
    assert await count(db, MeetingAgendaItem) == 0


async def test_edit_and_cancel_tell_the_people_signed_up(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    topic = await agenda_topic(db, world)
    meeting = await schedule(db, world, [topic], capacity=2)
    for person in (world.author, world.neighbours[0], world.neighbours[1]):
        await services.sign_up(db, actor_of(person, world), meeting)
    await db.commit()
    await log_in(client, world.worker_a)
    edit = await client.get(f"/worker/meetings/{meeting.id}/edit")
    assert edit.status_code == 200 and 'value="社区活动室（多福巷12号）"' in edit.text
    form = good_form([topic.id]) | {"capacity": "1"}
    response = await client.submit(f"/worker/meetings/{meeting.id}/edit", form)
    assert response.status_code == 422
    assert "2 seats are already confirmed" in text_of(section(response.text, "p", 'id="f-capacity-error"'))

    response = await client.submit(f"/worker/meetings/{meeting.id}/edit", good_form([topic.id]) | {"capacity": "3"})
    assert response.status_code == 303
    await db.refresh(meeting)
    assert meeting.capacity == 3 and meeting.sequence == 1 and meeting.place == "社区活动室"
    changed = await count(db, Notification, Notification.kind == "meeting.changed")
    assert changed == 3  # the time and place changed: everyone signed up is told
    promoted = await count(db, Notification, Notification.kind == "meeting.promoted",
                           Notification.user_id == world.neighbours[1].id)
    assert promoted == 1  # the larger room gave the first person waiting a seat

    response = await client.submit(f"/worker/meetings/{meeting.id}/cancel", {"reason": ""})
    assert response.status_code == 422
    response = await client.submit(f"/worker/meetings/{meeting.id}/cancel", {"reason": "活动室维修，改期另行通知"})
    assert response.status_code == 303
    await db.refresh(meeting)
    assert meeting.state is MeetingState.cancelled
    assert await count(db, Notification, Notification.kind == "meeting.cancelled") == 3
    page = text_of((await client.get(f"/meetings/{meeting.id}")).text)
    assert "This session was cancelled. Reason: 活动室维修，改期另行通知" in page
    assert (await client.get(f"/worker/meetings/{meeting.id}/edit")).status_code == 200
    assert (await client.submit(f"/worker/meetings/{meeting.id}/edit", good_form([topic.id]))).status_code == 409
