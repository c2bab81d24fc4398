"""Casting, changing and finding one's ballot, and the receipt code.

Exactly once: the roll entry is claimed by one conditional ``UPDATE poll_voter SET voted_at = … WHERE
voted_at IS NULL RETURNING id``; only the request that claimed it writes a ballot (and the receipt hash
is unique per poll as a second guard). On PostgreSQL a concurrent request for the same entry waits on
the row lock, then finds it claimed. The poll row is read ``FOR SHARE`` so that closing (which updates
it) waits for ballots being cast, and ballots cast after the close see it closed.

On PostgreSQL each write of a ballot is one statement (``_cast_statement``, ``_change_statement``): the
poll's share lock and state check, the claim, the ballot row and the audit event travel together in one
``WITH`` statement, atomic by itself. A ballot therefore needs no transaction around it, and the JSON
API casts in autocommit (``web.routing``'s ``autocommit`` routes): no ``BEGIN`` and ``COMMIT`` round trips
(issue 6: the vote storm). SQLite, which has no data-modifying ``WITH``, runs the same steps one statement
at a time in the request's transaction.

The receipt code is ``HMAC(receipt_key, "poll:{poll}:voter:{roll entry}")``: the voter can be shown it
again (it is recomputed), the database stores only its SHA-256, and without the key nobody can link a
roll entry to its ballot.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Protocol, cast

from sqlalchemy import Integer, String, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from consultation import audit, direct
from consultation.accounts.models import User
from consultation.db import UTCDateTime, detached_copy, utcnow
from consultation.errors import N_, Conflict, Forbidden, Message, ValidationFailed, msg
from consultation.policy import Actor
from consultation.voting import chain, policy, seal, tally
from consultation.voting.models import (
    Ballot,
    Channel,
    Eligibility,
    Poll,
    PollChainEntry,
    PollOption,
    PollState,
    PollVoter,
    new_ballot_id,
)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
_CONFUSABLE = str.maketrans({"O": "0", "I": "1", "L": "1", "U": "V"})
CODE_CHARS = 12
GROUP = 4

ALREADY_VOTED = N_("You have already voted in this poll.")
VOTED_ON_PAPER = N_("Your paper ballot has been recorded, so you cannot vote online.")
NOT_ON_ROLL = N_("You are not on the roll of eligible voters for this poll.")
HOUSEHOLD_VOTED = N_("Your household has voted: another member cast its ballot. Only they can see its receipt "
                     "or change it.")


@dataclass(frozen=True)
class CastResult:
    receipt: str  # the code to show the voter, e.g. "K7Q2-9XMD-4RTA"
    changed: bool  # True when an earlier ballot was replaced


# --- receipts --------------------------------------------------------------------------------------

def receipt_code(receipt_key: bytes, poll_id: int, voter_id: int) -> str:
    """The receipt of roll entry ``voter_id``: 12 base32 characters in groups of four."""
    digest = hmac.new(receipt_key, f"poll:{poll_id}:voter:{voter_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - 5 * CODE_CHARS)
    chars = "".join(ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_CHARS)))
    return "-".join(chars[i:i + GROUP] for i in range(0, CODE_CHARS, GROUP))


def normalise_code(text: str) -> str | None:
    """A typed receipt code in its canonical form (case, spaces, dashes and look-alike letters
    forgiven), or None when it cannot be one."""
    chars = "".join(c for c in text.upper() if c.isalnum()).translate(_CONFUSABLE)
    if len(chars) != CODE_CHARS or any(c not in ALPHABET for c in chars):
        return None
    return "-".join(chars[i:i + GROUP] for i in range(0, CODE_CHARS, GROUP))


def receipt_hash(code: str) -> str:
    """What the chain publishes (and an open poll's ballot row stores): SHA-256 (hex) of the code."""
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def stored_key(receipt_key: bytes, poll: Poll, code: str) -> str:
    """What ``Ballot.receipt_hash`` holds while the poll is open: the published SHA-256 for open polls,
    the keyed lookup value for secret ones (whose rows are sealed; see ``seal.py``)."""
    return seal.lookup(receipt_key, poll.id, code) if poll.secret else receipt_hash(code)


def new_ballot(receipt_key: bytes, poll: Poll, voter: PollVoter, code: str, choices: Sequence[int],
               channel: Channel) -> Ballot:
    """The ballot row of ``voter``: signed and in clear for open polls, sealed for secret ones."""
    return Ballot(**ballot_values(receipt_key, poll, voter, code, choices, channel))


def ballot_values(receipt_key: bytes, poll: Poll, voter: RollEntry, code: str, choices: Sequence[int],
                  channel: Channel) -> dict[str, Any]:
    """``new_ballot``'s column values (the id is drawn at insert)."""
    if not poll.secret:
        return {"poll_id": poll.id, "choices": list(choices), "weight": voter.weight,
                "receipt_hash": receipt_hash(code), "channel": channel, "voter_id": voter.id, "sealed": None}
    return {"poll_id": poll.id, "choices": None, "weight": voter.weight,
            "receipt_hash": seal.lookup(receipt_key, poll.id, code),
            "sealed": seal.seal(receipt_key, poll.id, choices, receipt_hash(code), tally_weight(voter.weight)),
            "channel": None, "voter_id": None}


_INSERT_BALLOT = insert(cast(Table, Ballot.__table__))  # a Core INSERT: the hottest write skips the unit of work


def tally_weight(value: Decimal) -> str:
    return chain.canonical_weight(value)


# --- the roll entry of a person --------------------------------------------------------------------

async def roll_entry(session: AsyncSession, actor: Actor, poll: Poll, *, lock: bool = False) -> PollVoter | None:
    """The actor's entry on the frozen roll (for household polls: their household's, if they are a
    verified resident bound to it), or None. ``lock``: read it ``FOR UPDATE`` (casting)."""
    if actor.user_id is None or poll.state is PollState.draft:
        return None
    if not poll.by_household:
        by, entry = "user_id", actor.user_id
    else:
        user = await session.get(User, actor.user_id)
        if user is None or user.household_id is None or user.verified_at is None or user.deleted_at is not None:
            return None
        by, entry = "household_id", user.household_id
    row = await direct.first(session, _entry_statement(by, lock), {"of_poll": poll.id, "entry": entry})
    return direct.loaded(session, PollVoter, row, refresh=lock) if row is not None else None


@cache
def _entry_statement(by: str, lock: bool = False) -> Any:
    """The columns of the roll entry of ``:of_poll`` whose ``by`` column (``user_id`` or ``household_id``) is
    ``:entry``, run on the driver (``consultation.direct``); built once per variant (the loser of a double
    click in a vote storm reads it again, locked, and the entry the session holds is refreshed with it)."""
    column = PollVoter.user_id if by == "user_id" else PollVoter.household_id
    statement = select(*direct.columns_of(PollVoter)).where(PollVoter.poll_id == bindparam("of_poll", type_=Integer),
                                                            column == bindparam("entry", type_=Integer))
    return statement.with_for_update() if lock else statement


async def not_on_roll_reason(session: AsyncSession, actor: Actor, poll: Poll) -> Message:
    """Why someone is not on the roll, in words they can act on."""
    user = await session.get(User, actor.user_id) if actor.user_id is not None else None
    if poll.eligibility is Eligibility.verified_residents and (user is None or user.verified_at is None):
        return msg(N_("Only verified residents can vote in this poll. A community worker verifies you in "
                      "person or from the household register."))
    if poll.by_household and (user is None or user.household_id is None or user.verified_at is None):
        return msg(N_("This poll takes one ballot per household, cast by a verified resident bound to it."))
    if poll.eligibility is Eligibility.owners:
        return msg(N_("Your household is not on this owners' roll (it lies outside the area or has no "
                      "recorded floor area)."))
    return msg(NOT_ON_ROLL)


# --- casting ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OwnEntry:
    """The actor's roll entry by their user id as read with the poll (``queries.poll_for_ballot``), None
    when there is none. Stands for ``roll_entry`` on per-person polls; a household poll ignores it."""

    entry: PollVoter | None


async def cast_ballot(session: AsyncSession, actor: Actor, poll: Poll, choices: Sequence[int], *,
                      receipt_key: bytes, now: datetime | None = None, own: OwnEntry | None = None) -> CastResult:
    """Cast (or, where the poll allows it, change) the actor's ballot.

    Refuses, changing nothing: before opening / after closing / cancelled (InvalidState), not signed
    in or not on the roll (Forbidden), invalid choices — forged option, too many, too few, repeated
    (ValidationFailed under ``choices``), a second ballot (Conflict). ``own``: the actor's entry, read
    already (PostgreSQL then casts with one statement fewer)."""
    now = now or utcnow()
    single = _single_statement_writes(session)
    if not single:
        await _lock_poll(session, poll)
    if (problem := policy.vote_problem(actor, poll, now)) is not None:
        raise policy.refusal(problem)
    chosen = [int(c) for c in choices]
    if (problem := tally.validate_choices(poll.kind.value, await _option_ids(session, poll), chosen,
                                          poll.min_choices, poll.max_choices)) is not None:
        raise ValidationFailed({"choices": problem})
    if single:
        return await _cast_in_one_statement(session, actor, poll, chosen, receipt_key, now, own)
    # The common case in one statement: a person's own roll entry, claimed by its user id. A household
    # poll's entry is the household's, found through the person first.
    voter: RollEntry | None = (None if poll.by_household
                               else await _claim(session, poll, "user_id", actor.user_id, actor, now))
    if voter is None:
        voter = await roll_entry(session, actor, poll, lock=True)
        if voter is None:
            raise Forbidden(await not_on_roll_reason(session, actor, poll))
        if not poll.by_household or await _claim(session, poll, "id", voter.id, actor, now) is None:
            return await _change(session, actor, poll, voter, chosen, receipt_code(receipt_key, poll.id, voter.id),
                                 receipt_key, now)
    code = receipt_code(receipt_key, poll.id, voter.id)
    await session.execute(_INSERT_BALLOT, ballot_values(receipt_key, poll, voter, code, chosen, Channel.online))
    await audit.record(session, "poll.voted", "poll", poll.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"channel": Channel.online.value})
    return CastResult(code, changed=False)


