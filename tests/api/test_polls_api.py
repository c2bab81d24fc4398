"""Polls through the JSON API: listing and reading a poll, casting (201 with a receipt; a repeat is
409, or 200 when the poll allows changing), results only when visible, the published ballot chain
(paged, with its check) and a receipt look-up. Answers match the OpenAPI schemas and carry no
personal data."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from consultation.db import utcnow
from consultation.voting import services
from consultation.voting.models import Ballot, Poll, PollChainEntry, PollOption
from consultation.voting.services import PollDraft
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in, send
from tests.deliberation.helpers import World, actor_of, make_world
from web.routes import polls as poll_routes


async def open_poll(db: Any, world: World, **overrides: Any) -> tuple[Poll, list[int]]:
    worker = actor_of(world.worker_a, world)
    values: dict[str, Any] = {"title": "是否在北院加装充电桩", "closes_at": utcnow() + timedelta(days=2),
                              "kind": "yes_no"}
    poll = await services.create_poll(db, worker, world.city.community_a, PollDraft(**(values | overrides)))
    await services.open_poll(db, worker, poll)
    await db.commit()
    ids = list((await db.scalars(select(PollOption.id).where(PollOption.poll_id == poll.id)
                                 .order_by(PollOption.position))).all())
    return poll, ids


APP_KEY = b"test-secret-key-that-is-long-enough-000"  # tests/conftest.py settings.secret_key


async def count(db: Any, poll: Poll) -> int:
    """Ballots stored: the rows while open; after close a secret poll's rows are gone and its ballots
    are the published chain entries."""
    rows = await db.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll.id)) or 0
    published = await db.scalar(select(func.count(PollChainEntry.id)).where(PollChainEntry.poll_id == poll.id)) or 0
    return int(max(rows, published))


async def test_cast_once_then_results_chain_and_receipt(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    poll, (yes, no, _abstain) = await open_poll(db, world)
    listing = await make_client().get("/api/v1/polls", params={"area": world.city.community_a.id})
    assert listing.status_code == 200 and [p["id"] for p in listing.json()["items"]] == [poll.id]
    assert_matches("PollSummaryPage", listing.json())

    voter = await log_in(make_client(), world.author)
    detail = await voter.get(f"/api/v1/polls/{poll.id}")
    assert detail.status_code == 200 and detail.json()["viewer"]["may_vote"] is True
    assert [o["label"] for o in detail.json()["options"]] == ["赞成", "反对", "弃权"]
    assert_matches("PollDetail", detail.json())

    cast = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert cast.status_code == 201, cast.text
    assert_matches("BallotReceipt", cast.json())
    receipt = cast.json()["receipt"]
    again = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [no]})
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    forged = await send(await log_in(make_client(), world.neighbours[0]), "POST",
                        f"/api/v1/polls/{poll.id}/ballots", {"choices": [987654]})
    assert forged.status_code == 422 and "choices" in forged.json()["error"]["fields"]
    not_list = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": "yes"})
    assert not_list.status_code == 422
    outsider = await send(await log_in(make_client(), world.outsider), "POST",
                          f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert outsider.status_code == 403
    anonymous = await send(make_client(), "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert anonymous.status_code == 401
    assert await count(db, poll) == 1

    assert (await voter.get(f"/api/v1/polls/{poll.id}/results")).status_code == 409  # hidden until close
    assert (await voter.get(f"/api/v1/polls/{poll.id}/ballots")).status_code == 409
    await services.close_poll(db, actor_of(world.worker_a, world), poll, receipt_key=APP_KEY)
    await db.commit()

    reader = make_client()
    results = await reader.get(f"/api/v1/polls/{poll.id}/results")
    assert results.status_code == 200 and results.json()["final"] is True
    assert results.json()["ballots"] == 1 and results.json()["passed"] is True
    assert_matches("PollResults", results.json())
    chain = await reader.get(f"/api/v1/polls/{poll.id}/ballots", params={"per_page": 1})
    body = chain.json()
    assert chain.status_code == 200 and body["total"] == 1 and body["chain_intact"] and body["recount_matches"]
    assert body["items"][0]["choices"] == [yes] and body["items"][0]["hash"] == body["chain_head"]
    assert_matches("BallotList", body)
    assert_no_personal_data(chain, world.author)
    found = await send(reader, "POST", f"/api/v1/polls/{poll.id}/receipts", {"code": receipt.lower()})
    assert found.status_code == 200 and found.json() == body["items"][0]
    missing = await send(reader, "POST", f"/api/v1/polls/{poll.id}/receipts", {"code": "0000-0000-0000"})
    assert missing.status_code == 404
    assert (await send(reader, "POST", f"/api/v1/polls/{poll.id}/receipts", {"code": ""})).status_code == 422
    late = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [no]})
    assert late.status_code == 409 and await count(db, poll) == 1


async def test_changing_a_vote_answers_200_and_shown_results_while_open(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    poll, (yes, no, _abstain) = await open_poll(db, world, allow_change=True, results_hidden_until_close=False,
                                                secret=False)
    voter = await log_in(make_client(), world.author)
    assert (await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})).status_code == 201
    changed = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [no]})
    assert changed.status_code == 200 and changed.json()["changed"] is True
    assert await count(db, poll) == 1
    interim = await make_client().get(f"/api/v1/polls/{poll.id}/results")
    assert interim.status_code == 200 and interim.json()["final"] is False
    assert {o["label"]: o["ballots"] for o in interim.json()["options"]} == {"赞成": 0, "反对": 1, "弃权": 0}


async def test_drafts_are_missing_and_the_area_is_required(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    draft = await services.create_poll(db, actor_of(world.worker_a, world), world.city.community_a,
                                       PollDraft(title="草稿", closes_at=utcnow() + timedelta(days=1)))
    await db.commit()
    client = make_client()
    assert (await client.get(f"/api/v1/polls/{draft.id}")).status_code == 404
    assert (await client.get("/api/v1/polls")).status_code == 422
    listing = await client.get("/api/v1/polls", params={"area": world.city.community_a.id})
    assert listing.json()["items"] == []


async def test_polls_are_in_the_openapi_document(make_client: Any) -> None:
    document = (await make_client().get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/polls", "/api/v1/polls/{poll_id}", "/api/v1/polls/{poll_id}/ballots",
                 "/api/v1/polls/{poll_id}/results", "/api/v1/polls/{poll_id}/receipts"):
        assert path in document["paths"], path
    assert "post" in document["paths"]["/api/v1/polls/{poll_id}/ballots"]


async def test_secret_polls_never_show_live_results(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    poll, (yes, _no, _abstain) = await open_poll(db, world, results_hidden_until_close=False)
    assert poll.secret and poll.results_hidden_until_close  # forced: the ballots are sealed until close
    voter = await log_in(make_client(), world.author)
    assert (await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})).status_code == 201
    assert (await make_client().get(f"/api/v1/polls/{poll.id}/results")).status_code == 409


async def test_ballot_attempts_are_rate_limited_on_the_api_and_the_page(make_client: Any, db: Any,
                                                                        monkeypatch: Any) -> None:
    """The attempt is counted with the poll's read (in the same statement on PostgreSQL), per person across
    polls: past the limit the API answers 429 with Retry-After, and so does the page, and nothing is stored."""
    monkeypatch.setattr(poll_routes, "VOTE_LIMIT", 2)
    world = await make_world(db, neighbours=1)
    polls = [await open_poll(db, world) for _ in range(3)]
    voter = await log_in(make_client(), world.author)
    for poll, (yes, _no, _abstain) in polls[:2]:
        assert (await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})).status_code == 201
    poll, (yes, _no, _abstain) = polls[2]
    limited = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 3000
    assert (await voter.submit(f"/polls/{poll.id}/vote", {"choice": str(yes)})).status_code == 429
    other = await log_in(make_client(), world.neighbours[0])  # counted per person
    assert (await send(other, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})).status_code == 201
    assert [await count(db, p) for p, _ in polls] == [1, 1, 1]
