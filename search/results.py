"""What a search asks and answers, the same whichever engine answered."""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

PER_PAGE = 20
MAX_PAGE = 50  # Meilisearch counts up to 1000 hits exactly; deeper pages are not useful to people


@dataclass(frozen=True)
class SearchQuery:
    text: str = ""
    doc_type: str | None = None
    area_id: int | None = None
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def is_empty(self) -> bool:
        return not self.text and self.doc_type is None and self.area_id is None


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


@dataclass
class SearchResults:
    query: SearchQuery
    hits: list[Hit]
    total: int
    type_counts: dict[str, int] = field(default_factory=dict)
    district_counts: dict[int, int] = field(default_factory=dict)
    from_fallback: bool = False
    types: list[FacetValue] = field(default_factory=list)  # filled in by the service
    districts: list[FacetValue] = field(default_factory=list)
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
