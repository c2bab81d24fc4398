"""Recording a topic's resolution: the worker's "record the decision" step (民事民决).

A resolution is recorded either as a consensus, with its minutes, or from a poll, with the
``PollOutcome`` the voting issue produces. Everything is validated before anything is written; then
the topic moves out of "deciding" through ``services.transition`` and the resolution and its agreed
actions are stored in the same transaction, so no topic is decided without a resolution and a failed
resolution leaves the topic where it was.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Integer, Select, String, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager, joinedload, selectinload

from consultation import audit
from consultation.areas.models import Area, AreaLevel, Unit
from consultation.clock import TIMEZONE, local_today
from consultation.deliberation import resolution_policy, rules, services
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.resolution_models import (
    ACTION_DESCRIPTION_MAX,
    MAX_ACTIONS,
    MINUTES_REFERENCE_MAX,
    POLL_EXPLANATION_MAX,
    POLL_REFERENCE_MAX,
    SUMMARY_MAX,
    AgreedAction,
    Method,
    Outcome,
    Resolution,
)
from consultation.errors import Forbidden, Message, ValidationFailed, msg
from consultation.meetings.models import Meeting, MeetingAgendaItem, MeetingState
from consultation.policy import Actor, can
from consultation.validation import check_length, parse_id

TARGET_HORIZON_DAYS = 5 * 366


@dataclass(frozen=True)
class PollOutcome:
    """What the voting issue hands over when a topic's poll closes.

    ``counts`` are the options in the poll's order with their ballots (for a yes/no poll e.g.
    ``(("同意", 120), ("反对", 30), ("弃权", 5))``); ``explanation`` states the rule and the measured
    values in plain words, as the poll's result page does."""

    reference: str  # the poll's public reference, e.g. "poll:42"
    eligible: int  # size of the roll frozen when the poll opened
    ballots_cast: int
    counts: tuple[tuple[str, int], ...]
    passed: bool
    closed_at: datetime
    explanation: str = ""


@dataclass(frozen=True)
class ActionDraft:
    """One row of the actions form, as typed (parsed and checked by ``record_resolution``)."""

    description: str = ""
    unit_id: str = ""
    target_date: str = ""

    @property
    def blank(self) -> bool:
        return not (self.description.strip() or self.unit_id.strip() or self.target_date.strip())


def require_may_record(actor: Actor, topic: Topic) -> None:
    """Through the ``deliberation.record_resolution`` permission; a refusal says why (not staff of the
    community: forbidden; the topic not being decided: its state)."""
    if not can(actor, "deliberation.record_resolution", topic):
        problem = resolution_policy.record_resolution_problem(actor, topic)
        raise resolution_policy.refusal(problem) if problem is not None else Forbidden()


def action_field(index: int, name: str) -> str:
    """Form field (and error key) of one action row."""
    return f"action_{index}_{name}"


async def unit_choices(session: AsyncSession, community: Area) -> list[Unit]:
    """Units that serve the community: attached to it or to an area above it."""
    return list((await session.scalars(
        select(Unit).where(Unit.area_id.in_(community.ancestor_ids)).order_by(Unit.name)
    )).all())


async def record_resolution(
    session: AsyncSession, actor: Actor, topic: Topic, *, method: Method, summary: str, outcome: str = "",
    decided_on: str = "", minutes_reference: str = "", meeting_agenda_item_id: int | None = None,
    actions: Sequence[ActionDraft] = (), poll_result: PollOutcome | None = None, today: date | None = None,
) -> Resolution:
    """Record the decision on ``topic`` (being decided) and move it to decided (agreed or not).

    Consensus: ``outcome`` ("agreed" / "not_agreed"), ``decided_on`` (YYYY-MM-DD) and the minutes — a
    published agenda item of a session, or ``minutes_reference`` saying where minutes taken outside
    the platform are kept. Poll: ``poll_result``; the outcome and the date follow from it. An agreed
    resolution lists 1..20 actions; blank rows are ignored.
    """
    require_may_record(actor, topic)
    today = today or local_today()
    summary, minutes_reference = summary.strip(), minutes_reference.strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(summary, minimum=1, maximum=SUMMARY_MAX):
        errors["summary"] = problem
    item: MeetingAgendaItem | None = None
    if method is Method.poll:
        decided, day = _check_poll(poll_result, errors)
    else:
        decided, day = _check_consensus(topic, outcome, decided_on, today, errors)
        item = await _check_minutes(session, topic, decided, minutes_reference, meeting_agenda_item_id, errors)
    rows = await _check_actions(session, topic, decided, actions, today, errors)
    if errors:
        raise ValidationFailed(errors)
    assert decided is not None and day is not None
    target = TopicState.decided_agreed if decided is Outcome.agreed else TopicState.decided_not_agreed
    await services.transition(session, topic, target, actor, with_resolution=True)
    resolution = Resolution(topic_id=topic.id, outcome=decided, method=method, summary=summary, decided_on=day,
                            recorded_by_id=actor.user_id, recorded_by_role=services.actor_role(actor, topic),
                            minutes_reference=minutes_reference or None,
                            meeting_agenda_item_id=item.id if item else None,
                            **_poll_columns(poll_result if method is Method.poll else None))
    session.add(resolution)
    await session.flush()
    added = [AgreedAction(resolution_id=resolution.id, position=i, description=description, unit_id=unit.id,
                          target_date=target_date)
             for i, (description, unit, target_date) in enumerate(rows, start=1)]
    session.add_all(added)
    await session.flush()
    await audit.record(session, "resolution.recorded", "resolution", resolution.id, actor_id=actor.user_id,
                       ip=actor.ip, after={
                           "topic_id": topic.id, "outcome": decided.value, "method": method.value,
                           "decided_on": day.isoformat(), "minutes_reference": resolution.minutes_reference,
                           "meeting_agenda_item_id": resolution.meeting_agenda_item_id,
                           "poll_reference": resolution.poll_reference, "poll_counts": resolution.poll_counts,
                           "actions": [{"id": a.id, "unit_id": a.unit_id, "target_date": a.target_date.isoformat()}
                                       for a in added]})
    return resolution


