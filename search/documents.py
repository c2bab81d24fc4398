"""The registry of searchable document types.

Each capability declares its types here through ``Registry.add``: a name, an async builder that
turns object ids into documents (reading through the given session; an id whose object is gone
or not public simply yields no document, which removes it from the index), an async lister of
every id (for a full reindex), the extra attributes it filters on, and how its badges read.
The pipeline (outbox handler, reindex, fallback, search page) only ever talks to the registry,
so a new capability adds a type without touching the pipeline (see search/catalog.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from consultation.db import utcnow
from search.text import normalise

Builder = Callable[[AsyncSession, Sequence[int]], Awaitable[list["SearchDoc"]]]
IdLister = Callable[[AsyncSession, int], AsyncIterator[list[int]]]
Badges = Callable[[dict[str, Any]], list[str]]


@dataclass
class SearchDoc:
    """One document: the same fields go to Meilisearch and to the fallback table."""

    doc_type: str
    object_id: int
    title: str
    body: str = ""
    url: str = ""
    area_ids: list[int] = field(default_factory=list)  # the object's area and all its ancestors
    district_id: int | None = None
    keywords: str = ""  # searchable, never shown (e.g. role names of a profile)
    attributes: dict[str, Any] = field(default_factory=dict)  # type-specific, filterable facets
    created_at: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        self.title = normalise(self.title)
        self.body = normalise(self.body)
        self.keywords = normalise(self.keywords)

    @property
    def key(self) -> str:
        """Meilisearch primary key: type and id, so every type shares one index."""
        return f"{self.doc_type}-{self.object_id}"

    def to_meili(self) -> dict[str, Any]:
        return {
            **self.attributes,
            "id": self.key,
            "type": self.doc_type,
            "object_id": self.object_id,
            "title": self.title,
            "body": self.body,
            "keywords": self.keywords,
            "url": self.url,
            "area_ids": self.area_ids,
            "district_id": self.district_id,
            "created_at": int(self.created_at.timestamp()),
        }


@dataclass(frozen=True)
class DocumentType:
    name: str
    label: str  # message id of the type's plural name, for the type facet
    build: Builder
    all_ids: IdLister
    facets: tuple[str, ...] = ()  # extra filterable attributes from ``SearchDoc.attributes``
    badges: Badges = lambda attributes: []  # message ids shown beside a hit


class Registry:
    def __init__(self, *types: DocumentType) -> None:
        self._types: dict[str, DocumentType] = {}
        for doc_type in types:
            self.add(doc_type)

    def add(self, doc_type: DocumentType) -> None:
        if doc_type.name in self._types:
            raise ValueError(f"search document type {doc_type.name!r} registered twice")
        self._types[doc_type.name] = doc_type

    def get(self, name: str) -> DocumentType:
        try:
            return self._types[name]
        except KeyError:
            raise LookupError(f"unknown search document type {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[DocumentType]:
        return iter(self._types.values())

    def filterable(self) -> list[str]:
        extra = sorted({facet for doc_type in self for facet in doc_type.facets})
        return ["type", "object_id", "area_ids", "district_id", *extra]
