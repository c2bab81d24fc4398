"""Fixed-window counters in the database (rate limits, failed log-ins), shared by every app process.

Increments are one atomic upsert, so concurrent requests cannot lose a count. Keys are hashed, so a
key built from user input never exceeds the column.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import RateLimitBucket
from consultation.db import dialect_insert, utcnow


def stored_key(key: str) -> str:
    """A readable prefix (up to the first colon) and a hash of the whole key."""
    prefix = key.split(":", 1)[0][:40]
    return f"{prefix}:{hashlib.sha256(key.encode()).hexdigest()}"


async def hit(session: AsyncSession, key: str, window: timedelta) -> tuple[int, datetime]:
    """Count one event; returns the count in the current window and when that window started (one
    statement: the upsert returns the row it leaves)."""
    now = utcnow()
    stored = stored_key(key)
    stale = RateLimitBucket.window_start <= now - window
    insert = dialect_insert(session, RateLimitBucket).values(key=stored, window_start=now, count=1)
    count, start = (
        await session.execute(
            insert.on_conflict_do_update(
                index_elements=[RateLimitBucket.key],
                set_={
                    "count": case((stale, 1), else_=RateLimitBucket.count + 1),
                    "window_start": case((stale, now), else_=RateLimitBucket.window_start),
                },
            ).returning(RateLimitBucket.count, RateLimitBucket.window_start)
        )
    ).one()
    return int(count), start


async def current(session: AsyncSession, key: str, window: timedelta) -> tuple[int, datetime | None]:
    """The count in the current window without counting (0 when the window has passed)."""
    row = (
        await session.execute(
            select(RateLimitBucket.count, RateLimitBucket.window_start).where(RateLimitBucket.key == stored_key(key))
        )
    ).one_or_none()
    if row is None or row[1] <= utcnow() - window:
        return 0, None
    return int(row[0]), row[1]


async def reset(session: AsyncSession, *keys: str) -> None:
    await session.execute(delete(RateLimitBucket).where(RateLimitBucket.key.in_([stored_key(k) for k in keys])))
