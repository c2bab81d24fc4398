"""Recording a resolution goes through the permission layer (``deliberation.record_resolution``), with
the reason people read kept by its ``*_problem`` twin; and the service's notion of "today" is the one
local clock the web layer uses too."""

from __future__ import annotations

from typing import Any

import pytest

from consultation import clock, policy
from consultation.deliberation import resolution_policy, resolutions
from consultation.deliberation.models import TopicState
from consultation.deliberation.resolution_models import Method
from consultation.errors import Forbidden, InvalidState
from tests.deliberation.helpers import actor_of, make_world
from tests.resolutions.helpers import deciding, in_days, today, units
from web import i18n
from web.routes import meetings as meeting_routes
from web.routes import worker as worker_routes


async def _record(db: Any, actor: Any, topic: Any, unit_id: int) -> Any:
    return await resolutions.record_resolution(
        db, actor, topic, method=Method.consensus, summary="同意换灯", outcome="agreed",
        decided_on=today().isoformat(), minutes_reference="居委会存档",
        actions=[resolutions.ActionDraft("换灯", str(unit_id), in_days(30))])


async def test_the_service_asks_the_registered_permission(db: Any, monkeypatch: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await deciding(db, world)
    _, office, _ = await units(db, world)
    # the registered predicate is what decides: refusing it refuses even the community's worker
    monkeypatch.setitem(policy._registry, "deliberation.record_resolution", lambda actor, obj: False)
    with pytest.raises(Forbidden):
        await _record(db, actor_of(world.worker_a, world), topic, office.id)
    assert topic.state is TopicState.deciding
    monkeypatch.undo()
    resolution = await _record(db, actor_of(world.worker_a, world), topic, office.id)
    assert resolution.topic_id == topic.id and topic.state is TopicState.decided_agreed


async def test_refusals_keep_their_wording(db: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await deciding(db, world)
    _, office, _ = await units(db, world)
    with pytest.raises(Forbidden) as forbidden:
        await _record(db, actor_of(world.worker_b, world), topic, office.id)  # another community's worker
    assert forbidden.value.message.msgid == Forbidden.default
    await _record(db, actor_of(world.worker_a, world), topic, office.id)
    with pytest.raises(InvalidState) as wrong_state:
        await _record(db, actor_of(world.worker_a, world), topic, office.id)
    assert wrong_state.value.message.msgid == resolution_policy.NOT_DECIDING
    assert wrong_state.value.message.params == {"state": TopicState.decided_agreed.label}
    problem = resolution_policy.record_resolution_problem(actor_of(world.worker_a, world), topic)
    assert problem is not None and problem.msgid == resolution_policy.NOT_DECIDING


def test_one_local_clock_and_one_console_gate() -> None:
    assert i18n.TIMEZONE is clock.TIMEZONE
    assert resolutions.local_today is clock.local_today
    assert str(clock.TIMEZONE) == "Asia/Shanghai"
    assert not hasattr(resolutions, "LOCAL_TIME")
    assert meeting_routes.require_console is worker_routes.require_console
    assert not hasattr(meeting_routes, "_console")