def _single_statement_writes(session: AsyncSession) -> bool:
    """PostgreSQL: every write of a ballot is one ``WITH`` statement (see the module's docstring)."""
    return session.get_bind().dialect.name == "postgresql"


async def _cast_in_one_statement(session: AsyncSession, actor: Actor, poll: Poll, chosen: list[int],
                                 receipt_key: bytes, now: datetime, own: OwnEntry | None) -> CastResult:
    """PostgreSQL: read the actor's roll entry (its id makes the receipt), then claim it, store the ballot
    and record the event in one statement that first takes the poll's share lock and checks it is still
    open. When that statement claims nothing, the entry was claimed meanwhile (a double click, a paper
    ballot) or the poll closed: the entry is read again and ``_change`` replaces or refuses."""
    voter = own.entry if own is not None and not poll.by_household else await roll_entry(session, actor, poll)
    if voter is None:
        raise Forbidden(await not_on_roll_reason(session, actor, poll))
    code = receipt_code(receipt_key, poll.id, voter.id)
    if voter.voted_at is None:
        values = {"id": new_ballot_id(), **ballot_values(receipt_key, poll, voter, code, chosen, Channel.online)}
        row = await direct.first(session, _cast_statement(), {
            **_guard_values(poll, now), "entry": voter.id, "cast_by": actor.user_id,
            **{f"b_{key}": value for key, value in values.items()},
            **_event_values(actor, poll, "poll.voted", now, {"channel": Channel.online.value})})
        if row.claimed is not None:
            for key, value in (("voted_at", now), ("channel", Channel.online), ("cast_by_id", actor.user_id)):
                set_committed_value(voter, key, value)
            return CastResult(code, changed=False)
        if not row.open:
            await _refuse_if_closed(session, actor, poll, now)
        voter = await roll_entry(session, actor, poll, lock=True)  # refreshed: who claimed it, and how
        assert voter is not None
    return await _change(session, actor, poll, voter, chosen, code, receipt_key, now)


