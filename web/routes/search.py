"""The search page and its JSON twin: ``/search`` and ``/api/v1/search`` take ``q``, ``type``, ``area``,
``category``, ``state``, ``draft``, ``chapter``, ``round``, ``adoption`` and ``page``. Meilisearch answers
when it can; otherwise the database fallback does and the page says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from search.results import SearchQuery, SearchResults
from search.service import SearchService, parse_query
from web.api.core import Param, Schema, array, boolean, describe, integer, nullable, string
from web.context import Ctx
from web.i18n import gettext
from web.routing import RouteTable
from web.templating import render_for_anyone

routes = RouteTable()


def _service(request: Request) -> SearchService:
    service: SearchService = request.app.state.services.search
    return service


def search_href(query: SearchQuery) -> Callable[..., str]:
    """Links that keep the query and change a filter or the page (a new filter starts at page 1).

    A results page has a link per facet value and page, so each kept parameter is encoded once here and
    each link only encodes what it changes. Parameters keep their order: the query's own, then the page,
    then filters the link adds."""
    values: dict[str, Any] = {"q": query.text, "type": query.doc_type, "area": query.area_id,
                              **query.attribute_filters, "page": None}
    kept = {name: _pair(name, value) for name, value in values.items() if value not in (None, "")}

    def href(**changes: Any) -> str:
        pairs = {name: kept.get(name) for name in values}
        for name, value in changes.items():
            dropped = value in (None, "") or (name == "page" and value == 1)
            pairs[name] = None if dropped else _pair(name, value)
        query_string = "&".join(pair for pair in pairs.values() if pair is not None)
        return "/search" + ("?" + query_string if query_string else "")

    return href


def _pair(name: str, value: Any) -> str:
    return f"{quote_plus(name)}={quote_plus(str(value))}"


def page_numbers(results: SearchResults, around: int = 2) -> list[int]:
    current = results.query.page
    return list(range(max(1, current - around), min(results.pages, current + around) + 1))


@routes.get("/search", name="search")
async def search_page(request: Request, ctx: Ctx) -> Response:
    """Anonymous visitors all get the same page for the same search (popular searches repeat), so it is
    rendered once and kept in ``web.page_cache``: up to ``DEFAULT_TTL`` seconds old when another process
    changed what it finds. Only a search in its canonical form (the one the page's own links use) is kept,
    so odd spellings of the address cannot fill the cache; a signed-in person always gets a fresh page."""
    service = _service(request)
    query = parse_query(request.query_params, service.registry)
    href = search_href(query)

    async def context() -> dict[str, Any]:
        results = await service.search(ctx.db, query)
        return {"query": query, "results": results, "href": href, "pages": page_numbers(results),
                "type_labels": {doc_type.name: doc_type.label for doc_type in service.registry}}

    canonical = href(page=query.page) == "/search" + (f"?{request.url.query}" if request.url.query else "")
    return await render_for_anyone(request, "search/index.html", context, cache="search_page", shareable=canonical)


SearchHit = Schema("SearchHit", {
    "type": string("Document type (topic, comment, ...)."), "id": integer(), "url": string(),
    "title_html": string("Title with <mark> highlights (HTML-escaped otherwise)."),
    "snippet_html": string("Excerpt with <mark> highlights."), "badges": array(string()),
}, required=("type", "id", "url", "title_html", "snippet_html", "badges"))
Facet = Schema("SearchFacet", {"value": {"type": ["string", "integer"]}, "label": string(), "count": integer()},
               required=("value", "label", "count"))
SearchResult = Schema("SearchResult", {
    "query": {"type": "object", "properties": {"q": string(), "type": nullable(string()),
                                               "area": nullable(integer()), "category": nullable(string()),
                                               "state": nullable(string()), "draft": nullable(string()),
                                               "chapter": nullable(string()), "round": nullable(string()),
                                               "adoption": nullable(string()), "page": integer()}},
    "total": integer(), "pages": integer(), "from_fallback": boolean("Answered by the database fallback."),
    "hits": array(SearchHit),
    "facets": {"type": "object", "properties": {"type": array(Facet), "district": array(Facet),
                                                 "category": array(Facet), "state": array(Facet),
                                                 "draft": array(Facet), "chapter": array(Facet),
                                                 "round": array(Facet), "adoption": array(Facet)}},
}, required=("query", "total", "pages", "from_fallback", "hits", "facets"))


@describe("/api/v1/search", summary="Search topics, comments and more", name="api_search", tag="Search", query=(
    Param("q", string(), "The words to find."), Param("type", string(), "Only this document type."),
    Param("area", integer(minimum=1), "Only within this area."),
    Param("category", string(), "Only topics (and their comments) of this category."),
    Param("state", string(), "Only topics (and their comments) in this state."),
    Param("draft", string(), "Only the articles of this draft (its id) and the comments on it."),
    Param("chapter", string(), "Only within this chapter (its provision id)."),
    Param("round", string(), "Only this comment round (its id): its version's articles and its comments."),
    Param("adoption", string(), "Only comments on drafts with this answer: adopted, partly, not_adopted, "
                                "already_provided, out_of_scope, or pending."),
    Param("page", integer(minimum=1)),
), responses={200: ("Hits with highlights and facets", SearchResult)})
@routes.get("/api/v1/search", name="api_search")
async def search_api(request: Request, ctx: Ctx) -> Response:
    service = _service(request)
    query = parse_query(request.query_params, service.registry)
    results = await service.search(ctx.db, query)
    return JSONResponse({
        "query": {"q": query.text, "type": query.doc_type, "area": query.area_id, "category": query.category,
                  "state": query.state, "draft": query.draft, "chapter": query.chapter, "round": query.round,
                  "adoption": query.adoption, "page": query.page},
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
            **{name: [{"value": f.value, "label": gettext(f.label), "count": f.count} for f in facets]
               for name, facets in results.attributes.items()},
        },
    })
