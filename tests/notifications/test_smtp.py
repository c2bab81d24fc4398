"""Email through a real SMTP server on loopback (aiosmtpd), retries while it is down, and production mode."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette

from consultation.db import utcnow
from consultation.notifications.senders import SmtpConfig
from consultation.outbox import OutboxMessage
from tests import harness
from tests.accounts.messages import drain
from tests.conftest import WebClient, text_of
from tests.factories import make_city, make_user
from web.app import create_app
from web.settings import Settings


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, email.message.EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Any:
    server = SmtpServer(harness.free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def smtp_app(settings: Settings, sessionmaker, smtp_server: SmtpServer) -> AsyncIterator[Starlette]:  # type: ignore[no-untyped-def]
    smtp_settings = settings.with_(code_sender="smtp", smtp_url=f"smtp://127.0.0.1:{smtp_server.port}",
                                   mail_from="议事厅 <noreply@yishiting.test>").validate()
    application = create_app(smtp_settings, sessionmaker=sessionmaker)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def smtp_client(smtp_app: Starlette) -> AsyncIterator[WebClient]:
    async with WebClient(transport=httpx.ASGITransport(app=smtp_app), base_url="http://testserver") as web:
        yield web


def _code_in(message: email.message.EmailMessage) -> str:
    body = message.get_content()
    found = re.search(r"(?<!\d)(\d{6})(?!\d)", body)
    assert found is not None, body
    return found.group(1)


async def test_code_is_emailed_through_smtp_and_logs_in(smtp_client: WebClient, smtp_app: Starlette,
                                                        smtp_server: SmtpServer, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, email="chen@example.org", area=city.community_a)
    assert (await smtp_client.submit("/login/code", {"identifier": "chen@example.org"})).status_code == 303
    await drain(smtp_app)
    [message] = smtp_server.inbox.messages
    assert message["To"] == "chen@example.org"
    assert message["Subject"] == "您的议事厅登录验证码"
    assert "noreply@yishiting.test" in message["From"]
    code = _code_in(message)
    # The dev page does not exist for mail that really went out; the code works.
    response = await smtp_client.submit("/login/code/enter", {"identifier": "chen@example.org", "code": code})
    assert response.status_code == 303


async def test_mail_waits_in_the_outbox_while_the_server_is_down(smtp_client: WebClient, smtp_app: Starlette,
                                                                 smtp_server: SmtpServer, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, email="down@example.org", area=city.community_a)
    smtp_server.stop()
    await smtp_client.submit("/password/forgot", {"identifier": "down@example.org"})
    await drain(smtp_app)
    row = await db.scalar(select(OutboxMessage).where(OutboxMessage.topic == "message.send"))
    assert row is not None
    await db.refresh(row)
    assert row.processed_at is None and row.failed_at is None and row.attempts == 1
    assert row.last_error and "SMTP delivery" in row.last_error
    assert row.next_attempt_at > utcnow()  # backing off

    smtp_server.start()
    await drain(smtp_app)
    assert smtp_server.inbox.messages == []  # not due yet
    await db.execute(update(OutboxMessage).where(OutboxMessage.id == row.id)
                     .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    await drain(smtp_app)
    await db.refresh(row)
    assert row.processed_at is not None and row.attempts == 2
    [message] = smtp_server.inbox.messages
    assert message["To"] == "down@example.org" and message["Subject"] == "重置您的议事厅密码"


async def test_smtp_mode_cannot_send_codes_by_text_message(smtp_client: WebClient, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13500001111", area=city.community_a)
    response = await smtp_client.submit("/login/code", {"identifier": "13500001111"})
    assert response.status_code == 422
    assert "本站暂不能通过短信发送验证码" in text_of(response.text)
    assert 'value="13500001111"' in response.text
    assert await db.scalar(select(OutboxMessage.id).where(OutboxMessage.topic == "message.send")) is None


def test_smtp_url_forms() -> None:
    plain = SmtpConfig.from_url("smtp://user%40x:p%3Ass@mail.example:2525", "a@b.c")
    assert (plain.host, plain.port, plain.username, plain.password, plain.security) == \
        ("mail.example", 2525, "user@x", "p:ss", "opportunistic")
    assert SmtpConfig.from_url("smtps://mail.example", "a@b.c").port == 465
    assert SmtpConfig.from_url("smtp+starttls://mail.example", "a@b.c").security == "starttls"
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpConfig.from_url("http://mail.example", "a@b.c")


async def test_dev_outbox_is_missing_in_production(settings: Settings, sessionmaker) -> None:  # type: ignore[no-untyped-def]
    production = settings.with_(environment="production", secret_key="p" * 40, code_sender="smtp",
                                smtp_url="smtp://127.0.0.1:2525").validate()
    application = create_app(production, sessionmaker=sessionmaker)
    async with application.router.lifespan_context(application), WebClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver"
    ) as web:
        response = await web.get("/dev/outbox")
        assert response.status_code == 404
        assert "/dev/outbox" not in (await web.get("/")).text


async def test_dev_outbox_lists_newest_first(client: WebClient, app: Starlette, db: AsyncSession) -> None:
    city = await make_city(db)
    await make_user(db, phone="13500002222", area=city.community_a)
    await make_user(db, phone="13500003333", area=city.community_a)
    await client.submit("/login/code", {"identifier": "13500002222"})
    await drain(app)
    await client.submit("/login/code", {"identifier": "13500003333"})
    await drain(app)
    page = (await client.get("/dev/outbox")).text
    assert page.index("13500003333") < page.index("13500002222")
