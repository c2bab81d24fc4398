"""Comment tests share the deliberation world (two communities, their workers and residents)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import User
from consultation.comments import services
from consultation.comments.models import Comment
from consultation.deliberation import queries as topics
from consultation.deliberation import services as deliberation
from consultation.deliberation.models import Topic
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, in_triage, raise_topic
from tests.factories import PASSWORD, identifier


async def open_topic(db: AsyncSession, world: World, *, community_b: bool = False,
                     title: str = "3号楼楼道灯坏了") -> Topic:
    """A topic collecting co-signs (open for comments), loaded as the routes load it."""
    topic = await raise_topic(db, world, community_b=community_b, title=title)
    return await topics.get_topic(db, topic.id)


async def closed_topic(db: AsyncSession, world: World) -> Topic:
    """A topic the community's worker declined at triage."""
    topic = await in_triage(db, world)
    await deliberation.decline(db, actor_of(world.worker_a, world), topic, "不属于社区议事范围")
    return await topics.get_topic(db, topic.id)


async def comment(db: AsyncSession, world: World, topic: Topic, who: User, body: str = "同意，晚上太黑了。",
                  stance: str = "support") -> Comment:
    return await services.post_comment(db, actor_of(who, world), topic, body=body, stance=stance)


async def reply(db: AsyncSession, world: World, parent: Comment, who: User, body: str) -> Comment:
    return await services.reply(db, actor_of(who, world), parent, body=body)


async def english(client: WebClient, user: User | None = None) -> WebClient:
    """Log in (optionally) and switch to English, so pages read as the message ids in the code."""
    if user is not None:
        await client.login(identifier(user), PASSWORD)
    await client.submit("/prefs/language", {"locale": "en", "next": "/"})
    return client


async def count(db: Any, model: Any, *where: Any) -> int:
    return int(await db.scalar(select(func.count(model.id)).where(*where)) or 0)
