"""Paper ballots: a worker records a batch of named ballots (for entries of the frozen roll); a
different worker of the area confirms it, and only then are ballots written and the roll marked
(channel "paper", shown as offline in the results). Everything is audited.

Never for someone who voted online, never twice, never in two pending batches: checked when the batch
is recorded and again, under the roll rows' locks, when it is confirmed. For secret polls the named
entries lose their choices once the batch is confirmed or rejected, so the named record no longer
says what anyone chose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit
from consultation.db import utcnow
from consultation.errors import N_, Conflict, InvalidState, Message, ValidationFailed, msg
from consultation.policy import Actor
from consultation.validation import check_length, strip_control
from consultation.voting import ballots, policy, tally
from consultation.voting.models import (
    REASON_MAX,
    Channel,
    PaperBatch,
    PaperBatchState,
    PaperEntry,
    Poll,
    PollOption,
    PollState,
    PollVoter,
)

MAX_ENTRIES = 200
NOT_OPEN = N_("Paper ballots are recorded and confirmed while the poll is open.")
ALREADY_VOTED = N_("This voter has already voted (online or on paper).")
IN_OTHER_BATCH = N_("This voter's paper ballot is already in another batch waiting for confirmation.")
TWICE_IN_BATCH = N_("This voter appears twice in the batch.")
NOT_ON_ROLL = N_("This person is not on the poll's roll.")


@dataclass(frozen=True)
class PaperDraft:
    """One paper ballot as entered: the roll entry (``PollVoter.id``) and the options marked."""

    voter_id: int
    choices: Sequence[int]


def entry_field(index: int) -> str:
    """The error key of entry ``index`` (0-based) in ``ValidationFailed``."""
    return f"entry_{index}"


async def record_paper_batch(session: AsyncSession, actor: Actor, poll: Poll, entries: Sequence[PaperDraft],
                             note: str = "") -> PaperBatch:
    """A worker of the poll's area enters paper ballots; nothing is counted until another confirms.
    Reads ``poll.area``."""
    if (problem := policy.manage_problem(actor, poll)) is not None:
        raise policy.refusal(problem)
    if poll.state is not PollState.open:
        raise InvalidState(msg(NOT_OPEN))
    note = strip_control(note).strip()
    errors: dict[str, Message | str] = {}
    if not entries:
        errors[""] = msg("Enter at least one paper ballot.")
    elif len(entries) > MAX_ENTRIES:
        errors[""] = msg("A batch holds at most {n} ballots.", n=MAX_ENTRIES)
    if problem := check_length(note, maximum=REASON_MAX):
        errors["note"] = problem
    if not errors:
        errors.update(await _check_entries(session, poll, entries, exclude_batch=None))
    if errors:
        raise ValidationFailed(errors)
    batch = PaperBatch(poll_id=poll.id, recorded_by_id=actor.user_id, state=PaperBatchState.pending,
                       note=note or None, created_at=utcnow())
    session.add(batch)
    await session.flush()
    rows = [PaperEntry(batch_id=batch.id, voter_id=e.voter_id, choices=[int(c) for c in e.choices])
            for e in entries]
    session.add_all(rows)
    await session.flush()
    set_committed_value(batch, "entries", rows)
    set_committed_value(batch, "poll", poll)
    await audit.record(session, "poll.paper_recorded", "paper_batch", batch.id, actor_id=actor.user_id,
                       ip=actor.ip, after={"poll_id": poll.id, "voters": [e.voter_id for e in entries]})
    return batch


async def confirm_paper_batch(session: AsyncSession, actor: Actor, batch: PaperBatch, *,
                              receipt_key: bytes, now: datetime | None = None) -> PaperBatch:
    """A second worker confirms: ballots are written (channel paper) and the roll marked.

    ``receipt_key`` (the web passes settings.secret_key) makes each paper ballot's receipt the same
    code the voter sees when signed in, and seals the ballots of secret polls (see ``seal.py``).
    Reads ``batch.poll.area`` and ``batch.entries``. Refuses the whole batch if any entry's voter has
    voted meanwhile (Conflict, naming the entries)."""
    now = now or utcnow()
    poll = batch.poll
    if (problem := policy.confirm_problem(actor, batch)) is not None:
        raise policy.refusal(problem)
    state = await session.scalar(select(Poll.state).where(Poll.id == poll.id).with_for_update(read=True))
    if state is not PollState.open or now >= poll.closes_at:
        raise InvalidState(msg(NOT_OPEN))
    voter_ids = sorted(e.voter_id for e in batch.entries)
    # Lock the roll rows (in id order, so two confirmations cannot deadlock) before checking them.
    voters = {v.id: v for v in (await session.scalars(
        select(PollVoter).where(PollVoter.id.in_(voter_ids)).order_by(PollVoter.id).with_for_update()
        .execution_options(populate_existing=True))).all()}
    errors = await _check_entries(session, poll, [PaperDraft(e.voter_id, e.choices or []) for e in batch.entries],
                                  exclude_batch=batch.id)
    if errors:
        raise Conflict(msg("Some entries of this batch can no longer be counted: {entries}. Reject the batch "
                           "and record it again without them.",
                           entries=", ".join(str(int(key.removeprefix("entry_")) + 1) for key in sorted(errors))))
    if not await _cas(session, batch, PaperBatchState.confirmed, confirmed_by_id=actor.user_id, confirmed_at=now):
        raise InvalidState(msg(policy.BATCH_DONE))
    claimed = (await session.scalars(
        update(PollVoter).where(PollVoter.id.in_(voter_ids), PollVoter.voted_at.is_(None))
        .values(voted_at=now, channel=Channel.paper).returning(PollVoter.id)
        .execution_options(synchronize_session=False))).all()
    if len(claimed) != len(voter_ids):  # pragma: no cover - the rows are locked and were checked above
        raise Conflict(msg(ALREADY_VOTED))
    for entry in batch.entries:
        voter = voters[entry.voter_id]
        code = ballots.receipt_code(receipt_key, poll.id, voter.id)
        session.add(ballots.new_ballot(receipt_key, poll, voter, code, list(entry.choices or []), Channel.paper))
        if poll.secret:
            entry.choices = None
    await session.flush()
    await audit.record(session, "poll.paper_confirmed", "paper_batch", batch.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"state": PaperBatchState.pending.value},
                       after={"state": PaperBatchState.confirmed.value, "poll_id": poll.id,
                              "ballots": len(voter_ids)})
    return batch


async def reject_paper_batch(session: AsyncSession, actor: Actor, batch: PaperBatch, reason: str) -> PaperBatch:
    """Any worker of the area (the recorder too, to withdraw it) rejects a pending batch with a reason;
    nothing is counted and its voters may be entered again. Reads ``batch.poll.area``."""
    if (problem := policy.manage_problem(actor, batch.poll)) is not None:
        raise policy.refusal(problem)
    reason = strip_control(reason).strip()
    if batch.state is not PaperBatchState.pending:
        raise InvalidState(msg(policy.BATCH_DONE))
    if problem := check_length(reason, minimum=1, maximum=REASON_MAX):
        raise ValidationFailed({"reason": problem})
    if not await _cas(session, batch, PaperBatchState.rejected, reject_reason=reason):
        raise InvalidState(msg(policy.BATCH_DONE))
    if batch.poll.secret:
        for entry in batch.entries:
            entry.choices = None
    await session.flush()
    await audit.record(session, "poll.paper_rejected", "paper_batch", batch.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"state": PaperBatchState.pending.value},
                       after={"state": PaperBatchState.rejected.value, "reason": reason})
    return batch


async def _check_entries(session: AsyncSession, poll: Poll, entries: Sequence[PaperDraft], *,
                         exclude_batch: int | None) -> dict[str, Message | str]:
    errors: dict[str, Message | str] = {}
    ids = [e.voter_id for e in entries]
    roll = dict((await session.execute(
        select(PollVoter.id, PollVoter.voted_at).where(PollVoter.poll_id == poll.id, PollVoter.id.in_(ids))
    )).all())
    pending_elsewhere = select(PaperEntry.voter_id).join(PaperBatch, PaperBatch.id == PaperEntry.batch_id).where(
        PaperBatch.poll_id == poll.id, PaperBatch.state == PaperBatchState.pending, PaperEntry.voter_id.in_(ids))
    if exclude_batch is not None:
        pending_elsewhere = pending_elsewhere.where(PaperBatch.id != exclude_batch)
    busy = set((await session.scalars(pending_elsewhere)).all())
    option_ids = list((await session.scalars(
        select(PollOption.id).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all())
    seen: set[int] = set()
    for index, entry in enumerate(entries):
        key = entry_field(index)
        if entry.voter_id not in roll:
            errors[key] = msg(NOT_ON_ROLL)
        elif entry.voter_id in seen:
            errors[key] = msg(TWICE_IN_BATCH)
        elif roll[entry.voter_id] is not None:
            errors[key] = msg(ALREADY_VOTED)
        elif entry.voter_id in busy:
            errors[key] = msg(IN_OTHER_BATCH)
        elif (problem := tally.validate_choices(poll.kind.value, option_ids, [int(c) for c in entry.choices],
                                                poll.min_choices, poll.max_choices)) is not None:
            errors[key] = problem
        seen.add(entry.voter_id)
    return errors


async def _cas(session: AsyncSession, batch: PaperBatch, to: PaperBatchState, **values: object) -> bool:
    result = await session.execute(
        update(PaperBatch).where(PaperBatch.id == batch.id, PaperBatch.state == PaperBatchState.pending)
        .values(state=to, **values).execution_options(synchronize_session=False))
    if getattr(result, "rowcount", 0) != 1:
        return False
    set_committed_value(batch, "state", to)
    for key, value in values.items():
        set_committed_value(batch, key, value)
    return True


async def reject_pending_batches(session: AsyncSession, actor: Actor | None, poll: Poll, reason: str) -> int:
    """When a poll closes or is cancelled: reject every batch still waiting for confirmation (with
    ``reason``) and clear the named entries' choices, so no named record of a choice outlives the
    poll. Returns how many batches were rejected; each is audited."""
    rejected = list((await session.scalars(
        update(PaperBatch).where(PaperBatch.poll_id == poll.id, PaperBatch.state == PaperBatchState.pending)
        .values(state=PaperBatchState.rejected, reject_reason=reason).returning(PaperBatch.id)
        .execution_options(synchronize_session=False))).all())
    if not rejected:
        return 0
    await session.execute(update(PaperEntry).where(PaperEntry.batch_id.in_(rejected)).values(choices=None)
                          .execution_options(synchronize_session=False))
    for batch in session.identity_map.values():  # keep loaded objects in step with the rows
        if isinstance(batch, PaperBatch) and batch.id in rejected:
            set_committed_value(batch, "state", PaperBatchState.rejected)
            set_committed_value(batch, "reject_reason", reason)
        elif isinstance(batch, PaperEntry) and batch.batch_id in rejected:
            set_committed_value(batch, "choices", None)
    for batch_id in sorted(rejected):
        await audit.record(session, "poll.paper_rejected", "paper_batch", batch_id,
                           actor_id=actor.user_id if actor else None, ip=actor.ip if actor else None,
                           before={"state": PaperBatchState.pending.value},
                           after={"state": PaperBatchState.rejected.value, "reason": reason, "automatic": True})
    return len(rejected)