def _guard_values(poll: Poll, now: datetime) -> dict[str, object]:
    return {"of_poll": poll.id, "now": now}


def _event_values(actor: Actor, poll: Poll, action: str, now: datetime, after: dict[str, Any] | None
                  ) -> dict[str, object]:
    return audit.event_values(action, "poll", poll.id, actor_id=actor.user_id, after=after, ip=actor.ip,
                              created_at=now)


async def _refuse_if_closed(session: AsyncSession, actor: Actor, poll: Poll, now: datetime) -> None:
    """The poll's state and times as they are now (closed or cancelled meanwhile): refused if so."""
    row = (await session.execute(_state_statement(), {"poll_id": poll.id})).one()
    fresh = detached_copy(poll)  # ``poll`` may be shared between requests (``queries.poll_for_ballot``)
    for key, value in row._mapping.items():
        set_committed_value(fresh, key, value)
    if (problem := policy.vote_problem(actor, fresh, now)) is not None:
        raise policy.refusal(problem)


def _open_poll_cte() -> Any:
    """``WITH open_poll AS (SELECT id FROM poll WHERE id = :of_poll AND it takes ballots at :now FOR SHARE)``:
    a close (which updates the row) waits for the statement, and a statement after the close finds no row."""
    table = cast(Table, Poll.__table__)
    now = bindparam("now", type_=UTCDateTime())
    return (select(table.c.id)
            .where(table.c.id == bindparam("of_poll", type_=Integer), table.c.state == PollState.open,
                   table.c.closes_at > now, or_(table.c.opens_at.is_(None), table.c.opens_at <= now))
            .with_for_update(read=True).cte("open_poll"))


