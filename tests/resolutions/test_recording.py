"""Recording a decision through the worker's form: consensus with actions, not agreed, who may do it,
the generic "next step" form no longer deciding, and bad input that keeps the form and saves nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from consultation.audit import AuditEvent
from consultation.deliberation import queries as topics
from consultation.deliberation import rules, services
from consultation.deliberation.models import TopicState
from consultation.deliberation.resolution_models import ActionStatus, AgreedAction, Method, Outcome, Resolution
from consultation.errors import InvalidState
from consultation.notifications.models import Notification
from tests.areas.helpers import section
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import actor_of, in_triage, make_world
from tests.factories import PASSWORD, identifier
from tests.resolutions.helpers import consensus_form, deciding, in_days, units


async def log_in(client: WebClient, user: Any) -> WebClient:
    await client.login(identifier(user), PASSWORD)
    return client


async def count(db: Any, model: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count(model.id)).where(*where)) or 0)


async def test_a_consensus_with_actions_decides_the_topic_and_tells_its_followers(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, office, _ = await units(db, world)
    await log_in(client, world.worker_a)
    page = await client.get(f"/topics/{topic.id}")
    assert f'href="/topics/{topic.id}/resolution"' in page.text
    form_page = await client.get(f"/topics/{topic.id}/resolution")
    assert form_page.status_code == 200
    assert form_page.text.count('name="action_') == 15  # five empty rows of three fields
    assert street.name in form_page.text and office.name in form_page.text
    response = await client.submit(f"/topics/{topic.id}/resolution", consensus_form(
        ("更换楼道灯", street.id, in_days(14)), ("", "", ""), ("加装声控开关", office.id, in_days(30))))
    assert response.status_code == 303 and response.headers["location"] == f"/topics/{topic.id}"

    await db.refresh(topic)
    assert topic.state is TopicState.decided_agreed
    resolution = await db.scalar(select(Resolution).where(Resolution.topic_id == topic.id))
    assert resolution.outcome is Outcome.agreed and resolution.method is Method.consensus
    assert resolution.recorded_by_id == world.worker_a.id and resolution.recorded_by_role.value == "worker"
    actions = (await db.scalars(select(AgreedAction).where(AgreedAction.resolution_id == resolution.id)
                                .order_by(AgreedAction.position))).all()
    assert [(a.position, a.description, a.unit_id, a.status) for a in actions] == [
        (1, "更换楼道灯", street.id, ActionStatus.proposed), (2, "加装声控开关", office.id, ActionStatus.proposed)]
    event = await db.scalar(select(AuditEvent).where(AuditEvent.action == "resolution.recorded"))
    assert event.actor_id == world.worker_a.id and event.after["outcome"] == "agreed"
    assert [a["id"] for a in event.after["actions"]] == [a.id for a in actions]
    # the author follows their topic and hears of the decision
    assert await count(db, Notification, Notification.user_id == world.author.id, Notification.kind == "topic.state",
                       Notification.url == f"/topics/{topic.id}") >= 1

    public = (await client.get(f"/topics/{topic.id}")).text
    shown = text_of(section(public, "section", 'aria-labelledby="resolution-heading"'))
    for text in ["同意更换3号楼楼道灯", "更换楼道灯", "加装声控开关", street.name, office.name, "居委会存档"]:
        assert text in shown
    assert f'datetime="{in_days(14)}"' in public
    # done once: the same form again is refused and adds nothing
    again = await client.submit(f"/topics/{topic.id}/resolution",
                                consensus_form(("更换楼道灯", street.id, in_days(14))))
    assert again.status_code == 409
    assert await count(db, Resolution, Resolution.topic_id == topic.id) == 1


async def test_not_agreed_needs_no_actions_and_refuses_them(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, _ = await units(db, world)
    await log_in(client, world.worker_a)
    with_action = await client.submit(f"/topics/{topic.id}/resolution", consensus_form(
        ("更换楼道灯", street.id, in_days(5)), outcome="not_agreed"))
    assert with_action.status_code == 422 and 'id="f-actions-error"' in with_action.text
    done = await client.submit(f"/topics/{topic.id}/resolution", consensus_form(
        outcome="not_agreed", summary="多数居民认为现有照明足够，暂不更换。"))
    assert done.status_code == 303
    await db.refresh(topic)
    assert topic.state is TopicState.decided_not_agreed
    resolution = await db.scalar(select(Resolution).where(Resolution.topic_id == topic.id))
    assert resolution.outcome is Outcome.not_agreed
    assert await count(db, AgreedAction, AgreedAction.resolution_id == resolution.id) == 0
    assert "多数居民认为现有照明足够" in text_of((await client.get(f"/topics/{topic.id}")).text)


async def test_only_workers_of_the_topics_community_record_its_decision(make_client: Any, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, _ = await units(db, world)
    url = f"/topics/{topic.id}/resolution"
    data = consensus_form(("更换楼道灯", street.id, in_days(14)))
    anonymous = make_client()
    assert (await anonymous.get(url)).status_code == 303
    assert (await anonymous.submit(url, data)).status_code == 303
    for person in (world.worker_b, world.author, world.neighbours[0], world.outsider):
        client = await log_in(make_client(), person)
        assert (await client.get(url)).status_code == 403
        assert (await client.submit(url, data)).status_code == 403
        assert f'href="{url}"' not in (await client.get(f"/topics/{topic.id}")).text
    await db.refresh(topic)
    assert topic.state is TopicState.deciding and await count(db, Resolution) == 0
    admin = await log_in(make_client(), world.admin)
    assert (await admin.get(url)).status_code == 200
    assert (await admin.submit(url, data)).status_code == 303
    resolution = await db.scalar(select(Resolution).where(Resolution.topic_id == topic.id))
    assert resolution.recorded_by_role.value == "admin"


async def test_a_topic_not_being_decided_has_no_resolution_form(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    deliberating = await in_triage(db, world, title="北门自行车棚漏雨")
    await services.accept(db, actor_of(world.worker_a, world), deliberating)
    await log_in(client, world.worker_a)
    assert (await client.get(f"/topics/{deliberating.id}/resolution")).status_code == 409  # not yet deciding
    assert (await client.submit(f"/topics/{topic.id}/resolution", consensus_form(outcome="not_agreed"))).status_code \
        == 303
    assert (await client.get(f"/topics/{topic.id}/resolution")).status_code == 409  # already decided
    assert (await client.submit(f"/topics/{topic.id}/resolution", consensus_form(outcome="not_agreed"))).status_code \
        == 409
    assert await count(db, Resolution, Resolution.topic_id == topic.id) == 1


async def test_the_next_step_form_can_no_longer_decide_without_a_resolution(client: WebClient, make_client: Any,
                                                                             db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    await log_in(client, world.worker_a)
    page = await client.get(f"/topics/{topic.id}")
    assert 'value="decided_agreed"' not in page.text and 'value="decided_not_agreed"' not in page.text
    for target in ("decided_agreed", "decided_not_agreed"):
        response = await client.submit(f"/topics/{topic.id}/advance", {"to_state": target})
        assert response.status_code == 303 and response.headers["location"] == f"/topics/{topic.id}/resolution"
    topic = await topics.get_topic(db, topic.id)
    await db.refresh(topic, ["state"])
    assert topic.state is TopicState.deciding
    try:
        await services.transition(db, topic, TopicState.decided_agreed, actor_of(world.worker_a, world))
    except InvalidState:
        pass
    else:
        raise AssertionError("a decision without a resolution was accepted")
    assert topic.state is TopicState.deciding
    stranger = await log_in(make_client(), world.worker_b)
    refused = await stranger.submit(f"/topics/{topic.id}/advance", {"to_state": "decided_agreed"})
    assert refused.status_code == 403


async def test_bad_input_comes_back_filled_in_and_saves_nothing(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, other = await units(db, world)
    await log_in(client, world.worker_a)
    url = f"/topics/{topic.id}/resolution"
    cases: list[tuple[dict[str, str], list[str]]] = [
        (consensus_form(("更换楼道灯", street.id, in_days(3)), summary=""), ["summary"]),
        (consensus_form(), ["actions"]),  # agreed with no actions
        (consensus_form(("更换楼道灯", "", "")), ["action_0_unit_id", "action_0_target_date"]),
        (consensus_form(("更换楼道灯", street.id, in_days(-1))), ["action_0_target_date"]),
        (consensus_form(("更换楼道灯", street.id, in_days(0))), ["action_0_target_date"]),
        (consensus_form(("更换楼道灯", street.id, "31/12/2026")), ["action_0_target_date"]),
        (consensus_form(("更换楼道灯", other.id, in_days(3))), ["action_0_unit_id"]),  # B's unit
        (consensus_form(("", street.id, in_days(3))), ["action_0_description"]),
        (consensus_form(("灯" * 501, street.id, in_days(3))), ["action_0_description"]),
        (consensus_form(("更换楼道灯", street.id, in_days(3)), summary="决" * 2001), ["summary"]),
        (consensus_form(("更换楼道灯", street.id, in_days(3)), minutes_reference=""), ["minutes_reference"]),
        (consensus_form(("更换楼道灯", street.id, in_days(3)), decided_on=in_days(1)), ["decided_on"]),
        (consensus_form(("更换楼道灯", street.id, in_days(3)), outcome=""), ["outcome"]),
    ]
    for data, fields in cases:
        response = await client.submit(url, data)
        assert response.status_code == 422, (data, response.status_code)
        for field in fields:
            assert f'id="f-{field}-error"' in response.text, (field, data)
        if data.get("summary") and len(data["summary"]) < 100:
            assert data["summary"] in response.text  # typed text comes back
        if data.get("action_0_description") == "更换楼道灯":
            assert 'value="更换楼道灯"' in response.text
    await db.refresh(topic)
    assert topic.state is TopicState.deciding
    assert await count(db, Resolution) == 0 and await count(db, AgreedAction) == 0


async def test_more_rows_without_javascript_keeps_what_was_typed(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    street, _, _ = await units(db, world)
    await log_in(client, world.worker_a)
    url = f"/topics/{topic.id}/resolution"
    more = await client.submit(url, consensus_form(("更换楼道灯", street.id, in_days(9)), more_rows="1"))
    assert more.status_code == 200
    assert more.text.count('name="action_') == 30 and 'name="rows" value="10"' in more.text
    assert 'value="更换楼道灯"' in more.text and f'value="{in_days(9)}"' in more.text
    await db.refresh(topic)
    assert topic.state is TopicState.deciding and await count(db, Resolution) == 0
    rows = consensus_form(*[(f"第{i}项", street.id, in_days(10 + i)) for i in range(20)], rows="20")
    assert 'name="more_rows"' not in (await client.submit(url, {**rows, "more_rows": "1"})).text  # 20 is the cap
    assert (await client.submit(url, rows)).status_code == 303
    resolution = await db.scalar(select(Resolution).where(Resolution.topic_id == topic.id))
    assert await count(db, AgreedAction, AgreedAction.resolution_id == resolution.id) == 20


def test_the_decided_states_are_those_after_a_resolution_and_none_leads_out() -> None:
    """``rules.DECIDED_STATES`` (which the area page's "recent resolutions" filters on) is every state a
    topic with a resolution can be in: entered only by recording one, and closed under the lifecycle."""
    assert rules.DECIDED_STATES == {TopicState.decided_agreed, TopicState.decided_not_agreed, TopicState.publicised,
                                    TopicState.in_action, TopicState.evaluated}
    for step in rules.STEPS:
        if step.source in rules.DECIDED_STATES:
            assert step.target in rules.DECIDED_STATES, step
        elif step.target in rules.DECIDED_STATES:
            assert step.needs_resolution, step
