"""Periodic jobs run by the outbox worker loop (in-process or ``yishiting worker``): each job opens its
own short write transaction about once a minute. Jobs must be idempotent and safe to run from
several workers at once (they are run by every worker process)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultation.deliberation.photos import purge_stale_uploads
from consultation.meetings.services import send_due_reminders
from consultation.voting.reminders import CLOSE_BATCH, REMINDER_BATCH, close_due_polls, send_vote_reminders
from web.settings import from_env

log = logging.getLogger(__name__)

Job = Callable[[AsyncSession], Awaitable[int]]


def jobs(receipt_key: bytes) -> tuple[tuple[str, Job, int | None], ...]:
    """The jobs, each with the batch it does per transaction (None: all at once); a job that did a full batch
    runs again at once, in a new transaction. Closing polls unseals secret ballots, so it takes the receipt key
    (settings.secret_key)."""
    return (
        ("meeting reminders", send_due_reminders, None),
        ("stale photo uploads", purge_stale_uploads, None),  # photos uploaded with a form that was never sent
        ("poll closing", functools.partial(close_due_polls, receipt_key=receipt_key), CLOSE_BATCH),
        ("poll reminders", functools.partial(send_vote_reminders, limit=REMINDER_BATCH), REMINDER_BATCH),
    )


class Periodic:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], interval: float = 60.0, *,
                 receipt_key: bytes | None = None) -> None:
        """``receipt_key``: settings.secret_key as bytes; read from the environment when not given."""
        self.sessionmaker = sessionmaker
        self.interval = interval
        self.jobs = jobs(receipt_key if receipt_key is not None else from_env().secret_key.encode("utf-8"))
        self._last = float("-inf")

    async def maybe_run(self) -> None:
        """Run every job if ``interval`` seconds have passed since the last round; never raises."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        for name, job, batch in self.jobs:
            try:
                while True:
                    async with self.sessionmaker() as session, session.begin():
                        done = await job(session)
                    if done:
                        log.info("%s: %d done", name, done)
                    if batch is None or done < batch:  # a full batch: there may be more
                        break
            except Exception:  # the database may be restarting: try again next round
                log.exception("periodic job %s failed", name)
