"""Transactional outbox: side effects are rows written in the same transaction as the change.

A worker drains the table (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, one in-process loop on
SQLite), retries failures with exponential backoff and marks rows done. Handlers must be
idempotent: a row can run again if the worker dies between the side effect and the commit.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from consultation.db import Base, utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 200  # about four days at the 30-minute cap: outlives any planned outage
MAX_BACKOFF = timedelta(minutes=30)
# PostgreSQL channel a transaction that wrote outbox rows notifies on commit, so separate workers
# (``yishiting worker``) wake at once instead of at their next poll. The notification is sent by a trigger
# on the table (migration 0003), not by a statement of the transaction's own.
NOTIFY_CHANNEL = "yishiting_outbox"


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_pending", "processed_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))


Handler = Callable[[dict[str, Any]], Awaitable[None]]
# A handler that takes the payloads of several messages of its topic at once (one search index update for
# a hundred comments instead of a hundred). Its topic's due messages are claimed together, up to the batch.
BatchHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]


def enqueue(session: AsyncSession, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    message = OutboxMessage(topic=topic, payload=payload)
    session.add(message)
    return message


async def enqueue_many(session: AsyncSession, topic: str, payloads: list[dict[str, Any]]) -> None:
    """``enqueue`` for many messages: one INSERT of every row (an executemany), where the unit of work would
    send one per message to learn its id."""
    if payloads:
        await session.execute(insert(OutboxMessage), [{"topic": topic, "payload": payload} for payload in payloads])


def backoff(attempts: int) -> timedelta:
    return min(timedelta(seconds=2 ** min(attempts, 20)), MAX_BACKOFF)


# Due messages of a batch topic handed to its handler at once (PostgreSQL). Search updates go to Meilisearch
# as one task per call, and a task costs about the same for 50 documents as for 500 with a 1-million-document
# index (179–334 ms against 335 ms, bench/RESULTS.md): a surge's backlog drains ten times faster in 500s.
BATCH_TOPIC_LIMIT = 500


class OutboxWorker:
    """Drains the outbox. Handlers receive the payload and open their own sessions if needed."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], handlers: dict[str, Handler], *,
                 private_topics: frozenset[str] = frozenset(),
                 batch_handlers: dict[str, BatchHandler] | None = None, batch_limit: int = BATCH_TOPIC_LIMIT):
        self.sessionmaker = sessionmaker
        self.handlers = handlers
        self.batch_handlers = batch_handlers or {}
        self.batch_limit = batch_limit
        # Payloads of these topics (one-time codes, addresses) are erased once delivered or given up.
        self.private_topics = private_topics

    def _due(self, topics: list[str], batch: int, after_id: int) -> Any:
        return (
            select(OutboxMessage)
            .where(
                OutboxMessage.id > after_id,
                OutboxMessage.topic.in_(topics),
                OutboxMessage.processed_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= utcnow(),
            )
            .order_by(OutboxMessage.id)
            .limit(batch)
        )

    async def _claim(self, session: AsyncSession, batch: int, topics: list[str] | None = None,
                     after: OutboxMessage | None = None) -> list[OutboxMessage]:
        # Only topics this deployment handles: a message for a consumer that is not installed yet (e.g. the
        # hand-off of agreed actions before the governance pipeline exists) waits untouched, never given up.
        query = self._due(topics or sorted({*self.handlers, *self.batch_handlers}), batch, after.id if after else 0)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        return list((await session.scalars(query)).all())

    async def run_once(self, batch: int = 50) -> int:
        """Process one batch; returns how many rows were handled (successfully or not). On PostgreSQL a batch
        topic's call takes up to ``batch_limit`` of its due messages, however many ``batch`` says."""
        async with self.sessionmaker() as session:
            if session.get_bind().dialect.name == "postgresql":
                # One row per transaction (or, for a batch topic, that topic's due rows up to ``batch_limit``):
                # they stay locked (SKIP LOCKED) while the handler runs, so parallel workers never share
                # one, and a crash repeats at most the side effect in flight.
                handled = 0
                while handled < batch:
                    async with session.begin():
                        claimed = await self._claim(session, 1)
                        if not claimed:
                            break
                        if claimed[0].topic in self.batch_handlers:
                            # (after the first: this transaction's own lock does not make SKIP LOCKED skip it)
                            claimed += await self._claim(session, self.batch_limit - 1, [claimed[0].topic],
                                                         after=claimed[0])
                        for group in self._groups(claimed):
                            await self._record_all(session, group, await self._outcomes(group))
                        handled += len(claimed)
                return handled
            # SQLite has one worker. A read transaction held across the handlers would make the final
            # UPDATE fail whenever anything else (a request, a handler) wrote meanwhile (WAL snapshot),
            # so claim, run and record in separate short transactions.
            async with session.begin():
                messages = await self._claim(session, batch)
            for group in self._groups(messages):
                outcomes = await self._outcomes(group)
                async with session.begin():
                    await self._record_all(session, group, outcomes)
            return len(messages)

    def _groups(self, messages: list[OutboxMessage]) -> list[list[OutboxMessage]]:
        """The messages in the order claimed, those of one batch topic together (run by one call)."""
        groups: list[list[OutboxMessage]] = []
        by_topic: dict[str, list[OutboxMessage]] = {}
        for message in messages:
            if message.topic in self.batch_handlers:
                if message.topic not in by_topic:
                    by_topic[message.topic] = []
                    groups.append(by_topic[message.topic])
                by_topic[message.topic].append(message)
            else:
                groups.append([message])
        return groups

    async def _record_all(self, session: AsyncSession, messages: list[OutboxMessage],
                          outcomes: list[dict[str, Any]]) -> None:
        """Store the outcomes: a batch that succeeded in one statement, anything else row by row."""
        if len(messages) > 1 and all("processed_at" in o for o in outcomes) \
                and messages[0].topic not in self.private_topics:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_([m.id for m in messages]))
                                  .values(processed_at=outcomes[0]["processed_at"], last_error=None,
                                          attempts=OutboxMessage.attempts + 1))
            return
        for message, outcome in zip(messages, outcomes, strict=True):
            await self._record(session, message, outcome)

    async def _record(self, session: AsyncSession, message: OutboxMessage, values: dict[str, Any]) -> None:
        finished = "processed_at" in values or "failed_at" in values
        if finished and message.topic in self.private_topics:
            values = {**values, "payload": {"erased": True}}
        await session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(**values))

    async def _outcomes(self, messages: list[OutboxMessage]) -> list[dict[str, Any]]:
        """Run the handler (a batch topic's once for all its messages); returns each row's new values (done,
        or failed with the next retry time)."""
        topic = messages[0].topic
        batch_handler = self.batch_handlers.get(topic)
        try:
            if batch_handler is not None:
                await batch_handler([message.payload for message in messages])
            elif (handler := self.handlers.get(topic)) is not None:
                assert len(messages) == 1
                await handler(messages[0].payload)
            else:
                raise LookupError(f"no handler for topic {topic!r}")
        except Exception as exc:  # a failing handler must never stop the worker
            log.warning("outbox messages %s (%s) failed: %s", [m.id for m in messages], topic, exc)
            if len(messages) > 1 and batch_handler is not None:
                return await self._one_by_one(messages, batch_handler)
            return [self._failed(message, exc) for message in messages]
        return [self._done(message) for message in messages]

    async def _one_by_one(self, messages: list[OutboxMessage], handler: BatchHandler) -> list[dict[str, Any]]:
        """A batch failed: run its messages one at a time, so that one bad message does not hold back the
        others at every retry. Two failures in a row mean a shared cause (a service down): the rest then
        wait for the retry too, without a call each."""
        outcomes: list[dict[str, Any]] = []
        failures_in_a_row = 0
        last: Exception | None = None
        for message in messages:
            if failures_in_a_row >= 2 and last is not None:
                outcomes.append(self._failed(message, last))
                continue
            try:
                await handler([message.payload])
            except Exception as exc:
                last = exc
                failures_in_a_row += 1
                outcomes.append(self._failed(message, exc))
            else:
                failures_in_a_row = 0
                outcomes.append(self._done(message))
        return outcomes

    @staticmethod
    def _done(message: OutboxMessage) -> dict[str, Any]:
        return {"processed_at": utcnow(), "attempts": message.attempts + 1, "last_error": None}

    @staticmethod
    def _failed(message: OutboxMessage, exc: Exception) -> dict[str, Any]:
        attempts = message.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_error": f"{type(exc).__name__}: {exc}"[:2000],
            "next_attempt_at": utcnow() + backoff(attempts),
        }
        if attempts >= MAX_ATTEMPTS:
            values["failed_at"] = utcnow()
        return values

    async def drain(self, max_rounds: int = 100) -> int:
        """Run batches until nothing due is left (used by tests and the CLI)."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            total += handled
            if handled == 0:
                break
        return total
