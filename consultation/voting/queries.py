"""Reads for polls: the access functions, listings, a person's standing on the roll, results, the
published ballot chain, receipts and the workers' roll search for paper ballots.

Polls are public once open (drafts are the managers'); the roll with names is for the managers only
(``roll_for_paper`` — the route must ``require(actor, "voting.manage", poll)``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from consultation import counters, direct
from consultation.accounts.models import User
from consultation.areas.models import Area, AreaLevel, Household
from consultation.db import detached_copy
from consultation.errors import NotFound, msg
from consultation.policy import Actor, can
from consultation.table_cache import TableCache
from consultation.voting import ballots, policy, services, tally
from consultation.voting import chain as chain_module
from consultation.voting.models import (
    Ballot,
    Channel,
    PaperBatch,
    PaperBatchState,
    PaperEntry,
    Poll,
    PollChainEntry,
    PollOption,
    PollState,
    PollVoter,
)

LIST_LIMIT = 50
ROLL_SEARCH_LIMIT = 50


# --- access ----------------------------------------------------------------------------------------

@cache
def _poll_statement() -> Select[Poll]:
    """``get_poll``'s statement, built once (building it costs more than running it). The options are joined
    too: a poll has a handful, and one statement is cheaper than a second one for them."""
    return (select(Poll).where(Poll.id == bindparam("poll_id", type_=Integer))
            .options(joinedload(Poll.area, innerjoin=True), joinedload(Poll.options)))


async def get_poll(session: AsyncSession, poll_id: int) -> Poll:
    """The poll with its area and options; NotFound if there is none (no permission check). Casting locks
    the poll itself (``ballots.cast_ballot``)."""
    poll = (await session.execute(_poll_statement(), {"poll_id": poll_id})).unique().scalar_one_or_none()
    if poll is None:
        raise NotFound()
    return poll


async def visible_poll(session: AsyncSession, actor: Actor, poll_id: int) -> Poll:
    """``get_poll`` for someone: a draft they may not manage looks missing."""
    poll = await get_poll(session, poll_id)
    if not can(actor, "voting.view", poll):
        raise NotFound()
    return poll


@cache
def _poll_with_entry_statement() -> Any:
    """``_poll_statement`` with the roll entry of the person ``:user_id`` joined: the poll and the entry in
    one statement (SQLite, and PostgreSQL without a hit to count)."""
    entry = (PollVoter.poll_id == Poll.id) & (PollVoter.user_id == bindparam("user_id", type_=Integer))
    return (select(Poll, PollVoter).where(Poll.id == bindparam("poll_id", type_=Integer))
            .outerjoin(PollVoter, entry)
            .options(joinedload(Poll.area, innerjoin=True), joinedload(Poll.options)))


@cache
def _entry_counting_statement() -> Any:
    """PostgreSQL: the roll entry of the person ``:user_id`` in poll ``:poll_id`` (or none), counting the
    attempt's rate-limit hit (``counters.hit_cte``), whose row the statement is built on, so that there is
    one row whether or not there is an entry (or a poll): the entry's columns (all NULL without one), then the
    count and the window's start. Run on the driver (``consultation.direct``)."""
    hit = counters.hit_cte()
    entry = ((PollVoter.poll_id == bindparam("poll_id", type_=Integer))
             & (PollVoter.user_id == bindparam("user_id", type_=Integer)))
    return (select(*direct.columns_of(PollVoter), hit.c.count, hit.c.window_start).select_from(hit)
            .outerjoin(PollVoter, entry))


# The polls being voted in, with their area and options, per process: a vote storm reads its poll on every
# ballot, and casting never writes the poll's row (it takes a share lock on it). Any write to a poll, its
# options or an area drops them (``consultation.changes``); the casting statement checks again, in the
# database, that the poll still takes ballots.
_BALLOT_POLLS: TableCache[Poll | None] = TableCache(("poll", "poll_option", "area"), max_entries=200)


async def _shared_poll(session: AsyncSession, poll_id: int) -> Poll | None:
    """The poll with its area and options as copies no session holds (``db.detached_copy``), or None."""
    async def load() -> Poll | None:
        poll = (await session.execute(_poll_statement(), {"poll_id": poll_id})).unique().scalar_one_or_none()
        if poll is None:
            return None
        copy: Poll = detached_copy(poll)
        set_committed_value(copy, "area", detached_copy(poll.area))
        set_committed_value(copy, "options", [detached_copy(option) for option in poll.options])
        return copy

    return await _BALLOT_POLLS.get(session, poll_id, load)


