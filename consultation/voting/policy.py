"""Voting permissions as named predicates. Each predicate whose refusal people should read has a
``*_problem`` twin returning that reason (a message), which services raise and templates show.

Predicates that take a poll read ``poll.area`` (load it: ``queries.get_poll`` does)."""

from __future__ import annotations

from datetime import datetime

from consultation.accounts.models import Role
from consultation.areas.models import Area
from consultation.clock import TIMEZONE
from consultation.db import utcnow
from consultation.errors import N_, DomainError, Forbidden, InvalidState, Message, msg
from consultation.policy import Actor, permission
from consultation.voting.models import PaperBatch, PaperBatchState, Poll, PollState

NOT_OPEN_YET = N_("This poll has not opened yet.")
OPENS_LATER = N_("Voting opens at {opens_at}.")
CLOSED = N_("This poll has closed; no more ballots are accepted.")
CANCELLED = N_("This poll was cancelled.")
LOG_IN = N_("Please log in first.")
NOT_MANAGER = N_("Only community workers of this poll's area can do this.")
SAME_WORKER = N_("A different worker must confirm a batch than the one who recorded it.")
BATCH_DONE = N_("This batch has already been handled.")

# Problems that are about the poll's state (HTTP 409), not about who is asking (HTTP 403).
STATE_PROBLEMS = frozenset({NOT_OPEN_YET, OPENS_LATER, CLOSED, CANCELLED, BATCH_DONE})


def refusal(problem: Message) -> DomainError:
    """The error for a ``*_problem`` message: the poll's state → InvalidState, anything else → Forbidden."""
    return InvalidState(problem) if problem.msgid in STATE_PROBLEMS else Forbidden(problem)


def _area_of(obj: Poll | Area) -> Area:
    return obj.area if isinstance(obj, Poll) else obj


def is_manager_of(actor: Actor, area: Area) -> bool:
    """A worker of the area or of an area containing it, or an admin."""
    return actor.is_admin or actor.has_role_over(Role.worker, area.path)


def manage_problem(actor: Actor, obj: Poll | Area) -> Message | None:
    if not actor.authenticated:
        return msg(LOG_IN)
    if not is_manager_of(actor, _area_of(obj)):
        return msg(NOT_MANAGER)
    return None


@permission("voting.manage")
def can_manage(actor: Actor, obj: Poll | Area) -> bool:
    """Create, edit, open, cancel and close polls, record and confirm paper ballots, see the roll:
    workers of an area containing the poll's area (or the area a poll is being created in), or admins."""
    return manage_problem(actor, obj) is None


@permission("voting.view")
def can_view(actor: Actor, poll: Poll) -> bool:
    """Polls are public once opened; drafts only to the people who manage them."""
    return poll.state is not PollState.draft or can_manage(actor, poll)


def window_problem(poll: Poll, now: datetime | None = None) -> Message | None:
    """Why ballots are not accepted right now, whoever asks (None while voting is open)."""
    now = now or utcnow()
    if poll.state is PollState.draft:
        return msg(NOT_OPEN_YET)
    if poll.state is PollState.cancelled:
        return msg(CANCELLED)
    if poll.state is PollState.closed or now >= poll.closes_at:
        return msg(CLOSED)
    if poll.opens_at is not None and now < poll.opens_at:
        return msg(OPENS_LATER, opens_at=poll.opens_at.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M"))
    return None


def vote_problem(actor: Actor, poll: Poll, now: datetime | None = None) -> Message | None:
    """Whether this person may try to vote now. Being on the frozen roll is checked by
    ``ballots.cast_ballot`` (it needs the database) and refused there with its own reason."""
    if not actor.authenticated:
        return msg(LOG_IN)
    return window_problem(poll, now)


@permission("voting.vote")
def can_vote(actor: Actor, poll: Poll) -> bool:
    """Signed in, while the poll is open and within its voting window."""
    return vote_problem(actor, poll) is None


def results_problem(actor: Actor, poll: Poll) -> Message | None:
    if poll.state is PollState.closed:
        return None
    if poll.state is PollState.open and not poll.results_hidden_until_close:
        return None
    if poll.state is PollState.cancelled:
        return msg(CANCELLED)
    return msg(N_("Results are shown when the poll closes."))


@permission("voting.see_results")
def can_see_results(actor: Actor, poll: Poll) -> bool:
    """Everyone after close; while open only if the poll does not hide its results (workers included:
    hidden means hidden for everybody, so nobody can steer a running vote)."""
    return results_problem(actor, poll) is None


def confirm_problem(actor: Actor, batch: PaperBatch) -> Message | None:
    """A worker of the poll's area other than the one who recorded the batch, while it is pending.
    Reads ``batch.poll.area``."""
    if (problem := manage_problem(actor, batch.poll)) is not None:
        return problem
    if batch.state is not PaperBatchState.pending:
        return msg(BATCH_DONE)
    if actor.user_id == batch.recorded_by_id:
        return msg(SAME_WORKER)
    return None


@permission("voting.confirm_paper")
def can_confirm_paper(actor: Actor, batch: PaperBatch) -> bool:
    return confirm_problem(actor, batch) is None
