"""Jinja2 environment: autoescaped templates, translations, permission checks, static URLs."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from jinja2.environment import TemplateModule
from jinja2.runtime import Context, Macro
from markupsafe import escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from consultation import policy
from consultation.accounts.display import mask_name, mask_phone, public_name
from consultation.accounts.models import ROLE_LABELS, Role
from consultation.errors import Message
from web import i18n
from web.context import ELDERLY_COOKIE, LANG_COOKIE, Ctx
from web.page_cache import cache_of
from web.settings import PROJECT_ROOT
from web.shared_page import SharedPage

TEMPLATES_DIR = PROJECT_ROOT / "templates"
STATIC_DIR = PROJECT_ROOT / "static"


@cache
def _static_hash(path: str) -> str:
    file = STATIC_DIR / path
    return hashlib.sha256(file.read_bytes()).hexdigest()[:10] if file.is_file() else "0"


def static_url(path: str) -> str:
    """A cache-busting URL: the content hash changes when the file does."""
    return f"/static/{path}?v={_static_hash(path)}"


@lru_cache(maxsize=16384)
def _formatted(formatter: Callable[..., str], value: Any, format: str, locale: str) -> str:
    token = i18n.current_locale.set(locale)
    try:
        return formatter(value, format)
    finally:
        i18n.current_locale.reset(token)


def _cached(formatter: Callable[..., str]) -> Callable[..., str]:
    """A date filter remembered per (value, format, locale): a page formats the same stored times
    (comments, topics) on every request, and Babel's formatting costs more than the rest of a line."""
    def filter_(value: Any, format: str = "medium") -> str:
        if value is None:
            return ""
        return _formatted(formatter, value, format, i18n.current_locale.get())
    return filter_


def build_environment(templates_dir: Path = TEMPLATES_DIR, *, auto_reload: bool = True) -> Environment:
    """``auto_reload=False`` (production) compiles each template once and never looks at its file again;
    with it on, every include and import of every page checks the file's modification time."""
    env = Environment(
        loader=FileSystemLoader(str(templates_dir)),
        auto_reload=auto_reload,
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
        datetime=_cached(i18n.format_datetime),
        date=_cached(i18n.format_date),
        number=i18n.format_number,
    )
    return env


def ensure_locale(request: Request) -> None:
    """Errors raised before the pipeline ran (an unknown URL) still honour the visitor's language."""
    if getattr(request.state, "ctx", None) is None:
        i18n.current_locale.set(i18n.pick_locale(request.cookies.get(LANG_COOKIE)))


def _values(request: Request, context: dict[str, Any] | None, csrf_token: str | None = None) -> dict[str, Any]:
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    actor = ctx.actor if ctx else policy.ANONYMOUS
    ensure_locale(request)
    values: dict[str, Any] = {
        "request": request,
        "ctx": ctx,
        "user": ctx.user if ctx else None,
        "actor": actor,
        "csrf_token": csrf_token if csrf_token is not None else ctx.csrf_token if ctx else "",
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
    return values


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    env: Environment = request.app.state.jinja
    html = render_acyclic(env.get_template(template), _values(request, context))
    return HTMLResponse(html, status_code=status_code, headers=headers)


def render_acyclic(template: Template, values: dict[str, Any]) -> str:
    """``template.render(values)``, leaving no reference cycle behind. A rendering's context and the macros the
    template defines refer to each other, and the context holds the values: the request, its context and
    everything its session loaded, which reference counting then could not free when the request ended. They
    waited for the cyclic collector, whose passes grew with every page in flight."""
    context = template.new_context(values)
    try:
        return template.environment.concat(template.root_render_func(context))
    except Exception:
        template.environment.handle_exception()
    finally:
        _unlink(template.environment, context)


def _unlink(env: Environment, context: Context) -> None:
    """Empty a rendering's context and those of the modules it imported ``with context`` (each such module's
    macros and context refer to each other, and its context's parent is the page's values). A module imported
    without context is built once and shared by every rendering: it is left as it is."""
    pending, seen = [context], set()
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for value in current.vars.values():
            if isinstance(value, TemplateModule) and not _shared(env, value):
                pending += [cell.cell_contents for macro in vars(value).values() if isinstance(macro, Macro)
                            for cell in macro._func.__closure__ or () if _holds_context(cell)]
        current.vars.clear()
        current.exported_vars.clear()


def _shared(env: Environment, module: TemplateModule) -> bool:
    """A module imported without context: the one its template keeps for every rendering."""
    return module.__name__ is not None and getattr(env.get_template(module.__name__), "_module", None) is module


def _holds_context(cell: Any) -> bool:
    try:
        return isinstance(cell.cell_contents, Context)
    except ValueError:  # an empty cell
        return False


# --- one page for every anonymous visitor ------------------------------------------------------------
# An anonymous visitor's page differs from another's (same address, language and text size, no flash
# message) only by the visitor's CSRF token in its forms. ``render_for_anyone`` renders it once with a
# stand-in for the token, keeps it in ``web.page_cache``, and puts each visitor's own token in (escaped, as
# the template would).

_CSRF_STAND_IN = f"csrf-stand-in-{secrets.token_hex(16)}"
_CSRF_STAND_IN_BYTES = _CSRF_STAND_IN.encode()


def shared_page_key(request: Request) -> tuple[str, str, bool] | None:
    """What an anonymous page depends on besides its data: the address (with scheme and host, as
    ``url_for`` would use them), the language and the text size; ``None`` when the page is not shareable
    (someone is signed in, or there is a flash message to show)."""
    ctx: Ctx | None = getattr(request.state, "ctx", None)
    if ctx is None or ctx.user is not None or ctx.flashes:
        return None
    return str(request.url), ctx.locale, ctx.elderly


async def render_for_anyone(request: Request, template: str, load: Callable[[], Awaitable[dict[str, Any]]], *,
                            cache: str, shareable: bool = True) -> Response:
    """``render(template, await load())``; for an anonymous visitor at a ``shareable`` address, the page every
    such visitor gets, kept in the application's page cache ``cache`` (``web.page_cache``: up to its time to
    live old when another process changed what it shows, at once when this one did)."""
    key = shared_page_key(request) if shareable else None
    if key is None:
        return render(request, template, await load())
    env: Environment = request.app.state.jinja

    async def shared() -> SharedPage:  # as UTF-8 and gzip-compressed once, not on every visit
        html = render_acyclic(env.get_template(template), _values(request, await load(), csrf_token=_CSRF_STAND_IN))
        return SharedPage.of(html.encode(), _CSRF_STAND_IN_BYTES)

    page = await cache_of(request.app, cache).get_or_load(key, shared)
    ctx: Ctx = request.state.ctx
    return page.response(request, str(escape(ctx.csrf_token)).encode())


def field_errors(errors: dict[str, Message]) -> dict[str, str]:
    return {name: i18n.translate(message) for name, message in errors.items()}
