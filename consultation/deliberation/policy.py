"""Deliberation permissions as named predicates. Each predicate that refuses with a reason people
should read has a ``*_problem`` twin returning that reason; services raise it, templates show it."""

from __future__ import annotations

from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel
from consultation.deliberation import rules
from consultation.deliberation.models import Topic, TopicState
from consultation.errors import N_, Message, msg
from consultation.policy import Actor, permission

NOT_COLLECTING = N_("This topic is no longer collecting co-signs.")


def is_staff_of(actor: Actor, community: Area) -> bool:
    """A worker of the community (or of an area above it), or an admin."""
    return actor.is_admin or actor.has_role_over(Role.worker, community.path)


def propose_problem(actor: Actor, community: Area) -> Message | None:
    if not actor.authenticated:
        return msg("Please log in first.")
    if community.level is not AreaLevel.community:
        return msg("Topics are raised in a community.")
    if actor.home_area_path != community.path:
        return msg("Only residents of {community} can raise topics here.", community=community.name)
    return None


@permission("deliberation.propose")
def can_propose(actor: Actor, community: Area) -> bool:
    """Any signed-in resident whose home community is this one (verification is needed to co-sign)."""
    return propose_problem(actor, community) is None


def cosign_problem(actor: Actor, topic: Topic) -> Message | None:
    if not actor.authenticated:
        return msg("Please log in first.")
    if actor.user_id == topic.author_id:
        return msg("You proposed this topic, so you cannot co-sign it.")
    if actor.home_area_path != topic.community.path:
        return msg("Only residents of {community} can co-sign this topic.", community=topic.community.name)
    if not actor.verified:
        return msg("Only verified residents can co-sign. A community worker verifies you in person or from "
                   "the household register.")
    if topic.state is not TopicState.collecting:
        return msg(NOT_COLLECTING)
    return None


@permission("deliberation.cosign")
def can_cosign(actor: Actor, topic: Topic) -> bool:
    """Verified residents of the topic's community, not the author, while co-signs are collected."""
    return cosign_problem(actor, topic) is None


@permission("deliberation.follow")
def can_follow(actor: Actor, _: object = None) -> bool:
    """Anyone signed in may follow a public topic."""
    return actor.authenticated


@permission("deliberation.triage_queue")
def can_open_triage_queue(actor: Actor, _: object = None) -> bool:
    return actor.is_admin or Role.worker in actor.roles()


@permission("deliberation.triage")
def can_triage(actor: Actor, topic: Topic) -> bool:
    """Accept, merge, decline or refer: staff of the topic's community, while it waits in triage."""
    return topic.state is TopicState.triage and is_staff_of(actor, topic.community)


@permission("deliberation.advance")
def can_advance(actor: Actor, topic: Topic) -> bool:
    """The worker steps after triage (to the decision, publicity, action, evaluation)."""
    return topic.state in rules.ADVANCE_SOURCES and is_staff_of(actor, topic.community)