@dataclass(frozen=True)
class BallotRead:
    """What casting reads first: the poll, the person's own roll entry and, when it was counted with them,
    the rate-limit count of the attempt and its window's start."""

    poll: Poll
    own: ballots.OwnEntry
    counted: tuple[int, datetime] | None


async def poll_for_ballot(session: AsyncSession, actor: Actor, poll_id: int, *,
                          hit: counters.Hit | None = None) -> BallotRead:
    """``visible_poll`` for someone about to vote, with their own roll entry (the one by their user id; a
    household poll's entry is found through the household by ``ballots.roll_entry``), for
    ``ballots.cast_ballot``.

    On PostgreSQL, with ``hit`` (the attempt's rate-limit hit), one statement reads the entry and counts the
    hit, whether or not the poll exists (the JSON API casts in autocommit there, so an attempt on a missing
    poll counts too), and the poll comes from the per-process cache (``_BALLOT_POLLS``): shared, so the caller
    must not change it, nor load what it has not loaded. Elsewhere one statement reads the poll and the entry,
    ``counted`` is None and the caller counts the hit."""
    if counters.counts_along(session, hit):
        assert hit is not None
        parameters = {"poll_id": poll_id, "user_id": actor.user_id, **hit.parameters()}
        row = await direct.first(session, _entry_counting_statement(), parameters)
        poll = await _shared_poll(session, poll_id)
        if poll is None or not can(actor, "voting.view", poll):
            raise NotFound()
        return BallotRead(poll, ballots.OwnEntry(direct.loaded(session, PollVoter, row)), counters.counted_in(row))
    found = (await session.execute(_poll_with_entry_statement(), {"poll_id": poll_id, "user_id": actor.user_id})
             ).unique().one_or_none()
    if found is None or not can(actor, "voting.view", found[0]):
        raise NotFound()
    return BallotRead(found[0], ballots.OwnEntry(found[1]), None)


async def get_paper_batch(session: AsyncSession, poll: Poll, batch_id: int) -> PaperBatch:
    """A batch of ``poll`` with its entries (``batch.poll`` is ``poll``); another poll's batch looks missing."""
    batch = await session.scalar(select(PaperBatch).where(PaperBatch.id == batch_id, PaperBatch.poll_id == poll.id)
                                 .options(selectinload(PaperBatch.entries)))
    if batch is None:
        raise NotFound()
    set_committed_value(batch, "poll", poll)
    return batch


# --- listings --------------------------------------------------------------------------------------

def _state_order() -> Any:
    return case((Poll.state == PollState.open, 0), (Poll.state == PollState.draft, 1),
                (Poll.state == PollState.closed, 2), else_=3)


async def polls_in_area(session: AsyncSession, area: Area, actor: Actor | None = None, *,
                        states: frozenset[PollState] | None = None, limit: int = LIST_LIMIT) -> list[Poll]:
    """Polls of ``area`` and the areas below it: open first, then drafts (only for people who manage
    ``area``), closed, cancelled; newest closing time first within each. One statement, each poll with
    its area."""
    drafts = actor is not None and can(actor, "voting.manage", area)
    scope = _scope_of(area)
    where: dict[str, Any] = {"path": area.path} if scope == "path" else {"area_id": area.id}
    found = await session.scalars(_polls_in_area_statement(drafts, states, scope), where | {"limit": limit})
    return list(found.all())


def _scope_of(area: Area) -> str:
    """How the areas below ``area`` are found: a compound has none, a community's are its compounds (by
    ``parent_id``, indexed); above, by the path prefix (which reads every area: no index serves ``LIKE``
    under the database's collation, but there are few streets, districts and cities)."""
    if area.level is AreaLevel.compound:
        return "area"
    if area.level is AreaLevel.community:
        return "community"
    return "path"


@cache
def _polls_in_area_statement(drafts: bool, states: frozenset[PollState] | None, scope: str) -> Select[Poll]:
    """``polls_in_area``'s statement, built once per variant; parameters ``:area_id`` (or ``:path`` for
    the ``path`` scope) and ``:limit``."""
    where = {"area": Area.id == bindparam("area_id", type_=Integer),
             "community": or_(Area.id == bindparam("area_id", type_=Integer),
                              Area.parent_id == bindparam("area_id", type_=Integer)),
             "path": Area.path.startswith(bindparam("path", type_=String))}[scope]
    query = (select(Poll).join(Area, Area.id == Poll.area_id).where(where).options(contains_eager(Poll.area)))
    if not drafts:
        query = query.where(Poll.state != PollState.draft)
    if states is not None:
        query = query.where(Poll.state.in_(sorted(states, key=lambda s: s.value)))
    return (query.order_by(_state_order(), Poll.closes_at.desc(), Poll.id.desc())
            .limit(bindparam("limit", type_=Integer)))


