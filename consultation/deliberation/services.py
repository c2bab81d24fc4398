"""Write use cases for topics: propose, co-sign, follow, the lifecycle ``transition`` and triage.

Services validate, check permissions through ``policy``, write an ``AuditEvent`` for every state
change, queue reindexing, and only ``flush()``; the request's unit of work commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit, search_index
from consultation.accounts.models import Role
from consultation.areas.models import Area, AreaLevel
from consultation.comments import services as comments
from consultation.db import insert_ignore, utcnow
from consultation.deliberation import handoff, policy, rules
from consultation.deliberation.models import (
    DEFAULT_COSIGN_THRESHOLD,
    DESCRIPTION_MAX,
    PLACE_MAX,
    REASON_MAX,
    REFERRED_TO_MAX,
    TITLE_MAX,
    ActorRole,
    Category,
    CommunitySettings,
    Topic,
    TopicCoSign,
    TopicFollow,
    TopicState,
    TopicTransition,
)
from consultation.errors import N_, Conflict, Forbidden, InvalidState, Message, ValidationFailed, msg
from consultation.notifications.services import notify_many
from consultation.policy import Actor, require
from consultation.validation import check_length

SEARCH_TYPE = "topic"
STATE_CHANGED_TITLE = N_("A topic you follow has a new status")
RESOLUTION_NEEDED = N_("A decision is recorded with its resolution: use “Record the decision” on the topic page.")
MAX_COSIGN_THRESHOLD = 1000


# --- settings ------------------------------------------------------------------------------------

async def cosign_threshold(session: AsyncSession, community_id: int) -> int:
    settings = await session.get(CommunitySettings, community_id)
    return settings.cosign_threshold if settings is not None else DEFAULT_COSIGN_THRESHOLD


async def set_cosign_threshold(session: AsyncSession, actor: Actor, community: Area, raw: str) -> int:
    if not policy.is_staff_of(actor, community) or community.level is not AreaLevel.community:
        raise Forbidden()
    try:
        threshold = int(raw.strip())
    except ValueError:
        threshold = 0
    if not 1 <= threshold <= MAX_COSIGN_THRESHOLD:
        raise ValidationFailed({"cosign_threshold": msg("Enter a whole number from 1 to {n}.",
                                                        n=MAX_COSIGN_THRESHOLD)})
    settings = await session.get(CommunitySettings, community.id)
    before = settings.cosign_threshold if settings is not None else None
    if settings is None:
        settings = CommunitySettings(community_id=community.id)
        session.add(settings)
    settings.cosign_threshold = threshold
    await session.flush()
    await audit.record(session, "community.cosign_threshold", "area", community.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"cosign_threshold": before}, after={"cosign_threshold": threshold})
    return threshold


# --- proposing -----------------------------------------------------------------------------------

async def propose(
    session: AsyncSession, actor: Actor, community: Area, *, title: str, description: str, category: str,
    compound: Area | None = None, place: str = "",
) -> Topic:
    """A resident of ``community`` raises a topic; it starts collecting co-signs at once."""
    if (problem := policy.propose_problem(actor, community)) is not None:
        raise Forbidden(problem)
    title, description, place = title.strip(), description.strip(), place.strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(title, minimum=1, maximum=TITLE_MAX):
        errors["title"] = problem
    if problem := check_length(description, minimum=1, maximum=DESCRIPTION_MAX):
        errors["description"] = problem
    if category not in Category.__members__:
        errors["category"] = msg("Choose a category.")
    if compound is not None and (compound.parent_id != community.id or compound.level is not AreaLevel.compound):
        errors["compound_id"] = msg("Choose a compound of {community}.", community=community.name)
    if problem := check_length(place, maximum=PLACE_MAX):
        errors["place"] = problem
    if errors:
        raise ValidationFailed(errors)
    topic = Topic(community_id=community.id, area_id=(compound or community).id, author_id=actor.user_id,
                  title=title, description=description, category=Category(category), place=place or None,
                  state=TopicState.proposed)
    session.add(topic)
    await session.flush()
    set_committed_value(topic, "community", community)
    session.add(TopicTransition(topic_id=topic.id, from_state=None, to_state=TopicState.proposed,
                                actor_id=actor.user_id, actor_role=ActorRole.proposer))
    await audit.record(session, "topic.proposed", "topic", topic.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"title": title, "community_id": community.id, "category": category})
    await _move(session, topic, TopicState.collecting, actor=None)
    await _insert_ignore(session, TopicFollow, topic.id, actor.user_id)
    search_index.search_changed(session, SEARCH_TYPE, [topic.id])
    return topic


# --- co-signing and following --------------------------------------------------------------------

async def cosign(session: AsyncSession, actor: Actor, topic: Topic) -> bool:
    """Co-sign ``topic``; True if this added a co-sign (a repeat, even a concurrent one, adds nothing).

    Reaching the community's threshold sends the topic to the workers' triage queue.
    """
    if actor.user_id is not None and await _has_row(session, TopicCoSign, topic.id, actor.user_id):
        return False
    if (problem := policy.cosign_problem(actor, topic)) is not None:
        raise InvalidState(problem) if problem.msgid == policy.NOT_COLLECTING else Forbidden(problem)
    assert actor.user_id is not None
    if not await _insert_ignore(session, TopicCoSign, topic.id, actor.user_id):
        return False  # the same person's other request got there first
    count = await _add_cosigns(session, topic, 1)
    await _insert_ignore(session, TopicFollow, topic.id, actor.user_id)
    await audit.record(session, "topic.cosigned", "topic", topic.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"cosign_count": count})
    await _maybe_send_to_triage(session, topic)
    return True


async def follow(session: AsyncSession, actor: Actor, topic: Topic) -> bool:
    require(actor, "deliberation.follow", topic)
    assert actor.user_id is not None
    return await _insert_ignore(session, TopicFollow, topic.id, actor.user_id)


async def unfollow(session: AsyncSession, actor: Actor, topic: Topic) -> bool:
    require(actor, "deliberation.follow", topic)
    row = await session.scalar(select(TopicFollow).where(TopicFollow.topic_id == topic.id,
                                                         TopicFollow.user_id == actor.user_id))
    if row is None:
        return False
    await session.delete(row)
    await session.flush()
    return True


# --- the lifecycle -------------------------------------------------------------------------------

async def transition(
    session: AsyncSession, topic: Topic, to_state: TopicState, actor: Actor, reason: str = "", *,
    referred_to: str = "", target: Topic | None = None, publicity_ends_at: datetime | None = None,
    with_resolution: bool = False,
) -> TopicTransition:
    """Move ``topic`` one step along ``rules.STEPS`` as a worker (or admin) of its community.

    Deciding steps are taken only with a resolution (``resolutions.record_resolution`` passes
    ``with_resolution``); starting the work hands the agreed actions to the governance pipeline.

    Refuses a step the table does not have (InvalidState), a step the actor may not take
    (Forbidden), a missing or overlong reason (ValidationFailed), and a topic someone else moved
    meanwhile (Conflict). Steps the platform takes on its own cannot be taken by hand.
    """
    step = rules.step(topic.state, to_state)
    if step is None or step.by is rules.By.SYSTEM:
        raise InvalidState(msg("A topic in the state “{from_label}” cannot move to “{to_label}”.",
                               from_label=topic.state.label, to_label=to_state.label))
    require(actor, "deliberation.triage" if topic.state is TopicState.triage else "deliberation.advance", topic)
    if step.needs_resolution and not with_resolution:
        raise InvalidState(msg(RESOLUTION_NEEDED))
    reason, referred_to = reason.strip(), referred_to.strip()
    errors: dict[str, Message | str] = {}
    if step.needs_reason and not reason:
        errors["reason"] = msg("Give the reason; it is shown publicly on the topic.")
    elif problem := check_length(reason, maximum=REASON_MAX):
        errors["reason"] = problem
    if to_state is TopicState.referred:
        if problem := check_length(referred_to, minimum=1, maximum=REFERRED_TO_MAX):
            errors["referred_to"] = problem
    if to_state is TopicState.publicised:
        if publicity_ends_at is None:
            errors["publicity_ends_on"] = msg("Enter the date the publicity period ends.")
        elif publicity_ends_at <= utcnow():
            errors["publicity_ends_on"] = msg("The publicity period must end in the future.")
    if to_state is TopicState.merged and target is None:
        errors["target_id"] = msg("Choose the topic to merge into.")
    if errors:
        raise ValidationFailed(errors)
    moved = await _move(session, topic, to_state, actor=actor, reason=reason or None,
                        referred_to=referred_to or None, target=target, publicity_ends_at=publicity_ends_at)
    if moved is None:
        raise Conflict(msg("Someone else changed this topic meanwhile. Reload the page and try again."))
    if to_state is TopicState.in_action:
        await handoff.hand_off_topic(session, topic, actor_id=actor.user_id, ip=actor.ip)
    return moved


async def accept(session: AsyncSession, actor: Actor, topic: Topic, note: str = "") -> TopicTransition:
    return await transition(session, topic, TopicState.deliberating, actor, note)


async def decline(session: AsyncSession, actor: Actor, topic: Topic, reason: str) -> TopicTransition:
    return await transition(session, topic, TopicState.declined, actor, reason)


async def refer(session: AsyncSession, actor: Actor, topic: Topic, reason: str, referred_to: str) -> TopicTransition:
    return await transition(session, topic, TopicState.referred, actor, reason, referred_to=referred_to)


async def merge(session: AsyncSession, actor: Actor, topic: Topic, target: Topic | None,
                reason: str = "") -> TopicTransition:
    """Merge ``topic`` into ``target`` (an open topic of the same community): its co-signers and
    followers carry over without duplicates, and it links to the target from then on."""
    require(actor, "deliberation.triage", topic)
    if target is not None:
        problem = None
        if target.id == topic.id:
            problem = msg("A topic cannot be merged into itself.")
        elif target.community_id != topic.community_id:
            problem = msg("A topic can only be merged into a topic of the same community.")
        elif target.state not in rules.OPEN_STATES:
            problem = msg("That topic is closed; choose one that is still open.")
        if problem is not None:
            raise ValidationFailed({"target_id": problem})
    done = await transition(session, topic, TopicState.merged, actor, reason, target=target)
    assert target is not None
    cosigners = (await session.scalars(select(TopicCoSign.user_id).where(TopicCoSign.topic_id == topic.id))).all()
    added = 0
    for user_id in cosigners:
        if user_id != target.author_id and await _insert_ignore(session, TopicCoSign, target.id, user_id):
            added += 1
    followers = set((await session.scalars(select(TopicFollow.user_id)
                                           .where(TopicFollow.topic_id == topic.id))).all())
    if topic.author_id is not None:
        followers.add(topic.author_id)
    for user_id in sorted(followers):
        await _insert_ignore(session, TopicFollow, target.id, user_id)
    if added:
        await _add_cosigns(session, target, added)
    await audit.record(session, "topic.merged", "topic", topic.id, actor_id=actor.user_id, ip=actor.ip,
                       after={"target_topic_id": target.id, "cosigns_carried": added})
    await _maybe_send_to_triage(session, target)
    search_index.search_changed(session, SEARCH_TYPE, [target.id])
    return done


# --- internals -----------------------------------------------------------------------------------

def actor_role(actor: Actor | None, topic: Topic) -> ActorRole:
    if actor is None:
        return ActorRole.system
    if actor.has_role_over(Role.worker, topic.community.path):
        return ActorRole.worker
    if actor.is_admin:
        return ActorRole.admin
    return ActorRole.proposer if actor.user_id == topic.author_id else ActorRole.resident


async def _move(
    session: AsyncSession, topic: Topic, to_state: TopicState, *, actor: Actor | None, reason: str | None = None,
    referred_to: str | None = None, target: Topic | None = None, publicity_ends_at: datetime | None = None,
) -> TopicTransition | None:
    """Compare-and-set the state (so two workers, or two co-signs at the threshold, cannot both move
    it), then record the public step, the audit event, notifications and reindexing. ``actor``
    ``None`` is the platform itself. Returns ``None`` if the topic had already moved on."""
    from_state = topic.state
    now = utcnow()
    values: dict[str, Any] = {"state": to_state, "updated_at": now}
    if target is not None:
        values["merged_into_id"] = target.id
    if publicity_ends_at is not None:
        values["publicity_ends_at"] = publicity_ends_at
    result = await session.execute(
        update(Topic).where(Topic.id == topic.id, Topic.state == from_state).values(**values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    for key, value in values.items():
        set_committed_value(topic, key, value)
    if target is not None:
        set_committed_value(topic, "merged_into", target)
    record = TopicTransition(topic_id=topic.id, from_state=from_state, to_state=to_state,
                             actor_id=actor.user_id if actor else None, actor_role=actor_role(actor, topic),
                             reason=reason, referred_to=referred_to,
                             target_topic_id=target.id if target else None, created_at=now)
    session.add(record)
    await audit.record(session, "topic.transition", "topic", topic.id,
                       actor_id=actor.user_id if actor else None, ip=actor.ip if actor else None,
                       before={"state": from_state.value},
                       after={"state": to_state.value, "reason": reason, "referred_to": referred_to,
                              "target_topic_id": target.id if target else None})
    followers = (await session.scalars(select(TopicFollow.user_id).where(TopicFollow.topic_id == topic.id))).all()
    await notify_many(session, [user_id for user_id in followers if actor is None or user_id != actor.user_id],
                      "topic.state", STATE_CHANGED_TITLE, body=topic.title, url=f"/topics/{topic.id}")
    search_index.search_changed(session, SEARCH_TYPE, [topic.id])
    await comments.topic_changed(session, topic.id)  # comments carry the topic's state as a search facet
    return record


async def _maybe_send_to_triage(session: AsyncSession, topic: Topic) -> None:
    if topic.state is TopicState.collecting and topic.cosign_count >= await cosign_threshold(
            session, topic.community_id):
        await _move(session, topic, TopicState.triage, actor=None)


async def _add_cosigns(session: AsyncSession, topic: Topic, n: int) -> int:
    """Increment under the row lock, so concurrent co-signs of different people all count."""
    count = int((await session.execute(
        update(Topic).where(Topic.id == topic.id).values(cosign_count=Topic.cosign_count + n)
        .returning(Topic.cosign_count).execution_options(synchronize_session=False)
    )).scalar_one())
    set_committed_value(topic, "cosign_count", count)
    return count


async def _has_row(session: AsyncSession, model: type[TopicCoSign] | type[TopicFollow], topic_id: int,
                   user_id: int) -> bool:
    return await session.scalar(select(model.id).where(model.topic_id == topic_id,
                                                       model.user_id == user_id)) is not None


async def _insert_ignore(session: AsyncSession, model: type[TopicCoSign] | type[TopicFollow], topic_id: int,
                         user_id: int | None) -> bool:
    """INSERT … ON CONFLICT DO NOTHING on the (topic, user) unique key: True if a row was added.
    Two concurrent requests of the same person therefore leave exactly one row, without an error."""
    if user_id is None:
        return False
    return await insert_ignore(session, model, {"topic_id": topic_id, "user_id": user_id, "created_at": utcnow()},
                               ["topic_id", "user_id"])
