"""Sessions at their limits: sign-up churn is rate limited per person, a full session's attendance
sheet (hundreds of checkboxes) submits in one go, walk-ins are bounded, and "my sessions" runs the
same number of statements however many waitlisted sign-ups it shows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consultation.accounts.models import User
from consultation.audit import AuditEvent
from consultation.errors import ValidationFailed
from consultation.meetings import record, services
from consultation.meetings.models import (
    ATTENDANCE_SHEET_MAX,
    MAX_CAPACITY,
    MeetingAttendee,
    MeetingSignup,
    SignupStatus,
)
from tests.conftest import WebClient
from tests.deliberation.helpers import actor_of, make_world
from tests.factories import PASSWORD
from tests.meetings.helpers import agenda_topic, count, log_in, move_start, residents, schedule
from tests.meetings.test_signup import resident_actor
from web import routing
from web.routes import meetings as meeting_routes


async def test_sign_up_and_cancel_churn_is_rate_limited_per_person(
        client: WebClient, db: Any, make_client: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(meeting_routes, "SIGNUP_CHANGE_LIMIT", 4)
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)], capacity=1)
    await db.commit()
    await log_in(client, world.author)
    urls = [f"/meetings/{meeting.id}/signup", f"/meetings/{meeting.id}/cancel-signup"] * 3
    statuses = [(await client.submit(url)).status_code for url in urls]
    assert statuses == [303, 303, 303, 303, 429, 429]
    # the refused requests changed nothing: still signed up, no audit row beyond the four changes
    signup = await db.scalar(select(MeetingSignup).where(MeetingSignup.meeting_id == meeting.id,
                                                         MeetingSignup.user_id == world.author.id))
    assert signup is not None and signup.status is SignupStatus.cancelled
    changes = await count(db, AuditEvent, AuditEvent.actor_id == world.author.id,
                          AuditEvent.action.startswith("meeting."))
    assert changes == 4
    # the limit is per person: someone else still signs up
    other = await log_in(make_client(), world.unverified)
    assert (await other.submit(f"/meetings/{meeting.id}/signup")).status_code == 303


def test_the_form_parser_takes_a_full_attendance_sheet() -> None:
    assert routing.MAX_FORM_FIELDS > ATTENDANCE_SHEET_MAX > MAX_CAPACITY


async def test_attendance_of_320_people_submits_in_one_form(client: WebClient, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)], capacity=MAX_CAPACITY)
    people = [User(phone=f"137{n:08d}", display_name=f"居民{n}", password_hash=PASSWORD,
                   home_area_id=world.city.community_a.id) for n in range(320)]
    db.add_all(people)
    await db.flush()
    db.add_all([MeetingSignup(meeting_id=meeting.id, user_id=person.id, status=SignupStatus.confirmed,
                              position=n) for n, person in enumerate(people, start=1)])
    await move_start(db, meeting, timedelta(minutes=30))
    await db.commit()
    await log_in(client, world.worker_a)
    ticked = [person.id for person in people[:315]]
    response = await client.post(f"/worker/meetings/{meeting.id}/attendance", data={
        "csrf_token": await client.csrf(), "present": [f"user:{i}" for i in ticked]})
    assert response.status_code == 303, response.text[:300]
    present = set((await db.scalars(select(MeetingAttendee.user_id).where(
        MeetingAttendee.meeting_id == meeting.id, MeetingAttendee.present.is_(True)))).all())
    assert present == set(ticked)
    assert await count(db, MeetingAttendee, MeetingAttendee.meeting_id == meeting.id) == 320


async def test_walk_ins_are_bounded(db: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(record, "MAX_WALK_INS", 2)
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    meeting = await move_start(db, meeting, timedelta(minutes=30))
    worker = actor_of(world.worker_a, world)
    await record.add_walk_in(db, worker, meeting, name="张阿姨")
    await record.add_walk_in(db, worker, meeting, name="李大爷")
    with pytest.raises(ValidationFailed) as refused:
        await record.add_walk_in(db, worker, meeting, name="第三位")
    assert refused.value.errors[""].params == {"n": 2}
    assert await count(db, MeetingAttendee, MeetingAttendee.meeting_id == meeting.id) == 2


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """SQL statements sent on the test's connection (the harness's savepoints left out)."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "SAVEPOINT" not in statement.upper():
            seen.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", note)


async def test_my_meetings_statements_do_not_grow_with_waitlisted_sign_ups(
        make_client: Any, db: Any, connection: AsyncConnection) -> None:
    world = await make_world(db, neighbours=1)
    me = (await residents(db, world, 1, "我"))[0]
    filler = (await residents(db, world, 1, "先到的"))[0]
    topic = await agenda_topic(db, world)
    counts, pages = [], []
    for total in (1, 6):
        while await count(db, MeetingSignup, MeetingSignup.user_id == me.id) < total:
            meeting = await schedule(db, world, [topic], capacity=1)
            await services.sign_up(db, resident_actor(filler, world), meeting)  # takes the only seat
            await services.sign_up(db, resident_actor(me, world), meeting)  # waitlisted, rank 1
        await db.commit()
        client = await log_in(make_client(), me)
        with statements(connection) as seen:
            response = await client.get("/my/meetings")
        assert response.status_code == 200
        counts.append(len(seen))
        pages.append(response.text)
    assert counts[0] == counts[1], counts
    assert pages[1].count("You are number 1 on the waitlist.") == 6


@pytest.mark.parametrize("table, column", [
    ("meeting", "created_by_id"), ("meeting_attendee", "user_id"), ("meeting_attendee", "recorded_by_id"),
    ("resolution", "recorded_by_id"), ("sensitive_word", "added_by_id")])
def test_references_to_people_are_indexed(table: str, column: str) -> None:
    """Deleting an account sets these to NULL: without an index each deletion scans the table."""
    import consultation.models  # noqa: F401  (every model on the metadata)
    from consultation.db import Base

    indexes = Base.metadata.tables[table].indexes
    assert any(next(iter(index.columns)).name == column for index in indexes), (table, column)
