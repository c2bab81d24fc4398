"""Role × route matrix: every route of the app is classified here, and each role gets exactly the
answer its class promises (a new route that is not classified fails this test).

Unsafe methods are sent with a valid CSRF token (the pipeline test proves they need one) and must
change nothing when refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from starlette.routing import Route

from consultation.accounts.models import Role, RoleGrant
from consultation.areas.models import Area, Household
from consultation.audit import AuditEvent
from tests.conftest import WebClient
from tests.factories import PASSWORD, City, identifier, make_city, make_user, verified_resident

ROLES = ["anonymous", "resident", "verified", "worker_a", "worker_b", "representative", "unit_staff",
         "drafter", "admin"]

# route path -> class. Classes and what each role gets are defined in ``expected`` below.
ROUTES: dict[str, str] = {
    "/": "public", "/healthz": "public", "/search": "public", "/api/v1/search": "public",
    "/areas/{area_id:int}": "public", "/dev/outbox": "public",
    "/prefs/language": "public", "/prefs/elderly": "public",
    "/register": "auth", "/login": "auth", "/login/code": "auth", "/login/code/enter": "auth",
    "/password/forgot": "auth", "/password/reset": "auth", "/logout": "auth",
    "/account": "signed_in", "/account/password": "signed_in", "/account/sessions": "signed_in",
    "/account/sessions/{session_id:int}/revoke": "signed_in", "/account/sessions/revoke-others": "signed_in",
    "/account/sessions/revoke-all": "signed_in", "/account/export": "signed_in", "/account/delete": "signed_in",
    "/notifications": "signed_in", "/notifications/{notification_id:int}/open": "signed_in",
    "/notifications/{notification_id:int}/read": "signed_in", "/notifications/read-all": "signed_in",
    "/worker": "console",
    "/worker/residents/{user_id:int}/verify": "worker_of_a",
    "/worker/communities/{community_id:int}/households": "worker_of_a",
    "/worker/communities/{community_id:int}/households/new": "worker_of_a",
    "/worker/communities/{community_id:int}/households/{household_id:int}/edit": "worker_of_a",
    "/worker/communities/{community_id:int}/{kind:str}/import": "worker_of_a",
    "/worker/communities/{community_id:int}/{kind:str}/import/template.csv": "worker_of_a",
    "/worker/communities/{community_id:int}/{kind:str}/imports/{event_id:int}": "worker_of_a_missing",
    "/admin/areas": "admin", "/admin/areas/cities": "admin", "/admin/areas/{area_id:int}": "admin",
    "/admin/areas/{area_id:int}/children": "admin", "/admin/areas/{area_id:int}/rename": "admin",
    "/admin/areas/{area_id:int}/delete": "admin", "/admin/areas/import": "admin",
    "/admin/areas/import/template.csv": "admin", "/admin/areas/imports/{event_id:int}": "admin_missing",
    "/admin/units": "admin", "/admin/roles": "admin", "/admin/roles/find": "admin",
    "/admin/roles/users/{user_id:int}": "admin", "/admin/roles/users/{user_id:int}/grant": "admin",
    "/admin/roles/users/{user_id:int}/grants/{grant_id:int}/revoke": "admin",
    "/api/v1/topics/similar": "public", "/topics/{topic_id:int}": "public_missing",
    "/api/v1/openapi.json": "public", "/api/v1/docs": "public", "/api/v1/topics": "api_public",
    "/api/v1/topics/{topic_id:int}": "api_public_missing",
    "/api/v1/topics/{topic_id:int}/cosigns": "api_public_missing",
    "/api/v1/topics/{topic_id:int}/follow": "api_signed_in_missing",
    "/api/v1/topics/{topic_id:int}/comments": "api_public_missing",
    "/api/v1/comments/{comment_id:int}": "api_public_missing",
    "/api/v1/comments/{comment_id:int}/reactions/{kind:str}": "api_signed_in_missing",
    "/api/v1/comments/{comment_id:int}/reports": "api_signed_in_missing",
    "/api/v1/topics/{topic_id:int}/resolution": "api_public_missing",
    "/api/v1/meetings": "api_area_query", "/api/v1/meetings/{meeting_id:int}": "api_public_missing",
    "/api/v1/meetings/{meeting_id:int}/signup": "api_signed_in_missing",
    "/topics/new": "signed_in_missing", "/topics/{topic_id:int}/cosign": "signed_in_missing",
    "/topics/{topic_id:int}/follow": "signed_in_missing", "/topics/{topic_id:int}/unfollow": "signed_in_missing",
    "/topics/{topic_id:int}/advance": "signed_in_missing", "/topics/{topic_id:int}/resolution": "signed_in_missing",
    "/my/topics": "signed_in",
    "/worker/triage": "console", "/worker/triage/{topic_id:int}": "console_missing",
    "/worker/triage/{topic_id:int}/{action:str}": "console_missing",
    "/worker/communities/{community_id:int}/cosign-threshold": "worker_of_a",
    "/topics/{topic_id:int}/comments": "signed_in_missing", "/comments/{comment_id:int}": "public_missing",
    "/comments/{comment_id:int}/reply": "signed_in_missing", "/comments/{comment_id:int}/edit": "signed_in_missing",
    "/comments/{comment_id:int}/delete": "signed_in_missing", "/comments/{comment_id:int}/react": "signed_in_missing",
    "/comments/{comment_id:int}/report": "signed_in_missing", "/worker/moderation": "console",
    "/worker/moderation/comments/{comment_id:int}/{action:str}": "console_missing",
    "/admin/sensitive-words": "admin", "/admin/sensitive-words/{word_id:int}/delete": "admin_missing",
    "/media/photos/{photo_id:int}/{variant:str}": "public_missing",
    "/meetings/{meeting_id:int}": "public_missing", "/meetings/{meeting_id:int}/calendar.ics": "public_missing",
    "/meetings/{meeting_id:int}/signup": "signed_in_missing",
    "/meetings/{meeting_id:int}/cancel-signup": "signed_in_missing", "/my/meetings": "signed_in",
    "/worker/meetings": "console", "/worker/communities/{community_id:int}/meetings/new": "worker_of_a",
    "/worker/meetings/{meeting_id:int}/edit": "console_missing",
    "/worker/meetings/{meeting_id:int}/cancel": "console_missing",
    "/worker/meetings/{meeting_id:int}/attendance": "console_missing",
    "/worker/meetings/{meeting_id:int}/attendance/walk-in": "console_missing",
    "/worker/meetings/{meeting_id:int}/minutes": "console_missing",
    "/polls/{poll_id:int}": "public_missing", "/polls/{poll_id:int}/vote": "signed_in_missing",
    "/polls/{poll_id:int}/results": "public_missing", "/polls/{poll_id:int}/notice": "public_missing",
    "/polls/{poll_id:int}/ballots": "public_missing", "/polls/{poll_id:int}/receipt": "public_missing",
    "/polls/{poll_id:int}/results.csv": "public_missing", "/polls/{poll_id:int}/results.xlsx": "public_missing",
    "/polls/{poll_id:int}/ballots.csv": "public_missing", "/polls/{poll_id:int}/ballots.xlsx": "public_missing",
    "/worker/polls": "console", "/worker/areas/{area_id:int}/polls/new": "worker_of_a",
    "/worker/polls/{poll_id:int}": "console_missing", "/worker/polls/{poll_id:int}/edit": "console_missing",
    "/worker/polls/{poll_id:int}/open": "console_missing", "/worker/polls/{poll_id:int}/close": "console_missing",
    "/worker/polls/{poll_id:int}/cancel": "console_missing", "/worker/polls/{poll_id:int}/paper": "console_missing",
    "/worker/polls/{poll_id:int}/paper/{batch_id:int}/confirm": "console_missing",
    "/worker/polls/{poll_id:int}/paper/{batch_id:int}/reject": "console_missing",
    "/worker/polls/{poll_id:int}/resolution": "console_missing",
    "/worker/polls/{poll_id:int}/verify": "console_missing",
    "/worker/polls/{poll_id:int}/signed": "console_missing",
    "/api/v1/polls": "api_area_query", "/api/v1/polls/{poll_id:int}": "api_public_missing",
    "/api/v1/polls/{poll_id:int}/ballots": "api_public_missing",
    "/api/v1/polls/{poll_id:int}/results": "api_public_missing",
    "/api/v1/polls/{poll_id:int}/receipts": "api_lookup_missing",
    "/drafts": "public", "/drafts/new": "drafter", "/drafts/{draft_id:int}": "public_missing",
    "/drafts/{draft_id:int}/versions/new": "drafter_missing", "/drafts/{draft_id:int}/compare": "public_missing",
    "/drafts/{draft_id:int}/rounds/new": "drafter_missing", "/rounds/{round_id:int}/edit": "drafter_missing",
    "/rounds/{round_id:int}": "public_missing", "/rounds/{round_id:int}/articles/{provision_id:int}": "public_missing",
    "/rounds/{round_id:int}/comments": "signed_in_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}/support": "signed_in_missing",
    "/my/draft-comments": "signed_in",
    "/rounds/{round_id:int}/queue": "drafter_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}": "drafter_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}/answer": "drafter_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}/themes": "drafter_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}/detach": "drafter_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}/visibility": "drafter_missing",
    "/rounds/{round_id:int}/comments/{comment_id:int}/attach": "drafter_missing",
    "/rounds/{round_id:int}/report": "public_missing", "/rounds/{round_id:int}/report.csv": "drafter_missing",
    "/rounds/{round_id:int}/report.xlsx": "drafter_missing",
    "/api/v1/drafts": "api_public", "/api/v1/drafts/{draft_id:int}": "api_public_missing",
    "/api/v1/drafts/{draft_id:int}/versions/{number:int}": "api_public_missing",
    "/api/v1/drafts/{draft_id:int}/compare": "api_public_missing",
    "/api/v1/rounds/{round_id:int}": "api_public_missing",
    "/api/v1/rounds/{round_id:int}/comments": "api_public_missing",
    "/api/v1/rounds/{round_id:int}/report": "api_public_missing",
}


def expected(kind: str, role: str) -> int | None:
    """The status a role gets from a GET of a route of this class (None: not asserted for this role)."""
    staff_refused = 303 if role == "anonymous" else 403
    if kind == "public":
        return 200
    if kind == "public_missing":
        return 404
    # The JSON API: reads like pages; writes answer 401 JSON (no redirect) when anonymous.
    if kind == "api_public":
        return 200
    if kind in {"api_public_missing", "api_lookup_missing"}:
        return 404
    if kind == "api_area_query":  # needs ?area=, so the bare URL is a 422 for everyone
        return 422
    if kind == "api_signed_in_missing":
        return 401 if role == "anonymous" else 404
    if kind == "auth":
        return 200 if role == "anonymous" else None  # signed-in visitors may be sent on
    if kind == "signed_in":
        return 303 if role == "anonymous" else 200
    if kind == "signed_in_missing":  # signed in first, then the object (here missing) is looked up
        return 303 if role == "anonymous" else 404
    if kind in {"console", "console_missing"}:
        allowed = 404 if kind == "console_missing" else 200
        return allowed if role in {"worker_a", "worker_b", "admin"} else staff_refused
    if kind.startswith("worker_of_a"):
        if role in {"worker_a", "admin"}:
            return 404 if kind.endswith("_missing") else 200
        return 404 if role == "worker_b" else staff_refused
    if kind.startswith("drafter"):  # legislative staff (drafters) and admins; the object is looked up after
        if role in {"drafter", "admin"}:
            return 404 if kind.endswith("_missing") else 200
        return staff_refused
    if kind.startswith("admin"):
        if role == "admin":
            return 404 if kind.endswith("_missing") else 200
        return staff_refused
    raise AssertionError(kind)


def refused_post(kind: str, role: str) -> int | None:
    """The status a refused role gets from an unsafe request (None: the role is allowed)."""
    if kind == "api_lookup_missing":  # a POST that only looks up (the receipt check): open to anyone
        return 404
    if kind.startswith("api_"):  # API writes: signed in first (401 JSON), then the (missing) object
        return 401 if role == "anonymous" else (404 if kind.endswith("_missing") else None)
    status = expected(kind, role)
    return status if status in {303, 403, 404} and kind not in {"public", "auth"} else None


@dataclass
class World:
    city: City
    resident_id: int
    logins: dict[str, str]


async def build_world(db) -> World:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    resident = await make_user(db, name="未认证", area=city.community_a)
    people = {
        "resident": resident,
        "verified": await verified_resident(db, city.households_a[0], city.community_a),
        "worker_a": await make_user(db, role=Role.worker, area=city.community_a),
        "worker_b": await make_user(db, role=Role.worker, area=city.community_b),
        "representative": await make_user(db, role=Role.representative, area=city.district),
        "unit_staff": await make_user(db, role=Role.unit_staff, area=city.district),
        "drafter": await make_user(db, role=Role.drafter, area=city.city),
        "admin": await make_user(db, role=Role.admin),
    }
    await db.commit()
    return World(city, resident.id, {role: identifier(user) for role, user in people.items()})


def concrete(path: str, world: World) -> str:
    values = {
        "area_id": world.city.community_a.id, "community_id": world.city.community_a.id,
        "household_id": world.city.households_a[1].id, "user_id": world.resident_id, "kind": "households",
        "event_id": 987654, "session_id": 987654, "notification_id": 987654, "grant_id": 987654,
        "topic_id": 987654, "action": "accept", "comment_id": 987654, "word_id": 987654,
        "photo_id": 987654, "variant": "thumb", "meeting_id": 987654, "poll_id": 987654, "batch_id": 987654,
        "draft_id": 987654, "round_id": 987654, "provision_id": 987654, "number": 1,
        "code": "K7Q2-9XMD-4RTA",
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


async def state_counts(db) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple([
        await db.scalar(select(func.count()).select_from(model))
        for model in (AuditEvent, RoleGrant, Household, Area)
    ])


def test_every_route_is_classified(app) -> None:  # type: ignore[no-untyped-def]
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert paths - ROUTES.keys() == set(), "classify the new routes in tests/test_route_matrix.py"
    assert ROUTES.keys() - paths == set(), "routes in the matrix that no longer exist"


@pytest.mark.parametrize("role", ROLES)
async def test_role_gets_what_each_route_promises(app, db, make_client, role: str) -> None:  # type: ignore[no-untyped-def]
    world = await build_world(db)
    client: WebClient = make_client()
    if role != "anonymous":
        await client.login(world.logins[role], PASSWORD)
    routes = [route for route in app.routes if isinstance(route, Route)]
    problems = []
    for route in routes:
        kind = ROUTES[route.path]
        url = concrete(route.path, world)
        if "GET" in (route.methods or set()):
            want = expected(kind, role)
            got = (await client.get(url)).status_code
            if want is not None and got != want:
                problems.append(f"GET {url} [{kind}] → {got}, expected {want}")
        if "POST" in (route.methods or set()) and (want := refused_post(kind, role)) is not None:
            before = await state_counts(db)
            got = (await client.submit(url, {"name": "x", "address": "x", "role": "admin"})).status_code
            if got != want:
                problems.append(f"POST {url} [{kind}] → {got}, expected {want}")
            if await state_counts(db) != before:
                problems.append(f"POST {url} [{kind}] changed data although refused")
        for method in sorted((route.methods or set()) & {"PUT", "PATCH", "DELETE"}):  # the JSON API's
            if (want := refused_post(kind, role)) is None:
                continue
            before = await state_counts(db)
            got = (await client.request(method, url, json={"body": "x", "reason": "x"},
                                        headers={"x-csrf-token": await client.csrf()})).status_code
            if got != want:
                problems.append(f"{method} {url} [{kind}] → {got}, expected {want}")
            if await state_counts(db) != before:
                problems.append(f"{method} {url} [{kind}] changed data although refused")
    assert problems == [], f"{role}:\n" + "\n".join(problems)
