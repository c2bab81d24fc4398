"""Fixed-window rate limits stored in the database, so every app process shares the counters.

Hits are counted in the request's own transaction: a second connection would deadlock against the
request's write lock on SQLite. Routes therefore answer rejected input with a page (which commits)
rather than an exception, so failed log-ins and wrong codes are counted.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import case, select
from sqlalchemy.dialects import postgresql, sqlite

from consultation.accounts.models import RateLimitBucket
from consultation.db import utcnow
from consultation.errors import RateLimited
from web.context import Ctx


async def limit(ctx: Ctx, key: str, *, max_hits: int, per_seconds: int) -> None:
    """Count one hit for ``key``; raise RateLimited (HTTP 429) once ``max_hits`` is passed."""
    if not ctx.settings.rate_limits:
        return
    now = utcnow()
    window = timedelta(seconds=per_seconds)
    db = ctx.db
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(RateLimitBucket).values(key=key, window_start=now, count=1)
    stale = RateLimitBucket.window_start <= now - window
    await db.execute(
        insert.on_conflict_do_update(
            index_elements=[RateLimitBucket.key],
            set_={
                "count": case((stale, 1), else_=RateLimitBucket.count + 1),
                "window_start": case((stale, now), else_=RateLimitBucket.window_start),
            },
        )
    )
    count, start = (
        await db.execute(select(RateLimitBucket.count, RateLimitBucket.window_start).where(RateLimitBucket.key == key))
    ).one()
    if count > max_hits:
        retry = max(1, int((start + window - now).total_seconds()))
        raise RateLimited(retry)
