"""Sign-up with seats and a waitlist: seats first, then the waitlist in sign-up order; a freed seat
goes to the first person waiting (who is notified); double submits change nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consultation.accounts.models import Role, User
from consultation.errors import Forbidden, InvalidState
from consultation.meetings import queries, services
from consultation.meetings.models import MeetingSignup, SignupStatus
from consultation.notifications.models import Notification
from consultation.policy import Actor, Grant
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import World, actor_of, make_world
from tests.meetings.helpers import agenda_topic, count, log_in, move_start, residents, schedule


def resident_actor(user: User, world: World) -> Actor:
    community = world.city.community_a
    return Actor(user_id=user.id, home_area_path=community.path, grants=(Grant(Role.resident, community.path),))


async def statuses(db: Any, meeting_id: int) -> list[tuple[int, SignupStatus, int]]:
    rows = (await db.execute(select(MeetingSignup.user_id, MeetingSignup.status, MeetingSignup.position)
                             .where(MeetingSignup.meeting_id == meeting_id)
                             .order_by(MeetingSignup.position))).all()
    return [tuple(row) for row in rows]


async def test_seats_then_waitlist_in_order_and_promotion_of_the_first_waiting(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)], capacity=2)
    people = await residents(db, world, 5)
    for person in people:
        await services.sign_up(db, resident_actor(person, world), meeting)
    assert [(s.value, p) for _, s, p in await statuses(db, meeting.id)] == [
        ("confirmed", 1), ("confirmed", 2), ("waitlisted", 3), ("waitlisted", 4), ("waitlisted", 5)]
    seats = await queries.seats(db, meeting)
    assert (seats.confirmed, seats.waitlisted, seats.left) == (2, 3, 0)
    place = await queries.place_of(db, meeting, people[4].id)
    assert place is not None and place.waitlist_rank == 3

    await services.cancel_signup(db, resident_actor(people[0], world), meeting)  # frees a seat
    rows = {user_id: status for user_id, status, _ in await statuses(db, meeting.id)}
    assert rows[people[0].id] is SignupStatus.cancelled and rows[people[2].id] is SignupStatus.confirmed
    assert rows[people[3].id] is SignupStatus.waitlisted
    promoted = await db.scalar(select(Notification).where(Notification.user_id == people[2].id,
                                                          Notification.kind == "meeting.promoted"))
    assert promoted is not None and promoted.url == f"/meetings/{meeting.id}"
    place = await queries.place_of(db, meeting, people[4].id)
    assert place is not None and place.waitlist_rank == 2

    await services.cancel_signup(db, resident_actor(people[3], world), meeting)  # leaves the waitlist
    seats = await queries.seats(db, meeting)
    assert (seats.confirmed, seats.waitlisted) == (2, 1)
    assert await count(db, Notification, Notification.kind == "meeting.promoted") == 1

    # Signing up again after cancelling goes to the back of the queue with a new position.
    signup, made = await services.sign_up(db, resident_actor(people[0], world), meeting)
    assert made and signup.status is SignupStatus.waitlisted and signup.position == 6
    place = await queries.place_of(db, meeting, people[0].id)
    assert place is not None and place.waitlist_rank == 2


async def test_a_double_sign_up_is_one_sign_up(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    actor = actor_of(world.author, world)
    first, made_first = await services.sign_up(db, actor, meeting)
    second, made_second = await services.sign_up(db, actor, meeting)
    assert made_first and not made_second and first.id == second.id
    assert await count(db, MeetingSignup, MeetingSignup.meeting_id == meeting.id) == 1
    assert await services.cancel_signup(db, actor, meeting) is not None
    assert await services.cancel_signup(db, actor, meeting) is None  # nothing left to cancel


async def test_who_may_sign_up(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    with pytest.raises(Forbidden):
        await services.sign_up(db, actor_of(world.outsider, world), meeting)
    with pytest.raises(Forbidden):
        await services.sign_up(db, Actor(), meeting)
    _, made = await services.sign_up(db, actor_of(world.unverified, world), meeting)
    assert made  # verification is not needed to attend
    meeting = await move_start(db, meeting, -timedelta(minutes=5))
    with pytest.raises(InvalidState):
        await services.sign_up(db, actor_of(world.author, world), meeting)
    with pytest.raises(InvalidState):
        await services.cancel_signup(db, actor_of(world.unverified, world), meeting)


async def test_sign_up_and_cancel_through_the_pages(client: WebClient, db: Any, make_client: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await agenda_topic(db, world)
    meeting = await schedule(db, world, [topic], capacity=1)
    await db.commit()
    await log_in(client, world.author)
    page = text_of((await client.get(f"/meetings/{meeting.id}")).text)
    assert "1 of 1 seats left" in page and "Sign up" in page
    assert (await client.submit(f"/meetings/{meeting.id}/signup")).status_code == 303
    assert (await client.submit(f"/meetings/{meeting.id}/signup")).status_code == 303  # double submit
    assert await count(db, MeetingSignup, MeetingSignup.meeting_id == meeting.id) == 1
    page = text_of((await client.get(f"/meetings/{meeting.id}")).text)
    assert "You have a seat at this session." in page and "0 of 1 seats left" in page

    other = await log_in(make_client(), world.unverified)
    page = text_of((await other.get(f"/meetings/{meeting.id}")).text)
    assert "Join the waitlist" in page
    await other.submit(f"/meetings/{meeting.id}/signup")
    page = text_of((await other.get(f"/meetings/{meeting.id}")).text)
    assert "You are number 1 on the waitlist" in page and "1 on the waitlist" in page
    mine = text_of((await other.get("/my/meetings")).text)
    assert meeting.title in mine and "You are number 1 on the waitlist." in mine

    assert (await client.submit(f"/meetings/{meeting.id}/cancel-signup")).status_code == 303
    page = text_of((await other.get(f"/meetings/{meeting.id}")).text)
    assert "You have a seat at this session." in page
    notes = text_of((await other.get("/notifications")).text)
    assert meeting.title in notes

    outsider = await log_in(make_client(), world.outsider)
    page = text_of((await outsider.get(f"/meetings/{meeting.id}")).text)
    assert "Only residents of 多福巷社区 can sign up for this session." in page
    assert (await outsider.submit(f"/meetings/{meeting.id}/signup")).status_code == 403
    assert await count(db, MeetingSignup, MeetingSignup.user_id == world.outsider.id) == 0
