"""Secret ballots cannot be linked to voters through how the database stores rows.

The reviewer's attack: the ballot row is written in the transaction that marks the roll entry (and
writes the audit event), so on PostgreSQL ``ballot.xmin = poll_voter.xmin`` and on SQLite the ballot
table's hidden ``rowid`` follows the voting order. While a secret poll is open its rows are sealed
(no choices readable, fixed-size ciphertext); at close they are unsealed, published as the chain
(sorted by receipt hash, one transaction) and deleted."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import Role, RoleGrant, User
from consultation.db import utcnow
from consultation.policy import Actor, Grant
from consultation.voting import ballots, queries, seal, services, tally
from consultation.voting.models import Ballot
from tests import harness
from tests.deliberation.helpers import make_world
from tests.voting.helpers import RECEIPT_KEY, draft, make_poll, option_ids, resident, voters_of, worker
from web.database import make_engine
from web.migrate import upgrade

VOTERS = 6


async def _cast_all(db: Any, world: Any, poll: Any) -> dict[int, tuple[str, int]]:
    """Each resident votes (options in turn); the first one changes their vote. user → (receipt, choice)."""
    opts = option_ids(poll)
    truth: dict[int, tuple[str, int]] = {}
    people = voters_of(world)
    for i, person in enumerate(people):
        done = await ballots.cast_ballot(db, resident(person, world), poll, [opts[i % 3]], receipt_key=RECEIPT_KEY)
        truth[person.id] = (done.receipt, opts[i % 3])
    changed = await ballots.cast_ballot(db, resident(people[0], world), poll, [opts[2]], receipt_key=RECEIPT_KEY)
    assert changed.changed
    truth[people[0].id] = (changed.receipt, opts[2])
    return truth


@pytest.mark.skipif(harness.backend() != "sqlite", reason="SQLite rowid")
async def test_sqlite_rowid_order_reveals_no_choice_and_nothing_remains_after_close(db: Any) -> None:
    world = await make_world(db, neighbours=VOTERS - 1)
    poll = await make_poll(db, world, kind="single", options=["甲", "乙", "丙"], allow_change=True)
    truth = await _cast_all(db, world, poll)
    rows = (await db.execute(text("SELECT rowid, choices, sealed, receipt_hash FROM ballot WHERE poll_id = :p "
                                  "ORDER BY rowid"), {"p": poll.id})).all()
    assert len(rows) == VOTERS
    assert all(choices is None for _, choices, _, _ in rows)  # nothing to read in voting order
    assert len({len(sealed) for _, _, sealed, _ in rows}) == 1  # the length gives nothing away either
    published = {hashlib.sha256(code.encode()).hexdigest() for code, _ in truth.values()}
    assert not published & {stored for _, _, _, stored in rows}  # cannot be joined to the chain later

    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert await db.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll.id)) == 0
    chain_rows = (await db.execute(text("SELECT receipt_hash, seq FROM poll_chain_entry WHERE poll_id = :p "
                                        "ORDER BY rowid"), {"p": poll.id})).all()
    hashes = [h for h, _ in chain_rows]
    assert hashes == sorted(hashes) and [s for _, s in chain_rows] == list(range(1, VOTERS + 1))
    # Receipts still verify, and the published choices are each voter's last ballot.
    for code, choice in truth.values():
        entry = await queries.find_receipt(db, poll, code)
        assert entry is not None and entry.choices == [choice]
    assert await ballots.receipt_for(db, resident(world.author, world), poll, receipt_key=RECEIPT_KEY) == \
        truth[world.author.id][0]
    check = await queries.chain_check(db, poll)
    assert check.intact and check.recount_matches and check.entries == VOTERS


async def test_cancelling_a_secret_poll_deletes_its_sealed_ballots(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    await ballots.cast_ballot(db, resident(world.author, world), poll, [option_ids(poll)[0]], receipt_key=RECEIPT_KEY)
    await services.cancel_poll(db, worker(world), poll, "方案撤回")
    assert await db.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll.id)) == 0


async def test_a_sealed_ballot_needs_the_key_and_its_own_poll() -> None:
    sealed = seal.seal(RECEIPT_KEY, 7, [3, 1], "ab" * 32, "1.00")
    assert seal.unseal(RECEIPT_KEY, 7, sealed) == seal.Opened((3, 1), "ab" * 32, "1.00")
    with pytest.raises(InvalidTag):
        seal.unseal(b"another-key-another-key-another-key", 7, sealed)
    with pytest.raises(InvalidTag):
        seal.unseal(RECEIPT_KEY, 8, sealed)  # moved to another poll
    assert len(seal.seal(RECEIPT_KEY, 7, list(range(30)), "ab" * 32, "1.00")) == len(sealed)


# --- PostgreSQL: the reviewer's xmin join, with a real commit per ballot -------------------------

@pytest.fixture
async def committed() -> AsyncIterator[dict[str, Any]]:
    url, name = await harness.create_postgres_database()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=5)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await make_world(db, neighbours=0)
            community = world.city.community_a
            people = [User(display_name=f"居民{i}", phone=f"137{i:08d}", home_area_id=community.id,
                           household_id=world.city.households_a[i % 3].id, verified_at=utcnow())
                      for i in range(VOTERS)]
            db.add_all(people)
            await db.flush()
            db.add_all(RoleGrant(user_id=p.id, role=Role.resident, area_id=community.id) for p in people)
            boss = Actor(user_id=world.worker_a.id, grants=(Grant(Role.worker, community.path),))
            poll = await services.create_poll(db, boss, community,
                                              draft(kind="single", options=["甲", "乙", "丙"], allow_change=True))
            await services.open_poll(db, boss, poll)
            await db.commit()
            actors = [Actor(user_id=u.id, verified=True, home_area_path=community.path,
                            grants=(Grant(Role.resident, community.path),)) for u in people]
        yield {"engine": engine, "poll_id": poll.id, "actors": actors, "worker": boss,
               "options": [o.id for o in poll.options]}
    finally:
        await engine.dispose()
        await harness.drop_postgres_database(name)


@pytest.mark.skipif(harness.backend() != "postgres", reason="PostgreSQL xmin")
async def test_postgres_xmin_join_reveals_no_choice_and_nothing_remains_after_close(
        committed: dict[str, Any]) -> None:
    engine, poll_id, opts = committed["engine"], committed["poll_id"], committed["options"]
    truth: dict[int, tuple[str, int]] = {}
    for i, actor in enumerate([*committed["actors"], committed["actors"][0]]):  # the first one changes
        async with AsyncSession(engine, expire_on_commit=False) as s:
            poll = await queries.get_poll(s, poll_id)
            done = await ballots.cast_ballot(s, actor, poll, [opts[i % 3]], receipt_key=RECEIPT_KEY)
            await s.commit()
            truth[actor.user_id] = (done.receipt, opts[i % 3])
    async with engine.connect() as conn:
        joined = (await conn.execute(text(
            "SELECT v.user_id, b.choices, b.receipt_hash FROM ballot b JOIN poll_voter v ON v.xmin = b.xmin "
            "WHERE b.poll_id = :p"), {"p": poll_id})).all()
        audit_join = (await conn.execute(text(
            "SELECT a.actor_id, b.choices FROM ballot b JOIN audit_event a ON a.xmin = b.xmin "
            "WHERE b.poll_id = :p"), {"p": poll_id})).all()
    # The join still pairs rows, but there is nothing to read: no choices, no published hash.
    assert joined and all(choices is None for _, choices, _ in joined)
    assert all(choices is None for _, choices in audit_join)
    published = {hashlib.sha256(code.encode()).hexdigest() for code, _ in truth.values()}
    assert not published & {stored for _, _, stored in joined}

    async with AsyncSession(engine, expire_on_commit=False) as s:
        poll = await queries.get_poll(s, poll_id)
        await services.close_poll(s, committed["worker"], poll, receipt_key=RECEIPT_KEY)
        await s.commit()
    async with engine.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM ballot WHERE poll_id = :p"), {"p": poll_id})
        chain_rows = (await conn.execute(text(
            "SELECT xmin::text, receipt_hash, seq FROM poll_chain_entry WHERE poll_id = :p ORDER BY seq"),
            {"p": poll_id})).all()
        by_xmin = (await conn.execute(text(
            "SELECT v.user_id FROM poll_chain_entry c JOIN poll_voter v ON v.xmin = c.xmin "
            "WHERE c.poll_id = :p AND v.voted_at IS NOT NULL"), {"p": poll_id})).all()
    assert left == 0
    assert len({x for x, _, _ in chain_rows}) == 1 and len(chain_rows) == VOTERS  # one transaction
    hashes = [h for _, h, _ in chain_rows]
    assert hashes == sorted(hashes) and not by_xmin
    async with AsyncSession(engine, expire_on_commit=False) as s:
        poll = await queries.get_poll(s, poll_id)
        for code, choice in truth.values():
            entry = await queries.find_receipt(s, poll, code)
            assert entry is not None and entry.choices == [choice]
        check = await queries.chain_check(s, poll)
        assert check.intact and check.recount_matches and check.entries == VOTERS
        recount = services.compute_result(poll, poll.options, [tally.CountedBallot((c,)) for _, c in truth.values()])
        assert services.comparable(recount) == services.comparable(poll.result or {})
