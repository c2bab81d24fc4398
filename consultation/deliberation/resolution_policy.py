"""Who may record a topic's resolution. Resolutions themselves are public, like the topic."""

from __future__ import annotations

from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.policy import is_staff_of
from consultation.policy import Actor, permission


@permission("deliberation.record_resolution")
def can_record_resolution(actor: Actor, topic: Topic) -> bool:
    """Workers of the topic's community (or an admin), while the topic is being decided."""
    return topic.state is TopicState.deciding and is_staff_of(actor, topic.community)


def may_record_for(actor: Actor, topic: Topic) -> bool:
    """Staff of the topic's community, whatever its state: they reach the form (and its explanation)."""
    return is_staff_of(actor, topic.community)
