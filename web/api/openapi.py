"""The OpenAPI 3.1 document, built from the metadata each endpoint declares (``describe`` /
``ApiTable.endpoint``), served at ``/api/v1/openapi.json``, and a plain HTML list at ``/api/v1/docs``."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from web.api.core import OPERATIONS, SCHEMAS, ApiTable, Error, JsonSchema, Operation, ok, string
from web.context import Ctx
from web.templating import render

routes = ApiTable()
TAG = "API"
PATH_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

DESCRIPTION = """Yishiting (议事厅) public JSON API.

Reading needs nothing for public objects. Writing needs a signed-in browser session: the `ysession`
cookie, plus the CSRF double-submit token: send the value of the `ycsrf` cookie in the `x-csrf-token`
header of every POST/PUT/PATCH/DELETE. Without a session writes answer 401, without the token 403
(`csrf_failed`).

Bodies are JSON (`Content-Type: application/json`). Refusals have the shape
`{"error": {"code", "status", "message", "fields"}}`; messages are in Simplified Chinese unless the
`lang` cookie or the `Accept-Language` header asks for English (`en`).

Lists are paged with `page` and `per_page` and answer `{"items", "page", "per_page", "total"}`.
People appear only by their public (masked) name; contact details and user ids are never sent.
Comments on draft regulations are anonymous: they carry no name at all.
"""

REFUSALS = {
    401: "Not signed in (login_required)",
    403: "Not allowed, or the CSRF token is missing or wrong (forbidden, csrf_failed)",
    404: "No such object (not_found)",
    409: "Not possible in the current state, or a repeated Idempotency-Key (invalid_state, conflict)",
    422: "Invalid input, with per-field messages (validation_failed)",
}


def openapi_path(path: str) -> str:
    return PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", path)


def _parameters(operation: Operation) -> list[JsonSchema]:
    parameters: list[JsonSchema] = []
    declared = {param.name: param for param in operation.path_params}
    for match in PATH_PARAM.finditer(operation.path):
        kind = {"int": {"type": "integer", "minimum": 1}}.get(match.group(2) or "", {"type": "string"})
        path_item: JsonSchema = {"name": match.group(1), "in": "path", "required": True, "schema": kind}
        if (declared_param := declared.get(match.group(1))) is not None:
            path_item["schema"] = declared_param.schema
            if declared_param.description:
                path_item["description"] = declared_param.description
        parameters.append(path_item)
    for param in operation.query:
        item: JsonSchema = {"name": param.name, "in": "query", "required": param.required, "schema": param.schema}
        if param.description:
            item["description"] = param.description
        parameters.append(item)
    if operation.idempotency_key:
        parameters.append({"name": "Idempotency-Key", "in": "header", "required": False,
                           "schema": string(maxLength=200),
                           "description": "Optional: a repeat of the same key by the same person within 24 hours "
                                          "is refused with 409 instead of creating twice."})
    return parameters


def _operation(operation: Operation) -> JsonSchema:
    responses: dict[str, Any] = {}
    for status, (description, schema) in sorted(operation.responses.items()):
        answer: JsonSchema = {"description": description}
        if schema is not None:
            answer["content"] = {"application/json": {"schema": schema.ref}}
        responses[str(status)] = answer
    refusals = set()
    unsafe = operation.method in UNSAFE
    if operation.signed_in:
        refusals |= {401, 403}
    if unsafe:
        refusals |= {403, 409}
    if PATH_PARAM.search(operation.path):
        refusals.add(404)
    if operation.request is not None or operation.query or operation.path_params:
        refusals.add(422)
    for status in sorted(refusals):
        responses[str(status)] = {"description": REFUSALS[status],
                                  "content": {"application/json": {"schema": Error.ref}}}
    doc: JsonSchema = {"operationId": operation.name, "summary": operation.summary, "responses": responses}
    if operation.description:
        doc["description"] = operation.description
    if operation.tag:
        doc["tags"] = [operation.tag]
    if parameters := _parameters(operation):
        doc["parameters"] = parameters
    if operation.request is not None:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": operation.request.ref}}}
    if operation.signed_in:
        doc["security"] = [{"session": [], "csrf": []}] if unsafe else [{"session": []}]
    return doc


def document(server_url: str = "/") -> JsonSchema:
    paths: dict[str, dict[str, Any]] = {}
    for (path, method), operation in sorted(OPERATIONS.items()):
        paths.setdefault(openapi_path(path), {})[method.lower()] = _operation(operation)
    tags = sorted({op.tag for op in OPERATIONS.values() if op.tag})
    return {
        "openapi": "3.1.0",
        "info": {"title": "Yishiting (议事厅) API", "version": "1.0.0", "description": DESCRIPTION,
                 "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"}},
        "servers": [{"url": server_url}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": {name: schema.json_schema() for name, schema in sorted(SCHEMAS.items())},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "ysession",
                            "description": "The signed-in browser session."},
                "csrf": {"type": "apiKey", "in": "header", "name": "x-csrf-token",
                         "description": "The value of the ycsrf cookie (double submit), on every unsafe method."},
            },
        },
    }


@routes.endpoint("/api/v1/openapi.json", summary="This API description (OpenAPI 3.1)", tag=TAG,
                 responses={200: ("The OpenAPI document", None)})
async def api_openapi(request: Request, ctx: Ctx) -> Response:
    return ok(document())


@routes.endpoint("/api/v1/docs", summary="The endpoints as a readable page (HTML)", tag=TAG,
                 responses={200: ("An HTML page", None)})
async def api_docs(request: Request, ctx: Ctx) -> Response:
    """A plain page listing every endpoint, its parameters and answers (no scripts)."""
    endpoints = []
    for path, methods in document()["paths"].items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            endpoints.append({
                "id": op["operationId"], "method": method.upper(), "path": path, "summary": op["summary"],
                "description": op.get("description", ""), "signed_in": "security" in op,
                "body": _schema_name(body),
                "parameters": [{"name": p["name"], "in": p["in"], "required": p["required"],
                                "description": p.get("description", "")} for p in op.get("parameters", [])],
                "responses": [(status, answer["description"], _schema_name(
                    answer.get("content", {}).get("application/json", {}).get("schema", {})))
                    for status, answer in op["responses"].items()],
            })
    return render(request, "api/docs.html", {"endpoints": endpoints})


def _schema_name(schema: JsonSchema) -> str:
    return str(schema.get("$ref", "")).rsplit("/", 1)[-1]
