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
    "ballot": 8,  # (6; 13, then 8 and 7 before) who is asking with their grants, the poll with its area and
    #               options read FOR SHARE (its lock), the rate limit (one upsert returning the count), claiming
    #               the roll entry (returning it), the ballot, the audit event
    "ballot_again": 7,  # (5; 7 before) the refused second attempt: the same up to the failed claim, then
    #                     the roll entry read FOR UPDATE
}


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
    for name, seen in (("ballot", first), ("ballot_again", again)):
        listing = "\n".join(" ".join(s.split())[:160] for s in seen)
        print(f"{name}: {len(seen)} statements\n{listing}")
        assert len(seen) <= BUDGET[name], f"{name}: {len(seen)} statements, budget {BUDGET[name]}:\n{listing}"
