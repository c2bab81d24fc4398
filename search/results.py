"""What a search asks and answers, the same whichever engine answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

PER_PAGE = 20
# Facets on document attributes, shown on the search page (each a ``SearchQuery`` field of the same name).
ATTRIBUTE_FACETS = ("category", "state", "draft", "chapter", "round", "adoption")
MAX_PAGE = 50  # Meilisearch counts up to 1000 hits exactly; deeper pages are not useful to people


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    doc_type: str | None = None
    area_id: int | None = None
    category: str | None = None  # a topic category (topics and their comments carry it)
    state: str | None = None  # a topic state (likewise)
    draft: str | None = None  # a draft's id (its articles and the comments on it)
    chapter: str | None = None  # a chapter's provision id
    round: str | None = None  # a comment round's id
    adoption: str | None = None  # a draft comment's outcome, or "pending"
    # Any word may match (ranked by how many do) instead of every word: finds near-duplicates of a title.
    match_any: bool = False
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def is_empty(self) -> bool:
        return not self.text and self.doc_type is None and self.area_id is None and not self.attribute_filters

    @property
    def attribute_filters(self) -> dict[str, str]:
        """The chosen values of the attribute facets (``ATTRIBUTE_FACETS``)."""
        return {name: value for name in ATTRIBUTE_FACETS if (value := getattr(self, name)) is not None}


@dataclass
class Hit:
    doc_type: str
    object_id: int
    title: Markup  # escaped, with <mark> around matches
    snippet: Markup
    url: str
    badges: list[str] = field(default_factory=list)  # message ids


@dataclass
class FacetValue:
    value: str
    label: str  # a message id (types) or a name (districts)
    count: int
    number: int | None = None  # a version number, shown beside the name (rounds; chapters of several versions)


@dataclass
class SearchResults:
    query: SearchQuery
    hits: list[Hit]
    total: int
    type_counts: dict[str, int] = field(default_factory=dict)
    district_counts: dict[int, int] = field(default_factory=dict)
    attribute_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # facet -> value -> count
    from_fallback: bool = False
    types: list[FacetValue] = field(default_factory=list)  # filled in by the service
    districts: list[FacetValue] = field(default_factory=list)
    attributes: dict[str, list[FacetValue]] = field(default_factory=dict)  # facet -> labelled values
    area_name: str | None = None

    @property
    def pages(self) -> int:
        return min(MAX_PAGE, max(1, -(-self.total // self.query.per_page)))

    @property
    def has_previous(self) -> bool:
        return self.query.page > 1

    @property
    def has_next(self) -> bool:
        return self.query.page < self.pages
