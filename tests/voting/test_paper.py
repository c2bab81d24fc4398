"""Paper ballots: recorded by one worker for named roll entries, confirmed by a different worker of the
area, never for someone who voted online, never twice; audited; counted as offline."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from consultation.audit import AuditEvent
from consultation.errors import Conflict, Forbidden, InvalidState, ValidationFailed
from consultation.voting import ballots, paper, policy, queries, services
from consultation.voting.models import Ballot, Channel, PaperBatchState, PaperEntry, PollVoter
from consultation.voting.paper import PaperDraft
from tests.deliberation.helpers import actor_of, make_world
from tests.voting.helpers import (
    RECEIPT_KEY,
    ballot_count,
    make_poll,
    option,
    resident,
    roll_id,
    second_worker,
    voted_count,
    worker,
)


async def test_a_batch_counts_only_once_a_second_worker_confirms_it(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    yes, no = option(poll, "yes"), option(poll, "no")
    first, second = await roll_id(db, poll, user=world.neighbours[0]), await roll_id(db, poll, user=world.neighbours[1])
    batch = await paper.record_paper_batch(db, worker(world), poll,
                                           [PaperDraft(first, [yes]), PaperDraft(second, [no])], note="第一投票箱")
    assert batch.state is PaperBatchState.pending
    assert await ballot_count(db, poll) == 0 and await voted_count(db, poll) == 0
    assert (await queries.turnout(db, poll)).pending_paper == 2
    rows = await queries.roll_for_paper(db, poll, "李邻居0")
    assert [(r.voter_id, r.pending, r.voted_at) for r in rows] == [(first, True, None)]
    # The recorder cannot confirm their own batch.
    with pytest.raises(Forbidden) as same:
        await paper.confirm_paper_batch(db, worker(world), batch, receipt_key=RECEIPT_KEY)
    assert same.value.message.msgid == policy.SAME_WORKER
    other = await second_worker(db, world)
    batch = await queries.get_paper_batch(db, poll, batch.id)
    await paper.confirm_paper_batch(db, other, batch, receipt_key=RECEIPT_KEY)
    assert batch.state is PaperBatchState.confirmed and batch.confirmed_by_id == other.user_id
    assert await ballot_count(db, poll) == 2
    channels = (await db.scalars(select(PollVoter.channel).where(PollVoter.id.in_([first, second])))).all()
    assert list(channels) == [Channel.paper, Channel.paper]
    # Secret poll: the ballots carry no channel or voter, and the named entries lose their choices.
    assert {(b.channel, b.voter_id) for b in (await db.scalars(select(Ballot))).all() if b.poll_id == poll.id} == {
        (None, None)}
    assert set((await db.scalars(select(PaperEntry.choices).where(PaperEntry.batch_id == batch.id))).all()) == {None}
    # The voter sees the same receipt online and cannot vote again there.
    assert await ballots.receipt_for(db, resident(world.neighbours[0], world), poll, receipt_key=RECEIPT_KEY)
    with pytest.raises(Conflict) as again:
        await ballots.cast_ballot(db, resident(world.neighbours[0], world), poll, [no], receipt_key=RECEIPT_KEY)
    assert again.value.message.msgid == ballots.VOTED_ON_PAPER
    with pytest.raises(InvalidState):  # handled already
        await paper.confirm_paper_batch(db, await second_worker(db, world), batch, receipt_key=RECEIPT_KEY)
    await ballots.cast_ballot(db, resident(world.author, world), poll, [yes], receipt_key=RECEIPT_KEY)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert poll.result is not None and (poll.result["offline"], poll.result["online"]) == (2, 1)
    audited = (await db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "paper_batch",
                                                                AuditEvent.object_id == str(batch.id)))).all()
    assert list(audited) == ["poll.paper_recorded", "poll.paper_confirmed"]


async def test_open_polls_keep_paper_ballots_signed(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, secret=False)
    entry = await roll_id(db, poll, user=world.author)
    batch = await paper.record_paper_batch(db, worker(world), poll, [PaperDraft(entry, [option(poll, "yes")])])
    batch = await queries.get_paper_batch(db, poll, batch.id)
    await paper.confirm_paper_batch(db, await second_worker(db, world), batch, receipt_key=RECEIPT_KEY)
    stored = await db.scalar(select(Ballot).where(Ballot.poll_id == poll.id))
    assert (stored.channel, stored.voter_id) == (Channel.paper, entry)


async def test_entries_that_cannot_be_counted_are_refused_at_recording(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    other_poll = await make_poll(db, world)
    yes = option(poll, "yes")
    await ballots.cast_ballot(db, resident(world.author, world), poll, [yes], receipt_key=RECEIPT_KEY)
    online = await roll_id(db, poll, user=world.author)
    free = await roll_id(db, poll, user=world.neighbours[0])
    busy = await roll_id(db, poll, user=world.neighbours[1])
    await paper.record_paper_batch(db, worker(world), poll, [PaperDraft(busy, [yes])])
    foreign = await roll_id(db, other_poll, user=world.neighbours[2])
    with pytest.raises(ValidationFailed) as failure:
        await paper.record_paper_batch(db, worker(world), poll, [
            PaperDraft(online, [yes]), PaperDraft(free, [yes]), PaperDraft(free, [yes]), PaperDraft(busy, [yes]),
            PaperDraft(foreign, [yes])])
    errors = {key: m.msgid for key, m in failure.value.errors.items()}
    assert errors == {"entry_0": paper.ALREADY_VOTED, "entry_2": paper.TWICE_IN_BATCH,
                      "entry_3": paper.IN_OTHER_BATCH, "entry_4": paper.NOT_ON_ROLL}
    with pytest.raises(ValidationFailed) as bad_choice:
        await paper.record_paper_batch(db, worker(world), poll, [PaperDraft(free, [yes, option(poll, "no")])])
    assert "entry_0" in bad_choice.value.errors
    with pytest.raises(ValidationFailed):
        await paper.record_paper_batch(db, worker(world), poll, [])


async def test_confirmation_checks_again_and_refuses_a_voter_who_voted_online_meanwhile(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    yes = option(poll, "yes")
    entries = [PaperDraft(await roll_id(db, poll, user=u), [yes]) for u in (world.author, world.neighbours[0])]
    batch = await paper.record_paper_batch(db, worker(world), poll, entries)
    await ballots.cast_ballot(db, resident(world.neighbours[0], world), poll, [yes], receipt_key=RECEIPT_KEY)
    with pytest.raises(Conflict) as refused:
        await paper.confirm_paper_batch(db, await second_worker(db, world),
                                        await queries.get_paper_batch(db, poll, batch.id), receipt_key=RECEIPT_KEY)
    assert refused.value.message.params == {"entries": "2"}
    assert await ballot_count(db, poll) == 1 and await voted_count(db, poll) == 1
    # Rejecting it (the recorder may withdraw it) frees the other voter for a new batch.
    batch = await queries.get_paper_batch(db, poll, batch.id)
    with pytest.raises(ValidationFailed):
        await paper.reject_paper_batch(db, worker(world), batch, "")
    await paper.reject_paper_batch(db, worker(world), batch, "李邻居0已在网上投票")
    assert batch.state is PaperBatchState.rejected and batch.reject_reason == "李邻居0已在网上投票"
    again = await paper.record_paper_batch(db, worker(world), poll, entries[:1])
    assert again.state is PaperBatchState.pending


async def test_workers_of_another_community_and_residents_cannot_touch_paper_ballots(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    entry = [PaperDraft(await roll_id(db, poll, user=world.author), [option(poll, "yes")])]
    for who in (actor_of(world.worker_b, world), resident(world.author, world)):
        with pytest.raises(Forbidden):
            await paper.record_paper_batch(db, who, poll, entry)
    batch = await queries.get_paper_batch(db, poll, (await paper.record_paper_batch(db, worker(world), poll, entry)).id)
    with pytest.raises(Forbidden):
        await paper.confirm_paper_batch(db, actor_of(world.worker_b, world), batch, receipt_key=RECEIPT_KEY)
    with pytest.raises(Forbidden):
        await paper.reject_paper_batch(db, actor_of(world.worker_b, world), batch, "不是我的社区")
    # An admin is a different person from the recorder, so may confirm.
    await paper.confirm_paper_batch(db, actor_of(world.admin, world), batch, receipt_key=RECEIPT_KEY)
    assert await ballot_count(db, poll) == 1
    # After close, pending batches cannot be confirmed.
    closed = await make_poll(db, world)
    pending = await paper.record_paper_batch(db, worker(world), closed, [
        PaperDraft(await roll_id(db, closed, user=world.author), [option(closed, "no")])])
    await services.close_poll(db, worker(world), closed, receipt_key=RECEIPT_KEY)
    assert closed.result is not None and closed.result["pending_paper_batches"] == 1
    with pytest.raises(InvalidState):
        await paper.confirm_paper_batch(db, await second_worker(db, world),
                                        await queries.get_paper_batch(db, closed, pending.id), receipt_key=RECEIPT_KEY)
    with pytest.raises(InvalidState):
        await paper.record_paper_batch(db, worker(world), closed, entry)
