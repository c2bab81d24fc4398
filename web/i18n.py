"""Translations through Babel catalogs: zh_CN is the default, English is switchable.

Source strings (message ids) are English with ``{name}`` placeholders. The active locale lives in
a context variable set per request, so templates, error pages and flash messages agree.
"""

from __future__ import annotations

import functools
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, dates, numbers, support

from consultation.clock import TIMEZONE as TIMEZONE  # the one time zone, re-exported for web/
from consultation.errors import N_, Message

__all__ = ["N_", "gettext", "translate"]

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_NAMES = {"zh_CN": "简体中文", "en": "English"}
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}
TRANSLATIONS_DIR = Path(__file__).parent / "translations"

current_locale: ContextVar[str] = ContextVar("current_locale", default=DEFAULT_LOCALE)


@cache
def _translations(locale: str) -> support.Translations | support.NullTranslations:
    return support.Translations.load(str(TRANSLATIONS_DIR), [locale])


def pick_locale(*candidates: str | None) -> str:
    for candidate in candidates:
        if candidate in LOCALES:
            return candidate
    return DEFAULT_LOCALE


def gettext(msgid: str, **params: Any) -> str:
    text = _translations(current_locale.get()).gettext(msgid)
    return text.format(**params) if params else text


def ngettext(singular: str, plural: str, n: int, **params: Any) -> str:
    text = _translations(current_locale.get()).ngettext(singular, plural, n)
    return text.format(n=n, **params)


_ = gettext


def translate(message: Message | str) -> str:
    if isinstance(message, str):
        return gettext(message)
    params = {k: gettext(v) if isinstance(v, str) and k.endswith("_label") else v for k, v in message.params.items()}
    return gettext(message.msgid, **params)


@functools.cache
def _babel_locale(name: str) -> Locale:
    """Parsed once per locale: a page formats hundreds of dates and parsing is not free."""
    return Locale.parse(name)


def format_datetime(value: datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return dates.format_datetime(value.astimezone(TIMEZONE), format=format, locale=_babel_locale(current_locale.get()))


def format_date(value: datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    return _format_day(value.astimezone(TIMEZONE).date(), format, current_locale.get())


@functools.lru_cache(maxsize=8192)
def _format_day(day: date, format: str, locale: str) -> str:
    """Per day, not per stored time: a page of a thousand comments spans a few dozen days."""
    return dates.format_date(day, format=format, locale=_babel_locale(locale))


def format_number(value: float | int) -> str:
    return numbers.format_decimal(value, locale=_babel_locale(current_locale.get()))
