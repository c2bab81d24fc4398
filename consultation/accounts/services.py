"""Write use cases for accounts: registration, log-in, sessions, verification."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, DateTime, Select, String, bindparam, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from consultation import audit, counters, direct
from consultation.accounts import policy as _policy  # noqa: F401 - registers this area's permissions
from consultation.accounts.models import (
    AuthSession,
    ResidentVerification,
    Role,
    RoleGrant,
    User,
    VerificationMethod,
)
from consultation.accounts.passwords import hash_password, needs_rehash, verify_password
from consultation.areas.models import Area, AreaLevel, Household
from consultation.db import utcnow
from consultation.errors import N_, Conflict, InvalidState, Message, ValidationFailed, msg
from consultation.notifications.services import notify
from consultation.policy import Actor, Grant, require
from consultation.validation import check_length, identifier_kind, normalise_email, normalise_phone

SESSION_LIFETIME = timedelta(days=30)
LOCKOUT_THRESHOLD = 5
LOCKOUT_DURATION = timedelta(minutes=15)
PASSWORD_MIN = 8
PASSWORD_MAX = 128


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str) -> Message | None:
    problem = check_length(password, minimum=PASSWORD_MIN, maximum=PASSWORD_MAX)
    if problem:
        return problem
    if password.isdigit() or password.isalpha():
        return msg("Use both letters and digits in your password.")
    return None


@dataclass
class Registration:
    identifier: str
    display_name: str
    password: str
    password_confirm: str
    home_area_id: int | None


async def register(session: AsyncSession, data: Registration, *, ip: str | None = None) -> User:
    errors: dict[str, Message | str] = {}
    kind = identifier_kind(data.identifier)
    if kind is None:
        errors["identifier"] = msg("Enter a mainland mobile number (11 digits) or an email address.")
    name = data.display_name.strip()
    if problem := check_length(name, minimum=1, maximum=40):
        errors["display_name"] = problem
    if problem := check_password_strength(data.password):
        errors["password"] = problem
    elif data.password != data.password_confirm:
        errors["password_confirm"] = msg("The two passwords do not match.")
    area = await session.get(Area, data.home_area_id) if data.home_area_id else None
    if area is None or area.level is not AreaLevel.community:
        errors["home_area_id"] = msg("Choose the community you live in.")
    if kind and await find_by_identifier(session, data.identifier) is not None:
        errors["identifier"] = msg("An account with this phone number or email already exists. Log in instead.")
    if errors:
        raise ValidationFailed(errors)
    assert kind is not None and area is not None
    user = User(display_name=name, password_hash=hash_password(data.password), home_area_id=area.id)
    setattr(user, kind[0], kind[1])
    session.add(user)
    await session.flush()
    session.add(RoleGrant(user_id=user.id, role=Role.resident, area_id=area.id))
    await audit.record(session, "account.registered", "user", user.id, actor_id=user.id, ip=ip,
                       after={"home_area_id": area.id, "via": kind[0]})
    return user


async def find_by_identifier(session: AsyncSession, identifier: str) -> User | None:
    kind = identifier_kind(identifier)
    if kind is None:
        return None
    column = User.phone if kind[0] == "phone" else User.email
    return await session.scalar(select(User).where(column == kind[1], User.deleted_at.is_(None)))


@dataclass
class LoginResult:
    user: User | None
    error: Message | None


def lockout_key(identifier: str) -> str:
    kind = identifier_kind(identifier)
    return f"loginfail:{kind[1] if kind else identifier.strip().lower()}"


def lockout_keys(user: User) -> list[str]:
    """Every failed-log-in counter of an account (by phone and by email)."""
    return [lockout_key(value) for value in (user.phone, user.email) if value]


async def authenticate(session: AsyncSession, identifier: str, password: str, *, ip: str | None) -> LoginResult:
    """Check a password log-in. Failures are counted per identifier, whether or not an account exists,
    and lock further attempts for a while after a threshold: the answers never reveal which accounts exist."""
    key = lockout_key(identifier)
    failures, since = await counters.current(session, key, LOCKOUT_DURATION)
    user = await find_by_identifier(session, identifier)
    if failures >= LOCKOUT_THRESHOLD and since is not None:
        await audit.record(session, "login.locked", "user", user.id if user else None, ip=ip)
        minutes = max(1, int((since + LOCKOUT_DURATION - utcnow()).total_seconds() // 60) + 1)
        return LoginResult(None, msg("Too many failed log-ins. The account is locked for {minutes} minutes.",
                                     minutes=minutes))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        failures, _ = await counters.hit(session, key, LOCKOUT_DURATION)
        if failures == LOCKOUT_THRESHOLD:
            await audit.record(session, "login.lockout", "user", user.id if user else None, ip=ip)
        await audit.record(session, "login.failed", "user", user.id if user else None, ip=ip,
                           after={"identifier_kind": (identifier_kind(identifier) or ("invalid",))[0]})
        return LoginResult(None, msg("The phone number, email or password is not correct."))
    await counters.reset(session, key)
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    await audit.record(session, "login.succeeded", "user", user.id, actor_id=user.id, ip=ip)
    return LoginResult(user, None)


async def start_session(session: AsyncSession, user: User, *, ip: str | None, user_agent: str | None) -> str:
    """Create a server-side session; returns the token for the cookie (only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
            ip=ip,
            user_agent=(user_agent or "")[:255],
        )
    )
    await session.flush()
    return token


