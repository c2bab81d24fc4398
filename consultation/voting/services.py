"""Write use cases for polls: create, update, open (freezing the roll), cancel and close (tally, rule
result and the published ballot chain). Casting is in ``ballots.py``, paper ballots in ``paper.py``.

Services validate, check permissions through ``policy``, write an ``AuditEvent`` for every state
change and only ``flush()``; the request's unit of work commits. State changes are compare-and-set
updates (``UPDATE poll SET state = … WHERE state = …``), so two workers pressing the same button at
once change the poll once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit
from consultation.accounts.models import Role, RoleGrant, User
from consultation.areas.models import Area, Household
from consultation.db import utcnow
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.resolution_models import POLL_EXPLANATION_MAX
from consultation.deliberation.resolutions import PollOutcome
from consultation.errors import N_, Conflict, InvalidState, Message, ValidationFailed, msg
from consultation.policy import Actor
from consultation.validation import check_length, strip_control
from consultation.voting import chain as chain_module
from consultation.voting import paper, policy, rules, seal, tally
from consultation.voting.models import (
    DESCRIPTION_MAX,
    MAX_OPTIONS,
    OPTION_LABEL_MAX,
    REASON_MAX,
    TITLE_MAX,
    Ballot,
    Channel,
    Eligibility,
    Poll,
    PollChainEntry,
    PollKind,
    PollOption,
    PollState,
    PollVoter,
    RuleKind,
)

CHANGED_MEANWHILE = N_("Someone else changed this poll meanwhile. Reload the page and try again.")
ONLY_DRAFT = N_("Only a draft poll can be changed; this one is “{state}”.")
YES_NO_OPTIONS = (("yes", "赞成"), ("no", "反对"), ("abstain", "弃权"))
TOPIC_STATES = frozenset({TopicState.deliberating, TopicState.deciding})
POLL_ENDED = "表决已结束"  # the stored reason of paper batches rejected automatically at close or cancel
NO_FLOOR_AREA = N_("{n} households in this area have no floor area recorded. An owners' joint decision counts "
                   "every home by its floor area, so enter the missing floor areas on the households page "
                   "before opening the poll.")

_COMPOUND, _HOME = aliased(Area), aliased(Area)  # built once: each aliased() call makes objects in cycles


@dataclass(frozen=True)
class PollDraft:
    """What a worker fills in. Fields are parsed values; the web form parses text (see
    ``parse_fraction``) and puts its own parse errors under the same field names.

    Error keys of ``ValidationFailed``: ``title``, ``description``, ``kind``, ``eligibility``, ``rule``,
    ``options``, ``min_choices``, ``max_choices``, ``opens_at``, ``closes_at``, ``quorum``,
    ``threshold``, ``topic_id``."""

    title: str
    closes_at: datetime | None
    description: str = ""
    kind: str = PollKind.yes_no
    eligibility: str = Eligibility.verified_residents
    rule: str = RuleKind.simple_majority
    options: Sequence[str] = ()  # labels; ignored for yes/no polls (赞成 / 反对 / 弃权 are added)
    min_choices: int = 1
    max_choices: int = 1
    secret: bool = True  # owners' joint decisions are always open (signed) ballots
    results_hidden_until_close: bool = True
    allow_change: bool = False
    opens_at: datetime | None = None
    quorum: Fraction | None = None  # custom rule only
    threshold: Fraction | None = None  # custom rule only
    extra: dict[str, Any] = field(default_factory=dict)  # ignored; room for form leftovers


_FRACTION = re.compile(r"^\s*(\d{1,6})\s*/\s*(\d{1,6})\s*$")
_DECIMAL = re.compile(r"^\s*(\d{1,3}(?:\.\d{1,6})?)\s*(%?)\s*$")


def parse_fraction(text: str) -> Fraction | None:
    """``"2/3"``, ``"0.5"`` or ``"50%"`` → a Fraction; None when it is not one of those."""
    if match := _FRACTION.match(text):
        numerator, denominator = int(match[1]), int(match[2])
        return Fraction(numerator, denominator) if denominator else None
    if match := _DECIMAL.match(text):
        value = Fraction(match[1])
        return value / 100 if match[2] else value
    return None


# --- create and edit -----------------------------------------------------------------------------

async def create_poll(session: AsyncSession, actor: Actor, area: Area, draft: PollDraft,
                      topic: Topic | None = None) -> Poll:
    """A worker of ``area`` drafts a poll there (optionally deciding ``topic`` of the same community)."""
    if (problem := policy.manage_problem(actor, area)) is not None:
        raise policy.refusal(problem)
    errors = _check_draft(draft)
    if topic is not None:
        community = await session.get(Area, topic.community_id)
        assert community is not None
        if not area.path.startswith(community.path):
            errors["topic_id"] = msg("The poll's area must lie in the topic's community ({community}).",
                                     community=community.name)
        elif topic.state not in TOPIC_STATES:
            errors["topic_id"] = msg("Only a topic on the agenda or being decided can be put to a vote; this one "
                                     "is “{state}”.", state=topic.state.label)
    if errors:
        raise ValidationFailed(errors)
    poll = Poll(area_id=area.id, topic_id=topic.id if topic else None, created_by_id=actor.user_id,
                state=PollState.draft, created_at=utcnow())
    _apply(poll, draft)
    session.add(poll)
    await session.flush()
    set_committed_value(poll, "area", area)
    set_committed_value(poll, "options", [])
    await _replace_options(session, poll, draft)
    await audit.record(session, "poll.created", "poll", poll.id, actor_id=actor.user_id, ip=actor.ip,
                       after=_describe(poll))
    return poll


async def update_poll(session: AsyncSession, actor: Actor, poll: Poll, draft: PollDraft) -> Poll:
    """Change a draft (its options are replaced). Reads ``poll.area``."""
    _require_manager(actor, poll)
    if poll.state is not PollState.draft:
        raise InvalidState(msg(ONLY_DRAFT, state=poll.state.label))
    errors = _check_draft(draft)
    if errors:
        raise ValidationFailed(errors)
    before = _describe(poll)
    _apply(poll, draft)
    await session.flush()
    await _replace_options(session, poll, draft)
    await audit.record(session, "poll.updated", "poll", poll.id, actor_id=actor.user_id, ip=actor.ip,
                       before=before, after=_describe(poll))
    return poll


def _check_draft(draft: PollDraft) -> dict[str, Message | str]:
    errors: dict[str, Message | str] = {}
    title, description = strip_control(draft.title).strip(), strip_control(draft.description).strip()
    if problem := check_length(title, minimum=1, maximum=TITLE_MAX):
        errors["title"] = problem
    if problem := check_length(description, maximum=DESCRIPTION_MAX):
        errors["description"] = problem
    kind = draft.kind if draft.kind in PollKind.__members__ else None
    eligibility = draft.eligibility if draft.eligibility in Eligibility.__members__ else None
    rule = draft.rule if draft.rule in RuleKind.__members__ else None
    if kind is None:
        errors["kind"] = msg("Choose the kind of poll.")
    if eligibility is None:
        errors["eligibility"] = msg("Choose who may vote.")
    if rule is None:
        errors["rule"] = msg("Choose the decision rule.")
    elif kind is not None and eligibility is not None:
        errors.update(rules.check_rule(rule, kind, eligibility, quorum=draft.quorum, threshold=draft.threshold))
    if kind is not None and kind != PollKind.yes_no:
        labels = [strip_control(label).strip() for label in draft.options if label.strip()]
        if len(labels) < 2:
            errors["options"] = msg("Give at least two options.")
        elif len(labels) > MAX_OPTIONS:
            errors["options"] = msg("Give at most {n} options.", n=MAX_OPTIONS)
        elif any(len(label) > OPTION_LABEL_MAX for label in labels):
            errors["options"] = msg("Each option may have at most {n} characters.", n=OPTION_LABEL_MAX)
        elif len(set(labels)) != len(labels):
            errors["options"] = msg("Two options have the same text.")
        elif kind in (PollKind.multiple, PollKind.ranked):
            low, high = draft.min_choices, draft.max_choices
            if not 1 <= low <= len(labels):
                errors["min_choices"] = msg("Enter a whole number from 1 to {n}.", n=len(labels))
            elif not low <= high <= len(labels):
                errors["max_choices"] = msg("Enter a whole number from {low} to {n}.", low=low, n=len(labels))
    now = utcnow()
    if draft.closes_at is None:
        errors["closes_at"] = msg("Enter when the poll closes.")
    elif draft.closes_at <= now:
        errors["closes_at"] = msg("The closing time must be in the future.")
    elif draft.opens_at is not None and draft.opens_at >= draft.closes_at:
        errors["closes_at"] = msg("The poll must close after it opens.")
    return errors


def _apply(poll: Poll, draft: PollDraft) -> None:
    kind, eligibility, rule = PollKind(draft.kind), Eligibility(draft.eligibility), RuleKind(draft.rule)
    poll.title = strip_control(draft.title).strip()
    poll.description = strip_control(draft.description).strip()
    poll.kind, poll.eligibility, poll.rule = kind, eligibility, rule
    if kind in (PollKind.multiple, PollKind.ranked):
        poll.min_choices, poll.max_choices = draft.min_choices, draft.max_choices
    else:
        poll.min_choices = poll.max_choices = 1
    custom = rule is RuleKind.custom and draft.quorum is not None and draft.threshold is not None
    poll.quorum_num = draft.quorum.numerator if custom and draft.quorum is not None else None
    poll.quorum_den = draft.quorum.denominator if custom and draft.quorum is not None else None
    poll.threshold_num = draft.threshold.numerator if custom and draft.threshold is not None else None
    poll.threshold_den = draft.threshold.denominator if custom and draft.threshold is not None else None
    poll.secret = draft.secret and eligibility is not Eligibility.owners  # owners sign their ballots
    # A secret poll's ballots are sealed until close (see seal.py): no live count while it is open.
    poll.results_hidden_until_close = draft.results_hidden_until_close or poll.secret
    poll.allow_change = draft.allow_change
    poll.opens_at = draft.opens_at
    assert draft.closes_at is not None
    poll.closes_at = draft.closes_at


async def _replace_options(session: AsyncSession, poll: Poll, draft: PollDraft) -> None:
    await session.execute(delete(PollOption).where(PollOption.poll_id == poll.id)
                          .execution_options(synchronize_session=False))
    for stale in poll.__dict__.get("options", []):  # deleted rows must leave the identity map (ids get reused)
        session.expunge(stale)
    if poll.kind is PollKind.yes_no:
        rows = [PollOption(poll_id=poll.id, position=i, label=label, code=code)
                for i, (code, label) in enumerate(YES_NO_OPTIONS, start=1)]
    else:
        labels = [strip_control(label).strip() for label in draft.options if label.strip()]
        rows = [PollOption(poll_id=poll.id, position=i, label=label) for i, label in enumerate(labels, start=1)]
    session.add_all(rows)
    await session.flush()
    set_committed_value(poll, "options", rows)


# --- opening: the frozen roll ----------------------------------------------------------------------

async def open_poll(session: AsyncSession, actor: Actor, poll: Poll, now: datetime | None = None) -> Poll:
    """Open a draft: freeze the roll (``PollVoter`` rows) and record its size (and floor area).

    Voting itself starts at ``opens_at`` when that is later. Reads ``poll.area``."""
    _require_manager(actor, poll)
    now = now or utcnow()
    if poll.state is not PollState.draft:
        raise InvalidState(msg(ONLY_DRAFT, state=poll.state.label))
    if poll.closes_at <= now:
        raise InvalidState(msg("The closing time has passed; set a new one before opening the poll."))
    if poll.eligibility is Eligibility.owners and (missing := await households_without_area(session, poll.area)):
        raise InvalidState(msg(NO_FLOOR_AREA, n=missing))
    if not await _cas_state(session, poll, PollState.draft, PollState.open, opened_at=now):
        raise Conflict(msg(CHANGED_MEANWHILE))
    excluded = await _freeze_roll(session, poll, poll.area)
    count, area = (await session.execute(
        select(func.count(PollVoter.id), func.coalesce(func.sum(PollVoter.weight), 0))
        .where(PollVoter.poll_id == poll.id))).one()
    poll.eligible_count = int(count)
    poll.eligible_area = Decimal(area).quantize(Decimal("0.01"))
    poll.excluded_count = excluded
    await session.flush()
    await audit.record(session, "poll.opened", "poll", poll.id, actor_id=actor.user_id, ip=actor.ip,
                       before={"state": PollState.draft.value},
                       after={"state": PollState.open.value, "eligible_count": poll.eligible_count,
                              "eligible_area": str(poll.eligible_area), "excluded_count": excluded})
    return poll


def _located_in(area: Area, compound_path: Any, community_path: Any) -> ColumnElement[bool]:
    """A household lies where its compound lies, else where its community lies."""
    return func.coalesce(compound_path, community_path).startswith(area.path)


def _homes_in(area: Area) -> Any:
    compound, home = _COMPOUND, _HOME
    return (select(Household.id, Household.floor_area)
            .join(home, home.id == Household.community_id)
            .outerjoin(compound, compound.id == Household.compound_id)
            .where(_located_in(area, compound.path, home.path)))


_WITH_AREA = and_(Household.floor_area.is_not(None), Household.floor_area > 0)


async def households_without_area(session: AsyncSession, area: Area) -> int:
    """Households of ``area`` with no (or a zero) floor area: an owners' poll cannot open while there
    are any, since leaving them off would shrink the art. 278 denominators."""
    return int(await session.scalar(_homes_in(area).with_only_columns(func.count(Household.id))
                                    .where(~_WITH_AREA)) or 0)


async def _freeze_roll(session: AsyncSession, poll: Poll, area: Area) -> int | None:
    """Insert the roll; returns how many households an owners' roll left out (no floor area — 0, since
    ``open_poll`` refuses to open an owners' poll while there are any)."""
    compound, home = _COMPOUND, _HOME
    if not poll.by_household:
        people = (select(literal(poll.id), User.id, literal(1))
                  .join(home, home.id == User.home_area_id)
                  .outerjoin(Household, Household.id == User.household_id)
                  .outerjoin(compound, compound.id == Household.compound_id)
                  .where(User.deleted_at.is_(None), _located_in(area, compound.path, home.path)))
        if poll.eligibility is Eligibility.verified_residents:
            people = people.where(User.verified_at.is_not(None))
        else:
            is_resident = exists().where(RoleGrant.user_id == User.id, RoleGrant.role == Role.resident)
            people = people.where(or_(User.verified_at.is_not(None), is_resident))
        await session.execute(insert(PollVoter).from_select(["poll_id", "user_id", "weight"], people))
        return None
    homes = _homes_in(area)
    if poll.eligibility is Eligibility.households:
        chosen = homes.with_only_columns(literal(poll.id), Household.id, literal(1))
        await session.execute(insert(PollVoter).from_select(["poll_id", "household_id", "weight"], chosen))
        return None
    owners = homes.with_only_columns(literal(poll.id), Household.id, Household.floor_area).where(_WITH_AREA)
    await session.execute(insert(PollVoter).from_select(["poll_id", "household_id", "weight"], owners))
    excluded = await session.scalar(homes.with_only_columns(func.count(Household.id)).where(~_WITH_AREA))
    return int(excluded or 0)


