"""Reading delivered messages the way a developer does: drain the outbox, then open /dev/outbox."""

from __future__ import annotations

import html
import re

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from consultation.accounts.models import RateLimitBucket
from tests.conftest import WebClient

_CARD = re.compile(r'<li class="card">(.*?)</li>', re.S)
_BODY = re.compile(r'<pre class="message-body">(.*?)</pre>', re.S)
CODE_PATTERN = re.compile(r"(?<!\d)(\d{6})(?!\d)")


async def drain(app: Starlette) -> int:
    return int(await app.state.services.worker.drain())


async def dev_messages(client: WebClient, app: Starlette, recipient: str) -> list[str]:
    """Bodies of the messages to ``recipient`` shown at /dev/outbox, newest first."""
    await drain(app)
    page = await client.get("/dev/outbox")
    assert page.status_code == 200
    return bodies_on_page(page.text, recipient)


def bodies_on_page(page: str, recipient: str) -> list[str]:
    bodies = []
    for card in _CARD.findall(page):
        if f'<span class="recipient">{html.escape(recipient)}</span>' in card:
            body = _BODY.search(card)
            assert body is not None
            bodies.append(html.unescape(body.group(1)))
    return bodies


async def latest_code(client: WebClient, app: Starlette, recipient: str) -> str:
    bodies = await dev_messages(client, app, recipient)
    assert bodies, f"no message to {recipient} in /dev/outbox"
    found = CODE_PATTERN.search(bodies[0])
    assert found is not None, bodies[0]
    return found.group(1)


async def forget_rate_limits(db: AsyncSession) -> None:
    """Lets a test ask for a second code at once (the one-a-minute limit has its own test)."""
    await db.execute(delete(RateLimitBucket))
    await db.flush()
