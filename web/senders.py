"""Chooses the message sender from settings and turns ``message.send`` outbox rows into deliveries.

CODE_SENDER=dev stores every message for /dev/outbox; CODE_SENDER=smtp emails through SMTP_URL and
cannot send SMS (no SMS gateway is configured), so phone numbers cannot receive codes in that mode.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from consultation.notifications.senders import DevSender, Sender, SmtpConfig, SmtpSender
from consultation.notifications.services import MESSAGE_TOPIC
from consultation.outbox import Handler
from web import i18n
from web.settings import Settings


def build_sender(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> Sender:
    if settings.code_sender == "smtp":
        if not settings.smtp_url:
            raise ValueError("CODE_SENDER=smtp needs SMTP_URL")
        return SmtpSender(SmtpConfig.from_url(settings.smtp_url, settings.mail_from))
    return DevSender(sessionmaker)


def code_channels(settings: Settings) -> frozenset[str]:
    """Channels a one-time code can go out on with these settings (checked before a code is made)."""
    return frozenset({"email"}) if settings.code_sender == "smtp" else DevSender.channels


def message_handlers(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Handler]:
    sender = build_sender(settings, sessionmaker)

    async def deliver(payload: dict[str, Any]) -> None:
        subject, body = render_message(payload, settings.base_url)
        await sender.send(payload["channel"], payload["recipient"], subject, body)

    return {MESSAGE_TOPIC: deliver}


def render_message(payload: dict[str, Any], base_url: str) -> tuple[str, str]:
    """Subject and body in the recipient's language, with the link (if any) made absolute."""
    token = i18n.current_locale.set(i18n.pick_locale(payload.get("locale")))
    try:
        params = payload.get("params") or {}
        subject = i18n.gettext(payload["subject"])
        body = i18n.gettext(payload["body"], **params) if payload.get("body") else ""
        if payload.get("url"):
            link = f"{base_url}{payload['url']}" if str(payload["url"]).startswith("/") else payload["url"]
            body = f"{body}\n\n{link}".strip()
        if payload["channel"] == "email":
            body = f"{body}\n\n-- \n{i18n.gettext('Yishiting')}"
        return subject, body
    finally:
        i18n.current_locale.reset(token)