async def end_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        update(AuthSession)
        .where(AuthSession.token_hash == token_hash(token), AuthSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_all_sessions(session: AsyncSession, user_id: int, *, ip: str | None = None,
                              except_token: str | None = None) -> int:
    query = update(AuthSession).where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
    if except_token:
        query = query.where(AuthSession.token_hash != token_hash(except_token))
    result = await session.execute(query.values(revoked_at=utcnow()))
    await audit.record(session, "session.revoked_all", "user", user_id, actor_id=user_id, ip=ip)
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass(frozen=True)
class Asking:
    """Who is asking, from one statement: the live session's id, its user, their actor (grants and home
    area's path) and the value of the caller's extra column (for the web pages: unread notifications)."""

    session_id: int
    user: User
    actor: Actor
    extra: Any = None


_USER_FIRST = 7  # the user's columns follow the session's id and last activity, the home path, the grant and extra


@cache
def _asking_statement(extra: ColumnElement[Any] | None) -> Select[Any]:
    """One row per grant of the session's user (one row of NULL grant columns when there is none), built
    once per extra column; parameters ``:token_hash`` and ``:now``. Columns, not entities: it runs on the
    driver (``consultation.direct``), and the user is made from its columns."""
    home, granted = aliased(Area), aliased(Area)
    home_path = select(home.path).where(home.id == User.home_area_id).scalar_subquery()
    return (
        select(AuthSession.id, AuthSession.last_seen_at, home_path, RoleGrant.role, granted.path, RoleGrant.unit_id,
               extra if extra is not None else null(), *direct.columns_of(User))
        .join(User, User.id == AuthSession.user_id)
        .outerjoin(RoleGrant, RoleGrant.user_id == User.id)
        .outerjoin(granted, granted.id == RoleGrant.area_id)
        .where(
            AuthSession.token_hash == bindparam("token_hash", type_=String),
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > bindparam("now", type_=DateTime(timezone=True)),
            User.deleted_at.is_(None),
        )
        .order_by(RoleGrant.id)
    )


async def session_user(session: AsyncSession, token: str, *, touch: bool = True, ip: str | None = None,
                       extra: ColumnElement[Any] | None = None) -> Asking | None:
    """The live session with its user and actor, or None; ``touch`` records activity (only in requests
    that write anyway; at most every 5 minutes). ``extra`` is a column evaluated beside them (correlated to
    ``User``); pass the same object each time (a module constant), as the statement is built once per extra
    column. The user is in ``session`` as if a query had loaded it."""
    now = utcnow()
    rows = await direct.rows(session, _asking_statement(extra), {"token_hash": token_hash(token), "now": now})
    if not rows:
        return None
    first = rows[0]
    session_id, last_seen = first[0], first[1]
    if touch and now - last_seen > timedelta(minutes=5):
        await session.execute(update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now))
    user = direct.loaded(session, User, first, _USER_FIRST)
    assert user is not None
    actor = Actor(user_id=user.id, verified=user.verified_at is not None, home_area_path=first[2],
                  grants=tuple(Grant(role=r[3], area_path=r[4], unit_id=r[5]) for r in rows if r[3] is not None),
                  ip=ip)
    return Asking(session_id, user, actor, first[6])


async def verify_resident(
    session: AsyncSession,
    actor: Actor,
    user: User,
    household: Household,
    method: VerificationMethod,
    note: str | None = None,
) -> ResidentVerification:
    """A community worker confirms a resident and binds them to a household of that community."""
    community = await session.get(Area, household.community_id)
    assert community is not None
    require(actor, "accounts.verify_resident", community)
    if user.deleted_at is not None:
        raise InvalidState(msg("This account has been deleted."))
    if user.verified_at is not None and user.household_id == household.id:
        raise Conflict(msg("This resident is already verified for this household."))
    before = {"household_id": user.household_id, "verified_at": _iso(user.verified_at)}
    user.household_id = household.id
    user.home_area_id = household.community_id
    user.verified_at = utcnow()
    record = ResidentVerification(user_id=user.id, household_id=household.id, method=method,
                                  actor_id=actor.user_id, note=(note or None))
    session.add(record)
    await session.flush()
    await audit.record(session, "resident.verified", "user", user.id, actor_id=actor.user_id, ip=actor.ip,
                       before=before, after={"household_id": household.id, "method": method.value})
    await notify(session, user.id, "account.verified", N_("You are now a verified resident"),
                 N_("A community worker has verified you as a resident of your community. You can now co-sign "
                    "topics and vote where you are eligible."), url="/account", email=True)
    return record


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def normalise_contact(kind: str, value: str) -> str | None:
    return normalise_phone(value) if kind == "phone" else normalise_email(value)
