"""The served OpenAPI document: every /api/v1 route is in it with its methods, it is a valid
OpenAPI 3.1 document, and the human-readable page lists the same endpoints."""

from __future__ import annotations

from openapi_spec_validator import validate
from starlette.routing import Route

from tests.conftest import WebClient, text_of
from web.api.openapi import openapi_path


async def test_every_api_route_is_documented_and_nothing_else(app, client: WebClient) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    paths = response.json()["paths"]
    served = {
        (openapi_path(route.path), method.lower())
        for route in app.routes if isinstance(route, Route) and route.path.startswith("/api/v1/")
        for method in (route.methods or set()) - {"HEAD"}
    }
    documented = {(path, method) for path, methods in paths.items() for method in methods}
    assert served - documented == set(), "declare the new endpoints with ApiTable.endpoint or describe()"
    assert documented - served == set(), "documented endpoints that are not served"
    for expected in [("/api/v1/search", "get"), ("/api/v1/topics/similar", "get"), ("/api/v1/topics", "post"),
                     ("/api/v1/topics/{topic_id}/cosigns", "post")]:
        assert expected in documented


async def test_the_document_is_valid_openapi_3_1(client: WebClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    validate(document)  # raises on any structural problem
    assert document["openapi"].startswith("3.1")
    operation_ids = [op["operationId"] for methods in document["paths"].values() for op in methods.values()]
    assert len(operation_ids) == len(set(operation_ids))
    propose = document["paths"]["/api/v1/topics"]["post"]
    assert propose["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ProposeTopic"}
    assert {"201", "401", "403", "422"} <= set(propose["responses"])
    assert propose["security"] == [{"session": [], "csrf": []}]
    listing = document["paths"]["/api/v1/topics"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"area", "state", "category", "page", "per_page"}


async def test_the_docs_page_lists_the_endpoints(client: WebClient) -> None:
    response = await client.get("/api/v1/docs")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = text_of(response.text)
    assert "POST /api/v1/topics/{topic_id}/cosigns" in page and "GET /api/v1/search" in page
    assert "<script" not in response.text.split("</header>", 1)[-1].split("<footer", 1)[0]