# --- cancelling ------------------------------------------------------------------------------------

async def cancel_poll(session: AsyncSession, actor: Actor, poll: Poll, reason: str) -> Poll:
    """Cancel a draft or an open poll (with a public reason); its ballots are never counted."""
    _require_manager(actor, poll)
    reason = strip_control(reason).strip()
    if poll.state not in (PollState.draft, PollState.open):
        raise InvalidState(msg("A poll that is “{state}” cannot be cancelled.", state=poll.state.label))
    if problem := check_length(reason, minimum=1, maximum=REASON_MAX):
        raise ValidationFailed({"reason": problem})
    was = poll.state
    now = utcnow()
    if not await _cas_state(session, poll, was, PollState.cancelled, cancelled_at=now, cancel_reason=reason):
        raise Conflict(msg(CHANGED_MEANWHILE))
    await paper.reject_pending_batches(session, actor, poll, POLL_ENDED)
    if poll.secret:  # never counted; a secret poll's sealed rows must not outlive it
        await session.execute(delete(Ballot).where(Ballot.poll_id == poll.id).execution_options(
            synchronize_session=False))
    await audit.record(session, "poll.cancelled", "poll", poll.id, actor_id=actor.user_id, ip=actor.ip,
                       before={"state": was.value}, after={"state": PollState.cancelled.value, "reason": reason})
    return poll


