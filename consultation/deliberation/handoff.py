"""The hand-off of agreed actions to the governance-task pipeline (民事民办 → 主动治理任务).

When: as the topic moves from "publicised" to "in action". DESIGN §1 and the 五民 procedure put
publicity (公示) before implementation (办): during publicity residents read the resolution and its
actions and may object, so nothing is handed to a unit before the worker starts the "carried out"
step. ``services.transition`` calls :func:`hand_off_topic` in the same transaction as that step.

The contract the governance issue plugs into (see ``OUTBOX_TOPIC``): one outbox row per hand-off,

    topic   "governance.actions_agreed"
    payload {"version": 1, "resolution_id": int, "topic_id": int, "community_id": int,
             "action_ids": [int, ...]}   # AgreedAction ids, in the resolution's order

written in the same transaction that marks each action ``handed_off`` with ``handed_off_at``. The
governance side registers an outbox handler for that topic which creates one 主动治理任务 per action
(keyed by the action id, so a repeated delivery creates nothing twice) and updates
``AgreedAction.status`` as the task moves on. A hand-off happens once: actions are claimed with a
compare-and-set on ``handed_off_at IS NULL``, so a second call, even a concurrent one, claims nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from consultation import audit, outbox
from consultation.db import utcnow
from consultation.deliberation.models import Topic
from consultation.deliberation.resolution_models import ActionStatus, AgreedAction, Resolution

OUTBOX_TOPIC = "governance.actions_agreed"
PAYLOAD_VERSION = 1


class GovernanceHandOff(Protocol):
    async def actions_agreed(self, session: AsyncSession, resolution: Resolution,
                             actions: Sequence[AgreedAction]) -> None:
        """Take over ``actions`` (already claimed: each is ``handed_off`` now) durably, in this transaction."""


class OutboxHandOff:
    """The default: one outbox row that the governance issue's handler turns into tasks."""

    async def actions_agreed(self, session: AsyncSession, resolution: Resolution,
                             actions: Sequence[AgreedAction]) -> None:
        outbox.enqueue(session, OUTBOX_TOPIC, payload(resolution, actions, community_id=resolution.topic.community_id))


def payload(resolution: Resolution, actions: Sequence[AgreedAction], *, community_id: int) -> dict[str, object]:
    return {"version": PAYLOAD_VERSION, "resolution_id": resolution.id, "topic_id": resolution.topic_id,
            "community_id": community_id, "action_ids": [action.id for action in actions]}


_hand_off: GovernanceHandOff = OutboxHandOff()


def use(hand_off: GovernanceHandOff) -> GovernanceHandOff:
    """Replace the hand-off (returns the previous one); the outbox default needs no call."""
    global _hand_off
    previous, _hand_off = _hand_off, hand_off
    return previous


async def hand_off_topic(session: AsyncSession, topic: Topic, *, actor_id: int | None = None,
                         ip: str | None = None) -> list[AgreedAction]:
    """Hand the topic's agreed actions over, once. Returns the actions handed off by this call
    (empty when there is no agreed resolution, no actions, or they were handed off already)."""
    resolution = await session.scalar(select(Resolution).where(Resolution.topic_id == topic.id))
    if resolution is None:
        return []
    now = utcnow()
    claimed = list((await session.scalars(
        update(AgreedAction)
        .where(AgreedAction.resolution_id == resolution.id, AgreedAction.handed_off_at.is_(None))
        .values(status=ActionStatus.handed_off, handed_off_at=now)
        .returning(AgreedAction.id).execution_options(synchronize_session=False)
    )).all())
    if not claimed:
        return []
    actions = list((await session.scalars(
        select(AgreedAction).where(AgreedAction.id.in_(claimed)).order_by(AgreedAction.position)
        .execution_options(populate_existing=True)
    )).all())
    set_committed_value(resolution, "topic", topic)
    await _hand_off.actions_agreed(session, resolution, actions)
    await audit.record(session, "resolution.handed_off", "resolution", resolution.id, actor_id=actor_id, ip=ip,
                       after={"action_ids": [a.id for a in actions], "outbox_topic": OUTBOX_TOPIC})
    return actions
