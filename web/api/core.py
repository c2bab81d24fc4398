"""Building blocks of the JSON API under ``/api/v1``.

- ``Schema``: a named JSON Schema of an object; the same declaration documents a body in the OpenAPI
  document and checks incoming JSON (types only: value rules stay in the domain services, so the API
  and the pages say the same thing about the same input).
- ``describe``: records an endpoint's metadata next to its handler; ``ApiTable.endpoint`` does that and
  registers the route through the normal pipeline (unit of work, CSRF, error mapping).
- ``json_body``, ``page_request``, ``page_body``, ``ok``: parsing, pagination and answers.
- ``claim_idempotency_key``: a repeated ``Idempotency-Key`` of the same person is refused (409), so a
  retried POST never creates twice.

Errors are raised as domain errors and rendered by ``web/errors.py`` as
``{"error": {"code", "status", "message", "fields"}}`` in the request's language.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consultation import counters
from consultation.errors import N_, Conflict, Message, ValidationFailed, msg
from consultation.validation import strip_control
from web.api.locale import apply_api_locale
from web.context import Ctx
from web.forms import MAX_FIELD_CHARS
from web.routing import Handler, RouteTable

API_PREFIX = "/api/v1"
MAX_PAGE = 10_000
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
IDEMPOTENCY_WINDOW = timedelta(hours=24)
IDEMPOTENCY_KEY_MAX = 200

# --- schemas -------------------------------------------------------------------------------------

JsonSchema = dict[str, Any]
SCHEMAS: dict[str, Schema] = {}


@dataclass(frozen=True)
class Schema:
    """A named object schema; registered for ``components.schemas`` of the OpenAPI document."""

    name: str
    properties: dict[str, JsonSchema]
    required: tuple[str, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        SCHEMAS[self.name] = self

    def json_schema(self) -> JsonSchema:
        schema: JsonSchema = {"type": "object", "properties": self.properties}
        if self.required:
            schema["required"] = list(self.required)
        if self.description:
            schema["description"] = self.description
        return schema

    @property
    def ref(self) -> JsonSchema:
        return {"$ref": f"#/components/schemas/{self.name}"}


def string(description: str = "", **extra: Any) -> JsonSchema:
    return _with({"type": "string"}, description, extra)


def integer(description: str = "", **extra: Any) -> JsonSchema:
    return _with({"type": "integer"}, description, extra)


def boolean(description: str = "") -> JsonSchema:
    return _with({"type": "boolean"}, description, {})


def timestamp(description: str = "") -> JsonSchema:
    return _with({"type": "string", "format": "date-time"}, description, {})


def enum(values: Iterable[str], description: str = "") -> JsonSchema:
    return _with({"type": "string", "enum": list(values)}, description, {})


def array(items: JsonSchema | Schema, description: str = "") -> JsonSchema:
    return _with({"type": "array", "items": items.ref if isinstance(items, Schema) else items}, description, {})


def nullable(schema: JsonSchema | Schema) -> JsonSchema:
    """The schema or ``null`` (OpenAPI 3.1 / JSON Schema 2020-12 style)."""
    if isinstance(schema, Schema):
        return {"anyOf": [schema.ref, {"type": "null"}]}
    if isinstance(schema.get("type"), str):
        widened = {**schema, "type": [schema["type"], "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}


def ref(schema: Schema) -> JsonSchema:
    return schema.ref


def _with(schema: JsonSchema, description: str, extra: dict[str, Any]) -> JsonSchema:
    if description:
        schema["description"] = description
    return {**schema, **extra}


ErrorBody = Schema("ErrorBody", {
    "code": string("Machine-readable: validation_failed, login_required, csrf_failed, forbidden, not_found, "
                   "conflict, invalid_state, rate_limited, ..."),
    "status": integer("The HTTP status."),
    "message": string("What went wrong, in the request's language."),
    "fields": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "Per-field problems (validation_failed only), in the request's language."},
}, required=("code", "status", "message"))
Error = Schema("Error", {"error": ErrorBody.ref}, required=("error",),
               description="Every refusal under /api/ has this shape.")


def page_of(item: Schema) -> Schema:
    name = f"{item.name}Page"
    if name in SCHEMAS:
        return SCHEMAS[name]
    return Schema(name, {
        "items": array(item), "page": integer(minimum=1), "per_page": integer(minimum=1, maximum=MAX_PER_PAGE),
        "total": integer("How many items match, on all pages.", minimum=0),
    }, required=("items", "page", "per_page", "total"))


# --- endpoint metadata ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Param:
    """A query parameter."""

    name: str
    schema: JsonSchema
    description: str = ""
    required: bool = False


PAGE_PARAMS = (
    Param("page", integer(minimum=1, maximum=MAX_PAGE, default=1), "Page number, from 1."),
    Param("per_page", integer(minimum=1, maximum=MAX_PER_PAGE, default=DEFAULT_PER_PAGE),
          f"Items per page, at most {MAX_PER_PAGE}."),
)


@dataclass(frozen=True)
class Operation:
    path: str  # as registered in Starlette, e.g. /api/v1/topics/{topic_id:int}
    method: str
    name: str
    summary: str
    description: str = ""
    tag: str = ""
    query: tuple[Param, ...] = ()
    path_params: tuple[Param, ...] = ()  # schemas of path parameters beyond the converter's (e.g. an enum)
    request: Schema | None = None
    responses: dict[int, tuple[str, Schema | None]] = field(default_factory=dict)
    signed_in: bool = False
    idempotency_key: bool = False


OPERATIONS: dict[tuple[str, str], Operation] = {}


def describe(path: str, method: str = "GET", *, summary: str, name: str | None = None, description: str = "",
             tag: str = "", query: Iterable[Param] = (), path_params: Iterable[Param] = (),
             request: Schema | None = None, responses: dict[int, tuple[str, Schema | None]] | None = None,
             signed_in: bool = False, idempotency_key: bool = False) -> Callable[[Handler], Handler]:
    """Record an endpoint for the OpenAPI document (the handler is returned unchanged).

    ``responses`` maps each success status to (description, schema); refusals are added from what
    the endpoint declares (a body, query parameters, path parameters, signing in, an unsafe method).
    """
    def record(handler: Handler) -> Handler:
        OPERATIONS[(path, method.upper())] = Operation(
            path=path, method=method.upper(), name=name or handler.__name__, summary=summary,
            description=description or (handler.__doc__ or "").strip(), tag=tag, query=tuple(query),
            path_params=tuple(path_params), request=request, responses=responses or {200: ("OK", None)},
            signed_in=signed_in, idempotency_key=idempotency_key)
        return handler

    return record


class ApiTable(RouteTable):
    """Routes of the JSON API: documented, answered in the API's language rule."""

    def endpoint(self, path: str, method: str = "GET", *, summary: str, name: str | None = None,
                 autocommit: bool = False, **doc: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            describe(path, method, summary=summary, name=name, **doc)(handler)

            async def answer(request: Request, ctx: Ctx) -> Response:
                apply_api_locale(request)
                return await handler(request, ctx)

            answer.__name__ = handler.__name__
            answer.__doc__ = handler.__doc__
            self.add(path, answer, methods=(method.upper(),), name=name or handler.__name__, autocommit=autocommit)
            return handler

        return register


# --- requests ------------------------------------------------------------------------------------

BODY_FIELD = "body"
NOT_JSON = N_("Send a JSON object as the request body (Content-Type: application/json).")
NOT_TEXT = N_("Enter text.")
NOT_INTEGER = N_("Enter a whole number.")
NOT_BOOLEAN = N_("Enter true or false.")
REQUIRED = N_("This field is required.")


async def json_body(request: Request, schema: Schema) -> dict[str, Any]:
    """The JSON object sent, with each declared property checked for its type (422 with field errors).

    Undeclared properties are ignored; missing optional ones are absent from the result; a missing
    required text is ``""`` (the service reports it with its other findings, as for a form). Text loses
    control characters and is cut at the forms' limit, exactly as form fields are.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise ValidationFailed({BODY_FIELD: msg(NOT_JSON)})
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise ValidationFailed({BODY_FIELD: msg(NOT_JSON)})
    values: dict[str, Any] = {}
    errors: dict[str, Message | str] = {}
    for name, prop in schema.properties.items():
        if name not in data or data[name] is None:
            if name in schema.required and _kind(prop) == "string":
                values[name] = ""  # the service says it is required, together with its other findings
            elif name in schema.required:
                errors[name] = msg(REQUIRED)
            continue
        value, problem = _coerce(data[name], prop)
        if problem is not None:
            errors[name] = msg(problem)
        else:
            values[name] = value
    if errors:
        raise ValidationFailed(errors)
    return values


def _kind(prop: JsonSchema) -> str | None:
    kinds = prop.get("type")
    return next((k for k in kinds if k != "null"), None) if isinstance(kinds, list) else kinds


def _coerce(value: Any, prop: JsonSchema) -> tuple[Any, str | None]:
    kind = _kind(prop)
    if kind == "string":
        return (strip_control(value[:MAX_FIELD_CHARS]), None) if isinstance(value, str) else (None, NOT_TEXT)
    if kind == "integer":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**31 - 1
        return (value, None) if ok else (None, NOT_INTEGER)
    if kind == "boolean":
        return (value, None) if isinstance(value, bool) else (None, NOT_BOOLEAN)
    return value, None


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_request(request: Request) -> PageRequest:
    """``?page=`` and ``?per_page=`` (422 when out of bounds or not numbers)."""
    errors: dict[str, Message | str] = {}
    page = _bounded(request, "page", 1, MAX_PAGE, errors)
    per_page = _bounded(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE, errors)
    if errors:
        raise ValidationFailed(errors)
    return PageRequest(page, per_page)


def _bounded(request: Request, name: str, default: int, maximum: int, errors: dict[str, Message | str]) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    raw = raw.strip()
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not 1 <= int(raw) <= maximum:
        errors[name] = msg("Enter a whole number from 1 to {n}.", n=maximum)
        return default
    return int(raw)


def query_choice(request: Request, name: str, choices: Iterable[str]) -> str | None:
    """An optional query parameter that must be one of ``choices`` (422 otherwise)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    allowed = list(choices)
    if raw not in allowed:
        raise ValidationFailed({name: msg("Choose one of: {choices}.", choices=", ".join(allowed))})
    return raw


# --- answers -------------------------------------------------------------------------------------

def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


def page_body(items: list[Any], page: PageRequest, total: int) -> dict[str, Any]:
    return {"items": items, "page": page.page, "per_page": page.per_page, "total": total}


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- idempotency ---------------------------------------------------------------------------------

async def claim_idempotency_key(request: Request, db: AsyncSession, user_id: int) -> None:
    """Refuse (409) a request whose ``Idempotency-Key`` this person already used here within 24 hours.

    The claim is a counter row written in the request's own transaction: if the first request fails
    and rolls back, its key is free again; two concurrent requests with one key queue on the row and
    the second is refused after the first commits. Without the header nothing is checked.
    """
    key = request.headers.get("idempotency-key")
    if key is None:
        return
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX:
        raise ValidationFailed({"Idempotency-Key": msg("Enter at most {n} characters.", n=IDEMPOTENCY_KEY_MAX)})
    count, _ = await counters.hit(db, f"idem:{user_id}:{request.method}:{request.url.path}:{key}",
                                  IDEMPOTENCY_WINDOW)
    if count > 1:
        raise Conflict(msg("This request was already received (same Idempotency-Key); nothing was done twice."))
