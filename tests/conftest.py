"""Fixtures: a migrated database per run, one rolled-back transaction per test, the ASGI app and
a client that behaves like a browser (cookies, CSRF token in every form)."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from starlette.applications import Starlette

from tests import harness
from web.app import create_app
from web.database import make_engine, make_sessionmaker
from web.migrate import upgrade
from web.settings import Settings


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if harness.backend() == "postgres":
        url, name = asyncio.run(harness.create_postgres_database())
        upgrade(url)
        yield url
        asyncio.run(harness.drop_postgres_database(name))
    else:
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Everything a test writes happens inside this transaction and is rolled back afterwards."""
    async with engine.connect() as conn:
        transaction = await conn.begin()
        yield conn
        if transaction.is_active:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection):  # type: ignore[no-untyped-def]
    return make_sessionmaker(connection, join_transaction_mode="create_savepoint")


@pytest.fixture
async def db(sessionmaker) -> AsyncIterator[AsyncSession]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as session:
        yield session


@pytest.fixture(scope="session")
def meili(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Meili | None]:
    if not harness.MEILI_BIN.exists() or not os.access(harness.MEILI_BIN, os.X_OK):
        if os.environ.get("REQUIRE_MEILI"):
            raise RuntimeError("Meilisearch binary missing: run `make node`")
        yield None
        return
    server = harness.start_meili(tmp_path_factory.mktemp("meili"))
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key="test-secret-key-that-is-long-enough-000",
        run_worker_in_process=False,
        base_url="http://testserver",
        change_feed=False,  # tests/web/test_change_feed.py runs it
        host_cache="off",  # tests/web/test_host_cache.py
    )


@pytest.fixture
def meili_settings(settings: Settings, meili: harness.Meili | None) -> Settings:
    """Settings pointing at the real Meilisearch, with an index prefix of this test's own."""
    if meili is None:
        pytest.skip("Meilisearch binary not installed (run `make node`)")
    return settings.with_(meili_url=meili.url, meili_master_key=meili.key,
                          meili_index_prefix=f"t{secrets.token_hex(4)}_")


@pytest.fixture
async def app(settings: Settings, sessionmaker) -> AsyncIterator[Starlette]:  # type: ignore[no-untyped-def]
    application = create_app(settings, sessionmaker=sessionmaker)
    async with application.router.lifespan_context(application):
        yield application


class WebClient(httpx.AsyncClient):
    """An httpx client with browser habits: keeps cookies and puts the CSRF token in every form."""

    async def csrf(self) -> str:
        if "ycsrf" not in self.cookies:
            await self.get("/")
        return str(self.cookies["ycsrf"])

    async def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        form = {"csrf_token": await self.csrf(), **(data or {})}
        return await self.post(url, data=form, **kwargs)

    async def login(self, identifier: str, password: str) -> httpx.Response:
        response = await self.submit("/login", {"identifier": identifier, "password": password})
        assert response.status_code == 303, response.text
        return response


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[WebClient]:
    transport = httpx.ASGITransport(app=app)
    async with WebClient(transport=transport, base_url="http://testserver") as web:
        yield web


@pytest.fixture
async def make_client(app: Starlette) -> AsyncIterator[Any]:
    """Several independent visitors in one test."""
    clients: list[WebClient] = []

    def factory() -> WebClient:
        web = WebClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(web)
        return web

    yield factory
    for web in clients:
        await web.aclose()


def text_of(html: str) -> str:
    """Visible text of a page, whitespace folded, for assertions on what a person reads."""
    without_tags = re.sub(r"<script.*?</script>|<style.*?</style>|<[^>]+>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", without_tags).strip()
