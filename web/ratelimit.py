"""Rate limits (HTTP 429) on top of the shared database counters.

Hits are counted in the request's own transaction: a second connection would deadlock against the
request's write lock on SQLite. Routes therefore answer rejected input with a page (which commits)
rather than an exception, so failed log-ins and wrong codes are counted.
"""

from __future__ import annotations

from datetime import timedelta

from consultation import counters
from consultation.db import utcnow
from consultation.errors import RateLimited
from web.context import Ctx


async def limit(ctx: Ctx, key: str, *, max_hits: int, per_seconds: int) -> None:
    """Count one hit for ``key``; raise RateLimited (HTTP 429) once ``max_hits`` is passed."""
    if not ctx.settings.rate_limits:
        return
    window = timedelta(seconds=per_seconds)
    count, start = await counters.hit(ctx.db, key, window)
    if count > max_hits:
        raise RateLimited(max(1, int((start + window - utcnow()).total_seconds())))
