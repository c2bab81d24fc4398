"""Who may record a topic's resolution. Resolutions themselves are public, like the topic.

``record_resolution_problem`` is the reason a person reads when they may not (the predicate's twin,
as in ``deliberation.policy``); ``refusal`` turns it into the error the service and the form raise."""

from __future__ import annotations

from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.policy import is_staff_of
from consultation.errors import N_, DomainError, Forbidden, InvalidState, Message, msg
from consultation.policy import Actor, permission

NOT_DECIDING = N_("Only a topic being decided can get its resolution; this one is “{state}”.")


def record_resolution_problem(actor: Actor, topic: Topic) -> Message | None:
    if not may_record_for(actor, topic):
        return msg(Forbidden.default)
    if topic.state is not TopicState.deciding:
        return msg(NOT_DECIDING, state=topic.state.label)
    return None


@permission("deliberation.record_resolution")
def can_record_resolution(actor: Actor, topic: Topic) -> bool:
    """Workers of the topic's community (or an admin), while the topic is being decided."""
    return record_resolution_problem(actor, topic) is None


def may_record_for(actor: Actor, topic: Topic) -> bool:
    """Staff of the topic's community, whatever its state: they reach the form (and its explanation)."""
    return is_staff_of(actor, topic.community)


def refusal(problem: Message) -> DomainError:
    """The error for a ``record_resolution_problem``: a topic in another state is a state problem
    (HTTP 409, with the state named); anything else is forbidden."""
    return InvalidState(problem) if problem.msgid == NOT_DECIDING else Forbidden(problem)
