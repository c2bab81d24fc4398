"""The embedded SQLite default under concurrent requests: separate connections, the in-process
worker running, and writers that read first. Nothing may answer 500 with "database is locked"."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests import harness
from tests.conftest import WebClient
from web.app import create_app
from web.migrate import upgrade
from web.settings import Settings

WATCHDOG_SECONDS = 120

pytestmark = pytest.mark.skipif(harness.backend() != "sqlite", reason="SQLite-specific locking behaviour")


async def test_concurrent_writers_queue_instead_of_failing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(environment="test", database_url=url, secret_key="s" * 40, run_worker_in_process=True)
    app = create_app(settings)
    async with asyncio.timeout(WATCHDOG_SECONDS * 2), app.router.lifespan_context(app):  # start-up and shut-down too
        from web.demo import build_demo

        async with app.state.write_sessionmaker() as session:
            await build_demo(session)
            await session.commit()

        async def visitor(n: int) -> list[int]:
            async with WebClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as web:
                statuses = [(await web.submit("/login", {"identifier": f"1380000{5 + n % 3:04d}",
                                                         "password": "yishiting2026"})).status_code]
                for _ in range(3):
                    statuses.append((await web.get("/account")).status_code)
                    statuses.append((await web.submit("/prefs/elderly", {"enabled": "1"})).status_code)
                    statuses.append((await web.submit("/login/code", {"identifier": f"1380000{n:04d}"})).status_code)
                return statuses

        # A watchdog: a wait that never ends fails here, with every task's stack, instead of stalling the run.
        try:
            async with asyncio.timeout(WATCHDOG_SECONDS):
                results = await asyncio.gather(*(visitor(n) for n in range(8)))
        except TimeoutError:
            stacks = "\n".join(f"{task.get_name()}: {task.get_stack(limit=8)}" for task in asyncio.all_tasks())
            raise AssertionError(f"visitors still waiting after {WATCHDOG_SECONDS} s:\n{stacks}") from None
    flat = [status for statuses in results for status in statuses]
    assert 500 not in flat, flat
    assert set(flat) <= {200, 303, 429}, flat
