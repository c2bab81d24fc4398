"""SQL statements of casting a ballot through the JSON API (issue 6: the vote storm at 500 ballots/s).

A ballot is the hottest write of a contested vote; its statements are counted for a first ballot and for
the refused second attempt (the double click), and must stay within their budgets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consultation.voting import services
from consultation.voting.models import Ballot
from tests.api.helpers import log_in, send
from tests.api.test_polls_api import open_poll
from tests.deliberation.helpers import actor_of, make_world
from tests.web.test_query_counts import statements

BUDGET = {
    # PostgreSQL: who is asking with their grants; the person's roll entry, counting the attempt's rate-limit
    # hit (an upsert in a WITH part); the poll with its area and options (the first ballot of a process only:
    # then it is kept, ``queries._BALLOT_POLLS``); then one statement that locks the poll, claims the entry,
    # stores the ballot and records the event. The JSON API casts in autocommit there, so these are all its
    # round trips (no BEGIN, no COMMIT). (13, then 8, 7, 6, 5 and 3 with the poll read every time, before.)
    "first_ballot": 4,
    "ballot": 3,
    # (7, 5, 4, then 2 before): the same up to the entry, which says the person has voted
    "ballot_again": 2,
}
# SQLite runs the steps one statement at a time in the request's transaction and reads the poll every time:
# the poll with the entry, its state read again, the claim, the ballot, the event (7), and for the second
# attempt the failed claim and the entry (6).
SQLITE_BUDGET = {"first_ballot": 7, "ballot": 7, "ballot_again": 6}


async def test_casting_a_ballot(db: Any, connection: AsyncConnection, make_client: Any) -> None:
    world = await make_world(db, neighbours=2)
    poll, (yes, _no, _abstain) = await open_poll(db, world)
    first_voter = await log_in(make_client(), world.neighbours[0])
    voter = await log_in(make_client(), world.author)
    for client in (first_voter, voter):
        await client.get(f"/api/v1/polls/{poll.id}")  # the CSRF cookie
    with statements(connection) as cold:
        cast = await send(first_voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert cast.status_code == 201, cast.text
    with statements(connection) as first:
        cast = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert cast.status_code == 201, cast.text
    with statements(connection) as again:
        repeat = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert repeat.status_code == 409, repeat.text
    budget = SQLITE_BUDGET if connection.dialect.name == "sqlite" else BUDGET
    for name, seen in (("first_ballot", cold), ("ballot", first), ("ballot_again", again)):
        listing = "\n".join(" ".join(s.split())[:160] for s in seen)
        print(f"{name}: {len(seen)} statements\n{listing}")
        assert len(seen) <= budget[name], f"{name}: {len(seen)} statements, budget {budget[name]}:\n{listing}"


async def test_a_poll_kept_for_ballots_is_read_again_after_it_changes(db: Any, connection: AsyncConnection,
                                                                      make_client: Any) -> None:
    """The kept poll is dropped by a write to it: a ballot after the poll was cancelled is refused by the poll
    as it now is (read again), not by the casting statement's own check, and nothing is stored."""
    world = await make_world(db, neighbours=2)
    poll, (yes, _no, _abstain) = await open_poll(db, world)
    first, second = [await log_in(make_client(), user) for user in world.neighbours]
    for client in (first, second):
        await client.get(f"/api/v1/polls/{poll.id}")  # the CSRF cookie
    assert (await send(first, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})).status_code == 201
    await services.cancel_poll(db, actor_of(world.worker_a, world), poll, "议题已撤回")
    await db.commit()
    stored = await db.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll.id))
    with statements(connection) as seen:
        refused = await send(second, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert refused.status_code == 409, refused.text
    assert "取消" in refused.json()["error"]["message"] or "cancel" in refused.json()["error"]["message"].lower()
    assert not any(s.lstrip().startswith("WITH open_poll") for s in seen)  # refused before the casting statement
    assert await db.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll.id)) == stored