# --- checks (each adds its problems to ``errors``) -----------------------------------------------

def _check_consensus(topic: Topic, outcome: str, decided_on: str, today: date,
                     errors: dict[str, Message | str]) -> tuple[Outcome | None, date | None]:
    decided = Outcome(outcome) if outcome in Outcome.__members__ else None
    if decided is None:
        errors["outcome"] = msg("Choose whether the residents agreed.")
    day = _parse_date(decided_on)
    if day is None:
        errors["decided_on"] = msg("Enter a date like 2026-12-31.") if decided_on.strip() else msg(
            "This field is required.")
    elif day > today:
        errors["decided_on"] = msg("The decision date cannot be in the future.")
    elif day < topic.created_at.astimezone(TIMEZONE).date():
        errors["decided_on"] = msg("The decision date cannot be before the topic was raised.")
    return decided, day


async def _check_minutes(
    session: AsyncSession, topic: Topic, decided: Outcome | None, reference: str, agenda_item_id: int | None,
    errors: dict[str, Message | str],
) -> MeetingAgendaItem | None:
    """A consensus stands on its minutes: the published minutes of this topic's agenda item at a
    session, or (for a decision taken outside a session held on the platform) where its minutes are kept."""
    if agenda_item_id is None and not reference:
        errors["minutes_reference"] = msg("A consensus needs its minutes: choose the session's agenda item, or "
                                          "say where the minutes are kept.")
    elif problem := check_length(reference, maximum=MINUTES_REFERENCE_MAX):
        errors["minutes_reference"] = problem
    if agenda_item_id is None:
        return None
    item = next((i for i in await published_minutes_for(session, topic) if i.id == agenda_item_id), None)
    if item is None:
        errors["meeting_agenda_item_id"] = msg("Choose an agenda item of this topic whose minutes are published.")
    elif decided is not None and item.outcome is not None and item.outcome.value != decided.value:
        errors["meeting_agenda_item_id"] = msg("The minutes of this agenda item record a different outcome.")
    return item


def _check_poll(poll: PollOutcome | None, errors: dict[str, Message | str]) -> tuple[Outcome | None, date | None]:
    if poll is None or not poll.reference or len(poll.reference) > POLL_REFERENCE_MAX \
            or not 0 <= poll.ballots_cast <= poll.eligible or any(n < 0 for _, n in poll.counts) \
            or len(poll.explanation) > POLL_EXPLANATION_MAX:
        errors["poll"] = msg("The poll result is incomplete; record it again from the closed poll.")
        return None, None
    return (Outcome.agreed if poll.passed else Outcome.not_agreed), poll.closed_at.astimezone(TIMEZONE).date()


def _poll_columns(poll: PollOutcome | None) -> dict[str, Any]:
    if poll is None:
        return {}
    return {"poll_reference": poll.reference, "poll_eligible": poll.eligible, "poll_ballots_cast": poll.ballots_cast,
            "poll_counts": {"options": [[label, n] for label, n in poll.counts]}, "poll_passed": poll.passed,
            "poll_explanation": poll.explanation or None}


