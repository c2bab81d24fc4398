"""Paged topic listings with filters (the JSON API's topic list): topics are public, so every
visitor sees the same list; newest first."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from consultation.areas.models import Area
from consultation.deliberation.models import Category, Topic, TopicState


async def list_topics(
    session: AsyncSession, *, area: Area | None = None, state: TopicState | None = None,
    category: Category | None = None, offset: int = 0, limit: int = 20,
) -> tuple[list[Topic], int]:
    """One page of topics (newest first) and how many match in all. ``area`` covers its sub-areas:
    a district lists the topics of all its communities and their compounds.

    One statement: the page with its community and area joined in and the total as a window count
    beside each row; a second only for a page past the end (no row to carry the total)."""
    query = select(Topic)
    if area is not None:
        query = query.join(Area, Area.id == Topic.area_id).where(Area.path.startswith(area.path, autoescape=True))
    if state is not None:
        query = query.where(Topic.state == state)
    if category is not None:
        query = query.where(Topic.category == category)
    rows = (await session.execute(
        query.add_columns(func.count().over()).options(joinedload(Topic.community), joinedload(Topic.area))
        .order_by(Topic.created_at.desc(), Topic.id.desc()).offset(offset).limit(limit)
    )).all()
    if rows:
        return [topic for topic, _ in rows], int(rows[0][1])
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0) if offset else 0
    return [], total
