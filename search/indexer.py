"""Outbox-driven indexing and the full reindex with an index swap.

One live index, ``{prefix}documents``, holds every document type, told apart by the ``type``
attribute, which is also a facet. One index rather than one per type because a search ranks
areas, people and (later) topics and comments together in a single request, the type counts come
from that same request, and a full reindex swaps a single index atomically. Per-type indexes would
need a federated multi-search to rank across types and a swap of several indexes.

``handle`` is the ``search.index`` outbox handler: it builds the documents of the given ids,
stores them in the database fallback (committed on its own), then pushes them to Meilisearch and
waits until Meilisearch has applied them. If Meilisearch is down it raises, so the outbox retries
with backoff and nothing is lost; running it twice does no harm.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any

import meilisearch
from meilisearch.errors import MeilisearchApiError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultation.db import utcnow
from consultation.outbox import OutboxMessage
from consultation.search_index import SEARCH_INDEX_TOPIC
from search import fallback
from search.client import MeiliGateway, MeiliUnavailable
from search.documents import Registry, SearchDoc
from search.text import SYNONYMS

CHUNK = 500

log = logging.getLogger(__name__)


def _add_documents(client: meilisearch.Client, *, index: str, documents: list[dict[str, Any]]) -> int:
    return client.index(index).add_documents(documents, primary_key="id").task_uid


def _delete_matching(client: meilisearch.Client, *, index: str, condition: str) -> int:
    return int(client.index(index).delete_documents(filter=condition).task_uid)


def index_settings(registry: Registry) -> dict[str, Any]:
    return {
        "searchableAttributes": ["title", "keywords", "body"],
        "filterableAttributes": registry.filterable(),
        "sortableAttributes": ["created_at", "title"],
        # Proximity by attribute: a result with the query's words in one attribute ranks above one with them
        # spread over several, but how many words apart they stand in it is not weighed. The word-pair proximity
        # data is most of what indexing a document costs: a batch of 500 comments on a million-document index
        # took 207-225 ms instead of 289 (bench/RESULTS.md), so a surge's indexing keeps up with it.
        "proximityPrecision": "byAttribute",
        "synonyms": SYNONYMS,
        # Documents are Chinese: say so, or short texts may be segmented as Japanese.
        "localizedAttributes": [{"attributePatterns": ["title", "body", "keywords"], "locales": ["cmn"]}],
    }


class Indexer:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], registry: Registry,
                 gateway: MeiliGateway | None) -> None:
        self.sessionmaker = sessionmaker
        self.registry = registry
        self.gateway = gateway
        self._live_ready = False

    async def handle(self, payload: dict[str, Any]) -> None:
        """Outbox handler of ``search.index``: payload ``{"type": name, "ids": [object ids]}``."""
        await self.handle_many([payload])

    async def handle_many(self, payloads: list[dict[str, Any]]) -> None:
        """The batch handler of ``search.index``: the documents of many messages built in one transaction and
        sent to Meilisearch as one addition (a surge of comments makes one indexing task per batch, not one
        per comment)."""
        wanted: dict[str, dict[int, None]] = {}  # type -> ids in first-seen order, without repeats
        for payload in payloads:
            if payload["type"] not in self.registry:  # a type this version no longer has: nothing to build
                log.warning("search.index message for unknown document type %r skipped", payload["type"])
                continue
            wanted.setdefault(payload["type"], {}).update(dict.fromkeys(int(i) for i in payload["ids"]))
        built: list[tuple[str, list[int], list[SearchDoc]]] = []
        async with self.sessionmaker() as session, session.begin():
            for type_name, ids in wanted.items():
                doc_type = self.registry.get(type_name)
                documents = await doc_type.build(session, list(ids))
                await fallback.store(session, doc_type.name, list(ids), documents)
                built.append((doc_type.name, list(ids), documents))
        if self.gateway is not None:
            await self.push_many(built)

    async def push(self, type_name: str, ids: Sequence[int], documents: list[SearchDoc]) -> None:
        """Put ``documents`` into the live index and remove the ids that built no document."""
        await self.push_many([(type_name, ids, documents)])

    async def push_many(self, changes: Sequence[tuple[str, Sequence[int], list[SearchDoc]]]) -> None:
        """``push`` for several types at once: one addition task for every document, one deletion per type."""
        gateway = self._gateway()
        await self.ensure_live()
        index = gateway.live_index
        tasks = []
        payload = [document.to_meili() for _, _, documents in changes for document in documents]
        if payload:
            tasks.append(await gateway.call(partial(_add_documents, index=index, documents=payload)))
        for type_name, ids, documents in changes:
            missing = sorted(set(ids) - {document.object_id for document in documents})
            if missing:
                condition = f"type = '{type_name}' AND object_id IN [{', '.join(map(str, missing))}]"
                tasks.append(await gateway.call(partial(_delete_matching, index=index, condition=condition)))
        await gateway.wait_all(tasks)

    def _gateway(self) -> MeiliGateway:
        if self.gateway is None:
            raise MeiliUnavailable("Meilisearch is not configured")
        return self.gateway

    async def ensure_live(self) -> None:
        """Create the live index with its settings if needed; settings are (re)applied once per process."""
        if not self._live_ready:
            await self._prepare_index(self._gateway().live_index)
            self._live_ready = True

    async def _prepare_index(self, uid: str) -> None:
        gateway = self._gateway()
        if not await self._exists(uid):
            task = await gateway.call(lambda c: c.create_index(uid, {"primaryKey": "id"}).task_uid)
            await gateway.wait(task, accept_codes=("index_already_exists",))  # another worker was quicker
        settings = index_settings(self.registry)
        await gateway.wait(await gateway.call(lambda c: c.index(uid).update_settings(settings).task_uid))

    async def _exists(self, uid: str) -> bool:
        try:
            await self._gateway().call(lambda c: c.get_raw_index(uid))
        except MeilisearchApiError as exc:
            if exc.code == "index_not_found":
                return False
            raise
        return True

    # Full reindex -------------------------------------------------------------------------------

    async def reindex(self) -> int:
        """Rebuild the fallback table, then (with Meilisearch) fill a new index and swap it in;
        search never goes empty. Changes made meanwhile are applied again at the end."""
        started = utcnow()
        count = await self.rebuild_fallback()
        if self.gateway is not None:
            uid, count = await self.build_index()
            await self.swap_in(uid)
            await self.catch_up(started)
        return count

    async def rebuild_fallback(self) -> int:
        count = 0
        async with self.sessionmaker() as session, session.begin():
            await fallback.clear(session)
            for doc_type in self.registry:
                async for ids in doc_type.all_ids(session, CHUNK):
                    documents = await doc_type.build(session, ids)
                    await fallback.store(session, doc_type.name, ids, documents, fresh=True)
                    count += len(documents)
                    session.expunge_all()  # a city holds a million documents: keep only one chunk in memory
        return count

    async def build_index(self) -> tuple[str, int]:
        """A new index ``{live}_{timestamp}`` with every document; returns its uid and size."""
        gateway = self._gateway()
        uid = f"{gateway.live_index}_{utcnow():%Y%m%d%H%M%S%f}"
        await self._prepare_index(uid)
        count = 0
        try:
            tasks = []
            async with self.sessionmaker() as session:
                for doc_type in self.registry:
                    async for ids in doc_type.all_ids(session, CHUNK):
                        payload = [document.to_meili() for document in await doc_type.build(session, ids)]
                        if payload:
                            tasks.append(await gateway.call(partial(_add_documents, index=uid, documents=payload)))
                            count += len(payload)
                        session.expunge_all()
            await gateway.wait_all(tasks)
        except BaseException:
            with contextlib.suppress(Exception):
                await gateway.call(lambda c: c.delete_index(uid))
            raise
        return uid, count

    async def swap_in(self, uid: str) -> None:
        """Swap the filled index with the live one (atomic in Meilisearch), then drop the old content."""
        gateway = self._gateway()
        await self.ensure_live()
        live = gateway.live_index
        await gateway.wait(await gateway.call(lambda c: c.swap_indexes([{"indexes": [live, uid]}]).task_uid))
        await gateway.wait(await gateway.call(lambda c: c.delete_index(uid).task_uid))

    async def catch_up(self, since: datetime) -> None:
        """Re-apply index changes queued since the reindex started: they may have reached the old index."""
        async with self.sessionmaker() as session:
            payloads = (await session.scalars(select(OutboxMessage.payload).where(
                OutboxMessage.topic == SEARCH_INDEX_TOPIC, OutboxMessage.created_at >= since))).all()
        changed: dict[str, set[int]] = defaultdict(set)
        for payload in payloads:
            changed[payload["type"]].update(payload["ids"])
        for type_name, ids in changed.items():
            if type_name in self.registry:
                await self.handle({"type": type_name, "ids": sorted(ids)})
