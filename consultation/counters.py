"""Fixed-window counters in the database (rate limits, failed log-ins), shared by every app process.

Increments are one atomic upsert, so concurrent requests cannot lose a count. Keys are hashed, so a
key built from user input never exceeds the column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import String, Table, bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.accounts.models import RateLimitBucket
from consultation.db import UTCDateTime, utcnow


def stored_key(key: str) -> str:
    """A readable prefix (up to the first colon) and a hash of the whole key."""
    prefix = key.split(":", 1)[0][:40]
    return f"{prefix}:{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass(frozen=True)
class Hit:
    """One event to count in another statement (``hit_cte``): its key and window."""

    key: str
    window: timedelta

    def parameters(self) -> dict[str, object]:
        """The ``hit_cte``'s parameters, counting now."""
        now = utcnow()
        return {"hit_key": stored_key(self.key), "hit_now": now, "hit_stale_before": now - self.window}


@cache
def hit_cte() -> Any:
    """PostgreSQL: the counting upsert of ``Hit`` as a ``WITH`` part named ``hit`` (PostgreSQL runs a
    data-modifying ``WITH`` part whether or not the rest of the statement reads it). Its row: ``count`` and
    ``window_start``; parameters: ``Hit.parameters``."""
    return _hit_statement("postgresql", "hit_").cte("hit")


def counts_along(session: AsyncSession, hit: Hit | None) -> bool:
    """Whether a read can count ``hit`` in its own statement (``counting``): on PostgreSQL."""
    return hit is not None and session.get_bind().dialect.name == "postgresql"


def counting(statement: Any) -> Any:
    """``statement`` (a SELECT) counting a ``Hit`` too: the hit's count and window start are its last two
    columns. For a route's first read, so that a rate-limited request costs no statement of its own."""
    hit = hit_cte()
    return statement.add_columns(select(hit.c.count).scalar_subquery(),
                                 select(hit.c.window_start).scalar_subquery()).add_cte(hit)


def counted_in(row: Any) -> tuple[int, datetime]:
    """The count and window start of a ``counting`` statement's row."""
    return int(row[-2]), row[-1]


@cache
def _hit_statement(dialect_name: str, prefix: str = "") -> Any:
    """The counting upsert, built once per backend (building it costs more than running it); parameters
    ``:key``, ``:now`` and ``:stale_before`` (a window that started then or earlier has passed), their names
    after ``prefix``. It names the table, not the mapped class: an INSERT of the class would take the ORM's
    bulk path, which builds a new statement on every call."""
    table = cast(Table, RateLimitBucket.__table__)
    now = bindparam(f"{prefix}now", type_=UTCDateTime())
    stale = table.c.window_start <= bindparam(f"{prefix}stale_before", type_=UTCDateTime())
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return (
        dialect.insert(table)
        .values(key=bindparam(f"{prefix}key", type_=String), window_start=now, count=1)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "count": case((stale, 1), else_=table.c.count + 1),
                "window_start": case((stale, now), else_=table.c.window_start),
            },
        )
        .returning(table.c.count, table.c.window_start)
    )


async def hit(session: AsyncSession, key: str, window: timedelta) -> tuple[int, datetime]:
    """Count one event; returns the count in the current window and when that window started (one
    statement: the upsert returns the row it leaves)."""
    now = utcnow()
    statement = _hit_statement(session.get_bind().dialect.name)
    count, start = (await session.execute(
        statement, {"key": stored_key(key), "now": now, "stale_before": now - window})).one()
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
