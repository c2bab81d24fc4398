"""The reminder job: people with a seat are notified once, about a day before; running the job again
(or from two workers) sends nothing more; waitlisted, cancelled and far-off sign-ups get nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from consultation.db import utcnow
from consultation.meetings import services
from consultation.notifications.models import Notification
from tests.deliberation.helpers import actor_of, make_world
from tests.meetings.helpers import agenda_topic, count, move_start, residents, schedule
from tests.meetings.test_signup import resident_actor
from web.periodic import Periodic


async def test_reminders_go_once_to_confirmed_people_a_day_ahead(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await agenda_topic(db, world)
    soon = await schedule(db, world, [topic], capacity=2, title="明晚的议事会")
    later = await schedule(db, world, [topic], capacity=2, title="下周的议事会")
    people = await residents(db, world, 4)
    for person in people:
        await services.sign_up(db, resident_actor(person, world), soon)  # two seats, two waiting
    await services.sign_up(db, resident_actor(people[0], world), later)
    await services.sign_up(db, actor_of(world.author, world), soon)
    await services.cancel_signup(db, actor_of(world.author, world), soon)  # waitlisted, then gone
    assert await services.send_due_reminders(db) == 0  # three days ahead: too early

    await move_start(db, soon, timedelta(hours=20))
    assert await services.send_due_reminders(db) == 2
    assert await services.send_due_reminders(db) == 0  # idempotent
    assert await services.send_due_reminders(db, utcnow() + timedelta(hours=1)) == 0
    reminded = (await db.scalars(select(Notification.user_id).where(Notification.kind == "meeting.reminder"))).all()
    assert sorted(reminded) == sorted([people[0].id, people[1].id])
    note = await db.scalar(select(Notification).where(Notification.kind == "meeting.reminder"))
    assert note.url == f"/meetings/{soon.id}" and note.body == "明晚的议事会"

    # Promoted inside the last day: the promotion notice is the reminder, not a second message.
    await services.cancel_signup(db, resident_actor(people[1], world), soon)
    assert await services.send_due_reminders(db) == 0
    assert await count(db, Notification, Notification.kind == "meeting.promoted",
                       Notification.user_id == people[2].id) == 1

    # Moving the session resets the reminders: they go again before the new time.
    await services.update_meeting(db, actor_of(world.worker_a, world), soon, services.MeetingDraft(
        title=soon.title, starts_at=utcnow() + timedelta(hours=10), ends_at=utcnow() + timedelta(hours=12),
        capacity=2, place="社区活动室", topic_ids=[topic.id]))
    assert await services.send_due_reminders(db) == 2


async def test_the_periodic_runner_calls_the_job_at_most_once_a_minute(db: Any, sessionmaker: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    await services.sign_up(db, actor_of(world.author, world), meeting)
    await move_start(db, meeting, timedelta(hours=3))
    await db.commit()
    periodic = Periodic(sessionmaker, interval=60)
    await periodic.maybe_run()
    await periodic.maybe_run()
    assert await count(db, Notification, Notification.kind == "meeting.reminder") == 1
