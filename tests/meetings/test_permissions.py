"""Role × action: only staff of the meeting's community manage it (a worker of B gets "missing" for
A's sessions); residents of the community sign up; outsiders and anonymous visitors cannot."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from consultation.meetings.models import MeetingSignup
from consultation.policy import ANONYMOUS, Actor, can
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, make_world
from tests.meetings.helpers import agenda_topic, count, log_in, move_start, schedule

ROLES = ["anonymous", "resident", "verified_resident", "outsider", "worker_a", "worker_b", "admin"]


def actors(world: World) -> dict[str, Actor]:
    return {"anonymous": ANONYMOUS, "resident": actor_of(world.unverified, world),
            "verified_resident": actor_of(world.neighbours[0], world), "outsider": actor_of(world.outsider, world),
            "worker_a": actor_of(world.worker_a, world), "worker_b": actor_of(world.worker_b, world),
            "admin": actor_of(world.admin, world)}


async def test_permission_matrix(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    community = world.city.community_a
    got = {role: (can(actor, "meetings.manage", community), can(actor, "meetings.sign_up", meeting))
           for role, actor in actors(world).items()}
    assert got == {"anonymous": (False, False), "resident": (False, True), "verified_resident": (False, True),
                   "outsider": (False, False), "worker_a": (True, False), "worker_b": (False, False),
                   "admin": (True, False)}
    for actor in actors(world).values():  # sessions belong to communities, never to a street or compound
        assert not can(actor, "meetings.manage", world.city.street)
        assert not can(actor, "meetings.manage", world.city.compound_a)
    await move_start(db, meeting, timedelta(minutes=-1))
    assert not any(can(actor, "meetings.sign_up", meeting) for actor in actors(world).values())


@pytest.mark.parametrize("role", ["resident", "worker_b", "admin", "worker_a"])
async def test_the_workers_pages_of_a_session(client: WebClient, db: Any, role: str) -> None:
    world = await make_world(db, neighbours=1)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    people = {"resident": world.neighbours[0], "worker_b": world.worker_b, "admin": world.admin,
              "worker_a": world.worker_a}
    await db.commit()
    await log_in(client, people[role])
    want = {"resident": 403, "worker_b": 404, "admin": 200, "worker_a": 200}[role]
    for page in ("edit", "attendance", "minutes"):
        assert (await client.get(f"/worker/meetings/{meeting.id}/{page}")).status_code == want, page
    new = await client.get(f"/worker/communities/{world.city.community_a.id}/meetings/new")
    assert new.status_code == want
    if want != 200:
        refused = await client.submit(f"/worker/meetings/{meeting.id}/cancel", {"reason": "想取消"})
        assert refused.status_code == want
        refused = await client.submit(f"/worker/meetings/{meeting.id}/attendance/walk-in", {"name": "某人"})
        assert refused.status_code == want
    assert (await client.get(f"/meetings/{meeting.id}")).status_code == 200  # the session page is public
    assert await count(db, MeetingSignup) == 0
