"""Role × state: only staff of the topic's community record its resolution, and only while it is decided."""

from __future__ import annotations

from typing import Any

import pytest

from consultation.deliberation.models import Category, Topic, TopicState
from consultation.policy import can
from tests.deliberation.helpers import make_world
from tests.deliberation.test_policy_matrix import actors


@pytest.mark.parametrize("state", [s for s in TopicState], ids=lambda s: s.value)
async def test_who_may_record_a_resolution(db: Any, state: TopicState) -> None:
    world = await make_world(db, neighbours=1)
    topic = Topic(id=1, title="t", description="d", category=Category.other, state=state,
                  author_id=world.author.id, community_id=world.city.community_a.id,
                  community=world.city.community_a, cosign_count=0)
    allowed = {role for role, actor in actors(world).items() if can(actor, "deliberation.record_resolution", topic)}
    assert allowed == ({"worker_a", "admin"} if state is TopicState.deciding else set())
