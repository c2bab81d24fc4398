"""The reviewer's defects 2–7: household receipts, pending paper batches at close/cancel, owners'
rolls without floor areas, the stored chain check, ranked minimum, the closing job's isolation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.errors import Conflict, InvalidState, ValidationFailed
from consultation.voting import ballots, paper, queries, reminders, services, tally
from consultation.voting.models import PaperBatch, PaperBatchState, PaperEntry, PollChainEntry, PollVoter
from consultation.voting.paper import PaperDraft
from tests.api.helpers import log_in
from tests.conftest import text_of
from tests.deliberation.helpers import make_world
from tests.voting.helpers import (
    RECEIPT_KEY,
    make_poll,
    move_closing,
    option,
    option_ids,
    outside_household,
    resident,
    roll_id,
    worker,
)

APP_KEY = b"test-secret-key-that-is-long-enough-000"  # tests/conftest.py settings.secret_key


# --- 2. households: only the member who cast the ballot sees its receipt and may change it -----------

async def test_household_receipt_and_change_belong_to_the_member_who_cast(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="households", allow_change=True)
    a, b = world.author, world.neighbours[2]  # the same household
    first = await ballots.cast_ballot(db, resident(a, world), poll, [option(poll, "yes")], receipt_key=RECEIPT_KEY)
    entry = await db.scalar(select(PollVoter).where(PollVoter.poll_id == poll.id,
                                                    PollVoter.household_id == a.household_id))
    assert entry.cast_by_id == a.id
    assert await ballots.receipt_for(db, resident(b, world), poll, receipt_key=RECEIPT_KEY) is None
    with pytest.raises(Conflict) as refused:
        await ballots.cast_ballot(db, resident(b, world), poll, [option(poll, "no")], receipt_key=RECEIPT_KEY)
    assert refused.value.message.msgid == ballots.HOUSEHOLD_VOTED
    standing = await queries.voter_status(db, resident(b, world), poll, receipt_key=RECEIPT_KEY)
    assert standing.receipt is None and not standing.may_vote and standing.problem.msgid == ballots.HOUSEHOLD_VOTED
    # A may still change it, and keeps the receipt.
    again = await ballots.cast_ballot(db, resident(a, world), poll, [option(poll, "abstain")], receipt_key=RECEIPT_KEY)
    assert again.changed and again.receipt == first.receipt
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert poll.result is not None
    assert {o["code"]: o["ballots"] for o in poll.result["options"]} == {"yes": 0, "no": 0, "abstain": 1}
    assert await ballots.receipt_for(db, resident(a, world), poll, receipt_key=RECEIPT_KEY) == first.receipt


# --- 3. pending paper batches are rejected at close and cancel --------------------------------------

async def test_closing_rejects_pending_batches_and_clears_their_named_choices(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, secret=False)  # even open polls: an unconfirmed named choice must go
    voter = await roll_id(db, poll, user=world.neighbours[0])
    batch = await paper.record_paper_batch(db, worker(world), poll, [PaperDraft(voter, [option(poll, "no")])])
    await move_closing(db, poll, utcnow() - timedelta(seconds=1))
    await services.close_poll(db, None, poll, receipt_key=RECEIPT_KEY)
    state, reason = (await db.execute(select(PaperBatch.state, PaperBatch.reject_reason)
                                      .where(PaperBatch.id == batch.id))).one()
    assert state is PaperBatchState.rejected and reason == "表决已结束"
    assert (await db.scalars(select(PaperEntry.choices).where(PaperEntry.batch_id == batch.id))).all() == [None]
    assert poll.result is not None and poll.result["pending_paper_batches"] == 1 and poll.result["ballots"] == 0
    audited = (await db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "paper_batch",
                                                                AuditEvent.object_id == str(batch.id)))).all()
    assert list(audited) == ["poll.paper_recorded", "poll.paper_rejected"]


async def test_cancelling_rejects_pending_batches(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    voter = await roll_id(db, poll, user=world.neighbours[0])
    batch = await paper.record_paper_batch(db, worker(world), poll, [PaperDraft(voter, [option(poll, "yes")])])
    await services.cancel_poll(db, worker(world), poll, "方案撤回")
    state, reason = (await db.execute(select(PaperBatch.state, PaperBatch.reject_reason)
                                      .where(PaperBatch.id == batch.id))).one()
    assert state is PaperBatchState.rejected and reason == "表决已结束"
    assert (await db.scalars(select(PaperEntry.choices).where(PaperEntry.batch_id == batch.id))).all() == [None]


async def test_the_manage_page_warns_before_closing_with_pending_batches(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    voter = await roll_id(db, poll, user=world.neighbours[0])
    await paper.record_paper_batch(db, worker(world), poll, [PaperDraft(voter, [option(poll, "yes")])])
    await db.commit()
    client = await log_in(make_client(), world.worker_a)
    page = text_of((await client.get(f"/worker/polls/{poll.id}")).text)
    assert "有 1 个纸质票批次仍在等待复核" in page
    refused = await client.submit(f"/worker/polls/{poll.id}/close", {})
    assert refused.status_code == 303 and refused.headers["location"] == f"/worker/polls/{poll.id}"
    await db.refresh(poll)
    assert poll.state.value == "open"
    closed = await client.submit(f"/worker/polls/{poll.id}/close", {"confirm_pending": "1"})
    assert closed.status_code == 303 and closed.headers["location"] == f"/polls/{poll.id}/results"
    await db.refresh(poll)
    assert poll.state.value == "closed"


# --- 4. owners' polls need every floor area ----------------------------------------------------------

async def test_an_owners_poll_does_not_open_while_a_home_lacks_its_floor_area(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    for _ in range(2):
        await outside_household(db, world, floor_area=None, with_resident=True)
    poll = await make_poll(db, world, eligibility="owners", rule="art278_ordinary", opened=False)
    with pytest.raises(InvalidState) as refused:
        await services.open_poll(db, worker(world), poll)
    assert refused.value.message.params == {"n": 2}
    await db.commit()
    client = await log_in(make_client(), world.worker_a)
    page = text_of((await client.get(f"/worker/polls/{poll.id}")).text)
    assert "本区域有 2 户尚未登记面积" in page
    assert f"/worker/communities/{world.city.community_a.id}/households" in (
        await client.get(f"/worker/polls/{poll.id}")).text


# --- 5. the chain check is stored at close; "verify again" recomputes ---------------------------------

async def test_the_chain_check_is_stored_at_close_and_verify_again_finds_tampering(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    for person in (world.author, world.neighbours[0]):
        await ballots.cast_ballot(db, resident(person, world), poll, [option(poll, "yes")], receipt_key=RECEIPT_KEY)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert poll.chain_check is not None and poll.chain_check["intact"] and poll.chain_check["recount_matches"]
    assert poll.chain_check["head"] == poll.chain_head and poll.chain_check["entries"] == 2
    await db.execute(update(PollChainEntry).where(PollChainEntry.poll_id == poll.id, PollChainEntry.seq == 1)
                     .values(choices=[option(poll, "no")]).execution_options(synchronize_session=False))
    stored = await queries.chain_check(db, poll)  # the page reads the stored check, no reload of the chain
    assert stored.intact
    again = await queries.verify_again(db, poll)
    assert not again.intact and again.first_bad == 1 and not again.recount_matches
    assert (await queries.chain_check(db, poll)).first_bad == 1  # the new check is stored


async def test_chain_page_reads_one_page(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    for person in (world.author, *world.neighbours):
        await ballots.cast_ballot(db, resident(person, world), poll, [option(poll, "yes")], receipt_key=RECEIPT_KEY)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    page = await queries.chain_page(db, poll, after_seq=1, limit=2)
    assert [e.seq for e in page] == [2, 3]
    assert await queries.chain_length(db, poll) == 1 + len(world.neighbours)


# --- 6. ranked polls enforce min_choices ---------------------------------------------------------------

async def test_ranked_polls_enforce_the_minimum_number_of_ranks(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, kind="ranked", options=["甲", "乙", "丙", "丁"], min_choices=3, max_choices=4)
    ids = option_ids(poll)
    with pytest.raises(ValidationFailed) as refused:
        await ballots.cast_ballot(db, resident(world.author, world), poll, ids[:2], receipt_key=RECEIPT_KEY)
    assert refused.value.errors["choices"].msgid == tally.RANK_AT_LEAST
    done = await ballots.cast_ballot(db, resident(world.author, world), poll, ids[:3], receipt_key=RECEIPT_KEY)
    assert done.receipt
    assert tally.validate_choices("ranked", [1, 2], [1], 3, 3) is not None  # min capped at the option count
    assert tally.validate_choices("ranked", [1, 2], [1, 2], 3, 3) is None


# --- 7. the closing job: one failing poll does not stall the others --------------------------------

async def test_one_failing_poll_does_not_stall_the_closing_job(db: Any, monkeypatch: Any,
                                                               caplog: Any) -> None:
    world = await make_world(db)
    broken = await make_poll(db, world)
    fine = await make_poll(db, world)
    real = services.close_poll

    async def flaky(session: Any, actor: Any, poll: Any, **kw: Any) -> Any:
        if poll.id == broken.id:
            raise RuntimeError("disk on fire")
        return await real(session, actor, poll, **kw)

    monkeypatch.setattr(services, "close_poll", flaky)
    later = utcnow() + timedelta(days=4)
    assert await reminders.close_due_polls(db, now=later, receipt_key=RECEIPT_KEY) == 1
    assert "closing poll" in caplog.text
    states = dict((await db.execute(select(type(fine).id, type(fine).state)
                                    .where(type(fine).id.in_([broken.id, fine.id])))).all())
    assert states[fine.id].value == "closed" and states[broken.id].value == "open"


async def test_paper_confirmation_requires_the_receipt_key(db: Any) -> None:
    import inspect
    assert inspect.signature(paper.confirm_paper_batch).parameters["receipt_key"].default is inspect.Parameter.empty
    assert inspect.signature(services.close_poll).parameters["receipt_key"].default is inspect.Parameter.empty


async def test_the_periodic_runner_closes_with_the_app_key(sessionmaker: Any, db: Any) -> None:
    from web.periodic import Periodic
    world = await make_world(db)
    poll = await make_poll(db, world)
    await ballots.cast_ballot(db, resident(world.author, world), poll, [option(poll, "yes")], receipt_key=APP_KEY)
    await move_closing(db, poll, utcnow() - timedelta(seconds=1))
    await db.commit()
    await Periodic(sessionmaker, receipt_key=APP_KEY).maybe_run()
    await db.refresh(poll)
    assert poll.state.value == "closed" and poll.result is not None and poll.result["ballots"] == 1


async def test_reminders_go_in_batches_and_each_person_once(db: Any) -> None:
    from consultation.notifications.models import Notification
    world = await make_world(db)
    poll = await make_poll(db, world)
    roll = len((await db.scalars(select(PollVoter.id).where(PollVoter.poll_id == poll.id))).all())
    assert roll >= 3
    soon = poll.closes_at - timedelta(hours=12)
    assert await reminders.send_vote_reminders(db, now=soon, limit=roll - 1) == roll - 1  # full: maybe more
    assert await reminders.send_vote_reminders(db, now=soon, limit=roll - 1) == 1
    assert await reminders.send_vote_reminders(db, now=soon, limit=roll - 1) == 0
    told = (await db.scalars(select(Notification.user_id).where(Notification.kind == "poll.reminder"))).all()
    assert len(told) == len(set(told)) == roll


async def test_the_periodic_runner_runs_a_job_again_while_its_batches_come_back_full(
        sessionmaker: Any, db: Any, monkeypatch: Any) -> None:
    import web.periodic
    from consultation.notifications.models import Notification
    world = await make_world(db)
    poll = await make_poll(db, world)
    await move_closing(db, poll, utcnow() + timedelta(hours=12))
    roll = len((await db.scalars(select(PollVoter.id).where(PollVoter.poll_id == poll.id))).all())
    await db.commit()
    monkeypatch.setattr(web.periodic, "REMINDER_BATCH", 2)  # a roll of 4 or more: two batches or more, one round
    await web.periodic.Periodic(sessionmaker, receipt_key=APP_KEY).maybe_run()
    told = (await db.scalars(select(Notification.user_id).where(Notification.kind == "poll.reminder"))).all()
    assert len(told) == len(set(told)) == roll >= 3
