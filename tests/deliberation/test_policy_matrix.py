"""Role × action × state: who may do what to a topic, for every role and several states."""

from __future__ import annotations

from typing import Any

import pytest

from consultation.deliberation.models import Category, Topic, TopicState
from consultation.policy import ANONYMOUS, Actor, can
from tests.deliberation.helpers import World, actor_of, make_world

STATES = [TopicState.collecting, TopicState.triage, TopicState.deliberating, TopicState.publicised,
          TopicState.declined, TopicState.merged]
ROLES = ["anonymous", "resident", "verified_resident", "author", "outsider", "worker_a", "worker_b", "admin"]
STAFF_A = {"worker_a", "admin"}


def expected(role: str, action: str, state: TopicState) -> bool:
    if action == "propose":
        return role in {"resident", "verified_resident", "author"}
    if action == "cosign":
        return role == "verified_resident" and state is TopicState.collecting
    if action == "follow":
        return role != "anonymous"
    if action == "triage":
        return role in STAFF_A and state is TopicState.triage
    if action == "advance":
        return role in STAFF_A and state in {TopicState.deliberating, TopicState.publicised}
    raise AssertionError(action)


def actors(world: World) -> dict[str, Actor]:
    return {
        "anonymous": ANONYMOUS,
        "resident": actor_of(world.unverified, world),
        "verified_resident": actor_of(world.neighbours[0], world),
        "author": actor_of(world.author, world),
        "outsider": actor_of(world.outsider, world),
        "worker_a": actor_of(world.worker_a, world),
        "worker_b": actor_of(world.worker_b, world),
        "admin": actor_of(world.admin, world),
    }


@pytest.mark.parametrize("state", STATES, ids=lambda s: s.value)
async def test_permission_matrix(db: Any, state: TopicState) -> None:
    world = await make_world(db, neighbours=1)
    topic = Topic(id=1, title="t", description="d", category=Category.other, state=state,
                  author_id=world.author.id, community_id=world.city.community_a.id,
                  community=world.city.community_a, cosign_count=0)
    community = world.city.community_a
    wrong = []
    for role, actor in actors(world).items():
        for action in ("propose", "cosign", "follow", "triage", "advance"):
            obj = community if action == "propose" else topic
            allowed = can(actor, f"deliberation.{action}", obj)
            if allowed != expected(role, action, state):
                wrong.append((role, action, state.value, allowed))
    assert wrong == []


async def test_no_one_proposes_above_or_below_a_community(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    for who in actors(world).values():
        assert not can(who, "deliberation.propose", world.city.street)
        assert not can(who, "deliberation.propose", world.city.compound_a)


async def test_the_triage_queue_is_for_workers_and_admins(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    allowed = {role for role, actor in actors(world).items() if can(actor, "deliberation.triage_queue")}
    assert allowed == {"worker_a", "worker_b", "admin"}
