"""The search page and its JSON twin: ``/search`` and ``/api/v1/search`` take ``q``, ``type``, ``area``
and ``page``. Meilisearch answers when it can; otherwise the database fallback does and the page says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from search.results import SearchQuery, SearchResults
from search.service import SearchService, parse_query
from web.context import Ctx
from web.i18n import gettext
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()


def _service(request: Request) -> SearchService:
    service: SearchService = request.app.state.services.search
    return service


def search_href(query: SearchQuery) -> Callable[..., str]:
    """Links that keep the query and change a filter or the page (a new filter starts at page 1)."""
    def href(**changes: Any) -> str:
        params: dict[str, Any] = {"q": query.text, "type": query.doc_type, "area": query.area_id, "page": None}
        params.update(changes)
        kept = {k: v for k, v in params.items() if v not in (None, "") and not (k == "page" and v == 1)}
        return "/search" + ("?" + urlencode(kept) if kept else "")

    return href


def page_numbers(results: SearchResults, around: int = 2) -> list[int]:
    current = results.query.page
    return list(range(max(1, current - around), min(results.pages, current + around) + 1))


@routes.get("/search", name="search")
async def search_page(request: Request, ctx: Ctx) -> Response:
    service = _service(request)
    query = parse_query(request.query_params, service.registry)
    results = await service.search(ctx.db, query)
    return render(request, "search/index.html", {
        "query": query, "results": results, "href": search_href(query), "pages": page_numbers(results),
        "type_labels": {doc_type.name: doc_type.label for doc_type in service.registry},
    })


@routes.get("/api/v1/search", name="api_search")
async def search_api(request: Request, ctx: Ctx) -> Response:
    service = _service(request)
    query = parse_query(request.query_params, service.registry)
    results = await service.search(ctx.db, query)
    return JSONResponse({
        "query": {"q": query.text, "type": query.doc_type, "area": query.area_id, "page": query.page},
        "total": results.total,
        "pages": results.pages,
        "from_fallback": results.from_fallback,
        "hits": [
            {"type": hit.doc_type, "id": hit.object_id, "url": hit.url, "title_html": str(hit.title),
             "snippet_html": str(hit.snippet), "badges": [gettext(badge) for badge in hit.badges]}
            for hit in results.hits
        ],
        "facets": {
            "type": [{"value": f.value, "label": gettext(f.label), "count": f.count} for f in results.types],
            "district": [{"value": int(f.value), "label": f.label, "count": f.count} for f in results.districts],
        },
    })
