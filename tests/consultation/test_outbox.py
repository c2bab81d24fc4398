"""The outbox worker: delivers, retries with backoff, never loses a message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from consultation.db import utcnow
from consultation.outbox import BATCH_TOPIC_LIMIT, OutboxMessage, OutboxWorker, backoff, enqueue
from tests import harness


async def test_handler_runs_once_and_row_is_marked_done(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    seen: list[dict[str, Any]] = []

    async def handler(payload: dict[str, Any]) -> None:
        seen.append(payload)

    enqueue(db, "test.topic", {"n": 1})
    await db.commit()
    worker = OutboxWorker(sessionmaker, {"test.topic": handler})
    assert await worker.drain() == 1
    assert await worker.drain() == 0
    assert seen == [{"n": 1}]
    row = await db.scalar(select(OutboxMessage).execution_options(populate_existing=True))
    assert row is not None and row.processed_at is not None and row.attempts == 1


async def test_failure_is_retried_later_with_backoff(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    calls = 0
    down = True

    async def flaky(payload: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if down:
            raise ConnectionError("mail server down")

    enqueue(db, "flaky", {})
    await db.commit()
    worker = OutboxWorker(sessionmaker, {"flaky": flaky})
    await worker.drain()
    row = await db.scalar(select(OutboxMessage).execution_options(populate_existing=True))
    assert row is not None and row.processed_at is None and row.attempts == 1
    assert "mail server down" in (row.last_error or "")
    assert row.next_attempt_at > utcnow()
    assert await worker.drain() == 0  # not due yet: no busy loop
    down = False
    await db.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    await worker.drain()
    row = await db.scalar(select(OutboxMessage).execution_options(populate_existing=True))
    assert row is not None and row.processed_at is not None and calls == 2


async def test_unknown_topic_waits_untouched_for_its_consumer(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    enqueue(db, "nobody.listens.yet", {"n": 1})
    await db.commit()
    assert await OutboxWorker(sessionmaker, {}).drain() == 0
    row = await db.scalar(select(OutboxMessage).execution_options(populate_existing=True))
    assert row is not None and row.processed_at is None and row.failed_at is None and row.attempts == 0
    delivered: list[dict[str, int]] = []

    async def consumer(payload: dict[str, int]) -> None:
        delivered.append(payload)

    assert await OutboxWorker(sessionmaker, {"nobody.listens.yet": consumer}).drain() == 1
    assert delivered == [{"n": 1}]


def test_backoff_grows_and_is_capped() -> None:
    assert backoff(1) < backoff(2) < backoff(5)
    assert backoff(50) == timedelta(minutes=30)


async def test_private_payloads_are_erased_once_delivered(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async def deliver(payload: dict[str, Any]) -> None:
        assert payload["params"]["code"] == "123456"

    enqueue(db, "message.send", {"recipient": "13800000000", "params": {"code": "123456"}})
    await db.commit()
    await OutboxWorker(sessionmaker, {"message.send": deliver}, private_topics=frozenset({"message.send"})).drain()
    row = await db.scalar(select(OutboxMessage).execution_options(populate_existing=True))
    assert row is not None and row.processed_at is not None
    assert row.payload == {"erased": True}  # no code or phone number left behind


async def test_a_batch_topic_runs_its_due_messages_in_one_call(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """A surge's search updates go to the index together: one handler call for the topic's due messages,
    the other topics' messages one by one in order, and every row marked done."""
    batches: list[list[dict[str, Any]]] = []
    singles: list[dict[str, Any]] = []

    async def index_many(payloads: list[dict[str, Any]]) -> None:
        batches.append(payloads)

    async def send(payload: dict[str, Any]) -> None:
        singles.append(payload)

    for n in range(7):
        enqueue(db, "search.index", {"n": n})
        if n % 3 == 0:
            enqueue(db, "message.send", {"n": n})
    await db.commit()
    worker = OutboxWorker(sessionmaker, {"message.send": send}, batch_handlers={"search.index": index_many})
    assert await worker.drain() == 10
    assert [p["n"] for batch in batches for p in batch] == list(range(7))
    assert len(batches) == 1 and singles == [{"n": 0}, {"n": 3}, {"n": 6}]
    rows = (await db.scalars(select(OutboxMessage).execution_options(populate_existing=True))).all()
    assert len(rows) == 10 and all(r.processed_at is not None and r.attempts == 1 for r in rows)


async def test_a_batch_failing_for_a_shared_cause_is_retried_whole(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """Meilisearch down: the batch fails, the first two messages alone fail too, and the rest wait for the
    retry without a call each; once it is back, the next round indexes them together."""
    calls: list[int] = []
    down = True

    async def index_many(payloads: list[dict[str, Any]]) -> None:
        calls.append(len(payloads))
        if down:
            raise ConnectionError("Meilisearch down")

    for n in range(5):
        enqueue(db, "search.index", {"n": n})
    await db.commit()
    worker = OutboxWorker(sessionmaker, {}, batch_handlers={"search.index": index_many})
    assert await worker.drain() == 5
    assert calls == [5, 1, 1]
    rows = (await db.scalars(select(OutboxMessage).execution_options(populate_existing=True))).all()
    assert all(r.processed_at is None and r.attempts == 1 and "Meilisearch down" in (r.last_error or "")
               for r in rows)
    down = False
    await db.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    await db.commit()
    assert await worker.drain() == 5 and calls == [5, 1, 1, 5]
    rows = (await db.scalars(select(OutboxMessage).execution_options(populate_existing=True))).all()
    assert all(r.processed_at is not None and r.attempts == 2 and r.last_error is None for r in rows)


async def test_one_bad_message_does_not_hold_back_its_batch(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    done: list[int] = []

    async def index_many(payloads: list[dict[str, Any]]) -> None:
        if any(p["n"] == 2 for p in payloads):
            raise ValueError("cannot build document 2")
        done.extend(p["n"] for p in payloads)

    for n in range(5):
        enqueue(db, "search.index", {"n": n})
    await db.commit()
    assert await OutboxWorker(sessionmaker, {}, batch_handlers={"search.index": index_many}).drain() == 5
    assert done == [0, 1, 3, 4]
    rows = {r.payload["n"]: r for r in (await db.scalars(
        select(OutboxMessage).execution_options(populate_existing=True))).all()}
    assert rows[2].processed_at is None and "cannot build document 2" in (rows[2].last_error or "")
    assert all(rows[n].processed_at is not None for n in (0, 1, 3, 4))


@pytest.mark.skipif(harness.backend() != "postgres", reason="the batch limit applies to PostgreSQL's claims")
async def test_a_surges_backlog_goes_to_the_index_in_calls_of_up_to_the_batch_limit(db, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """Meilisearch takes about as long for 500 documents as for 50: a backlog of search updates is handed over
    ``BATCH_TOPIC_LIMIT`` at a time, whatever the round's ``batch`` of single messages."""
    sizes: list[int] = []

    async def index_many(payloads: list[dict[str, Any]]) -> None:
        sizes.append(len(payloads))

    for n in range(BATCH_TOPIC_LIMIT + 120):
        enqueue(db, "search.index", {"n": n})
    await db.commit()
    worker = OutboxWorker(sessionmaker, {}, batch_handlers={"search.index": index_many})
    assert await worker.run_once(batch=50) == BATCH_TOPIC_LIMIT
    assert await worker.drain() == 120
    assert sizes == [BATCH_TOPIC_LIMIT, 120]
