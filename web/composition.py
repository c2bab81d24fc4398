"""Wires infrastructure (search client, mail senders) into the outbox worker's handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultation.notifications.services import MESSAGE_TOPIC
from consultation.outbox import Handler, OutboxWorker
from consultation.search_index import SEARCH_INDEX_TOPIC
from search.catalog import build_registry
from search.client import MeiliGateway
from search.indexer import Indexer
from search.service import SearchService
from web.senders import message_handlers
from web.settings import Settings


@dataclass
class Services:
    settings: Settings
    worker: OutboxWorker
    search: SearchService
    indexer: Indexer
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_worker(self) -> None:
        self.wake.set()

    async def reindex(self) -> int:
        """Rebuild the search fallback and, with Meilisearch, a new index swapped in; returns the count."""
        return await self.indexer.reindex()

    async def close(self) -> None:
        return None


def build_services(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Services:
    registry = build_registry()
    gateway = MeiliGateway(settings.meili_url, settings.meili_master_key, timeout=settings.meili_timeout,
                           index_prefix=settings.meili_index_prefix) if settings.meili_url else None
    indexer = Indexer(sessionmaker, registry, gateway)
    handlers: dict[str, Handler] = message_handlers(settings, sessionmaker)  # message.send: codes and email
    worker = OutboxWorker(sessionmaker, handlers, private_topics=frozenset({MESSAGE_TOPIC}),
                          batch_handlers={SEARCH_INDEX_TOPIC: indexer.handle_many})
    return Services(settings=settings, worker=worker,
                    search=SearchService(registry, gateway), indexer=indexer)
