"""Casting a ballot: receipts, secrecy (no link a database reader can follow), open and weighted
ballots, one ballot per household, changing one's vote, and every kind of bad input refused with the
tally unchanged."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from consultation.errors import Conflict, DomainError, Forbidden, InvalidState, ValidationFailed
from consultation.policy import Actor
from consultation.voting import ballots, queries, seal, services
from consultation.voting.models import Ballot, Channel, PollVoter
from tests.deliberation.helpers import World, make_world
from tests.factories import verified_resident
from tests.voting.helpers import (
    CODE_RE,
    RECEIPT_KEY,
    ballot_count,
    make_poll,
    option,
    option_ids,
    resident,
    roll_id,
    voted_count,
    voters_of,
    worker,
)


async def cast(db: Any, world: World, person: Any, poll: Any, choices: list[int], **kw: Any) -> ballots.CastResult:
    return await ballots.cast_ballot(db, resident(person, world), poll, choices, receipt_key=RECEIPT_KEY, **kw)


async def test_a_secret_ballot_gives_a_receipt_and_keeps_no_link_to_the_voter(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    done = await cast(db, world, world.author, poll, [option(poll, "yes")])
    assert re.match(CODE_RE, done.receipt) and done.changed is False
    stored = await db.scalar(select(Ballot).where(Ballot.poll_id == poll.id))
    # Sealed while open: no choices in clear, and the row is found by a keyed lookup value, not by the
    # SHA-256 the chain will publish.
    assert stored.voter_id is None and stored.channel is None and stored.choices is None
    assert stored.receipt_hash == seal.lookup(RECEIPT_KEY, poll.id, done.receipt)
    assert stored.receipt_hash != hashlib.sha256(done.receipt.encode()).hexdigest()
    opened = seal.unseal(RECEIPT_KEY, poll.id, stored.sealed)
    assert opened.choices == (option(poll, "yes"),)
    assert opened.receipt_hash == hashlib.sha256(done.receipt.encode()).hexdigest()
    assert uuid.UUID(stored.id).version == 4
    entry = await db.scalar(select(PollVoter).where(PollVoter.poll_id == poll.id,
                                                    PollVoter.user_id == world.author.id))
    assert entry.voted_at is not None and entry.channel is Channel.online
    # The code is the HMAC of the roll entry: shown again while signed in, never stored.
    assert done.receipt == ballots.receipt_code(RECEIPT_KEY, poll.id, entry.id)
    assert await ballots.receipt_for(db, resident(world.author, world), poll, receipt_key=RECEIPT_KEY) == done.receipt
    assert await ballots.receipt_for(db, resident(world.neighbours[0], world), poll, receipt_key=RECEIPT_KEY) is None


async def test_the_tables_have_no_column_joining_ballots_to_voters(connection: AsyncConnection) -> None:
    def columns(sync: Any, table: str) -> dict[str, Any]:
        found = inspect(sync)
        return {c["name"]: c for c in found.get_columns(table)} | {
            "__fks__": {fk["referred_table"]: fk["constrained_columns"] for fk in found.get_foreign_keys(table)}}

    ballot = await connection.run_sync(columns, "ballot")
    voter = await connection.run_sync(columns, "poll_voter")
    # The roll never points at a ballot; the ballot's only reference to the roll is voter_id (open polls only).
    assert "ballot" not in voter["__fks__"] and not any("ballot" in name for name in voter)
    assert ballot["__fks__"].get("poll_voter") == ["voter_id"]
    # No time and no sequence on a ballot: the id is a random UUID string.
    assert not any(name.endswith("_at") or "time" in name for name in ballot)
    assert "CHAR" in str(ballot["id"]["type"]).upper()


async def test_ballot_ids_do_not_follow_the_voting_order(db: Any) -> None:
    world = await make_world(db, neighbours=9)
    poll = await make_poll(db, world)
    receipts = [(await cast(db, world, person, poll, [option(poll, "yes")])).receipt for person in voters_of(world)]
    in_order = [seal.lookup(RECEIPT_KEY, poll.id, code) for code in receipts]
    by_id = list((await db.scalars(select(Ballot.receipt_hash).where(Ballot.poll_id == poll.id)
                                   .order_by(Ballot.id))).all())
    assert sorted(by_id) == sorted(in_order) and by_id != in_order  # 10 ballots: 1 in 3.6 million by chance


async def test_open_polls_sign_the_ballot(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, secret=False)
    await cast(db, world, world.author, poll, [option(poll, "no")])
    stored = await db.scalar(select(Ballot).where(Ballot.poll_id == poll.id))
    assert stored.voter_id == await roll_id(db, poll, user=world.author) and stored.channel is Channel.online


async def test_owners_vote_for_their_household_with_its_floor_area(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="owners", rule="art278_major")
    await cast(db, world, world.author, poll, [option(poll, "yes")])
    stored = await db.scalar(select(Ballot).where(Ballot.poll_id == poll.id))
    assert stored.weight == Decimal("81.50") and stored.voter_id is not None  # open, signed
    # neighbours[2] lives in the same household as the author: the household has voted.
    with pytest.raises(Conflict) as refused:
        await cast(db, world, world.neighbours[2], poll, [option(poll, "no")])
    assert refused.value.message.msgid == ballots.HOUSEHOLD_VOTED
    # Only the member who cast it sees the household's receipt.
    assert await ballots.receipt_for(db, resident(world.neighbours[2], world), poll, receipt_key=RECEIPT_KEY) is None
    assert await ballots.receipt_for(db, resident(world.author, world), poll, receipt_key=RECEIPT_KEY)


async def test_one_ballot_per_household(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="households")
    await cast(db, world, world.neighbours[0], poll, [option(poll, "yes")])  # household 1
    await cast(db, world, world.author, poll, [option(poll, "yes")])  # household 0
    with pytest.raises(Conflict):
        await cast(db, world, world.neighbours[2], poll, [option(poll, "no")])  # household 0 again
    assert await ballot_count(db, poll) == 2
    with pytest.raises(Forbidden):
        await cast(db, world, world.unverified, poll, [option(poll, "no")])


async def test_changing_a_vote_replaces_the_ballot(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, allow_change=True)
    first = await cast(db, world, world.author, poll, [option(poll, "yes")])
    second = await cast(db, world, world.author, poll, [option(poll, "no")])
    assert second.changed and second.receipt == first.receipt
    assert await ballot_count(db, poll) == 1
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert poll.result is not None
    assert [(o["code"], o["ballots"]) for o in poll.result["options"]] == [("yes", 0), ("no", 1), ("abstain", 0)]
    entry = await queries.find_receipt(db, poll, first.receipt.lower().replace("-", " "))
    assert entry is not None and entry.choices == [option(poll, "no")]
    assert await queries.find_receipt(db, poll, "AAAA-BBBB-CCCC") is None
    assert await queries.find_receipt(db, poll, "nonsense") is None


async def test_receipts_are_found_only_after_close(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    code = (await cast(db, world, world.author, poll, [option(poll, "abstain")])).receipt
    assert await queries.find_receipt(db, poll, code) is None
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    entry = await queries.find_receipt(db, poll, code)
    assert entry is not None and entry.seq == 1 and entry.weight == "1.00"


# --- bad input ------------------------------------------------------------------------------------------

async def refused(db: Any, poll: Any, error: type[DomainError], attempt: Any) -> DomainError:
    """``attempt`` fails with ``error`` and neither the ballots nor the roll change."""
    before = (await ballot_count(db, poll), await voted_count(db, poll))
    with pytest.raises(error) as failure:
        await attempt
    assert (await ballot_count(db, poll), await voted_count(db, poll)) == before
    return failure.value


async def test_bad_ballots_are_refused_with_a_reason_and_change_nothing(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, kind="multiple", options=["修路灯", "修座椅", "种树"], min_choices=2,
                           max_choices=2)
    other = await make_poll(db, world)
    a, b, c = option_ids(poll)
    author = world.author
    too_many = await refused(db, poll, ValidationFailed, cast(db, world, author, poll, [a, b, c]))
    assert too_many.errors["choices"].msgid == "Choose at most {count} options."  # type: ignore[attr-defined]
    too_few = await refused(db, poll, ValidationFailed, cast(db, world, author, poll, [a]))
    assert too_few.errors["choices"].params == {"count": 2}  # type: ignore[attr-defined]
    forged = await refused(db, poll, ValidationFailed, cast(db, world, author, poll, [a, option(other, "yes")]))
    assert forged.errors["choices"].msgid == "This option is not part of the poll."  # type: ignore[attr-defined]
    await refused(db, poll, ValidationFailed, cast(db, world, author, poll, [a, a]))
    outsider = await refused(db, poll, Forbidden, cast(db, world, world.outsider, poll, [a, b]))
    assert "verified" not in outsider.message.msgid
    unverified = await refused(db, poll, Forbidden, cast(db, world, world.unverified, poll, [a, b]))
    assert "verified residents" in unverified.message.msgid
    await refused(db, poll, Forbidden, ballots.cast_ballot(db, Actor(), poll, [a, b], receipt_key=RECEIPT_KEY))
    await cast(db, world, author, poll, [a, b])
    twice = await refused(db, poll, Conflict, cast(db, world, author, poll, [b, c]))
    assert twice.message.msgid == ballots.ALREADY_VOTED


async def test_voting_outside_the_window_is_refused(db: Any) -> None:
    world = await make_world(db)
    draft_poll = await make_poll(db, world, opened=False)
    yes = option(draft_poll, "yes")
    early = await refused(db, draft_poll, InvalidState, cast(db, world, world.author, draft_poll, [yes]))
    assert early.message.msgid == "This poll has not opened yet."
    later = await make_poll(db, world, opens_at=draft_poll.closes_at - timedelta(days=1))
    opens = await refused(db, later, InvalidState, cast(db, world, world.author, later, [option(later, "yes")]))
    assert "opens at" in opens.message.msgid
    poll = await make_poll(db, world)
    late = await refused(db, poll, InvalidState, cast(db, world, world.author, poll, [option(poll, "yes")],
                                                      now=poll.closes_at + timedelta(seconds=1)))
    assert late.message.msgid.startswith("This poll has closed")
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    await refused(db, poll, InvalidState, cast(db, world, world.author, poll, [option(poll, "yes")]))


async def test_a_resident_verified_into_a_household_after_opening_is_not_on_a_person_roll(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    newcomer = await verified_resident(db, world.city.households_a[0], world.city.community_a, name="周新来")
    await refused(db, poll, Forbidden, cast(db, world, newcomer, poll, [option(poll, "yes")]))


async def test_a_household_entry_loaded_before_the_claim_shows_the_ballot(db: Any) -> None:
    """The claim is one UPDATE outside the ORM; the roll entry the session holds (a household poll's entry
    is found through the person first) must not keep saying nobody voted."""
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="households")
    entry = await ballots.roll_entry(db, resident(world.author, world), poll)
    assert entry is not None and entry.voted_at is None
    await cast(db, world, world.author, poll, [option(poll, "yes")])
    same = await db.get(PollVoter, entry.id)
    assert same is entry and entry.voted_at is not None
    assert entry.channel is Channel.online and entry.cast_by_id == world.author.id
