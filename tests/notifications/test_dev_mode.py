"""The embedded development set-up end to end: a SQLite file, the in-process outbox worker and /dev/outbox.

The other tests share one connection per test; this one uses separate connections like `make run`
does, which is where a transaction that read before another connection committed cannot write
(SQLite WAL), e.g. a worker transaction held across a handler's own write.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from sqlalchemy import func, select
from starlette.applications import Starlette

from consultation.outbox import OutboxMessage
from tests.accounts.messages import CODE_PATTERN, bodies_on_page
from tests.conftest import WebClient
from tests.factories import PASSWORD, make_city, make_user
from web.app import create_app
from web.migrate import upgrade
from web.settings import Settings


async def _until_outbox_empty(app: Starlette) -> None:
    for _ in range(100):
        async with app.state.sessionmaker() as db:
            pending = await db.scalar(select(func.count(OutboxMessage.id)).where(OutboxMessage.processed_at.is_(None)))
        if not pending:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the in-process worker did not drain the outbox")


async def _code_from_dev_outbox(web: WebClient, recipient: str) -> str:
    for _ in range(50):  # the worker is woken after the commit (and polls every second)
        bodies = bodies_on_page((await web.get("/dev/outbox")).text, recipient)
        if bodies and (found := CODE_PATTERN.search(bodies[0])):
            return found.group(1)
        await asyncio.sleep(0.1)
    raise AssertionError("the in-process worker did not deliver the code")


async def test_in_process_worker_delivers_codes_to_the_dev_outbox(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(environment="development", database_url=url, run_worker_in_process=True,
                        secret_key="dev-mode-test-secret-that-is-long-enough")
    app = create_app(settings)
    async with asyncio.timeout(60), app.router.lifespan_context(app):  # a failure must not hang the run
        async with app.state.write_sessionmaker() as db, db.begin():
            city = await make_city(db)
            await make_user(db, phone="13300001111", area=city.community_a)
        await _until_outbox_empty(app)  # what setting up the city queued (search indexing)
        async with WebClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as web:
            assert (await web.submit("/login/code", {"identifier": "13300001111"})).status_code == 303
            code = await _code_from_dev_outbox(web, "13300001111")
            response = await web.submit("/login/code/enter", {"identifier": "13300001111", "code": code})
            assert response.status_code == 303
            assert "退出登录</button>" in (await web.get("/")).text
            # Signed-in writes that are throttled: they must not need a second writing connection.
            changed = await web.submit("/account/password", {"current_password": PASSWORD, "password": "abc12345x",
                                                             "password_confirm": "abc12345x"})
            assert changed.status_code == 303
            assert (await web.submit("/account/export")).status_code == 200
