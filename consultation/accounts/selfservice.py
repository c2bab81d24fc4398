"""What a person does to their own account: profile, password, sessions, deletion.

Every function acts on the signed-in user only (the caller passes ``ctx.user``), so the only
access rule is "your own"; a session id of someone else is reported as missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, search_index
from consultation.accounts import personal_data
from consultation.accounts.display import DELETED_NAME
from consultation.accounts.models import AuthSession, OneTimeCode, ResidentVerification, RoleGrant, User
from consultation.accounts.passwords import hash_password, verify_password
from consultation.accounts.services import check_password_strength, revoke_all_sessions
from consultation.audit import AuditEvent
from consultation.db import utcnow
from consultation.errors import N_, Message, RateLimited, ValidationFailed, msg
from consultation.notifications.models import Notification
from consultation.notifications.services import notify
from consultation.validation import check_length

NAME_MAX = 40
FAILURES_ALLOWED = 5
FAILURE_WINDOW = timedelta(minutes=15)
EXPORTS_ALLOWED = 10
EXPORT_WINDOW = timedelta(hours=1)


async def throttle(session: AsyncSession, user_id: int, action: str, *, allowed: int, window: timedelta) -> None:
    """Refuse (HTTP 429) when the person's audit trail already holds ``allowed`` such events in ``window``.

    Counting audit rows of the request's own transaction (rather than a separate rate-limit
    transaction) keeps SQLite's single writer happy and needs no extra table: the failures are
    audited anyway, and a 422 answer commits them.
    """
    since = utcnow() - window
    times = (await session.scalars(
        select(AuditEvent.created_at)
        .where(AuditEvent.actor_id == user_id, AuditEvent.action == action, AuditEvent.created_at > since)
        .order_by(AuditEvent.created_at.desc())
        .limit(allowed)
    )).all()
    if len(times) >= allowed:
        raise RateLimited(max(1, int((times[-1] + window - utcnow()).total_seconds()) + 1))


@dataclass
class ProfileChange:
    display_name: str
    show_full_name: bool
    locale: str
    elderly_mode: bool


async def update_profile(session: AsyncSession, user: User, change: ProfileChange, *, locales: tuple[str, ...],
                         ip: str | None) -> User:
    errors: dict[str, Message | str] = {}
    name = change.display_name.strip()
    if problem := check_length(name, minimum=1, maximum=NAME_MAX):
        errors["display_name"] = problem
    if change.locale not in locales:
        errors["locale"] = msg("Choose one of the languages in the list.")
    if errors:
        raise ValidationFailed(errors)
    fields = ("display_name", "show_full_name", "locale", "elderly_mode")
    before = {f: getattr(user, f) for f in fields}
    user.display_name = name
    user.show_full_name = change.show_full_name
    user.locale = change.locale
    user.elderly_mode = change.elderly_mode
    after = {f: getattr(user, f) for f in fields}
    if before != after:
        await audit.record(session, "profile.updated", "user", user.id, actor_id=user.id, ip=ip,
                           before={k: v for k, v in before.items() if after[k] != v},
                           after={k: v for k, v in after.items() if before[k] != v})
        search_index.search_changed(session, "profile", [user.id])
    await session.flush()
    return user


@dataclass
class PasswordChange:
    current_password: str
    password: str
    password_confirm: str


async def change_password(session: AsyncSession, user: User, data: PasswordChange, *, keep_token: str | None,
                          ip: str | None) -> int:
    """Change the password after checking the current one; other sessions are logged out.

    Returns how many other sessions were revoked. A wrong current password is audited (and kept
    by the caller's commit) before the error is raised.
    """
    await throttle(session, user.id, "password.change_failed", allowed=FAILURES_ALLOWED, window=FAILURE_WINDOW)
    errors: dict[str, Message | str] = {}
    if not verify_password(user.password_hash, data.current_password):
        errors["current_password"] = msg("Your current password is not correct.")
        await audit.record(session, "password.change_failed", "user", user.id, actor_id=user.id, ip=ip)
    if problem := check_password_strength(data.password):
        errors["password"] = problem
    elif data.password != data.password_confirm:
        errors["password_confirm"] = msg("The two passwords do not match.")
    if errors:
        raise ValidationFailed(errors)
    user.password_hash = hash_password(data.password)
    await session.flush()
    revoked = await revoke_all_sessions(session, user.id, ip=ip, except_token=keep_token)
    await audit.record(session, "password.changed", "user", user.id, actor_id=user.id, ip=ip,
                       after={"other_sessions_revoked": revoked})
    await notify(session, user.id, "security.password_changed", N_("Your password was changed"),
                 N_("The password of your Yishiting account was changed and your other devices were logged "
                    "out. If this was not you, reset your password at once and contact your community worker."),
                 url="/account", email=True)
    return revoked


async def revoke_session(session: AsyncSession, user: User, session_id: int, *, ip: str | None) -> AuthSession:
    """Log out one of the person's own sessions (someone else's id answers NotFound)."""
    auth_session = await personal_data.own_session(session, user.id, session_id)
    if auth_session.revoked_at is None:
        auth_session.revoked_at = utcnow()
        await audit.record(session, "session.revoked", "auth_session", auth_session.id, actor_id=user.id, ip=ip)
        await session.flush()
    return auth_session


async def delete_account(session: AsyncSession, user: User, password: str, *, ip: str | None) -> None:
    """Delete the account after checking the password.

    Contact details, password, name, household link, role grants, sessions, notifications and codes
    go; the user row stays as an anonymous shell (shown as 已注销用户) so that contributions and the
    audit trail keep pointing at one, nameless, author.
    """
    await throttle(session, user.id, "account.delete_failed", allowed=FAILURES_ALLOWED, window=FAILURE_WINDOW)
    if not verify_password(user.password_hash, password):
        await audit.record(session, "account.delete_failed", "user", user.id, actor_id=user.id, ip=ip)
        raise ValidationFailed({"password": msg("Your password is not correct.")})
    destinations = [d for d in (user.phone, user.email) if d]
    await audit.record(session, "account.deleted", "user", user.id, actor_id=user.id, ip=ip,
                       before={"verified": user.verified_at is not None, "had_household": user.household_id
                               is not None})
    for table, column in ((ResidentVerification, ResidentVerification.user_id), (RoleGrant, RoleGrant.user_id),
                          (AuthSession, AuthSession.user_id), (Notification, Notification.user_id)):
        await session.execute(delete(table).where(column == user.id).execution_options(synchronize_session=False))
    if destinations:
        await session.execute(delete(OneTimeCode).where(or_(*(OneTimeCode.destination == d for d in destinations)))
                              .execution_options(synchronize_session=False))
    user.phone = None
    user.email = None
    user.password_hash = None
    user.display_name = DELETED_NAME
    user.show_full_name = False
    user.household_id = None
    user.verified_at = None
    user.elderly_mode = False
    user.deleted_at = utcnow()
    search_index.search_changed(session, "profile", [user.id])
    await session.flush()
