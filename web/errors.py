"""Domain errors mapped to HTTP in one place: HTML pages in the visitor's language, JSON under /api/."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
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
from web.api.locale import apply_api_locale
from web.auth import LoginRequired
from web.routing import CsrfFailed
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
    413: i18n.N_("What you sent is too large: a photo may be at most 5 MB and other files at most 2 MB."),
    404: i18n.N_("The page or object you asked for does not exist."),
    405: i18n.N_("This address does not accept that kind of request."),
    500: i18n.N_("An unexpected error happened on our side. It has been logged; please try again later."),
}


# Machine-readable ``error.code`` of JSON answers: by exception class (most specific first), else by status.
ERROR_CODES: tuple[tuple[type[Exception], str], ...] = (
    (CsrfFailed, "csrf_failed"),
    (ValidationFailed, "validation_failed"),
    (InvalidState, "invalid_state"),
    (Conflict, "conflict"),
    (RateLimited, "rate_limited"),
    (Forbidden, "forbidden"),
    (NotFound, "not_found"),
)
STATUS_CODES = {400: "bad_request", 401: "login_required", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 409: "conflict", 413: "too_large",
                422: "validation_failed", 429: "rate_limited", 500: "server_error"}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _ensure_locale(request: Request) -> None:
    """The page rules, and for the API also the Accept-Language header (see web/api/locale.py)."""
    ensure_locale(request)
    if wants_json(request):
        apply_api_locale(request)


def error_code(exc: Exception | None, status: int) -> str:
    for cls, code in ERROR_CODES:
        if isinstance(exc, cls):
            return code
    return STATUS_CODES.get(status, "error")


def _status(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(request: Request, status: int, message: str, *, errors: dict[str, str] | None = None,
                   headers: dict[str, str] | None = None, code: str | None = None) -> Response:
    if wants_json(request):
        body: dict[str, object] = {"error": {"code": code or STATUS_CODES.get(status, "error"), "status": status,
                                             "message": message}}
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
    _ensure_locale(request)
    status = _status(exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    errors = field_errors(exc.errors) if isinstance(exc, ValidationFailed) else None
    return error_response(request, status, i18n.translate(exc.message), errors=errors, headers=headers,
                          code=error_code(exc, status))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    _ensure_locale(request)
    message = HTTP_MESSAGES.get(exc.status_code)
    text = i18n.gettext(message) if message else (exc.detail or "")
    return error_response(request, exc.status_code, text, headers=dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    _ensure_locale(request)
    return error_response(request, 500, i18n.gettext(HTTP_MESSAGES[500]))


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client went away while its request body was being read (a closed tab, a dropped mobile
    connection): nothing was done (the request's transaction was rolled back) and nobody is left to answer,
    so it is noted, not reported as a server error."""
    log.info("client disconnected during %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def integrity_error(request: Request, exc: Exception) -> Response:
    """Two requests raced to create the same thing (a double submit): the first won, nothing doubled."""
    log.info("integrity error on %s %s: %s", request.method, request.url.path, exc)
    _ensure_locale(request)
    return error_response(request, 409, i18n.gettext(
        "This was already saved, perhaps by a second click. Reload the page to see the current state."))


async def login_required(request: Request, exc: Exception) -> Response:
    _ensure_locale(request)
    if wants_json(request):
        return error_response(request, 401, i18n.gettext("Please log in first."))
    if request.method != "GET":  # a form posted after the session ended: its URL cannot be opened with GET
        return RedirectResponse("/login", status_code=303)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)


EXCEPTION_HANDLERS = {
    LoginRequired: login_required,
    ClientDisconnect: client_gone,
    IntegrityError: integrity_error,
    DomainError: domain_error,
    HTTPException: http_error,
    Exception: server_error,
}
