"""Long-running and one-off operational commands: the outbox worker, reindex, createadmin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy import make_url, select

from consultation import audit
from consultation.accounts.models import Role, RoleGrant, User
from consultation.accounts.passwords import hash_password
from consultation.accounts.services import check_password_strength
from consultation.outbox import NOTIFY_CHANNEL
from consultation.validation import identifier_kind
from web import change_feed
from web.composition import Services, build_services
from web.database import make_engine, make_write_sessionmaker
from web.i18n import translate
from web.periodic import Periodic
from web.settings import Settings

log = logging.getLogger(__name__)


async def run_worker(settings: Settings, *, idle_seconds: float = 1.0) -> None:
    """Drain the outbox forever. Safe to run several: PostgreSQL rows are claimed with SKIP LOCKED.

    On PostgreSQL the worker also LISTENs on the outbox channel, so a commit that wrote outbox rows
    wakes it at once (search index lag, notifications); polling every ``idle_seconds`` stays as the
    fallback for missed notifications and for retries that become due.
    """
    engine = make_engine(settings.database_url, pool_size=2)
    services = build_services(settings, make_write_sessionmaker(engine))
    log.info("outbox worker started")
    periodic = Periodic(services.worker.sessionmaker, receipt_key=services.settings.secret_key.encode("utf-8"))
    wake = asyncio.Event()
    listener = OutboxListener(settings.database_url, wake)
    try:
        async with change_feed.following(settings.database_url, settings.change_feed), jobs_alongside(periodic):
            await _drain_forever(services, listener, wake, idle_seconds)
    finally:
        await listener.close()
        await services.close()
        await engine.dispose()


@contextlib.asynccontextmanager
async def jobs_alongside(periodic: Periodic, every_seconds: float = 1.0) -> AsyncIterator[asyncio.Task[None]]:
    """The periodic jobs in a task of their own beside the outbox loop, so that a long one (reminding every
    resident of a city-wide poll who has not voted) does not hold up search updates and messages meanwhile."""
    async def forever() -> None:
        while True:
            await periodic.maybe_run()  # never raises; runs the jobs once a minute
            await asyncio.sleep(every_seconds)

    task = asyncio.create_task(forever(), name="periodic jobs")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _drain_forever(services: Services, listener: OutboxListener, wake: asyncio.Event,
                         idle_seconds: float) -> None:
    while True:
        await listener.ensure()
        # Cleared before the round, not after it: a row committed while the round runs (after its claim found
        # nothing) is notified meanwhile, and that notification must cut the wait below short, not be cleared.
        wake.clear()
        try:
            handled = await services.worker.run_once()
        except Exception:
            log.exception("outbox round failed; retrying")
            handled = 0
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(idle_seconds):
                    await wake.wait()


class OutboxListener:
    """A dedicated asyncpg connection LISTENing on ``NOTIFY_CHANNEL`` (PostgreSQL only); reconnects
    after the server restarts, and until then the worker simply polls."""

    def __init__(self, database_url: str, wake: asyncio.Event) -> None:
        url = make_url(database_url)
        self.url = url if url.get_backend_name() == "postgresql" else None
        self.wake = wake
        self.connection: asyncpg.Connection | None = None

    async def ensure(self) -> None:
        if self.url is None or (self.connection is not None and not self.connection.is_closed()):
            return
        try:
            self.connection = await asyncpg.connect(
                host=self.url.host or "127.0.0.1", port=self.url.port or 5432, user=self.url.username,
                password=self.url.password, database=self.url.database, timeout=5)
            await self.connection.add_listener(NOTIFY_CHANNEL, self._notified)
        except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
            log.warning("cannot listen for outbox notifications yet (%s); polling", exc)
            self.connection = None

    def _notified(self, *_: object) -> None:
        self.wake.set()

    async def close(self) -> None:
        if self.connection is not None and not self.connection.is_closed():
            await self.connection.close()


async def reindex(settings: Settings) -> int:
    engine = make_engine(settings.database_url, pool_size=2)
    services = build_services(settings, make_write_sessionmaker(engine))
    try:
        count = await services.reindex()
        print(f"reindexed {count} documents")
        return 0
    finally:
        await services.close()
        await engine.dispose()


async def create_admin(settings: Settings, identifier: str, name: str, password: str) -> int:
    kind = identifier_kind(identifier)
    if kind is None:
        print("error: give an 11-digit mobile number or an email address")
        return 2
    if problem := check_password_strength(password):
        print(f"error: {translate(problem)}")
        return 2
    engine = make_engine(settings.database_url, pool_size=2)
    try:
        async with make_write_sessionmaker(engine)() as session, session.begin():
            column = User.phone if kind[0] == "phone" else User.email
            user = await session.scalar(select(User).where(column == kind[1]))
            if user is None:
                user = User(display_name=name)
                setattr(user, kind[0], kind[1])
                session.add(user)
            user.password_hash = hash_password(password)
            await session.flush()
            if await session.scalar(select(RoleGrant.id).where(RoleGrant.user_id == user.id,
                                                                RoleGrant.role == Role.admin)) is None:
                session.add(RoleGrant(user_id=user.id, role=Role.admin))
            await audit.record(session, "admin.created", "user", user.id, after={"via": "cli"})
        print(f"administrator {kind[1]} is ready")
        return 0
    finally:
        await engine.dispose()
