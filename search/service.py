"""The search facade the web layer calls: Meilisearch when it is configured and answering,
otherwise the database fallback, with the same results either way (``from_fallback`` tells which)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from meilisearch.errors import MeilisearchApiError
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.areas.queries import area_tree
from consultation.deliberation.models import CATEGORY_LABELS, STATE_LABELS
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.rounds.models import CommentRound
from consultation.table_cache import TableCache
from consultation.validation import parse_id, strip_control
from search import fallback
from search.client import MeiliGateway, MeiliUnavailable
from search.documents import Registry
from search.draft_documents import ADOPTION_LABELS, heading_label
from search.results import ATTRIBUTE_FACETS, MAX_PAGE, FacetValue, Hit, SearchQuery, SearchResults
from search.text import MARK_END, MARK_START, MAX_QUERY_CHARS, marked, normalise

log = logging.getLogger(__name__)

# Value -> label (message id) of each attribute facet, in display order; anything else is ignored.
FACET_LABELS: dict[str, dict[str, str]] = {
    "category": {category.value: label for category, label in CATEGORY_LABELS.items()},
    "state": {state.value: label for state, label in STATE_LABELS.items()},
    "adoption": ADOPTION_LABELS,
}
# Facets whose values are object ids, labelled with the objects' names at query time.
ID_FACETS = ("draft", "chapter", "round")
assert set(FACET_LABELS) | set(ID_FACETS) == set(ATTRIBUTE_FACETS)


def parse_query(params: Mapping[str, str], registry: Registry) -> SearchQuery:
    """Query-string parameters ``q``, ``type``, ``area``, ``category``, ``state``, ``draft``, ``chapter``,
    ``round``, ``adoption`` and ``page``; anything invalid is ignored."""
    doc_type = params.get("type") or None
    return SearchQuery(
        text=normalise(strip_control(params.get("q", "")))[:MAX_QUERY_CHARS],
        doc_type=doc_type if doc_type in registry else None,
        area_id=parse_id(params.get("area")),
        page=min(parse_id(params.get("page")) or 1, MAX_PAGE),
        category=_facet_value(params, "category"),
        state=_facet_value(params, "state"),
        draft=_facet_value(params, "draft"),
        chapter=_facet_value(params, "chapter"),
        round=_facet_value(params, "round"),
        adoption=_facet_value(params, "adoption"),
    )


def _facet_value(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if name in ID_FACETS:
        object_id = parse_id(value)
        return str(object_id) if object_id is not None else None
    return value if value in FACET_LABELS[name] else None


class SearchService:
    def __init__(self, registry: Registry, gateway: MeiliGateway | None) -> None:
        self.registry = registry
        self.gateway = gateway

    async def search(self, session: AsyncSession, query: SearchQuery) -> SearchResults:
        if query.is_empty:
            return SearchResults(query=query, hits=[], total=0)
        results = None
        if self.gateway is not None and self.gateway.available:
            try:
                results = await self._meili(query)
            except (MeiliUnavailable, MeilisearchApiError) as exc:
                log.warning("Meilisearch did not answer, using the database fallback: %s", exc)
        if results is None:
            results = await fallback.search(session, query, self.registry)
        await self._label_facets(session, results)
        return results

    async def _meili(self, query: SearchQuery) -> SearchResults:
        assert self.gateway is not None
        filters = []
        if query.doc_type:
            filters.append(f"type = '{query.doc_type}'")  # a registered name: no quoting needed
        if query.area_id is not None:
            filters.append(f"area_ids = {query.area_id}")
        for name, value in query.attribute_filters.items():
            filters.append(f"{name} = '{value}'")  # a known enum value or an id: no quoting needed
        params: dict[str, Any] = {
            "filter": filters, "facets": ["type", "district_id", *ATTRIBUTE_FACETS],
            "page": query.page, "hitsPerPage": query.per_page,
            "attributesToHighlight": ["title", "body"], "attributesToCrop": ["body"], "cropLength": 40,
            "cropMarker": "…", "highlightPreTag": MARK_START, "highlightPostTag": MARK_END,
        }
        index = self.gateway.live_index
        raw = await self.gateway.call(lambda c: c.index(index).search(query.text, params))
        hits = []
        for hit in raw["hits"]:
            formatted = hit.get("_formatted", hit)
            doc_type = hit["type"]
            hits.append(Hit(
                doc_type=doc_type, object_id=int(hit["object_id"]), title=marked(str(formatted.get("title", ""))),
                snippet=marked(str(formatted.get("body", ""))), url=str(hit.get("url", "")),
                badges=self.registry.get(doc_type).badges(hit) if doc_type in self.registry else [],
            ))
        distribution = raw.get("facetDistribution", {})
        return SearchResults(
            query=query, hits=hits, total=int(raw.get("totalHits", len(hits))),
            type_counts={str(k): int(v) for k, v in distribution.get("type", {}).items()},
            district_counts={int(k): int(v) for k, v in distribution.get("district_id", {}).items()},
            attribute_counts={name: {str(k): int(v) for k, v in distribution.get(name, {}).items()}
                              for name in ATTRIBUTE_FACETS},
        )

    async def _label_facets(self, session: AsyncSession, results: SearchResults) -> None:
        results.types = [FacetValue(t.name, t.label, results.type_counts[t.name])
                         for t in self.registry if results.type_counts.get(t.name)]
        wanted = set(results.district_counts) | ({results.query.area_id} if results.query.area_id else set())
        names: dict[int, str] = {}
        if wanted:
            areas = (await area_tree(session)).areas  # kept per process, as the area pages read it
            names = {area_id: areas[area_id].name for area_id in wanted if area_id in areas}
        results.districts = sorted(
            (FacetValue(str(i), names[i], n) for i, n in results.district_counts.items() if i in names),
            key=lambda facet: facet.label)
        results.area_name = names.get(results.query.area_id) if results.query.area_id else None
        for name, labels in FACET_LABELS.items():
            counts = results.attribute_counts.get(name, {})
            results.attributes[name] = [FacetValue(value, label, counts[value])
                                        for value, label in labels.items() if counts.get(value)]
        await _label_draft_facets(session, results)


# The draft facets' statements, built once (building them cost more than running them). ``:ids`` is a list.
_DRAFT_TITLES = select(Draft.id, Draft.title).where(Draft.id.in_(bindparam("ids", expanding=True)))
_CHAPTERS = (select(Provision, DraftVersion.number).join(DraftVersion, DraftVersion.id == Provision.version_id)
             .where(Provision.id.in_(bindparam("ids", expanding=True))))
_ROUNDS = (select(CommentRound.id, Draft.title, DraftVersion.number)
           .join(Draft, Draft.id == CommentRound.draft_id)
           .join(DraftVersion, DraftVersion.id == CommentRound.version_id)
           .where(CommentRound.id.in_(bindparam("ids", expanding=True))))


def _ids(counts: dict[str, int], chosen: str | None) -> set[int]:
    return {int(value) for value in [*counts, chosen] if value is not None and value.isdigit()}


# Labels of id facets: (facet, frozenset of ids) -> {id: (label, version number or None)}. They change
# only with the drafts, versions, chapters and rounds they name, so they are kept per process
# (``consultation.table_cache``): a search then reads no table for its facets.
Labels = dict[int, tuple[str, int | None]]
_DRAFT_LABELS = TableCache[Labels](("draft", "draft_version", "provision", "comment_round"), max_entries=2000)


async def _labels(session: AsyncSession, name: str, ids: set[int]) -> Labels:
    if not ids:
        return {}
    return await _DRAFT_LABELS.get(session, (name, frozenset(ids)), lambda: _load_labels(session, name, ids))


async def _load_labels(session: AsyncSession, name: str, ids: set[int]) -> Labels:
    if name == "draft":
        return {i: (title, None) for i, title in await session.execute(_DRAFT_TITLES, {"ids": list(ids)})}
    if name == "chapter":
        chapters = (await session.execute(_CHAPTERS, {"ids": list(ids)})).all()
        several = len({number for _, number in chapters}) > 1
        return {p.id: (heading_label(p), number if several else None) for p, number in chapters}
    return {i: (title, number) for i, title, number in await session.execute(_ROUNDS, {"ids": list(ids)})}


async def _label_draft_facets(session: AsyncSession, results: SearchResults) -> None:
    """Drafts by title, chapters by label and title (with the version number when the chapters of several
    versions are listed), rounds by their draft's title and version number. The chosen value is listed
    even without hits, so that it can be seen and removed."""
    query, counts = results.query, results.attribute_counts
    found = {name: await _labels(session, name, _ids(counts.get(name, {}), getattr(query, name)))
             for name in ID_FACETS}
    for name in ID_FACETS:
        values = counts.get(name, {})
        chosen = getattr(query, name)
        listed = [FacetValue(str(i), label, values.get(str(i), 0), number)
                  for i, (label, number) in found[name].items() if values.get(str(i)) or str(i) == chosen]
        results.attributes[name] = sorted(listed, key=lambda f: (f.label, f.number or 0, int(f.value)))
