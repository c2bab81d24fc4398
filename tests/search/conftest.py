"""Search fixtures: an app wired to the real Meilisearch (own index prefix), and a switchable TCP
proxy in front of it so a test can make Meilisearch unreachable and bring it back."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import meilisearch
import pytest
from starlette.applications import Starlette

from search.indexer import Indexer
from search.service import SearchService
from tests import harness
from tests.conftest import WebClient, text_of
from web.app import create_app
from web.settings import Settings


@contextlib.asynccontextmanager
async def running_app(settings: Settings, sessionmaker: Any) -> AsyncIterator[Starlette]:
    application = create_app(settings, sessionmaker=sessionmaker)
    async with application.router.lifespan_context(application):
        yield application


def drop_indexes(url: str, key: str, prefix: str) -> None:
    client = meilisearch.Client(url, key)
    for index in client.get_indexes({"limit": 1000})["results"]:
        if index.uid.startswith(prefix):
            client.wait_for_task(client.delete_index(index.uid).task_uid)


@pytest.fixture
async def meili_app(meili_settings: Settings, sessionmaker: Any) -> AsyncIterator[Starlette]:
    async with running_app(meili_settings, sessionmaker) as application:
        yield application
    assert meili_settings.meili_url and meili_settings.meili_master_key
    await asyncio.to_thread(drop_indexes, meili_settings.meili_url, meili_settings.meili_master_key,
                            meili_settings.meili_index_prefix)


@pytest.fixture
async def meili_client(meili_app: Starlette) -> AsyncIterator[WebClient]:
    async with WebClient(transport=httpx.ASGITransport(app=meili_app), base_url="http://testserver") as web:
        yield web


def visible(html: str) -> str:
    """The text a person reads: a highlighted word is still one word (text_of splits at every tag)."""
    return text_of(html.replace("<mark>", "").replace("</mark>", ""))


def results_of(html: str) -> str:
    """Only the list of hits (the query itself is echoed in the title and the search box)."""
    start = html.find('<ol class="results">')
    return visible(html[start:html.index("</ol>", start)]) if start >= 0 else ""


def indexer_of(app: Starlette) -> Indexer:
    indexer: Indexer = app.state.services.indexer
    return indexer


def search_of(app: Starlette) -> SearchService:
    service: SearchService = app.state.services.search
    return service


async def drain(app: Starlette, db: Any) -> int:
    """Commit the test's changes (a savepoint of the test's transaction), as a request would, then drain."""
    await db.commit()
    return int(await app.state.services.worker.drain())


class SwitchableProxy:
    """A loopback TCP proxy to Meilisearch: while stopped, its port refuses connections."""

    def __init__(self, target: str) -> None:
        host_port = target.removeprefix("http://")
        self.target_host, port = host_port.split(":")
        self.target_port = int(port)
        self.port = harness.free_port()
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.connections = 0  # accepted so far

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            for writer in list(self.writers):
                writer.close()
            await self.server.wait_closed()
            self.server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        self.writers |= {writer, up_writer}
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.writers -= {writer, up_writer}

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def meili_proxy(meili_settings: Settings) -> AsyncIterator[SwitchableProxy]:
    assert meili_settings.meili_url is not None
    proxy = SwitchableProxy(meili_settings.meili_url)
    yield proxy
    await proxy.stop()
