"""Polls as workers run them: drafting (and its validation), the roll frozen at opening for every kind
of eligibility, cancelling, closing (result, rule, chain; idempotent), the periodic jobs, the topic
hand-off and the permission matrix."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import func, select

from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.deliberation import resolutions
from consultation.deliberation.models import TopicState
from consultation.deliberation.resolution_models import Method
from consultation.errors import Forbidden, InvalidState, NotFound, ValidationFailed
from consultation.notifications.models import Notification
from consultation.policy import ANONYMOUS, Actor, can
from consultation.voting import ballots, chain, queries, reminders, services
from consultation.voting.models import PollChainEntry, PollState, PollVoter, RuleKind
from tests.deliberation.helpers import World, actor_of, make_world
from tests.resolutions.helpers import deciding
from tests.voting.helpers import (
    RECEIPT_KEY,
    draft,
    make_poll,
    move_closing,
    option,
    outside_household,
    resident,
    voters_of,
    worker,
)
from tests.web.test_query_counts import statements


async def actions(db: Any, poll_id: int) -> list[str]:
    return list((await db.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "poll",
                                                                  AuditEvent.object_id == str(poll_id))
                                  .order_by(AuditEvent.id))).all())


async def vote(db: Any, world: World, poll: Any, people: list[Any], choice: str) -> None:
    for person in people:
        await ballots.cast_ballot(db, resident(person, world), poll, [option(poll, choice)], receipt_key=RECEIPT_KEY)


# --- drafting ---------------------------------------------------------------------------------------

async def test_a_yes_no_poll_gets_its_three_options_and_is_audited(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, opened=False)
    assert poll.state is PollState.draft
    assert [(o.position, o.code, o.label) for o in poll.options] == [
        (1, "yes", "赞成"), (2, "no", "反对"), (3, "abstain", "弃权")]
    assert poll.secret and poll.results_hidden_until_close and not poll.allow_change
    assert await actions(db, poll.id) == ["poll.created"]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"title": "  "}, "title"),
    ({"closes_at": utcnow() - timedelta(minutes=1)}, "closes_at"),
    ({"closes_at": None}, "closes_at"),
    ({"opens_at": utcnow() + timedelta(days=5)}, "closes_at"),
    ({"kind": "plebiscite"}, "kind"),
    ({"eligibility": "everyone"}, "eligibility"),
    ({"rule": "art278_major"}, "rule"),  # needs an owners' yes/no poll
    ({"rule": "custom", "quorum": Fraction(1, 2)}, "threshold"),
    ({"rule": "custom", "quorum": Fraction(3, 2), "threshold": Fraction(1, 2)}, "quorum"),
    ({"kind": "single", "options": ["甲方案"]}, "options"),
    ({"kind": "single", "options": ["甲方案", "甲方案"]}, "options"),
    ({"kind": "multiple", "options": ["甲", "乙", "丙"], "min_choices": 0, "max_choices": 2}, "min_choices"),
    ({"kind": "multiple", "options": ["甲", "乙", "丙"], "min_choices": 2, "max_choices": 4}, "max_choices"),
])
async def test_a_bad_draft_is_refused_beside_its_field(db: Any, overrides: dict[str, Any], field: str) -> None:
    world = await make_world(db)
    with pytest.raises(ValidationFailed) as refused:
        await services.create_poll(db, worker(world), world.city.community_a, draft(**overrides))
    assert field in refused.value.errors


async def test_owners_decisions_are_never_secret_and_drafts_can_be_edited(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, opened=False, eligibility="owners", rule="art278_major", secret=True)
    assert poll.secret is False
    await services.update_poll(db, worker(world), poll, draft(kind="single", options=["方案一", "方案二"],
                                                            title="选择改造方案"))
    poll = await queries.get_poll(db, poll.id)
    assert poll.title == "选择改造方案" and [o.label for o in poll.options] == ["方案一", "方案二"]
    await services.open_poll(db, worker(world), poll)
    with pytest.raises(InvalidState):
        await services.update_poll(db, worker(world), poll, draft())
    assert await actions(db, poll.id) == ["poll.created", "poll.updated", "poll.opened"]


async def test_custom_rule_keeps_its_fractions(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, opened=False, rule="custom", quorum=services.parse_fraction("1/2"),
                           threshold=services.parse_fraction("60%"))
    assert (poll.quorum_num, poll.quorum_den, poll.threshold_num, poll.threshold_den) == (1, 2, 3, 5)
    assert services.parse_fraction("0.75") == Fraction(3, 4) and services.parse_fraction("1/0") is None


# --- the roll ---------------------------------------------------------------------------------------

async def roll_users(db: Any, poll: Any) -> set[int | None]:
    return set((await db.scalars(select(PollVoter.user_id).where(PollVoter.poll_id == poll.id))).all())


async def test_the_roll_of_verified_residents_is_frozen_at_opening(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    assert await roll_users(db, poll) == {u.id for u in voters_of(world)}  # not the unverified, outsider, worker
    assert poll.eligible_count == 4 and poll.eligible_area == Decimal("4.00")
    _, late = await outside_household(db, world)  # verified after opening: not on the frozen roll
    assert late is not None and late.id not in await roll_users(db, poll)
    with pytest.raises(Forbidden):
        await ballots.cast_ballot(db, resident(late, world), poll, [option(poll, "yes")], receipt_key=RECEIPT_KEY)


async def test_all_residents_includes_the_unverified(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="all_residents")
    assert await roll_users(db, poll) == {u.id for u in voters_of(world)} | {world.unverified.id}


async def test_the_area_is_a_path_prefix(db: Any) -> None:
    world = await make_world(db)
    _, flat = await outside_household(db, world)
    community = await make_poll(db, world)
    compound = await make_poll(db, world, area=world.city.compound_a)
    assert flat is not None and flat.id in await roll_users(db, community)
    assert await roll_users(db, compound) == {u.id for u in voters_of(world)}  # only 1号院's households
    street_worker = Actor(user_id=world.admin.id, grants=actor_of(world.admin, world).grants)
    street = await services.create_poll(db, street_worker, world.city.street, draft())
    await services.open_poll(db, street_worker, await queries.get_poll(db, street.id))
    assert {world.outsider.id, world.neighbour_b.id} <= await roll_users(db, street)


async def test_household_and_owner_rolls(db: Any) -> None:
    world = await make_world(db)
    unknown, _ = await outside_household(db, world, floor_area=None, with_resident=False)
    households = await make_poll(db, world, eligibility="households")
    assert households.eligible_count == 4 and households.excluded_count is None
    # Owners: a home without a floor area would shrink the art. 278 denominators: refused until entered.
    draft_poll = await make_poll(db, world, eligibility="owners", rule="art278_ordinary", opened=False)
    with pytest.raises(InvalidState) as refused:
        await services.open_poll(db, worker(world), draft_poll)
    assert refused.value.message.msgid == services.NO_FLOOR_AREA and refused.value.message.params == {"n": 1}
    assert draft_poll.state is PollState.draft
    unknown.floor_area = Decimal("60.00")
    await db.flush()
    await services.open_poll(db, worker(world), draft_poll)
    owners = await queries.get_poll(db, draft_poll.id)
    # One entry per household, weighted by its floor area; nobody left off.
    assert owners.eligible_count == 4 and owners.excluded_count == 0
    assert owners.eligible_area == Decimal("60.00") + Decimal("81.50") + Decimal("82.50") + Decimal("83.50")
    weights = sorted((await db.scalars(select(PollVoter.weight).where(PollVoter.poll_id == owners.id))).all())
    assert weights == [Decimal("60.00"), Decimal("81.50"), Decimal("82.50"), Decimal("83.50")]


# --- cancelling ---------------------------------------------------------------------------------------

async def test_cancelling_needs_a_reason_and_stops_voting(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    with pytest.raises(ValidationFailed):
        await services.cancel_poll(db, worker(world), poll, " ")
    await services.cancel_poll(db, worker(world), poll, "方案需要重新论证")
    assert poll.state is PollState.cancelled and poll.cancel_reason == "方案需要重新论证"
    with pytest.raises(InvalidState):
        await ballots.cast_ballot(db, resident(world.author, world), poll, [option(poll, "yes")],
                                  receipt_key=RECEIPT_KEY)
    with pytest.raises(InvalidState):
        await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert await actions(db, poll.id) == ["poll.created", "poll.opened", "poll.cancelled"]


# --- closing ------------------------------------------------------------------------------------------

async def test_closing_counts_applies_the_rule_and_publishes_the_chain(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    yes, no = voters_of(world)[:3], voters_of(world)[3:]
    await vote(db, world, poll, yes, "yes")
    await vote(db, world, poll, no, "no")
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    result = queries.results(poll)
    assert result is not None and result["passed"] is True
    assert [(o["code"], o["ballots"], o["weight"]) for o in result["options"]] == [
        ("yes", 3, "3.00"), ("no", 1, "1.00"), ("abstain", 0, "0.00")]
    assert result["turnout"] == "1" and result["ballots"] == 4 and result["offline"] == 0
    assert result["measures"][0]["value"] == "3/4" and result["measures"][0]["required"] == "1/2"
    rows = await queries.chain(db, poll)
    assert [r.receipt_hash for r in rows] == sorted(r.receipt_hash for r in rows)
    entries = queries.as_chain(rows)
    assert chain.verify_chain(entries, expected_head=poll.chain_head) is None
    recount = services.compute_result(poll, poll.options, chain.recount(entries))
    assert {k: recount[k] for k in ("options", "passed", "measures")} == {
        k: result[k] for k in ("options", "passed", "measures")}
    # Closing again changes nothing.
    head = poll.chain_head
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert poll.chain_head == head
    assert await db.scalar(select(func.count(PollChainEntry.id)).where(PollChainEntry.poll_id == poll.id)) == 4
    assert (await actions(db, poll.id)).count("poll.closed") == 1


async def test_an_empty_poll_closes_with_the_genesis_head_and_fails(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    assert poll.chain_head == chain.GENESIS and poll.result is not None and poll.result["passed"] is False


async def test_an_owners_decision_under_article_278(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, eligibility="owners", rule=RuleKind.art278_ordinary)
    # Households 1 and 2 say yes, 3 says no: 2/3 of owners, 164/247.5 of the area take part... all do.
    people = voters_of(world)  # author: household 0; neighbours 0..2: households 1, 2, 0
    await vote(db, world, poll, [people[0], people[1]], "yes")
    await vote(db, world, poll, [people[2]], "no")
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    result = poll.result
    assert result is not None
    assert result["eligible_area"] == "247.50" and result["cast_area"] == "247.50"
    assert result["yes"] == {"ballots": 2, "weight": "164.00"}
    assert [m["passed"] for m in result["measures"]] == [True, True, True, True]
    assert result["passed"] is True


async def test_ranked_polls_store_their_rounds(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world, kind="ranked", options=["甲", "乙", "丙"], min_choices=1, max_choices=3)
    a, b, c = (option(poll, label) for label in ("甲", "乙", "丙"))
    papers = [[a, b], [b, a], [c, b], [a, c]]
    for person, choices in zip(voters_of(world), papers, strict=True):
        await ballots.cast_ballot(db, resident(person, world), poll, choices, receipt_key=RECEIPT_KEY)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    result = poll.result
    assert result is not None and result["rounds"] is not None and len(result["rounds"]) >= 2
    assert result["winner"] == a and result["leader"] == a


# --- periodic jobs --------------------------------------------------------------------------------------

async def test_due_polls_close_by_themselves(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    await vote(db, world, poll, [world.author], "yes")
    await move_closing(db, poll, utcnow() + timedelta(hours=1))
    assert await reminders.close_due_polls(db, receipt_key=RECEIPT_KEY) == 0
    assert await reminders.close_due_polls(db, now=utcnow() + timedelta(hours=2), receipt_key=RECEIPT_KEY) == 1
    poll = await queries.get_poll(db, poll.id)
    assert poll.state is PollState.closed and poll.result is not None and poll.result["ballots"] == 1
    assert await reminders.close_due_polls(db, now=utcnow() + timedelta(hours=2), receipt_key=RECEIPT_KEY) == 0
    closed = await db.scalar(select(AuditEvent).where(AuditEvent.action == "poll.closed",
                                                      AuditEvent.object_id == str(poll.id)))
    assert closed is not None and closed.actor_id is None


async def test_reminders_go_once_to_those_who_have_not_voted(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    households = await make_poll(db, world, eligibility="households")
    await vote(db, world, poll, [world.author], "yes")
    assert await reminders.send_vote_reminders(db) == 0  # closes in three days: too early
    soon = poll.closes_at - timedelta(hours=12)
    sent = await reminders.send_vote_reminders(db, now=soon)
    assert sent == 3 + 3  # three people of the first poll, the three households of the second
    assert await reminders.send_vote_reminders(db, now=soon + timedelta(minutes=5)) == 0
    notes = (await db.scalars(select(Notification.user_id).where(Notification.kind == "poll.reminder"))).all()
    assert world.author.id in notes  # as a member of a household that has not voted in the second poll
    assert sorted(notes).count(world.neighbours[0].id) == 2
    assert households.state is PollState.open


# --- the topic hand-off -------------------------------------------------------------------------------

async def test_a_topic_poll_hands_its_decision_to_the_resolution(db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    poll = await make_poll(db, world, topic=topic)
    assert poll.topic_id == topic.id
    await vote(db, world, poll, voters_of(world)[:1], "yes")
    await vote(db, world, poll, voters_of(world)[1:], "no")
    with pytest.raises(InvalidState):
        services.decision_for_topic(poll)
    await services.close_poll(db, worker(world), poll, receipt_key=RECEIPT_KEY)
    outcome = services.decision_for_topic(poll)
    assert outcome.reference == f"poll:{poll.id}" and outcome.eligible == 4 and outcome.ballots_cast == 4
    assert outcome.counts == (("赞成", 1), ("反对", 3), ("弃权", 0)) and outcome.passed is False
    assert "outnumber" in outcome.explanation
    resolution = await resolutions.record_resolution(db, worker(world), topic, method=Method.poll,
                                                     summary="经表决未通过", poll_result=outcome)
    assert resolution.poll_reference == f"poll:{poll.id}" and topic.state is TopicState.decided_not_agreed


async def test_a_topic_of_another_community_cannot_be_put_to_a_vote_here(db: Any) -> None:
    world = await make_world(db)
    topic = await deciding(db, world)
    with pytest.raises(ValidationFailed) as refused:
        await services.create_poll(db, actor_of(world.admin, world), world.city.community_b, draft(), topic=topic)
    assert "topic_id" in refused.value.errors


# --- permissions ------------------------------------------------------------------------------------------

async def test_permission_matrix(db: Any) -> None:
    world = await make_world(db)
    poll = await make_poll(db, world)
    other = actor_of(world.worker_b, world)
    for who, manages in ((worker(world), True), (actor_of(world.admin, world), True), (other, False),
                         (resident(world.author, world), False), (Actor(), False)):
        assert can(who, "voting.manage", poll) is manages
        assert can(who, "voting.manage", world.city.community_a) is manages
    draft_poll = await make_poll(db, world, opened=False)
    assert not can(other, "voting.view", draft_poll) and can(worker(world), "voting.view", draft_poll)
    assert can(resident(world.author, world), "voting.vote", poll) and not can(Actor(), "voting.vote", poll)
    assert not can(resident(world.author, world), "voting.see_results", poll)
    # A worker of another community can do nothing to this one.
    attempts = [
        services.create_poll(db, other, world.city.community_a, draft()),
        services.update_poll(db, other, draft_poll, draft()),
        services.open_poll(db, other, draft_poll),
        services.cancel_poll(db, other, poll, "无理由"),
        services.close_poll(db, other, poll, receipt_key=RECEIPT_KEY),
        services.create_poll(db, resident(world.author, world), world.city.community_a, draft()),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            await attempt
    assert poll.state is PollState.open and draft_poll.state is PollState.draft
    with pytest.raises(NotFound):  # another community's draft looks missing
        await queries.visible_poll(db, other, draft_poll.id)
    assert (await queries.visible_poll(db, other, poll.id)).id == poll.id


async def test_an_area_lists_its_polls_and_those_below_it_in_one_statement(db: Any, connection: Any) -> None:
    """A compound lists its own polls, a community its own and its compounds', a street every community's;
    each with its area loaded, in one statement (the area pages render them)."""
    world = await make_world(db, neighbours=1)
    city = world.city
    in_community = await make_poll(db, world, title="社区：是否同意更换路灯")
    in_compound = await make_poll(db, world, area=city.compound_a, title="1号院：是否同意加装电梯")
    elsewhere = await services.create_poll(db, actor_of(world.worker_b, world), city.community_b,
                                           draft(title="韶九社区：是否同意改造停车场"))
    await services.open_poll(db, actor_of(world.worker_b, world), elsewhere)
    db.expunge_all()

    async def listed(area: Any) -> dict[int, str]:
        with statements(connection) as seen:
            polls = await queries.polls_in_area(db, area, ANONYMOUS)
            names = {poll.id: poll.area.name for poll in polls}  # loaded with the polls
        assert len(seen) == 1, seen
        return names

    assert await listed(city.compound_a) == {in_compound.id: "1号院"}
    assert await listed(city.community_a) == {in_community.id: "多福巷社区", in_compound.id: "1号院"}
    assert await listed(city.community_b) == {elsewhere.id: "韶九社区"}
    assert set(await listed(city.street)) == {in_community.id, in_compound.id, elsewhere.id}
