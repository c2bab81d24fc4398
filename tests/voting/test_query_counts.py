"""SQL statements of casting a ballot through the JSON API (issue 6: the vote storm at 500 ballots/s).

A ballot is the hottest write of a contested vote; its statements are counted for a first ballot and for
the refused second attempt (the double click), and must stay within their budgets.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from tests.api.helpers import log_in, send
from tests.api.test_polls_api import open_poll
from tests.deliberation.helpers import make_world
from tests.web.test_query_counts import statements

BUDGET = {
    # PostgreSQL (3; 13, then 8, 7, 6 and 5 before): who is asking with their grants; the poll with its area,
    # its options and the person's roll entry, counting the attempt's rate-limit hit (an upsert in a WITH
    # part); then one statement that locks the poll, claims the entry, stores the ballot and records the
    # event. The JSON API casts in autocommit there, so these are all its round trips (no BEGIN, no COMMIT).
    "ballot": 3,
    # (2; 7, 5, then 4 before): the same up to the read, whose roll entry says the person has voted
    "ballot_again": 2,
}
# SQLite runs the steps one statement at a time in the request's transaction: the poll's state read again,
# the claim, the ballot, the event (7), and for the second attempt the failed claim and the entry (6).
SQLITE_BUDGET = {"ballot": 7, "ballot_again": 6}


async def test_casting_a_ballot(db: Any, connection: AsyncConnection, make_client: Any) -> None:
    world = await make_world(db, neighbours=2)
    poll, (yes, _no, _abstain) = await open_poll(db, world)
    voter = await log_in(make_client(), world.author)
    await voter.get(f"/api/v1/polls/{poll.id}")  # the CSRF cookie
    with statements(connection) as first:
        cast = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert cast.status_code == 201, cast.text
    with statements(connection) as again:
        repeat = await send(voter, "POST", f"/api/v1/polls/{poll.id}/ballots", {"choices": [yes]})
    assert repeat.status_code == 409, repeat.text
    budget = SQLITE_BUDGET if connection.dialect.name == "sqlite" else BUDGET
    for name, seen in (("ballot", first), ("ballot_again", again)):
        listing = "\n".join(" ".join(s.split())[:160] for s in seen)
        print(f"{name}: {len(seen)} statements\n{listing}")
        assert len(seen) <= budget[name], f"{name}: {len(seen)} statements, budget {budget[name]}:\n{listing}"
