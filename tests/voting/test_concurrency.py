"""PostgreSQL: 200 eligible voters voting at the same moment, each also trying a second time, over
separate connections, give exactly 200 ballots; closing twice at once publishes one chain; a paper
batch confirmed while its voter votes online counts that voter once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from consultation.accounts.models import Role, RoleGrant, User
from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.errors import Conflict, DomainError
from consultation.policy import Actor, Grant
from consultation.voting import ballots, paper, queries, services
from consultation.voting.models import Ballot, PollChainEntry, PollVoter
from tests import harness
from tests.deliberation.helpers import make_world
from tests.voting.helpers import RECEIPT_KEY, draft
from web.database import make_engine
from web.migrate import upgrade

pytestmark = pytest.mark.skipif(harness.backend() != "postgres", reason="row locks on PostgreSQL")

VOTERS = 200


@pytest.fixture
async def committed() -> AsyncIterator[dict[str, Any]]:
    """An open poll with ``VOTERS`` verified residents on its roll, committed for real in a database of
    this test's own."""
    url, name = await harness.create_postgres_database()
    await asyncio.to_thread(upgrade, url)
    engine = make_engine(url, pool_size=30)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as db:
            world = await make_world(db, neighbours=0)
            community = world.city.community_a
            people = [User(display_name=f"居民{i}", phone=f"137{i:08d}", home_area_id=community.id,
                           household_id=world.city.households_a[i % 3].id, verified_at=utcnow())
                      for i in range(VOTERS - 1)]
            db.add_all(people)
            await db.flush()
            db.add_all(RoleGrant(user_id=p.id, role=Role.resident, area_id=community.id) for p in people)
            workers = [Actor(user_id=world.worker_a.id, grants=(Grant(Role.worker, community.path),)),
                       Actor(user_id=world.admin.id, grants=(Grant(Role.admin),))]
            poll = await services.create_poll(db, workers[0], community, draft(allow_change=False))
            await services.open_poll(db, workers[0], poll)
            await db.commit()
            actors = [Actor(user_id=u.id, verified=True, home_area_path=community.path,
                            grants=(Grant(Role.resident, community.path),)) for u in [world.author, *people]]
        assert poll.eligible_count == VOTERS
        yes = next(o.id for o in poll.options if o.code == "yes")
        yield {"engine": engine, "poll_id": poll.id, "actors": actors, "workers": workers, "yes": yes}
    finally:
        await engine.dispose()
        await harness.drop_postgres_database(name)


