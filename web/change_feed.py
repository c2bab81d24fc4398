"""The change feed between processes (PostgreSQL): each app process, and the outbox worker, tells the others
which tables its committed transactions wrote, and hears what theirs wrote, so the per-process caches
(``consultation.changes``) drop what another process changed as soon as it is committed, and may keep the
rest longer.

One asyncpg connection per process, outside the pool, ``LISTEN``s on ``changes.CHANNEL``. The tables of the
process's commits are gathered and sent on it with ``pg_notify`` at most every ``BATCH_SECONDS``: under a surge
that is one notification per process per batch, not one per write. Each notification carries the sender's
origin (made when the feed starts, so forked workers differ), and a process ignores its own.

When the connection is lost (a PostgreSQL restart), the caches go back to their short time to live until it
is back, what it missed is taken as changed, and the tables not yet sent are sent then.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy import make_url

from consultation import changes

log = logging.getLogger(__name__)
BATCH_SECONDS = 0.02  # a commit is sent at once after a quiet spell; the ones that follow within this, together
RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0)
STEADY_SECONDS = 30.0  # a connection that lasted this long was a good one: the next loss retries quickly
PING_SECONDS = 10.0  # idle this long, the connection is checked (a half-open one never reports itself closed)
ANSWER_SECONDS = 5.0  # a notification or a check not answered within this: the connection is taken as lost


def _connect_args(database_url: str) -> dict[str, object] | None:
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    return {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username,
            "password": url.password, "database": url.database}


class ChangeFeed:
    def __init__(self, database_url: str) -> None:
        self.connect_args = _connect_args(database_url)
        self.origin = secrets.token_hex(6)
        self.pending: set[str] = set()
        self.wake = asyncio.Event()
        self.connection: asyncpg.Connection | None = None
        self.connected_at: float | None = None
        self.sent_at = 0.0

    @property
    def enabled(self) -> bool:
        return self.connect_args is not None

    def publish(self, tables: frozenset[str]) -> None:
        """Called by ``consultation.changes`` once a commit of this process is done."""
        self.pending.update(tables)
        self.wake.set()

    def _heard(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        origin, _, tables = payload.partition(":")
        if origin != self.origin and tables:
            changes.heard(tables.split(","))

    async def run(self) -> None:
        """Listen and publish until cancelled, reconnecting after a loss."""
        if self.connect_args is None:
            return
        changes.set_publisher(self.publish)
        failures = 0
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    await self._session()
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(self.flush(), 2)  # the last commits, before the connection goes
                    raise
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("change feed lost (%s); caches keep their short time to live until it is back", exc)
                except Exception:
                    log.exception("change feed failed; caches keep their short time to live until it is back")
                finally:
                    changes.stop_listening()
                    await self._close()
                steady = self.connected_at is not None and loop.time() - self.connected_at >= STEADY_SECONDS
                failures = 0 if steady else failures + 1
                self.connected_at = None
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
        finally:
            changes.set_publisher(None)

    async def _session(self) -> None:
        loop = asyncio.get_running_loop()
        self.connection = connection = await asyncpg.connect(**self.connect_args, timeout=5)  # type: ignore[arg-type]
        await connection.add_listener(changes.CHANNEL, self._heard)
        changes.start_listening()
        if self.connected_at is None:
            log.info("change feed listening")
        self.connected_at = checked_at = loop.time()
        while not connection.is_closed():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self.wake.wait()
            self.wake.clear()
            if self.pending:
                if loop.time() - self.sent_at < BATCH_SECONDS:
                    await asyncio.sleep(BATCH_SECONDS)  # gather the commits that end meanwhile
                await self.flush()
                checked_at = loop.time()
            elif loop.time() - checked_at >= PING_SECONDS:
                await connection.execute("SELECT 1", timeout=ANSWER_SECONDS)
                checked_at = loop.time()
        raise OSError("the change feed's connection was closed")

    async def flush(self) -> None:
        """Send the tables gathered so far (kept for the next connection if this one fails)."""
        connection = self.connection
        if not self.pending or connection is None or connection.is_closed():
            return
        tables, self.pending = self.pending, set()
        try:
            await connection.execute("SELECT pg_notify($1, $2)", changes.CHANNEL,
                                     f"{self.origin}:{','.join(sorted(tables))}", timeout=ANSWER_SECONDS)
        except BaseException:
            self.pending |= tables
            raise
        self.sent_at = asyncio.get_running_loop().time()

    async def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)


def available(database_url: str, enabled: bool = True) -> bool:
    """Whether ``following`` runs a feed for this database (PostgreSQL, and ``enabled``)."""
    return enabled and _connect_args(database_url) is not None


@contextlib.asynccontextmanager
async def following(database_url: str, enabled: bool = True) -> AsyncIterator[ChangeFeed]:
    """Run a ``ChangeFeed`` for the duration of the block (nothing on SQLite, or when not ``enabled``)."""
    feed = ChangeFeed(database_url)
    task = asyncio.create_task(feed.run(), name="change-feed") if available(database_url, enabled) else None
    try:
        yield feed
    finally:
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # the caller is being cancelled too