@cache
def _cast_statement() -> Any:
    """Claim entry ``:entry`` of the open poll ``:of_poll`` if nobody voted on it yet, insert the ballot
    (``:b_…`` values) and the audit event (``:e_…``) for it; one row: ``open`` (the poll took ballots),
    ``claimed`` (the entry's id, NULL when it was claimed already)."""
    voters = cast(Table, PollVoter.__table__)
    ballots = cast(Table, Ballot.__table__)
    open_poll = _open_poll_cte()
    claimed = (update(voters)
               .where(voters.c.id == bindparam("entry", type_=Integer),
                      voters.c.poll_id == select(open_poll.c.id).scalar_subquery(), voters.c.voted_at.is_(None))
               .values(voted_at=bindparam("now", type_=UTCDateTime()), channel=Channel.online,
                       cast_by_id=bindparam("cast_by", type_=Integer))
               .returning(voters.c.id).cte("claimed"))
    columns = ["id", "poll_id", "choices", "weight", "receipt_hash", "sealed", "channel", "voter_id"]
    ballot = insert(ballots).from_select(
        columns, select(*[bindparam(f"b_{name}", type_=ballots.c[name].type) for name in columns])
        .select_from(claimed)).cte("new_ballot")
    return (select(select(func.count()).select_from(open_poll).scalar_subquery().label("open"),
                   select(claimed.c.id).scalar_subquery().label("claimed"))
            .add_cte(ballot, audit.event_cte(claimed)))


@cache
def _change_statement(secret: bool) -> Any:
    """Replace the ballot ``:receipt`` of the open poll ``:of_poll`` (``:sealed``, or ``:choices`` for open
    polls) and record the event (``:e_…``); one row: ``open`` and ``changed`` (1, or 0 without such a ballot)."""
    ballots = cast(Table, Ballot.__table__)
    open_poll = _open_poll_cte()
    value = "sealed" if secret else "choices"
    changed = (update(ballots)
               .where(ballots.c.poll_id == select(open_poll.c.id).scalar_subquery(),
                      ballots.c.receipt_hash == bindparam("receipt", type_=String))
               .values({value: bindparam(value, type_=ballots.c[value].type)})
               .returning(ballots.c.id).cte("changed"))
    return (select(select(func.count()).select_from(open_poll).scalar_subquery().label("open"),
                   select(func.count()).select_from(changed).scalar_subquery().label("changed"))
            .add_cte(audit.event_cte(changed)))


