"""Rate limits (HTTP 429) on top of the shared database counters.

Hits are counted in the request's own transaction: a second connection would deadlock against the
request's write lock on SQLite. Routes therefore answer rejected input with a page (which commits)
rather than an exception, so failed log-ins and wrong codes are counted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from consultation import counters
from consultation.db import utcnow
from consultation.errors import RateLimited
from web.context import Ctx


async def limit(ctx: Ctx, key: str, *, max_hits: int, per_seconds: int) -> None:
    """Count one hit for ``key``; raise RateLimited (HTTP 429) once ``max_hits`` is passed."""
    await settle(ctx, pending(ctx, key, per_seconds=per_seconds), None, max_hits=max_hits)


def pending(ctx: Ctx, key: str, *, per_seconds: int) -> counters.Hit | None:
    """A hit for ``key`` that the route's first read may count in its own statement (``counters.hit_cte``);
    None when rate limits are off. ``settle`` it after that read."""
    return counters.Hit(key, timedelta(seconds=per_seconds)) if ctx.settings.rate_limits else None


async def settle(ctx: Ctx, hit: counters.Hit | None, counted: tuple[int, datetime] | None, *, max_hits: int) -> None:
    """Raise RateLimited (HTTP 429) when ``hit`` passed ``max_hits``: ``counted`` is its count and window start
    when a read counted it already; otherwise it is counted now."""
    if hit is None:
        return
    count, start = counted if counted is not None else await counters.hit(ctx.db, hit.key, hit.window)
    if count > max_hits:
        raise RateLimited(max(1, int((start + hit.window - utcnow()).total_seconds())))
