"""The topic lifecycle as data: which state may follow which, and who drives each step.

``SYSTEM`` steps happen on their own (a new topic starts collecting; enough co-signs send it to
triage); ``WORKER`` steps are actions of a worker of the topic's community (or an admin). Later
issues (sessions, polls, tasks, ratings) drive some worker steps automatically through the same
``services.transition``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from consultation.deliberation.models import TopicState as S
from consultation.errors import N_


class By(enum.Enum):
    SYSTEM = "system"
    WORKER = "worker"


@dataclass(frozen=True)
class Step:
    source: S
    target: S
    by: By
    label: str  # message id of the action, as a worker's button reads
    needs_reason: bool = False
    # Taken only by recording a resolution (``deliberation.resolutions``), never by the generic form.
    needs_resolution: bool = False


STEPS: tuple[Step, ...] = (
    Step(S.proposed, S.collecting, By.SYSTEM, N_("Start collecting co-signs")),
    Step(S.collecting, S.triage, By.SYSTEM, N_("Send to the workers' review")),
    Step(S.triage, S.deliberating, By.WORKER, N_("Accept onto the agenda")),
    Step(S.triage, S.declined, By.WORKER, N_("Decline"), needs_reason=True),
    Step(S.triage, S.referred, By.WORKER, N_("Refer elsewhere"), needs_reason=True),
    Step(S.triage, S.merged, By.WORKER, N_("Merge into another topic")),
    Step(S.deliberating, S.deciding, By.WORKER, N_("Move to the decision")),
    Step(S.deciding, S.decided_agreed, By.WORKER, N_("Record the decision: agreed"), needs_resolution=True),
    Step(S.deciding, S.decided_not_agreed, By.WORKER, N_("Record the decision: not agreed"),
         needs_resolution=True),
    Step(S.decided_agreed, S.publicised, By.WORKER, N_("Publicise the decision")),
    Step(S.decided_not_agreed, S.publicised, By.WORKER, N_("Publicise the decision")),
    Step(S.publicised, S.in_action, By.WORKER, N_("Start carrying it out")),
    Step(S.in_action, S.evaluated, By.WORKER, N_("Close after the residents' evaluation")),
)
_BY_PAIR = {(step.source, step.target): step for step in STEPS}

# Topics still open: they can receive a merge and show up as "similar" first.
OPEN_STATES = frozenset({S.collecting, S.triage, S.deliberating, S.deciding})
TRIAGE_EXITS = frozenset({S.deliberating, S.declined, S.referred, S.merged})
# Exits a worker takes from the generic "next step" form; triage exits have their own forms.
ADVANCE_SOURCES = frozenset({step.source for step in STEPS if step.by is By.WORKER} - {S.triage})


def _reachable_from(states: frozenset[S]) -> frozenset[S]:
    found = set(states)
    while grown := {s.target for s in STEPS if s.source in found} - found:
        found |= grown
    return frozenset(found)


# The states of a topic that has a resolution: a resolution is recorded on the way into them, and no
# step leads back out (queries use this to find decided topics by an index on the state).
DECIDED_STATES = _reachable_from(frozenset({step.target for step in STEPS if step.needs_resolution}))


def step(source: S, target: S) -> Step | None:
    return _BY_PAIR.get((source, target))


def next_steps(source: S, by: By | None = None) -> list[Step]:
    return [s for s in STEPS if s.source is source and (by is None or s.by is by)]


# The five 民 steps (DESIGN §1) and which states belong to each, for the progress indicator.
FIVE_STEPS: tuple[tuple[str, frozenset[S]], ...] = (
    (N_("Residents raise it"), frozenset({S.proposed, S.collecting, S.triage})),
    (N_("Residents deliberate"), frozenset({S.deliberating})),
    (N_("Residents decide"), frozenset({S.deciding, S.decided_agreed, S.decided_not_agreed, S.publicised})),
    (N_("It gets done"), frozenset({S.in_action})),
    (N_("Residents rate it"), frozenset({S.evaluated})),
)
CLOSED_EARLY = frozenset({S.declined, S.referred, S.merged})


def five_step_index(state: S) -> int | None:
    """Which of the five steps a state is in (``None`` for a topic closed at triage)."""
    return next((i for i, (_, states) in enumerate(FIVE_STEPS) if state in states), None)
