"""One-time codes: log-in by code and password reset.

A six-digit code goes to the phone or email of an existing account. Only its hash is stored; it
lives ten minutes, allows five checks and works once. Asking for a code answers the same whether
or not an account exists, and never creates one. Failed checks are flushed before the domain
error is raised, so the caller's commit keeps the attempt count and the audit trail.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, counters
from consultation.accounts.models import CodePurpose, OneTimeCode, User
from consultation.accounts.passwords import hash_password
from consultation.accounts.services import (
    check_password_strength,
    find_by_identifier,
    lockout_keys,
    revoke_all_sessions,
)
from consultation.db import utcnow
from consultation.errors import N_, Message, ValidationFailed, msg
from consultation.notifications.services import EMAIL, SMS, notify, send_message
from consultation.validation import identifier_kind

CODE_LIFETIME = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
_CODE_RE = re.compile(r"^\d{6}$")

MESSAGES = {
    CodePurpose.login: (
        N_("Your Yishiting log-in code"),
        N_("Your log-in code is {code}. It is valid for {minutes} minutes. If you did not ask for it, "
           "ignore this message: nobody can log in without the code."),
    ),
    CodePurpose.reset: (
        N_("Reset your Yishiting password"),
        N_("Your password reset code is {code}. It is valid for {minutes} minutes. If you did not ask for "
           "it, ignore this message and your password stays as it is."),
    ),
}
WRONG_OR_EXPIRED = N_("This code is wrong or has expired. Ask for a new code.")


@dataclass(frozen=True)
class Destination:
    kind: str  # phone | email
    value: str

    @property
    def channel(self) -> str:
        return SMS if self.kind == "phone" else EMAIL


def parse_destination(raw: str, *, channels: frozenset[str], field: str = "identifier") -> Destination:
    kind = identifier_kind(raw)
    if kind is None:
        raise ValidationFailed({field: msg("Enter a mainland mobile number (11 digits) or an email address.")})
    destination = Destination(*kind)
    if destination.channel not in channels:
        raise ValidationFailed({field: msg("Codes cannot be sent by text message on this site. "
                                           "Enter the email address of your account instead.")})
    return destination


def code_hash(purpose: CodePurpose, destination: str, code: str) -> str:
    return hashlib.sha256(f"{purpose.value}:{destination}:{code}".encode()).hexdigest()


async def request_code(session: AsyncSession, destination: Destination, purpose: CodePurpose, *,
                       locale: str, ip: str | None) -> None:
    """Send a fresh code if an account uses this destination; earlier codes stop working."""
    user = await find_by_identifier(session, destination.value)
    if user is None:
        await audit.record(session, "code.requested_unknown", "user", None, ip=ip,
                           after={"purpose": purpose.value, "via": destination.kind})
        return
    now = utcnow()
    await session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.destination == destination.value, OneTimeCode.purpose == purpose,
               OneTimeCode.used_at.is_(None), OneTimeCode.expires_at > now)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(OneTimeCode(destination=destination.value, purpose=purpose, code_hash=code_hash(purpose,
                            destination.value, code), created_at=now, expires_at=now + CODE_LIFETIME))
    subject, body = MESSAGES[purpose]
    send_message(session, channel=destination.channel, recipient=destination.value, subject=subject, body=body,
                 params={"code": code, "minutes": int(CODE_LIFETIME.total_seconds() // 60)}, locale=locale)
    await audit.record(session, "code.sent", "user", user.id, ip=ip,
                       after={"purpose": purpose.value, "via": destination.kind})


async def _consume(session: AsyncSession, destination: Destination, purpose: CodePurpose, code: str, *,
                   ip: str | None) -> User:
    """Check a code: counts the attempt, and on success marks the code used (exactly once)."""
    code = re.sub(r"\s", "", code)
    if not _CODE_RE.match(code):
        raise ValidationFailed({"code": msg("Enter the 6-digit code from the message.")})
    user = await find_by_identifier(session, destination.value)
    row = await session.scalar(
        select(OneTimeCode)
        .where(OneTimeCode.destination == destination.value, OneTimeCode.purpose == purpose,
               OneTimeCode.used_at.is_(None))
        .order_by(OneTimeCode.created_at.desc(), OneTimeCode.id.desc())
        .limit(1)
    )
    if row is None or user is None or row.expires_at <= utcnow():
        await _failed(session, user, purpose, ip, "expired_or_missing")
        raise ValidationFailed({"code": msg(WRONG_OR_EXPIRED)})
    # Counting the attempt first, conditionally, bounds the checks even under concurrent guesses.
    counted = await session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == row.id, OneTimeCode.used_at.is_(None), OneTimeCode.attempts < MAX_CODE_ATTEMPTS)
        .values(attempts=OneTimeCode.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    # One answer for every failure (unknown account, expired, wrong, used up), so codes reveal no accounts.
    if not getattr(counted, "rowcount", 0):
        await _failed(session, user, purpose, ip, "attempts_exhausted")
        raise ValidationFailed({"code": msg(WRONG_OR_EXPIRED)})
    if not hmac.compare_digest(row.code_hash, code_hash(purpose, destination.value, code)):
        await _failed(session, user, purpose, ip, "wrong_code")
        raise ValidationFailed({"code": msg(WRONG_OR_EXPIRED)})
    used = await session.execute(
        update(OneTimeCode).where(OneTimeCode.id == row.id, OneTimeCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)
    )
    if not getattr(used, "rowcount", 0):  # a concurrent request used it a moment ago
        raise ValidationFailed({"code": msg(WRONG_OR_EXPIRED)})
    return user


async def _failed(session: AsyncSession, user: User | None, purpose: CodePurpose, ip: str | None,
                  reason: str) -> None:
    await audit.record(session, "code.failed", "user", user.id if user else None, ip=ip,
                       after={"purpose": purpose.value, "reason": reason})


async def login_with_code(session: AsyncSession, identifier: str, code: str, *, channels: frozenset[str],
                          ip: str | None) -> User:
    destination = parse_destination(identifier, channels=channels)
    user = await _consume(session, destination, CodePurpose.login, code, ip=ip)
    await audit.record(session, "login.succeeded", "user", user.id, actor_id=user.id, ip=ip,
                       after={"via": "code"})
    await notify(session, user.id, "security.code_login", N_("New log-in with a one-time code"),
                 N_("Your account was just logged in with a one-time code. If this was not you, change your "
                    "password and log out on all other devices."), url="/account/sessions")
    return user


@dataclass
class PasswordReset:
    identifier: str
    code: str
    password: str
    password_confirm: str


async def reset_password(session: AsyncSession, data: PasswordReset, *, channels: frozenset[str],
                         ip: str | None) -> User:
    """Set a new password with a reset code; every session of the account is revoked."""
    errors: dict[str, Message | str] = {}
    if problem := check_password_strength(data.password):
        errors["password"] = problem
    elif data.password != data.password_confirm:
        errors["password_confirm"] = msg("The two passwords do not match.")
    if errors:  # checked before the code, so a typo in the password does not use up an attempt
        raise ValidationFailed(errors)
    destination = parse_destination(data.identifier, channels=channels)
    user = await _consume(session, destination, CodePurpose.reset, data.code, ip=ip)
    user.password_hash = hash_password(data.password)
    await counters.reset(session, *lockout_keys(user))  # a reset password also lifts a log-in lockout
    await session.flush()
    await revoke_all_sessions(session, user.id, ip=ip)
    await audit.record(session, "password.reset", "user", user.id, actor_id=user.id, ip=ip)
    await notify(session, user.id, "security.password_changed", N_("Your password was changed"),
                 N_("The password of your Yishiting account was changed and all devices were logged out. If "
                    "this was not you, reset your password at once and contact your community worker."),
                 url="/account", email=True)
    return user
