"""Wires infrastructure (search client, mail senders) into the outbox worker's handlers."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultation.outbox import Handler, OutboxWorker
from web.settings import Settings


@dataclass
class Services:
    settings: Settings
    worker: OutboxWorker
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def wake_worker(self) -> None:
        self.wake.set()

    async def close(self) -> None:
        return None


def build_services(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Services:
    handlers: dict[str, Handler] = {}
    return Services(settings=settings, worker=OutboxWorker(sessionmaker, handlers))
