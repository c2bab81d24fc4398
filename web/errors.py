"""Domain errors mapped to HTTP in one place: HTML pages in the visitor's language, JSON under /api/."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from consultation.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidState,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from web import i18n
from web.auth import LoginRequired
from web.templating import ensure_locale, field_errors, render

log = logging.getLogger(__name__)

STATUS = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidState: 409,
    ValidationFailed: 422,
    RateLimited: 429,
}
TITLES = {
    400: i18n.N_("Bad request"),
    401: i18n.N_("Please log in"),
    403: i18n.N_("Not allowed"),
    404: i18n.N_("Not found"),
    405: i18n.N_("Method not allowed"),
    409: i18n.N_("Cannot do this now"),
    413: i18n.N_("Upload too large"),
    422: i18n.N_("Please check your input"),
    429: i18n.N_("Too many attempts"),
    500: i18n.N_("Something went wrong"),
}
HTTP_MESSAGES = {
    400: i18n.N_("The form could not be read. Go back, check it and send it again."),
    413: i18n.N_("What you sent is too large. Files may be at most 2 MB."),
    404: i18n.N_("The page or object you asked for does not exist."),
    405: i18n.N_("This address does not accept that kind of request."),
    500: i18n.N_("An unexpected error happened on our side. It has been logged; please try again later."),
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _status(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(request: Request, status: int, message: str, *, errors: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    if wants_json(request):
        body: dict[str, object] = {"error": {"status": status, "message": message}}
        if errors:
            body["error"]["fields"] = errors  # type: ignore[index]
        return JSONResponse(body, status_code=status, headers=headers)
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": i18n.gettext(TITLES.get(status, TITLES[400])), "message": message,
         "field_messages": errors or {}},
        status_code=status,
        headers=headers,
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    ensure_locale(request)
    status = _status(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    errors = field_errors(exc.errors) if isinstance(exc, ValidationFailed) else None
    return error_response(request, status, i18n.translate(exc.message), errors=errors, headers=headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    ensure_locale(request)
    message = HTTP_MESSAGES.get(exc.status_code)
    text = i18n.gettext(message) if message else (exc.detail or "")
    return error_response(request, exc.status_code, text, headers=dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    ensure_locale(request)
    return error_response(request, 500, i18n.gettext(HTTP_MESSAGES[500]))


async def integrity_error(request: Request, exc: Exception) -> Response:
    """Two requests raced to create the same thing (a double submit): the first won, nothing doubled."""
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    ensure_locale(request)
    return error_response(request, 409, i18n.gettext(
        "This was already saved, perhaps by a second click. Reload the page to see the current state."))


async def login_required(request: Request, exc: Exception) -> Response:
    ensure_locale(request)
    if wants_json(request):
        return error_response(request, 401, i18n.gettext("Please log in first."))
    if request.method != "GET":  # a form posted after the session ended: its URL cannot be opened with GET
        return RedirectResponse("/login", status_code=303)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


EXCEPTION_HANDLERS = {
    LoginRequired: login_required,
    IntegrityError: integrity_error,
    DomainError: domain_error,
    HTTPException: http_error,
    Exception: server_error,
}
