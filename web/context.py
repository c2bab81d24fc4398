"""The per-request context: database session, signed-in user, actor, locale and preferences."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts import services as accounts
from consultation.accounts.models import User
from consultation.notifications import queries as notification_queries
from consultation.policy import Actor
from web.i18n import current_locale, pick_locale
from web.settings import Settings

SESSION_COOKIE = "ysession"
CSRF_COOKIE = "ycsrf"
LANG_COOKIE = "lang"
ELDERLY_COOKIE = "elderly"
FLASH_COOKIE = "yflash"
YEAR = 365 * 24 * 3600
_UNREAD = notification_queries.unread_count_of(User.id)  # one object: the statement is built once for it


@dataclass
class Ctx:
    request: Request
    db: AsyncSession
    settings: Settings
    user: User | None = None
    actor: Actor = field(default_factory=Actor)
    session_token: str | None = None
    csrf_token: str = ""
    locale: str = "zh_CN"
    elderly: bool = False
    unread_notifications: int = 0
    flashes: list[tuple[str, str]] = field(default_factory=list)
    _cookies: list[tuple[str, str | None, int | None, bool]] = field(default_factory=list)
    _new_flashes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ip(self) -> str | None:
        return self.request.client.host if self.request.client else None

    def serializer(self, salt: str) -> URLSafeSerializer:
        return _serializer(self.settings.secret_key, salt)

    def set_cookie(self, name: str, value: str | None, *, max_age: int | None = YEAR, httponly: bool = True) -> None:
        """Queue a cookie for the response (``None`` deletes it)."""
        self._cookies.append((name, value, max_age, httponly))

    def flash(self, message: str, level: str = "success") -> None:
        """A one-time message shown on the next page (already translated)."""
        self._new_flashes.append((level, message))

    def start_session(self, token: str) -> None:
        self.session_token = token
        self.set_cookie(SESSION_COOKIE, self.serializer("session").dumps(token), max_age=30 * 24 * 3600)

    def end_session(self) -> None:
        self.session_token = None
        self.set_cookie(SESSION_COOKIE, None)

    def apply_cookies(self, response: Response) -> None:
        secure = self.settings.secure_cookies
        if self._new_flashes:
            self._cookies.append((FLASH_COOKIE, self.serializer("flash").dumps(self._new_flashes), None, True))
        elif self.flashes and not _is_redirect(response):
            self._cookies.append((FLASH_COOKIE, None, None, True))
        for name, value, max_age, httponly in self._cookies:
            if value is None:
                response.delete_cookie(name, path="/", secure=secure, httponly=httponly, samesite="lax")
            else:
                response.set_cookie(name, value, max_age=max_age, path="/", secure=secure,
                                    httponly=httponly, samesite="lax")


def _is_redirect(response: Response) -> bool:
    return 300 <= response.status_code < 400


async def load_context(request: Request, db: AsyncSession, settings: Settings) -> Ctx:
    ctx = Ctx(request=request, db=db, settings=settings)
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        token = _loads(ctx, "session", raw)
        writes = request.method not in {"GET", "HEAD", "OPTIONS"}
        # Pages show the unread notifications in the header; the API does not need them.
        extra = None if request.url.path.startswith("/api/") else _UNREAD
        found = (await accounts.session_user(db, token, touch=writes, ip=ctx.ip, extra=extra)
                 if isinstance(token, str) else None)
        if found is not None:
            ctx.session_token = token
            ctx.user = found.user
            ctx.actor = found.actor
            ctx.unread_notifications = int(found.extra or 0)
        else:
            ctx.set_cookie(SESSION_COOKIE, None)
    if ctx.user is None:
        ctx.actor = Actor(ip=ctx.ip)
    csrf = request.cookies.get(CSRF_COOKIE)
    if not csrf or len(csrf) < 20:
        csrf = secrets.token_urlsafe(24)
        ctx.set_cookie(CSRF_COOKIE, csrf, max_age=None)
    ctx.csrf_token = csrf
    ctx.locale = pick_locale(request.cookies.get(LANG_COOKIE), ctx.user.locale if ctx.user else None)
    current_locale.set(ctx.locale)
    elderly_cookie = request.cookies.get(ELDERLY_COOKIE)
    ctx.elderly = elderly_cookie == "1" if elderly_cookie in {"0", "1"} else bool(ctx.user and ctx.user.elderly_mode)
    flashes = _loads(ctx, "flash", request.cookies.get(FLASH_COOKIE, ""))
    if isinstance(flashes, list):
        ctx.flashes = [(str(level), str(text)) for level, text in flashes]
    return ctx


@lru_cache(maxsize=16)
def _serializer(secret_key: str, salt: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=salt)


def _loads(ctx: Ctx, salt: str, raw: str) -> Any:
    if not raw:
        return None
    if salt == "session":
        return _session_token(ctx.settings.secret_key, raw)
    try:
        return ctx.serializer(salt).loads(raw)
    except BadSignature:
        return None


@lru_cache(maxsize=4096)
def _session_token(secret_key: str, raw: str) -> Any:
    """The session token a signed session cookie carries, None when its signature is wrong. Kept for the
    cookies seen last: a resident's requests all carry the same cookie, and checking the signature costs
    more than the rest of reading the cookies. Whether the session is still live is asked every time."""
    try:
        return _serializer(secret_key, "session").loads(raw)
    except BadSignature:
        return None
