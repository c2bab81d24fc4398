"""Form helpers: read submitted fields, keep them for re-display, and render validation errors."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from consultation.errors import ValidationFailed
from consultation.validation import parse_id, strip_control
from web.templating import field_errors, render

MAX_FIELD_CHARS = 20_000


async def form_fields(request: Request) -> dict[str, str]:
    """Text fields of a submitted form (files are read separately); the CSRF token is dropped."""
    form = await request.form()
    return {k: strip_control(v[:MAX_FIELD_CHARS]) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


async def upload(request: Request, name: str) -> UploadFile | None:
    value = (await request.form()).get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


async def uploads(request: Request, name: str) -> list[UploadFile]:
    """Every file chosen in a ``multiple`` file input (an input left empty sends none)."""
    return [v for v in (await request.form()).getlist(name) if isinstance(v, UploadFile) and v.filename]


async def id_list(request: Request, name: str) -> list[int]:
    """The valid ids among a repeated field (hidden inputs, checkboxes), in order."""
    values = (await request.form()).getlist(name)
    return [i for v in values if isinstance(v, str) and (i := parse_id(v)) is not None]


def invalid_form(request: Request, template: str, form: dict[str, str], exc: ValidationFailed,
                 context: dict[str, Any] | None = None) -> Response:
    """Re-render the form with what the person typed and each error beside its field (HTTP 422)."""
    values = {"form": form, "errors": field_errors(exc.errors), **(context or {})}
    return render(request, template, values, status_code=422)


def safe_next(value: str | None, default: str = "/") -> str:
    """Only same-site relative paths are followed after log-in or a preference change."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def int_or_none(value: str | None) -> int | None:
    """An id or page number from a form or query string (bounded: never overflows the database)."""
    return parse_id(value)
