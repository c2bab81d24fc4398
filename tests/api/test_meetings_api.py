"""Sessions (议事会) through the JSON API: upcoming sessions of an area, one session, signing up
(seats, then the waitlist) and cancelling, with only counts and the caller's own place shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from consultation.db import utcnow
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in, send
from tests.conftest import WebClient
from tests.deliberation.helpers import make_world
from tests.meetings.helpers import agenda_topic, residents, schedule


async def test_upcoming_sessions_and_one_session(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await agenda_topic(db, world)
    meeting = await schedule(db, world, [topic])
    await db.commit()
    for area in (world.city.community_a, world.city.district, world.city.compound_a):
        response = await client.get(f"/api/v1/meetings?area={area.id}")
        assert response.status_code == 200
        assert_matches("MeetingSummaryPage", response.json())
        assert [m["id"] for m in response.json()["items"]] == [meeting.id]
    assert (await client.get(f"/api/v1/meetings?area={world.city.community_b.id}")).json()["items"] == []
    missing = await client.get("/api/v1/meetings")
    assert missing.status_code == 422 and "area" in missing.json()["error"]["fields"]
    detail = await client.get(f"/api/v1/meetings/{meeting.id}")
    assert detail.status_code == 200
    body = detail.json()
    assert_matches("MeetingDetail", body)
    assert body["title"] == "多福巷居民议事会" and body["state"] == "scheduled"
    assert [(i["title"], i["topic"]["id"]) for i in body["agenda"]] == [(topic.title, topic.id)]
    assert body["agenda"][0]["minutes"] is None and body["seats"] == {"capacity": 2, "confirmed": 0,
                                                                      "waitlisted": 0, "left": 2}
    assert body["viewer"] == {"signed_in": False, "signup": None, "can_sign_up": False, "signup_problem": None}
    assert (await client.get("/api/v1/meetings/987654")).status_code == 404


async def test_upcoming_sessions_are_paged_soonest_first(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    soon = utcnow().replace(microsecond=0)
    found = []
    for days in (9, 3, 6):  # scheduled out of order
        topic = await agenda_topic(db, world, title=f"{days}天后议的事")
        starts = soon + timedelta(days=days)
        found.append((days, await schedule(db, world, [topic], starts_at=starts, ends_at=starts + timedelta(hours=2),
                                           title=f"{days}天后的议事会")))
    await db.commit()
    by_day = dict(found)
    area = world.city.district.id
    first = (await client.get(f"/api/v1/meetings?area={area}&per_page=2")).json()
    assert_matches("MeetingSummaryPage", first)
    assert [m["id"] for m in first["items"]] == [by_day[3].id, by_day[6].id]
    assert (first["page"], first["per_page"], first["total"]) == (1, 2, 3)
    second = (await client.get(f"/api/v1/meetings?area={area}&per_page=2&page=2")).json()
    assert [m["id"] for m in second["items"]] == [by_day[9].id] and second["total"] == 3
    beyond = (await client.get(f"/api/v1/meetings?area={area}&page=5")).json()
    assert beyond["items"] == [] and beyond["total"] == 3 and beyond["per_page"] == 20
    bad = await client.get(f"/api/v1/meetings?area={area}&per_page=101&page=0")
    assert bad.status_code == 422
    assert bad.json()["error"]["fields"] == {"per_page": "请输入 1 到 100 之间的整数。",
                                             "page": "请输入 1 到 10000 之间的整数。"}


async def test_sign_up_waitlist_and_cancel(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    people = await residents(db, world, 3)
    await db.commit()
    clients = [await log_in(make_client(), person) for person in people]
    url = f"/api/v1/meetings/{meeting.id}/signup"
    answers = [await send(c, "POST", url) for c in clients]
    assert [a.status_code for a in answers] == [201, 201, 201]
    assert [a.json()["status"] for a in answers] == ["confirmed", "confirmed", "waitlisted"]
    assert answers[2].json()["waitlist_rank"] == 1
    assert answers[2].json()["seats"] == {"capacity": 2, "confirmed": 2, "waitlisted": 1, "left": 0}
    assert_matches("MySignup", answers[2].json())
    repeat = await send(clients[0], "POST", url)
    assert repeat.status_code == 200 and repeat.json()["status"] == "confirmed"
    cancelled = await send(clients[0], "DELETE", url)
    assert cancelled.status_code == 200 and cancelled.json()["status"] is None
    assert cancelled.json()["seats"]["confirmed"] == 2 and cancelled.json()["seats"]["waitlisted"] == 0
    promoted = (await clients[2].get(f"/api/v1/meetings/{meeting.id}")).json()["viewer"]["signup"]
    assert promoted["status"] == "confirmed" and promoted["waitlist_rank"] is None
    nothing = await send(clients[0], "DELETE", url)
    assert nothing.status_code == 200 and nothing.json()["status"] is None
    detail = await clients[1].get(f"/api/v1/meetings/{meeting.id}")
    assert_no_personal_data(detail, *people)


async def test_signup_refusals_are_json(client: WebClient, make_client: Any, db: Any) -> None:
    world = await make_world(db)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    await db.commit()
    url = f"/api/v1/meetings/{meeting.id}/signup"
    anonymous = await send(client, "POST", url)
    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "login_required"
    outsider = await log_in(make_client(), world.outsider)
    refused = await send(outsider, "POST", url)
    assert refused.status_code == 403 and "多福巷社区" in refused.json()["error"]["message"]
    viewer = (await outsider.get(f"/api/v1/meetings/{meeting.id}")).json()["viewer"]
    assert viewer["can_sign_up"] is False and "多福巷社区" in viewer["signup_problem"]


async def test_api_sign_ups_share_the_pages_rate_limit(client: WebClient, db: Any, monkeypatch: Any) -> None:
    from web.routes import meetings as meeting_routes

    monkeypatch.setattr(meeting_routes, "SIGNUP_CHANGE_LIMIT", 3)
    world = await make_world(db)
    meeting = await schedule(db, world, [await agenda_topic(db, world)])
    await db.commit()
    await log_in(client, world.author)
    assert (await client.submit(f"/meetings/{meeting.id}/signup")).status_code == 303  # a page counts too
    url = f"/api/v1/meetings/{meeting.id}/signup"
    statuses = [(await send(client, method, url)).status_code for method in ("DELETE", "POST", "DELETE")]
    assert statuses == [200, 201, 429]
    refused = await send(client, "DELETE", url)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