async def polls_for_topic(session: AsyncSession, topic_id: int, actor: Actor | None = None) -> list[Poll]:
    query = select(Poll).where(Poll.topic_id == topic_id).options(selectinload(Poll.area)).order_by(Poll.id)
    polls = list((await session.scalars(query)).all())
    return [p for p in polls
            if p.state is not PollState.draft or (actor is not None and can(actor, "voting.manage", p))]


@dataclass(frozen=True)
class MyPoll:
    poll: Poll
    voted_at: datetime | None
    channel: Channel | None


async def my_polls(session: AsyncSession, actor: Actor, *, limit: int = LIST_LIMIT) -> list[MyPoll]:
    """Open and closed polls whose roll has the actor (or, for household polls, their household)."""
    if actor.user_id is None:
        return []
    user = await session.get(User, actor.user_id)
    mine = PollVoter.user_id == actor.user_id
    if user is not None and user.household_id is not None and user.verified_at is not None:
        mine = or_(mine, PollVoter.household_id == user.household_id)
    rows = (await session.execute(
        select(Poll, PollVoter.voted_at, PollVoter.channel).join(PollVoter, PollVoter.poll_id == Poll.id)
        .where(mine, Poll.state.in_((PollState.open, PollState.closed))).options(selectinload(Poll.area))
        .order_by(_state_order(), Poll.closes_at.desc()).limit(limit))).all()
    return [MyPoll(poll, voted_at, channel) for poll, voted_at, channel in rows]


# --- one person's standing -------------------------------------------------------------------------

@dataclass(frozen=True)
class VoterStatus:
    on_roll: bool
    voted_at: datetime | None
    channel: Channel | None
    receipt: str | None  # recomputed; only once voted
    may_vote: bool  # may cast now (or change, where the poll allows it)
    problem: Any  # a consultation.errors.Message saying why not, or None


async def voter_status(session: AsyncSession, actor: Actor, poll: Poll, *, receipt_key: bytes) -> VoterStatus:
    """What the poll page shows the visitor: on the roll? voted? their receipt; may they vote now?"""
    entry = await ballots.roll_entry(session, actor, poll)
    problem = policy.vote_problem(actor, poll)
    if entry is None:
        if problem is None and actor.authenticated:
            problem = await ballots.not_on_roll_reason(session, actor, poll)
        return VoterStatus(False, None, None, None, False, problem)
    receipt = await ballots.receipt_for(session, actor, poll, receipt_key=receipt_key)
    if problem is None and entry.voted_at is not None:
        if ballots.household_member_not_caster(poll, entry, actor) and entry.channel is not Channel.paper:
            problem = msg(ballots.HOUSEHOLD_VOTED)
        elif entry.channel is Channel.paper:
            problem = msg(ballots.VOTED_ON_PAPER)
        elif not poll.allow_change:
            problem = msg(ballots.ALREADY_VOTED)
    return VoterStatus(True, entry.voted_at, entry.channel, receipt, problem is None, problem)


# --- counts and results ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Turnout:
    eligible: int
    voted: int
    offline: int
    pending_paper: int  # entries in batches waiting for confirmation


async def turnout(session: AsyncSession, poll: Poll) -> Turnout:
    """How many on the roll have voted (shown while open, whatever the result visibility)."""
    voted, offline = (await session.execute(
        select(func.count(PollVoter.voted_at), func.count(case((PollVoter.channel == Channel.paper, 1))))
        .where(PollVoter.poll_id == poll.id))).one()
    pending = await session.scalar(
        select(func.count(PaperEntry.id)).join(PaperBatch, PaperBatch.id == PaperEntry.batch_id)
        .where(PaperBatch.poll_id == poll.id, PaperBatch.state == PaperBatchState.pending))
    return Turnout(poll.eligible_count or 0, int(voted), int(offline), int(pending or 0))


def results(poll: Poll) -> dict[str, Any] | None:
    """The stored result (see ``services.compute_result`` for its keys) once the poll is closed."""
    return poll.result if poll.state is PollState.closed else None