async def _check_actions(
    session: AsyncSession, topic: Topic, decided: Outcome | None, drafts: Sequence[ActionDraft], today: date,
    errors: dict[str, Message | str],
) -> list[tuple[str, Unit, date]]:
    filled = [(i, draft) for i, draft in enumerate(drafts) if not draft.blank]
    if decided is Outcome.not_agreed:
        if filled:
            errors["actions"] = msg("A decision that was not agreed has no agreed actions; clear the action rows.")
        return []
    if decided is Outcome.agreed and not filled:
        errors["actions"] = msg("List at least one agreed action: what will be done, by which unit and by when.")
    if len(filled) > MAX_ACTIONS:
        errors["actions"] = msg("List at most {n} actions.", n=MAX_ACTIONS)
        return []
    units = {unit.id: unit for unit in await unit_choices(session, topic.community)}
    rows = []
    for i, draft in filled:
        description = draft.description.strip()
        if problem := check_length(description, minimum=1, maximum=ACTION_DESCRIPTION_MAX):
            errors[action_field(i, "description")] = problem
        unit = units.get(parse_id(draft.unit_id) or 0)
        if unit is None:
            errors[action_field(i, "unit_id")] = msg("Choose the unit proposed to carry this out.")
        target = _parse_date(draft.target_date)
        if target is None:
            errors[action_field(i, "target_date")] = msg("Enter a date like 2026-12-31.") if \
                draft.target_date.strip() else msg("Enter the target date.")
        elif target <= today:
            errors[action_field(i, "target_date")] = msg("The target date must be in the future.")
        elif target > today + timedelta(days=TARGET_HORIZON_DAYS):
            errors[action_field(i, "target_date")] = msg("Choose a target date within five years.")
        if unit is not None and target is not None:
            rows.append((description, unit, target))
    return rows


def _parse_date(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        return None


# --- reads ---------------------------------------------------------------------------------------

async def resolution_of(session: AsyncSession, topic_id: int) -> Resolution | None:
    """The topic's resolution with its minutes' agenda item, its actions and their units (``None`` while
    undecided): two statements, the second only for a decided topic."""
    return await session.scalar(
        select(Resolution).where(Resolution.topic_id == topic_id)
        .options(selectinload(Resolution.actions).joinedload(AgreedAction.unit, innerjoin=True),
                 joinedload(Resolution.meeting_agenda_item))
    )


async def published_minutes_for(session: AsyncSession, topic: Topic) -> list[MeetingAgendaItem]:
    """This topic's agenda items at sessions whose minutes are published, newest session first."""
    return list((await session.scalars(
        select(MeetingAgendaItem).join(Meeting, Meeting.id == MeetingAgendaItem.meeting_id)
        .where(MeetingAgendaItem.topic_id == topic.id, Meeting.state == MeetingState.minutes_published,
               MeetingAgendaItem.minutes_text.is_not(None))
        .options(selectinload(MeetingAgendaItem.meeting))
        .order_by(Meeting.starts_at.desc(), MeetingAgendaItem.id)
    )).all())


@dataclass(frozen=True)
class RecentResolution:
    """A line of an area page's "recent resolutions": the resolution (its topic and the topic's area
    loaded) and how many actions were agreed."""

    resolution: Resolution
    actions: int


async def recent_in(session: AsyncSession, area: Area, limit: int = 5) -> list[RecentResolution]:
    """The latest resolutions on topics in ``area`` and below, newest first: one statement."""
    scope = _recent_scope(area.level)
    params = {"limit": limit, "scope": area.path if scope is _Scope.path else area.id}
    rows = (await session.execute(_recent_statement(scope), params)).all()
    return [RecentResolution(row[0], row[1]) for row in rows]


class _Scope(enum.Enum):
    """How ``recent_in`` finds an area's topics: a compound's by their area, a community's by their
    community (both indexed), a higher area's by the path prefix of their area (no index serves ``LIKE
    :path || '%'`` under a non-C collation: it reads the areas, of which there are a few thousand)."""

    compound = "compound"
    community = "community"
    path = "path"


def _recent_scope(level: AreaLevel) -> _Scope:
    return {AreaLevel.compound: _Scope.compound, AreaLevel.community: _Scope.community}.get(level, _Scope.path)


@cache
def _recent_statement(scope: _Scope) -> Select[Any]:
    """``recent_in``'s statement, built once per scope; parameters ``:scope`` (an area id or a path) and
    ``:limit``. The topic and its area come from the joins, the number of actions from a correlated count."""
    actions = (select(func.count(AgreedAction.id)).where(AgreedAction.resolution_id == Resolution.id)
               .correlate(Resolution).scalar_subquery())
    query = (select(Resolution, actions).join(Topic, Topic.id == Resolution.topic_id)
             .join(Area, Area.id == Topic.area_id))
    if scope is _Scope.path:
        query = query.where(Area.path.startswith(bindparam("scope", type_=String)))
    else:  # the state lets PostgreSQL start from the area's few decided topics (ix_topic_community_state)
        column = Topic.area_id if scope is _Scope.compound else Topic.community_id
        query = query.where(column == bindparam("scope", type_=Integer), Topic.state.in_(rules.DECIDED_STATES))
    return (query.options(contains_eager(Resolution.topic).contains_eager(Topic.area))
            .order_by(Resolution.recorded_at.desc(), Resolution.id.desc()).limit(bindparam("limit", type_=Integer)))
