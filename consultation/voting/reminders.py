"""Periodic jobs of the worker (``web/periodic.py``): remind those who have not voted, and close polls
whose closing time has passed. Both are idempotent and safe to run from several workers at once."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from consultation import audit
from consultation.accounts.models import User
from consultation.db import utcnow
from consultation.errors import N_, DomainError
from consultation.notifications.services import notify_many
from consultation.voting import services
from consultation.voting.models import Poll, PollState, PollVoter

log = logging.getLogger(__name__)

REMINDER_LEAD = timedelta(hours=24)
REMINDER_TITLE = N_("A poll you can vote in closes soon")
CLOSE_BATCH = 20
# Roll entries reminded per transaction. A reminder locks its entries until it commits, and a ballot cast on one
# meanwhile waits for that: in batches of this size the wait stays short during a vote storm (the worker runs the
# job again at once while batches come back full, ``web.periodic``).
REMINDER_BATCH = 500


async def send_vote_reminders(session: AsyncSession, now: datetime | None = None, *,
                              limit: int = REMINDER_BATCH) -> int:
    """Notify each roll entry that has not voted, once, when its poll closes within ``REMINDER_LEAD``
    (for household polls: every verified resident bound to the household), at most ``limit`` entries per
    call. ``reminded_at`` is set by one conditional UPDATE, and only the rows this run set are notified; on
    PostgreSQL entries locked by a ballot being cast are skipped (that voter is voting). Returns the entries
    reminded: ``limit`` means there may be more."""
    now = now or utcnow()
    due = select(Poll.id).where(Poll.state == PollState.open, Poll.closes_at > now,
                                Poll.closes_at <= now + REMINDER_LEAD)
    pending = (PollVoter.poll_id.in_(due), PollVoter.voted_at.is_(None), PollVoter.reminded_at.is_(None))
    # Chosen once, in a materialized CTE: as an IN subquery PostgreSQL may run it again for the join and take
    # other rows each time, so more than ``limit`` were updated.
    batch = (select(PollVoter.id).where(*pending).order_by(PollVoter.id).limit(limit)
             .with_for_update(skip_locked=True).cte("reminder_batch").prefix_with("MATERIALIZED"))
    rows = (await session.execute(
        update(PollVoter)
        .where(PollVoter.id.in_(select(batch.c.id)), *pending)
        .values(reminded_at=now)
        .returning(PollVoter.poll_id, PollVoter.user_id, PollVoter.household_id)
        .execution_options(synchronize_session=False))).all()
    if not rows:
        return 0
    households = {household_id for _, user_id, household_id in rows if user_id is None and household_id}
    members: dict[int, list[int]] = defaultdict(list)
    if households:
        for member_id, member_household in (await session.execute(
                select(User.id, User.household_id).where(User.household_id.in_(households),
                                                         User.verified_at.is_not(None),
                                                         User.deleted_at.is_(None)))).all():
            members[int(member_household or 0)].append(member_id)
    titles = dict((await session.execute(
        select(Poll.id, Poll.title).where(Poll.id.in_({poll_id for poll_id, _, _ in rows})))).all())
    per_poll: dict[int, int] = defaultdict(int)
    people: dict[int, list[int]] = defaultdict(list)
    for poll_id, user_id, household_id in rows:
        people[poll_id] += [user_id] if user_id is not None else members.get(household_id or 0, [])
        per_poll[poll_id] += 1
    for poll_id in sorted(per_poll):
        await notify_many(session, people[poll_id], "poll.reminder", REMINDER_TITLE, body=titles[poll_id],
                          url=f"/polls/{poll_id}", email=True)
        await audit.record(session, "poll.reminded", "poll", poll_id, after={"entries": per_poll[poll_id]})
    return len(rows)


async def close_due_polls(session: AsyncSession, now: datetime | None = None, *, receipt_key: bytes) -> int:
    """Close open polls whose ``closes_at`` has passed (a few per run); returns how many this run closed.
    A poll another worker closed meanwhile is skipped (``close_poll`` is compare-and-set). Each poll is
    closed in its own savepoint: one that fails is logged and left open (retried next run) and does not
    stall the others."""
    now = now or utcnow()
    polls = (await session.scalars(
        select(Poll).where(Poll.state == PollState.open, Poll.closes_at <= now)
        .options(selectinload(Poll.area)).order_by(Poll.closes_at).limit(CLOSE_BATCH))).all()
    closed = 0
    for poll in polls:
        poll_id = poll.id
        try:
            async with session.begin_nested():
                was_open = poll.state is PollState.open
                await services.close_poll(session, None, poll, receipt_key=receipt_key, now=now)
                closed += int(was_open and poll.state is PollState.closed)
        except DomainError:  # cancelled meanwhile
            continue
        except Exception:
            log.exception("closing poll %s failed; it stays open and is retried next run", poll_id)
            continue
    return closed