# --- closing: tally, rule, chain -------------------------------------------------------------------

async def close_poll(session: AsyncSession, actor: Actor | None, poll: Poll, *, receipt_key: bytes,
                     now: datetime | None = None) -> Poll:
    """Close an open poll: count, apply the rule, publish the ballot chain. ``actor`` None is the
    periodic job (polls past ``closes_at``). Closing a closed poll returns it unchanged; two closers
    at once compute it once (the state is compare-and-set before anything is counted).

    In the same transaction: paper batches still pending are rejected ("表决已结束") and lose their
    choices; a secret poll's sealed ballots are unsealed with ``receipt_key``, published as the chain
    (sorted by receipt hash) and their rows deleted; the published chain is verified once and the
    check stored on the poll (``chain_check``)."""
    if actor is not None:
        _require_manager(actor, poll)
    now = now or utcnow()
    if poll.state is PollState.closed:
        return poll
    if poll.state is not PollState.open:
        raise InvalidState(msg("Only an open poll can be closed; this one is “{state}”.", state=poll.state.label))
    if not await _cas_state(session, poll, PollState.open, PollState.closed, closed_at=now):
        await session.refresh(poll)
        if poll.state is PollState.closed:
            return poll
        raise Conflict(msg(CHANGED_MEANWHILE))
    pending = await paper.reject_pending_batches(session, actor, poll, POLL_ENDED)
    options = list((await session.scalars(
        select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all())
    set_committed_value(poll, "options", options)
    ballots = await _opened_ballots(session, poll, receipt_key)
    offline = await session.scalar(select(func.count(PollVoter.id)).where(
        PollVoter.poll_id == poll.id, PollVoter.channel == Channel.paper)) or 0
    counted = [tally.CountedBallot(tuple(choices), Fraction(Decimal(weight))) for _, choices, weight in ballots]
    poll.result = compute_result(poll, options, counted, offline=int(offline), pending_batches=pending)
    entries = chain_module.build_chain(ballots)
    session.add_all(PollChainEntry(poll_id=poll.id, seq=entry.seq, receipt_hash=entry.receipt_hash,
                                   choices=list(entry.choices), weight=entry.weight, prev_hash=entry.prev_hash,
                                   hash=entry.hash) for entry in entries)
    poll.chain_head = entries[-1].hash if entries else chain_module.GENESIS
    if poll.secret:
        await session.execute(delete(Ballot).where(Ballot.poll_id == poll.id).execution_options(
            synchronize_session=False))
    await session.flush()
    poll.chain_check = await verify_published(session, poll, now=now)
    await session.flush()
    await audit.record(session, "poll.closed", "poll", poll.id, actor_id=actor.user_id if actor else None,
                       ip=actor.ip if actor else None, before={"state": PollState.open.value},
                       after={"state": PollState.closed.value, "ballots": len(ballots),
                              "passed": poll.result["passed"], "chain_head": poll.chain_head,
                              "pending_batches_rejected": pending})
    return poll


async def _opened_ballots(session: AsyncSession, poll: Poll, receipt_key: bytes) -> list[tuple[str, list[int], str]]:
    """Every ballot of the poll as (published receipt hash, choices, canonical weight), sorted by the
    receipt hash: open polls' rows as stored, secret polls' rows unsealed."""
    rows = (await session.execute(select(Ballot.receipt_hash, Ballot.choices, Ballot.weight, Ballot.sealed)
                                  .where(Ballot.poll_id == poll.id))).all()
    out: list[tuple[str, list[int], str]] = []
    for stored_hash, choices, weight, sealed in rows:
        if sealed is not None:
            opened = seal.unseal(receipt_key, poll.id, sealed)
            out.append((opened.receipt_hash, list(opened.choices), opened.weight))
        else:
            out.append((stored_hash, list(choices or []), weight_text(Decimal(weight))))
    out.sort(key=lambda entry: entry[0])
    return out


VERIFY_BATCH = 1000


def comparable(result: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a result a recount of the published chain must reproduce."""
    return (result["passed"], result["winner"], result["ballots"], result["cast_area"], result.get("rounds"),
            [(o["id"], o["ballots"], o["weight"]) for o in result["options"]])


async def verify_published(session: AsyncSession, poll: Poll, *, now: datetime | None = None) -> dict[str, Any]:
    """Check the published chain of a closed poll link by link against ``chain_head`` and recount it
    (read in batches). Returns what ``Poll.chain_check`` stores: ``entries``, ``first_bad`` (1-based
    number of the first entry that does not fit, None when intact), ``intact``, ``recount_matches``,
    ``checked_at``, ``head``."""
    prev, count, first_bad = chain_module.GENESIS, 0, None
    counted: list[tally.CountedBallot] = []
    after = 0
    while True:
        batch = (await session.execute(
            select(PollChainEntry.seq, PollChainEntry.receipt_hash, PollChainEntry.choices, PollChainEntry.weight,
                   PollChainEntry.prev_hash, PollChainEntry.hash)
            .where(PollChainEntry.poll_id == poll.id, PollChainEntry.seq > after)
            .order_by(PollChainEntry.seq).limit(VERIFY_BATCH))).all()
        for seq, receipt, choices, weight, prev_hash, digest in batch:
            count += 1
            expected = chain_module.entry_hash(prev, count, receipt, choices, weight)
            if first_bad is None and (seq != count or prev_hash != prev or digest != expected):
                first_bad = count
            prev = digest
            counted.append(tally.CountedBallot(tuple(choices), Fraction(Decimal(weight))))
        if len(batch) < VERIFY_BATCH:
            break
        after = batch[-1][0]
    if first_bad is None and prev != (poll.chain_head or chain_module.GENESIS):
        first_bad = max(count, 1)
    options = poll.options if "options" in poll.__dict__ else list((await session.scalars(
        select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all())
    recount = compute_result(poll, options, counted, offline=int((poll.result or {}).get("offline", 0)))
    matches = poll.result is not None and comparable(recount) == comparable(poll.result)
    return {"entries": count, "first_bad": first_bad, "intact": first_bad is None, "recount_matches": matches,
            "head": poll.chain_head, "checked_at": (now or utcnow()).isoformat()}


def weight_text(value: Decimal | Fraction | int) -> str:
    """A weight or a floor-area sum with two decimals (``"85.50"``), as the chain stores it."""
    return chain_module.canonical_weight(value)


def compute_result(poll: Poll, options: Sequence[PollOption], ballots: Sequence[tally.CountedBallot], *,
                   offline: int = 0, pending_batches: int = 0) -> dict[str, Any]:
    """The stored result of a poll (JSON-safe; fractions as ``"n/d"``, weights as ``"12.50"``), counted by
    ``tally.decide``. A recount of the published chain through this same function gives the same result.

    Keys: ``options`` [{id, position, label, code, ballots, weight}] (ranked: first choices),
    ``rounds`` (ranked only, ``tally.Round.to_json``), ``leader`` (the yes option / the option ahead,
    None on a tie), ``winner`` (the leader if the rule passed), ``ballots``, ``online``, ``offline``,
    ``pending_paper_batches``, ``eligible``, ``eligible_area``, ``cast_area``, ``turnout`` ("n/d" or
    None), ``rule``, ``quorum``/``threshold`` ("n/d" or None), ``yes``/``no``/``abstain`` ({ballots,
    weight}) as the rule saw them, ``passed``, ``measures`` (``rules.Measure.to_json``), ``reason``
    ({msgid, params})."""
    ids = [option.id for option in options]
    quorum = Fraction(poll.quorum_num, poll.quorum_den) if poll.quorum_num is not None and poll.quorum_den else None
    threshold = (Fraction(poll.threshold_num, poll.threshold_den)
                 if poll.threshold_num is not None and poll.threshold_den else None)
    eligible = poll.eligible_count or 0
    outcome = tally.decide(poll.kind.value, poll.rule.value, ids, ballots, eligible_count=eligible,
                           eligible_area=Fraction(poll.eligible_area or 0), quorum=quorum, threshold=threshold)
    data, rule_json = outcome.data, outcome.result.to_json()
    return {
        "options": [{"id": o.id, "position": o.position, "label": o.label, "code": o.code,
                     "ballots": outcome.counts[o.id][0], "weight": weight_text(outcome.counts[o.id][1])}
                    for o in options],
        "rounds": [r.to_json() for r in outcome.rounds] if poll.kind is PollKind.ranked else None,
        "leader": outcome.leader,
        "winner": outcome.winner,
        "ballots": data.cast_count,
        "online": data.cast_count - offline,
        "offline": offline,
        "pending_paper_batches": pending_batches,
        "eligible": eligible,
        "eligible_area": weight_text(data.eligible_area),
        "cast_area": weight_text(data.cast_area),
        "turnout": rules.as_fraction(Fraction(data.cast_count, eligible)) if eligible else None,
        "rule": poll.rule.value,
        "quorum": rules.as_fraction(quorum) if quorum is not None else None,
        "threshold": rules.as_fraction(threshold) if threshold is not None else None,
        "yes": {"ballots": data.yes_count, "weight": weight_text(data.yes_area)},
        "no": {"ballots": data.no_count, "weight": weight_text(data.no_area)},
        "abstain": {"ballots": data.abstain_count, "weight": weight_text(data.abstain_area)},
        "passed": rule_json["passed"],
        "measures": [_json_safe(m) for m in rule_json["measures"]],
        "reason": _json_safe(rule_json["reason"]),
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, Fraction):
        return rules.as_fraction(value)
    if isinstance(value, Decimal | datetime):
        return str(value)
    return value


# --- shared ----------------------------------------------------------------------------------------

def _require_manager(actor: Actor, poll: Poll) -> None:
    if (problem := policy.manage_problem(actor, poll)) is not None:
        raise policy.refusal(problem)


async def _cas_state(session: AsyncSession, poll: Poll, was: PollState, to: PollState, **values: Any) -> bool:
    """``UPDATE poll SET state = to … WHERE id = … AND state = was``; True if this call moved it."""
    result = await session.execute(
        update(Poll).where(Poll.id == poll.id, Poll.state == was).values(state=to, **values)
        .execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        return False
    set_committed_value(poll, "state", to)
    for key, value in values.items():
        set_committed_value(poll, key, value)
    return True


def _describe(poll: Poll) -> dict[str, Any]:
    return {
        "title": poll.title, "area_id": poll.area_id, "topic_id": poll.topic_id, "kind": poll.kind.value,
        "eligibility": poll.eligibility.value, "rule": poll.rule.value, "secret": poll.secret,
        "allow_change": poll.allow_change, "results_hidden_until_close": poll.results_hidden_until_close,
        "opens_at": poll.opens_at.isoformat() if poll.opens_at else None, "closes_at": poll.closes_at.isoformat(),
        "options": [option.label for option in poll.options] if "options" in poll.__dict__ else None,
    }


# --- the hand-off to a topic's resolution ----------------------------------------------------------

def decision_for_topic(poll: Poll, translate: Callable[[Message], str] | None = None) -> PollOutcome:
    """What ``deliberation.resolutions.record_resolution(method=Method.poll, poll_result=…)`` takes, for
    a closed poll. ``translate`` renders the rule's reason and measures in the reader's language (the
    web passes its translator); without it the English message ids are filled in."""
    if poll.state is not PollState.closed or poll.result is None or poll.closed_at is None:
        raise InvalidState(msg("The poll's result is known only after it closes."))
    result = poll.result
    render = translate or _render_english
    lines = [render(rules.message_from_json(result["reason"]))]
    lines += [render(rules.message_from_json(m["explanation"])) for m in result["measures"]]
    explanation = " ".join(line for line in lines if line)[:POLL_EXPLANATION_MAX]
    return PollOutcome(reference=poll.reference, eligible=int(result["eligible"]), ballots_cast=int(result["ballots"]),
                       counts=tuple((o["label"], int(o["ballots"])) for o in result["options"]),
                       passed=bool(result["passed"]), closed_at=poll.closed_at, explanation=explanation)


def _render_english(message: Message) -> str:
    try:
        return message.msgid.format(**message.params)
    except (KeyError, IndexError, ValueError):
        return message.msgid