async def _option_ids(session: AsyncSession, poll: Poll) -> list[int]:
    """The poll's option ids in order: from the loaded options (``get_poll`` loads them), else queried."""
    if "options" in poll.__dict__:
        return [o.id for o in poll.options]
    return list((await session.scalars(
        select(PollOption.id).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all())


class RollEntry(Protocol):
    """What casting needs of a roll entry: a ``PollVoter``, or the row ``_claim`` returns."""

    @property
    def id(self) -> int: ...

    @property
    def weight(self) -> Decimal: ...


@cache
def _claim_statement(by: str) -> Any:
    """Claim the roll entry of ``:of_poll`` whose ``by`` column (``user_id`` or ``id``) is ``:entry`` if
    nobody voted on it yet, returning its id and weight; built once per column. It names the table, not
    the mapped class: the ORM's UPDATE … RETURNING of an entity builds and loads more than a ballot needs."""
    table = cast(Table, PollVoter.__table__)
    column = table.c.user_id if by == "user_id" else table.c.id
    return (update(table)
            .where(table.c.poll_id == bindparam("of_poll", type_=Integer),
                   column == bindparam("entry", type_=Integer), table.c.voted_at.is_(None))
            .values(voted_at=bindparam("now", type_=UTCDateTime()), channel=Channel.online,
                    cast_by_id=bindparam("cast_by", type_=Integer))
            .returning(table.c.id, table.c.weight))


async def _claim(session: AsyncSession, poll: Poll, by: str, entry: int | None, actor: Actor,
                 now: datetime) -> RollEntry | None:
    """Claim a roll entry (by the voter's user id, or by the entry's id): one conditional UPDATE that
    returns the entry it claimed (None when there is none, or it is claimed already)."""
    row: RollEntry | None = (await session.execute(
        _claim_statement(by), {"of_poll": poll.id, "entry": entry, "now": now, "cast_by": actor.user_id}
    )).one_or_none()
    if row is not None:
        # The statement bypasses the ORM: an entry this session loaded already (a household poll's, found
        # through the person first) is told what changed, as the database now has it.
        loaded = session.identity_map.get(identity_key(PollVoter, row.id))
        if loaded is not None:
            for key, value in (("voted_at", now), ("channel", Channel.online), ("cast_by_id", actor.user_id)):
                set_committed_value(loaded, key, value)
    return row


async def _change(session: AsyncSession, actor: Actor, poll: Poll, voter: PollVoter, chosen: list[int], code: str,
                  receipt_key: bytes, now: datetime) -> CastResult:
    """A second ballot on ``voter``, an entry read ``FOR UPDATE`` (``roll_entry(…, lock=True)``) that is
    claimed already: replaced where the poll allows it, else refused."""
    if voter.channel is Channel.paper:
        raise Conflict(msg(VOTED_ON_PAPER))
    if poll.by_household and voter.cast_by_id != actor.user_id:
        raise Conflict(msg(HOUSEHOLD_VOTED))
    if not poll.allow_change:
        raise Conflict(msg(ALREADY_VOTED))
    if poll.secret:
        values: dict[str, object] = {"sealed": seal.seal(receipt_key, poll.id, chosen, receipt_hash(code),
                                                         tally_weight(voter.weight))}
    else:
        values = {"choices": chosen}
    if _single_statement_writes(session):
        row = (await session.execute(_change_statement(poll.secret), {
            **_guard_values(poll, now), "receipt": stored_key(receipt_key, poll, code), **values,
            **_event_values(actor, poll, "poll.vote_changed", now, None)})).one()
        if not row.open:
            await _refuse_if_closed(session, actor, poll, now)
        if row.changed != 1:
            raise Conflict(msg(ALREADY_VOTED))
        return CastResult(code, changed=True)
    result = await session.execute(
        update(Ballot).where(Ballot.poll_id == poll.id, Ballot.receipt_hash == stored_key(receipt_key, poll, code))
        .values(**values).execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(msg(ALREADY_VOTED))
    await audit.record(session, "poll.vote_changed", "poll", poll.id, actor_id=actor.user_id, ip=actor.ip)
    return CastResult(code, changed=True)


@cache
def _state_statement(lock: bool = False) -> Any:
    """The poll's state and times (``lock``: read ``FOR SHARE``)."""
    statement = select(Poll.state, Poll.opens_at, Poll.closes_at).where(Poll.id == bindparam("poll_id", type_=Integer))
    return statement.with_for_update(read=True) if lock else statement


async def _lock_poll(session: AsyncSession, poll: Poll) -> None:
    """Re-read the poll's state and times ``FOR SHARE``, so that closing waits for this ballot (SQLite, where
    the request's transaction holds the database's write lock anyway, reads them again)."""
    row = (await session.execute(_state_statement(lock=True), {"poll_id": poll.id})).one()
    for key, value in row._mapping.items():
        set_committed_value(poll, key, value)


# --- finding one's receipt again -------------------------------------------------------------------

def household_member_not_caster(poll: Poll, voter: PollVoter, actor: Actor) -> bool:
    """A household poll whose ballot another member cast online (or that was cast on paper): this
    member sees "your household has voted", not the receipt."""
    return poll.by_household and voter.voted_at is not None and voter.cast_by_id != actor.user_id


async def receipt_for(session: AsyncSession, actor: Actor, poll: Poll, *, receipt_key: bytes) -> str | None:
    """The actor's receipt code, if their roll entry has a ballot (online or confirmed paper). For
    household polls only the member who cast the ballot gets it. After close the published chain
    is looked up (secret polls' ballot rows are gone by then)."""
    voter = await roll_entry(session, actor, poll)
    if voter is None or voter.voted_at is None or household_member_not_caster(poll, voter, actor):
        return None
    code = receipt_code(receipt_key, poll.id, voter.id)
    if poll.state is PollState.closed:
        stored = await session.scalar(select(PollChainEntry.id).where(
            PollChainEntry.poll_id == poll.id, PollChainEntry.receipt_hash == receipt_hash(code)))
    else:
        stored = await session.scalar(select(Ballot.id).where(
            Ballot.poll_id == poll.id, Ballot.receipt_hash == stored_key(receipt_key, poll, code)))
    return code if stored is not None else None
