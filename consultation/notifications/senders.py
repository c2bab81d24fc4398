"""Pluggable message senders behind one interface: ``send(channel, recipient, subject, body)``.

- ``DevSender`` stores every message as a ``DevMessage`` row, shown at /dev/outbox (development
  and tests only), so codes can be read without a mail server or an SMS gateway.
- ``SmtpSender`` delivers email through an SMTP server (standard-library ``smtplib`` in a thread).
  It cannot send SMS: a production SMS gateway is another ``Sender`` whose ``channels`` holds
  ``"sms"``, combined with this one by the composition root.

Senders take explicit configuration; only the web layer reads settings. They raise on failure
so the outbox retries the message with backoff.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Protocol
from urllib.parse import unquote, urlsplit

from sqlalchemy import exists, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultation.db import UTCDateTime, utcnow
from consultation.notifications.models import DevMessage


class DeliveryError(RuntimeError):
    """The message could not be delivered (the outbox will retry it)."""


class UnsupportedChannel(DeliveryError):
    pass


class Sender(Protocol):
    channels: frozenset[str]

    async def send(self, channel: str, recipient: str, subject: str, body: str) -> None: ...


class DevSender:
    """Keeps messages in the database for the development outbox page."""

    channels = frozenset({"email", "sms"})

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def send(self, channel: str, recipient: str, subject: str, body: str) -> None:
        subject = subject[:200]
        row = select(literal(channel), literal(recipient), literal(subject), literal(body),
                     literal(utcnow(), UTCDateTime()))
        # Idempotent (the outbox may run a message twice if the worker died before marking it done),
        # and one statement, so SQLite never has to turn a read snapshot into a write.
        already = exists().where(DevMessage.channel == channel, DevMessage.recipient == recipient,
                                 DevMessage.subject == subject, DevMessage.body == body)
        async with self.sessionmaker() as session, session.begin():
            await session.execute(insert(DevMessage).from_select(
                ["channel", "recipient", "subject", "body", "created_at"], row.where(~already)))


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    mail_from: str
    username: str | None = None
    password: str | None = None
    security: str = "opportunistic"  # opportunistic (STARTTLS if offered) | starttls | ssl
    timeout: float = 15.0

    @classmethod
    def from_url(cls, url: str, mail_from: str) -> SmtpConfig:
        """``smtp://user:pass@host:port`` (STARTTLS when offered), ``smtp+starttls://`` (required), ``smtps://``."""
        parts = urlsplit(url)
        security = {"smtp": "opportunistic", "smtp+starttls": "starttls", "smtps": "ssl"}.get(parts.scheme)
        if security is None or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:password@host:port (or smtps://, smtp+starttls://)")
        default_port = 465 if security == "ssl" else 587 if security == "starttls" else 25
        return cls(
            host=parts.hostname,
            port=parts.port or default_port,
            mail_from=mail_from,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            security=security,
        )


class SmtpSender:
    """Email through SMTP. Phone numbers are refused: codes by SMS need an SMS gateway sender."""

    channels = frozenset({"email"})

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    async def send(self, channel: str, recipient: str, subject: str, body: str) -> None:
        if channel not in self.channels:
            raise UnsupportedChannel(f"the SMTP sender cannot deliver {channel!r} messages")
        await asyncio.to_thread(self._deliver, self._compose(recipient, subject, body))

    def _compose(self, recipient: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.config.mail_from
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        domain = parseaddr(self.config.mail_from)[1].rpartition("@")[2] or None
        message["Message-ID"] = make_msgid(domain=domain)
        message.set_content(body, charset="utf-8")
        return message

    def _deliver(self, message: EmailMessage) -> None:
        config = self.config
        try:
            if config.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout,
                                                        context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with client:
                client.ehlo()
                if config.security == "starttls" or (config.security == "opportunistic"
                                                      and client.has_extn("starttls")):
                    client.starttls(context=ssl.create_default_context())
                    client.ehlo()
                if config.username:
                    client.login(config.username, config.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"SMTP delivery to {config.host}:{config.port} failed: {exc}") from exc
