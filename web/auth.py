"""Who may reach a page at all: signed-in checks shared by every route module."""

from __future__ import annotations

from consultation.accounts.models import User
from consultation.policy import require
from web.context import Ctx


class LoginRequired(Exception):
    """Raised when a page needs a signed-in user: HTML gets a redirect to the log-in page, the API a 401."""


def require_user(ctx: Ctx) -> User:
    if ctx.user is None:
        raise LoginRequired()
    return ctx.user


def require_permission(ctx: Ctx, name: str, obj: object = None) -> User:
    """Signed in first (so anonymous visitors are sent to log in), then the named permission (403)."""
    user = require_user(ctx)
    require(ctx.actor, name, obj)
    return user
