"""Application factory: ``create_app(settings)`` returns the Starlette app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

import consultation.permissions  # noqa: F401 - registers every named permission
from web import change_feed, heap, host_cache, routes
from web.composition import Services, build_services
from web.database import make_engine, make_read_sessionmaker, make_statement_sessionmaker, make_write_sessionmaker
from web.errors import EXCEPTION_HANDLERS
from web.host_cache import HostCache
from web.periodic import Periodic
from web.routing import SegmentRouter
from web.security import BodyLimitMiddleware, SecurityHeadersMiddleware
from web.settings import Settings, from_env
from web.templating import STATIC_DIR, build_environment

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> Starlette:
    """Build the app. Tests pass their own sessionmaker (bound to a rolled-back connection)."""
    settings = settings or from_env()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        own_engine = None
        if app.state.sessionmaker is None:
            # A fixed pool: under a surge a request beyond it waits for a connection instead of opening one
            # (a new PostgreSQL backend, its handshake and every statement prepared again) and closing it.
            own_engine = engine or make_engine(settings.database_url, pool_size=settings.db_pool_size,
                                               max_overflow=0)
            app.state.engine = own_engine
            app.state.sessionmaker = make_read_sessionmaker(own_engine)
            app.state.write_sessionmaker = make_write_sessionmaker(own_engine)
            app.state.statement_sessionmaker = make_statement_sessionmaker(own_engine)
        services = build_services(settings, app.state.write_sessionmaker)
        app.state.services = services
        app.state.host_cache = _host_cache(settings)
        if settings.freeze_heap:
            heap.settle(app.state.jinja)  # last: everything built so far lives as long as the process
        try:
            async with change_feed.following(settings.database_url, settings.change_feed):
                worker_task = None
                if settings.run_worker_in_process:
                    worker_task = asyncio.create_task(_run_worker(services), name="outbox-worker")
                    app.state.after_commit = services.wake_worker
                try:
                    yield
                finally:  # the worker first: its last commits are still told to the other processes
                    if worker_task is not None:
                        worker_task.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await worker_task
        finally:
            await services.close()
            if own_engine is not None and engine is None:
                await own_engine.dispose()

    app = Starlette(
        debug=False,
        routes=[*routes.all_routes(), Mount("/static", StaticFiles(directory=STATIC_DIR), name="static")],
        middleware=[
            Middleware(SecurityHeadersMiddleware, hsts=settings.secure_cookies),
            Middleware(BodyLimitMiddleware),
            # Level 6, not Starlette's 9: a third less time for a topic page, 3 % more bytes.
            Middleware(GZipMiddleware, minimum_size=1024, compresslevel=6),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.router = SegmentRouter(app.router.routes, lifespan=lifespan)  # before the middleware is built
    app.state.settings = settings
    app.state.sessionmaker = sessionmaker
    app.state.write_sessionmaker = sessionmaker
    app.state.statement_sessionmaker = sessionmaker
    app.state.jinja = build_environment(auto_reload=not settings.production)
    app.state.after_commit = None
    return app


def _host_cache(settings: Settings) -> HostCache | None:
    """Where this host's processes share their pages (``web.host_cache``): only with the change feed, which
    tells each process what the others changed."""
    if settings.host_cache == "off" or not change_feed.available(settings.database_url, settings.change_feed):
        return None
    auto = settings.host_cache == "auto"
    root = host_cache.default_root(settings.database_url) if auto else Path(settings.host_cache)
    return HostCache.open(root) if root is not None else None


async def _run_worker(services: Services) -> None:
    """The embedded default: one in-process loop, woken after each commit and polling every second."""
    periodic = Periodic(services.worker.sessionmaker, receipt_key=services.settings.secret_key.encode("utf-8"))
    while True:
        await periodic.maybe_run()
        services.wake.clear()  # before the round: a commit during it still cuts the wait short (web.worker)
        try:
            handled = await services.worker.run_once()
        except Exception:  # the database may be restarting: keep the loop alive and retry
            log.exception("outbox worker round failed")
            handled = 0
        if handled == 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await services.wake.wait()
