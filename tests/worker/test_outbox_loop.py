"""The dedicated worker's loop: periodic jobs run beside the outbox loop, not in it, and no notification is lost."""

from __future__ import annotations

import asyncio
import contextlib

from web.worker import jobs_alongside


class SlowJobs:
    """A round of periodic jobs that takes a while (a city-wide poll's reminders)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.rounds = 0
        self.running = asyncio.Event()

    async def maybe_run(self) -> None:
        self.rounds += 1
        self.running.set()
        await asyncio.sleep(self.seconds)


async def test_the_outbox_is_drained_while_a_long_job_runs() -> None:
    jobs = SlowJobs(seconds=30)
    drained = 0
    async with jobs_alongside(jobs) as task:  # type: ignore[arg-type]  # the one method the loop calls
        await asyncio.wait_for(jobs.running.wait(), 1)
        for _ in range(5):  # the outbox loop's rounds go on meanwhile
            await asyncio.sleep(0)
            drained += 1
        assert not task.done()
    assert drained == 5 and jobs.rounds == 1
    assert task.cancelled()  # leaving stops the jobs: a worker shutting down does not wait 30 s for them


async def test_jobs_run_again_after_each_round() -> None:
    jobs = SlowJobs(seconds=0)
    async with jobs_alongside(jobs, every_seconds=0.01):  # type: ignore[arg-type]
        await asyncio.sleep(0.1)
    assert jobs.rounds >= 3


class Listener:
    async def ensure(self) -> None:
        return None


class Outbox:
    """``run_once`` of an outbox whose first round finds nothing while a row is committed and notified."""

    def __init__(self, wake: asyncio.Event) -> None:
        self.wake = wake
        self.rounds: list[float] = []
        self.second = asyncio.Event()

    async def run_once(self) -> int:
        self.rounds.append(asyncio.get_running_loop().time())
        if len(self.rounds) == 1:
            self.wake.set()  # the notification of a row committed after this round's claim found nothing
        else:
            self.second.set()
        return 0


async def test_a_notification_during_an_empty_round_is_not_lost() -> None:
    from types import SimpleNamespace

    from web.worker import _drain_forever

    wake = asyncio.Event()
    outbox = Outbox(wake)
    services = SimpleNamespace(worker=outbox)
    loop = asyncio.create_task(_drain_forever(services, Listener(), wake, idle_seconds=30))  # type: ignore[arg-type]
    try:
        await asyncio.wait_for(outbox.second.wait(), 5)  # not after the 30 s poll: at once
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert outbox.rounds[1] - outbox.rounds[0] < 1