def _autocommit(engine: AsyncEngine) -> AsyncEngine:
    """The engine as the JSON API's ballot route uses it: no transaction around the request's statements."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def _cast(engine: AsyncEngine, poll_id: int, actor: Actor, choice: int) -> str:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        poll = await queries.get_poll(session, poll_id)
        try:
            done = await ballots.cast_ballot(session, actor, poll, [choice], receipt_key=RECEIPT_KEY)
        except Conflict:
            await session.rollback()
            return "conflict"
        await session.commit()
        return done.receipt


async def _counts(engine: AsyncEngine, poll_id: int) -> tuple[int, int, int]:
    async with AsyncSession(engine) as session:
        ballots_stored = await session.scalar(select(func.count()).select_from(Ballot).where(Ballot.poll_id == poll_id))
        hashes = await session.scalar(select(func.count(func.distinct(Ballot.receipt_hash)))
                                      .where(Ballot.poll_id == poll_id))
        voted = await session.scalar(select(func.count(PollVoter.voted_at)).where(PollVoter.poll_id == poll_id))
        return int(ballots_stored or 0), int(hashes or 0), int(voted or 0)


async def test_200_voters_at_once_each_trying_twice_give_exactly_200_ballots(committed: dict[str, Any]) -> None:
    engine, poll_id, actors, yes = committed["engine"], committed["poll_id"], committed["actors"], committed["yes"]
    outcomes = await asyncio.gather(*(_cast(engine, poll_id, actor, yes) for actor in actors for _ in range(2)))
    receipts = [o for o in outcomes if o != "conflict"]
    assert len(receipts) == VOTERS and len(set(receipts)) == VOTERS
    assert outcomes.count("conflict") == VOTERS
    assert await _counts(engine, poll_id) == (VOTERS, VOTERS, VOTERS)

    # Closing twice at once computes and publishes once.
    async def close(actor: Actor) -> None:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await services.close_poll(session, actor, await queries.get_poll(session, poll_id), receipt_key=RECEIPT_KEY)
            await session.commit()

    await asyncio.gather(*(close(worker) for worker in committed["workers"]))
    async with AsyncSession(engine) as session:
        entries = await session.scalar(select(func.count(PollChainEntry.id)).where(PollChainEntry.poll_id == poll_id))
        closes = await session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "poll.closed", AuditEvent.object_id == str(poll_id)))
        poll = await queries.get_poll(session, poll_id)
    assert entries == VOTERS and closes == 1
    assert poll.result is not None and poll.result["ballots"] == VOTERS and poll.result["passed"] is True
    # A ballot after the close is refused and changes nothing.
    late = await asyncio.gather(*(_cast_refused(engine, poll_id, actor, yes) for actor in actors[:5]))
    # The secret poll's sealed rows were deleted at close; its ballots are the published chain.
    assert late == ["refused"] * 5 and await _counts(engine, poll_id) == (0, 0, VOTERS)
    async with AsyncSession(engine) as session:
        published = await session.scalar(select(func.count(func.distinct(PollChainEntry.receipt_hash)))
                                         .where(PollChainEntry.poll_id == poll_id))
    assert published == VOTERS


async def _cast_refused(engine: AsyncEngine, poll_id: int, actor: Actor, choice: int) -> str:
    async with AsyncSession(engine) as session:
        try:
            await ballots.cast_ballot(session, actor, await queries.get_poll(session, poll_id), [choice],
                                      receipt_key=RECEIPT_KEY)
        except DomainError:
            return "refused"
        return "accepted"


async def test_a_paper_confirmation_racing_an_online_ballot_counts_the_voter_once(committed: dict[str, Any]) -> None:
    engine, poll_id, actors, yes = committed["engine"], committed["poll_id"], committed["actors"], committed["yes"]
    recorder, confirmer = committed["workers"]
    racers = actors[:10]
    async with AsyncSession(engine, expire_on_commit=False) as session:
        poll = await queries.get_poll(session, poll_id)
        entries = [paper.PaperDraft(int(await session.scalar(select(PollVoter.id).where(
            PollVoter.poll_id == poll_id, PollVoter.user_id == a.user_id)) or 0), [yes]) for a in racers]
        batch_id = (await paper.record_paper_batch(session, recorder, poll, entries)).id
        await session.commit()

    async def confirm() -> str:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            poll = await queries.get_poll(session, poll_id)
            try:
                batch = await queries.get_paper_batch(session, poll, batch_id)
                await paper.confirm_paper_batch(session, confirmer, batch, receipt_key=RECEIPT_KEY)
            except Conflict:
                return "refused"
            await session.commit()
            return "confirmed"

    results = await asyncio.gather(confirm(), *(_cast(engine, poll_id, a, yes) for a in racers))
    online = [r for r in results[1:] if r != "conflict"]
    stored, hashes, voted = await _counts(engine, poll_id)
    assert stored == hashes == voted == 10  # every racer counted exactly once, by paper or online
    # Either the batch won (every online attempt refused) or an online ballot came first (the whole
    # batch refused, every racer voting online).
    assert (results[0], len(online)) in (("confirmed", 0), ("refused", 10))


async def test_in_autocommit_each_voter_trying_twice_at_once_still_gives_one_ballot_and_one_event(
        committed: dict[str, Any]) -> None:
    """The JSON API casts without a transaction (each write of a ballot is one statement): the double-click
    storm still stores exactly one ballot, one roll mark and one audit event per voter."""
    engine, poll_id, actors, yes = committed["engine"], committed["poll_id"], committed["actors"], committed["yes"]
    outcomes = await asyncio.gather(*(_cast(_autocommit(engine), poll_id, actor, yes)
                                      for actor in actors for _ in range(2)))
    receipts = [o for o in outcomes if o != "conflict"]
    assert len(receipts) == VOTERS and len(set(receipts)) == VOTERS
    assert await _counts(engine, poll_id) == (VOTERS, VOTERS, VOTERS)
    async with AsyncSession(engine) as session:
        events = await session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "poll.voted", AuditEvent.object_id == str(poll_id)))
    assert events == VOTERS


async def _close(engine: AsyncEngine, committed: dict[str, Any]) -> None:
    async with AsyncSession(engine, expire_on_commit=False) as session:
        await services.close_poll(session, committed["workers"][0],
                                  await queries.get_poll(session, committed["poll_id"]), receipt_key=RECEIPT_KEY)
        await session.commit()


async def test_closing_waits_for_a_ballot_cast_in_a_transaction_which_is_counted(committed: dict[str, Any]) -> None:
    """The ballot's statement takes the poll's share lock: in a transaction (the HTML form's), a close that
    starts before the commit waits for it, and the ballot is counted."""
    engine, poll_id, actors, yes = committed["engine"], committed["poll_id"], committed["actors"], committed["yes"]
    async with AsyncSession(engine, expire_on_commit=False) as voting:
        poll = await queries.get_poll(voting, poll_id)
        cast = await ballots.cast_ballot(voting, actors[0], poll, [yes], receipt_key=RECEIPT_KEY)
        closing = asyncio.create_task(_close(engine, committed))
        await asyncio.sleep(0.5)
        assert not closing.done()  # waiting for the ballot's share lock on the poll
        await voting.commit()
    await closing
    async with AsyncSession(engine) as session:
        published = (await session.scalars(select(PollChainEntry.receipt_hash)
                                           .where(PollChainEntry.poll_id == poll_id))).all()
    assert len(published) == 1 and cast.receipt


async def test_a_ballot_in_autocommit_waits_for_a_close_under_way_and_is_refused(committed: dict[str, Any]) -> None:
    """A close holds the poll's row until it commits; a ballot cast meanwhile (autocommit, as the API casts)
    waits for it, then finds the poll closed: refused, nothing stored, the close's count unchanged."""
    engine, poll_id, actors, yes = committed["engine"], committed["poll_id"], committed["actors"], committed["yes"]
    assert await _cast(engine, poll_id, actors[1], yes) != "conflict"
    async with AsyncSession(engine, expire_on_commit=False) as closing:
        await services.close_poll(closing, committed["workers"][0], await queries.get_poll(closing, poll_id),
                                  receipt_key=RECEIPT_KEY)
        late = asyncio.create_task(_cast_refused(_autocommit(engine), poll_id, actors[0], yes))
        await asyncio.sleep(0.5)
        assert not late.done()  # waiting for the close's lock on the poll
        await closing.commit()
    assert await late == "refused"
    async with AsyncSession(engine) as session:
        published = await session.scalar(select(func.count(PollChainEntry.id)).where(PollChainEntry.poll_id == poll_id))
        voted = await session.scalar(select(func.count(PollVoter.voted_at)).where(PollVoter.poll_id == poll_id))
        events = await session.scalar(select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "poll.voted", AuditEvent.object_id == str(poll_id)))
    assert (published, voted, events) == (1, 1, 1)
