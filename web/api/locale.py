"""The language of API answers: the ``lang`` cookie (the visitor's choice on this site) first, then
the ``Accept-Language`` header (what API clients send), then the signed-in user's saved language,
then Simplified Chinese. Pages ignore Accept-Language; everything else is the same rule as pages."""

from __future__ import annotations

from starlette.requests import Request

from web import i18n
from web.context import LANG_COOKIE


def accepted_locale(header: str | None) -> str | None:
    """The supported locale the ``Accept-Language`` header prefers most (``None`` if it names none)."""
    best: tuple[float, int, str] | None = None
    for position, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        locale = "en" if tag == "en" or tag.startswith("en-") else (
            "zh_CN" if tag == "zh" or tag.startswith(("zh-cn", "zh-hans", "zh-sg")) else None)
        if locale is None or quality <= 0:
            continue
        if best is None or (quality, -position) > (best[0], -best[1]):
            best = (quality, position, locale)
    return best[2] if best else None


def apply_api_locale(request: Request) -> str:
    """Pick and activate the locale of an API answer; keeps the request context in step."""
    ctx = getattr(request.state, "ctx", None)
    # ctx.locale already holds the page rule (cookie, then the user's saved language); reading it instead
    # of the user keeps this safe in error handlers, after the request's session was rolled back.
    locale = i18n.pick_locale(request.cookies.get(LANG_COOKIE), accepted_locale(request.headers.get("accept-language")),
                              ctx.locale if ctx is not None else None)
    i18n.current_locale.set(locale)
    if ctx is not None:
        ctx.locale = locale
    return locale