async def interim_results(session: AsyncSession, actor: Actor, poll: Poll) -> dict[str, Any] | None:
    """The stored result after close; while open, a live count only if the poll does not hide its
    results; None otherwise."""
    if not can(actor, "voting.see_results", poll):
        return None
    if poll.state is PollState.closed:
        return poll.result
    if poll.secret:  # sealed until close (see seal.py): never a live count
        return None
    options = list((await session.scalars(
        select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all())
    rows = (await session.execute(select(Ballot.choices, Ballot.weight).where(Ballot.poll_id == poll.id))).all()
    counted = [tally.CountedBallot(tuple(choices or ()), Fraction(Decimal(weight))) for choices, weight in rows]
    now = await turnout(session, poll)
    return services.compute_result(poll, options, counted, offline=now.offline)


async def chain_entries(session: AsyncSession, poll: Poll) -> list[PollChainEntry]:
    """The published ballot list (after close), in its order."""
    if poll.state is not PollState.closed:
        return []
    return list((await session.scalars(
        select(PollChainEntry).where(PollChainEntry.poll_id == poll.id).order_by(PollChainEntry.seq))).all())


# The design note's name.
chain = chain_entries


async def chain_page(session: AsyncSession, poll: Poll, *, after_seq: int, limit: int) -> list[PollChainEntry]:
    """Published entries with ``seq`` after ``after_seq``, in order (empty before close)."""
    if poll.state is not PollState.closed:
        return []
    return list((await session.scalars(
        select(PollChainEntry).where(PollChainEntry.poll_id == poll.id, PollChainEntry.seq > after_seq)
        .order_by(PollChainEntry.seq).limit(limit))).all())


async def chain_length(session: AsyncSession, poll: Poll) -> int:
    if poll.state is not PollState.closed:
        return 0
    return int(await session.scalar(select(func.count(PollChainEntry.id))
                                    .where(PollChainEntry.poll_id == poll.id)) or 0)


@dataclass(frozen=True)
class ChainCheck:
    entries: int
    first_bad: int | None  # 1-based number of the first entry that does not fit; None when intact
    recount_matches: bool
    checked_at: str | None

    @property
    def intact(self) -> bool:
        return self.first_bad is None


def _as_check(data: dict[str, Any]) -> ChainCheck:
    return ChainCheck(int(data["entries"]), data.get("first_bad"), bool(data["recount_matches"]),
                      data.get("checked_at"))


async def chain_check(session: AsyncSession, poll: Poll) -> ChainCheck:
    """The check of the published chain stored at close (or at the last "verify again") — valid while
    ``poll.chain_head`` is the head it checked; recomputed (and stored) otherwise."""
    stored = poll.chain_check
    if stored is not None and stored.get("head") == poll.chain_head:
        return _as_check(stored)
    return await verify_again(session, poll)


async def verify_again(session: AsyncSession, poll: Poll) -> ChainCheck:
    """Recompute the check over the whole published chain now (workers' "verify again"), store it on
    the poll and return it. A read-only caller may leave the transaction uncommitted."""
    data = await services.verify_published(session, poll)
    poll.chain_check = data
    await session.flush()
    return _as_check(data)


def as_chain(rows: list[PollChainEntry]) -> list[chain_module.ChainEntry]:
    """The stored entries as ``chain.ChainEntry`` values, for ``chain.verify_chain`` / ``chain.recount``."""
    return [chain_module.ChainEntry(r.seq, r.receipt_hash, tuple(r.choices), r.weight, r.prev_hash, r.hash)
            for r in rows]


async def find_receipt(session: AsyncSession, poll: Poll, code: str) -> PollChainEntry | None:
    """The published entry of a receipt code (after close); None for a malformed or unknown code."""
    canonical = ballots.normalise_code(code)
    if canonical is None or poll.state is not PollState.closed:
        return None
    return await session.scalar(select(PollChainEntry).where(
        PollChainEntry.poll_id == poll.id, PollChainEntry.receipt_hash == ballots.receipt_hash(canonical)))


# --- the roll, for workers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RollRow:
    voter_id: int
    name: str | None  # the person (person polls) or the household's verified residents
    address: str | None  # the household's address
    weight: Decimal
    voted_at: datetime | None
    channel: Channel | None
    pending: bool  # in a paper batch waiting for confirmation


async def roll_for_paper(session: AsyncSession, poll: Poll, text: str = "", *,
                         limit: int = ROLL_SEARCH_LIMIT) -> list[RollRow]:
    """Roll entries matching ``text`` (name, phone or address), for recording paper ballots. Staff
    only: the route requires ``voting.manage``; names are full here."""
    text = text.strip()
    pending = (select(PaperEntry.voter_id).join(PaperBatch, PaperBatch.id == PaperEntry.batch_id)
               .where(PaperBatch.poll_id == poll.id, PaperBatch.state == PaperBatchState.pending))
    member = User.household_id == PollVoter.household_id if poll.by_household else User.id == PollVoter.user_id
    household_of = PollVoter.household_id if poll.by_household else User.household_id
    query = (select(PollVoter, User.display_name, Household.address)
             .outerjoin(User, member & User.deleted_at.is_(None))
             .outerjoin(Household, Household.id == household_of)
             .where(PollVoter.poll_id == poll.id))
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.where(or_(User.display_name.like(like), User.phone.like(like), Household.address.like(like)))
    rows = (await session.execute(query.order_by(Household.address, PollVoter.id).limit(limit * 4))).all()
    busy = set((await session.scalars(pending)).all())
    grouped: dict[int, tuple[PollVoter, list[str], str | None]] = {}
    for voter, name, address in rows:
        _, names, _ = grouped.setdefault(voter.id, (voter, [], address))
        if name and name not in names:
            names.append(name)
    return [RollRow(v.id, "、".join(names) or None, address, v.weight, v.voted_at, v.channel, v.id in busy)
            for v, names, address in list(grouped.values())[:limit]]


async def roll_entries(session: AsyncSession, poll: Poll, voter_ids: list[int]) -> list[RollRow]:
    """The roll rows of the given entries (staff only, like ``roll_for_paper``), in id order."""
    if not voter_ids:
        return []
    member = User.household_id == PollVoter.household_id if poll.by_household else User.id == PollVoter.user_id
    household_of = PollVoter.household_id if poll.by_household else User.household_id
    rows = (await session.execute(
        select(PollVoter, User.display_name, Household.address)
        .outerjoin(User, member & User.deleted_at.is_(None))
        .outerjoin(Household, Household.id == household_of)
        .where(PollVoter.poll_id == poll.id, PollVoter.id.in_(voter_ids)).order_by(PollVoter.id))).all()
    grouped: dict[int, tuple[PollVoter, list[str], str | None]] = {}
    for voter, name, address in rows:
        _voter, names, _address = grouped.setdefault(voter.id, (voter, [], address))
        if name and name not in names:
            names.append(name)
    return [RollRow(v.id, "、".join(names) or None, address, v.weight, v.voted_at, v.channel, False)
            for v, names, address in grouped.values()]


async def pending_batch_count(session: AsyncSession, poll: Poll) -> int:
    return int(await session.scalar(select(func.count(PaperBatch.id)).where(
        PaperBatch.poll_id == poll.id, PaperBatch.state == PaperBatchState.pending)) or 0)


async def paper_batches(session: AsyncSession, poll: Poll) -> list[PaperBatch]:
    """The poll's paper batches with their entries, pending first then newest."""
    pending_first = case((PaperBatch.state == PaperBatchState.pending, 0), else_=1)
    batches = list((await session.scalars(
        select(PaperBatch).where(PaperBatch.poll_id == poll.id).options(selectinload(PaperBatch.entries))
        .order_by(pending_first, PaperBatch.id.desc()))).all())
    for batch in batches:
        set_committed_value(batch, "poll", poll)
    return batches


@dataclass(frozen=True)
class SignedBallot:
    """One ballot of an open (signed) poll with who cast it: owners' joint decisions are signed."""

    address: str | None  # the home (household and owners' polls)
    voter: str | None  # who cast it (the member for a home; a paper ballot names no online voter)
    choices: list[int]
    weight: Decimal
    channel: Channel | None


async def signed_ballots(session: AsyncSession, poll: Poll, *, offset: int = 0,
                         limit: int = 50) -> tuple[list[SignedBallot], int]:
    """The signed ballots of an open (non-secret) poll, by address then name, and how many there are.
    Staff only (the route requires ``voting.manage``); a secret poll has none to show."""
    if poll.secret:
        return [], 0
    caster = func.coalesce(PollVoter.cast_by_id, PollVoter.user_id)
    query = (select(Ballot.choices, Ballot.weight, PollVoter.channel, User.display_name, Household.address)
             .join(PollVoter, PollVoter.id == Ballot.voter_id)
             .outerjoin(User, (User.id == caster) & User.deleted_at.is_(None))
             .outerjoin(Household, Household.id == PollVoter.household_id)
             .where(Ballot.poll_id == poll.id))
    total = int(await session.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll.id,
                                                                        Ballot.voter_id.is_not(None))) or 0)
    rows = (await session.execute(query.order_by(Household.address, User.display_name, Ballot.id)
                                  .offset(offset).limit(limit))).all()
    return [SignedBallot(address, name, list(choices or []), weight, channel)
            for choices, weight, channel, name, address in rows], total
