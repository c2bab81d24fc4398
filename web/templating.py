"""Jinja2 environment: autoescaped templates, translations, permission checks, static URLs."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from consultation import policy
from consultation.accounts.display import mask_name, mask_phone, public_name
from consultation.accounts.models import ROLE_LABELS, Role
from consultation.errors import Message
from web import i18n
from web.context import ELDERLY_COOKIE, LANG_COOKIE, Ctx
from web.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


@cache
def _static_hash(path: str) -> str:
    file = STATIC_DIR / path
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "0"


def static_url(path: str) -> str:
    """A cache-busting URL: the content hash changes when the file does."""
    return f"/static/{path}?v={_static_hash(path)}"


def build_environment(templates_dir: Path = TEMPLATES_DIR) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        autoescape=select_autoescape(["html", "xml"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.do"],
    )
    env.globals.update(
        _=i18n.gettext,
        gettext=i18n.gettext,
        ngettext=i18n.ngettext,
        translate=i18n.translate,
        static_url=static_url,
        locales=i18n.LOCALES,
        locale_names=i18n.LOCALE_NAMES,
        public_name=public_name,
        role_label=lambda role: i18n.gettext(ROLE_LABELS[Role(role)]),
        mask_name=mask_name,
        mask_phone=mask_phone,
    )
    env.filters.update(
        datetime=i18n.format_datetime,
        date=i18n.format_date,
        number=i18n.format_number,
    )
    return env


def ensure_locale(request: Request) -> None:
    """Errors raised before the pipeline ran (an unknown URL) still honour the visitor's language."""
    if getattr(request.state, "ctx", None) is None:
        i18n.current_locale.set(i18n.pick_locale(request.cookies.get(LANG_COOKIE)))


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    env: Environment = request.app.state.jinja
    actor = ctx.actor if ctx else policy.ANONYMOUS
    ensure_locale(request)
    values: dict[str, Any] = {
        "request": request,
        "ctx": ctx,
        "user": ctx.user if ctx else None,
        "actor": actor,
        "csrf_token": ctx.csrf_token if ctx else "",
        "locale": i18n.current_locale.get(),
        "html_lang": i18n.HTML_LANG[i18n.current_locale.get()],
        "elderly": ctx.elderly if ctx else request.cookies.get(ELDERLY_COOKIE) == "1",
        "flashes": ctx.flashes if ctx else [],
        "unread_notifications": ctx.unread_notifications if ctx else 0,
        "dev_tools": request.app.state.settings.dev_tools,
        "can": lambda name, obj=None: policy.can(actor, name, obj),
        "url_for": lambda name, **params: str(request.url_for(name, **params)),
        "errors": {},
        "form": {},
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)


def field_errors(errors: dict[str, Message]) -> dict[str, str]:
    return {name: i18n.translate(message) for name, message in errors.items()}
