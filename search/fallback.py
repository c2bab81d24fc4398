"""Database fallback search, used when Meilisearch is not configured or not reachable.

Rows live in ``search_document`` (consultation/search_index.py). On SQLite the query is an FTS5
MATCH over ``search_fts``: each query word must match either a jieba-segmented word of the
document (prefix match, column ``words``) or appear as a substring (phrase over single CJK
characters, column ``chars``), ranked by bm25. On PostgreSQL each query word, lower-cased, is
matched with LIKE against the lower-cased text: a sequential scan, so the total, every facet's counts
(``GROUPING SETS``) and the page's ids come from one pass, and the page's documents are then read by id; a
``pg_trgm`` GIN index on
``search_text`` would not help the two-character words most Chinese queries are made of. On SQLite
facet counts are GROUP BYs over the same FTS5 match. Snippets are escaped first, then the matched terms are marked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.search_index import SearchDocument
from search.documents import Registry, SearchDoc
from search.results import ATTRIBUTE_FACETS, Hit, SearchQuery, SearchResults
from search.text import excerpt, highlight, query_groups, segment, spaced_chars

S = TypeVar("S", bound="Select[*tuple[Any, ...]]")


def _is_sqlite(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def _fts_rows(documents: list[SearchDoc]) -> list[tuple[str, str]]:
    rows = []
    for document in documents:
        content = f"{document.title} {document.body} {document.keywords}"
        rows.append((" ".join(segment(content)), spaced_chars(content)))
    return rows


async def store(session: AsyncSession, doc_type: str, ids: Sequence[int], documents: list[SearchDoc], *,
                fresh: bool = False) -> None:
    """Make the rows of ``ids`` match ``documents``: update, insert, and delete those that built nothing.
    ``fresh``: the table was cleared in this transaction, so there is nothing to look up (a rebuild would
    otherwise look up every batch in a table whose planner statistics still say "empty": quadratic)."""
    existing = {} if fresh else {row.object_id: row for row in (await session.scalars(
        select(SearchDocument).where(SearchDocument.doc_type == doc_type, SearchDocument.object_id.in_(ids))
    )).all()}
    built = {document.object_id for document in documents}
    gone = [row.id for object_id, row in existing.items() if object_id not in built]
    if gone:
        await _drop_fts(session, gone)
        await session.execute(delete(SearchDocument).where(SearchDocument.id.in_(gone)))
    rows = []
    for document in documents:
        row = existing.get(document.object_id) or SearchDocument(doc_type=doc_type, object_id=document.object_id)
        row.title = document.title[:300]
        row.body = document.body
        row.url = document.url
        row.area_ids = " " + "".join(f"{i} " for i in document.area_ids)
        row.district_id = document.district_id
        row.attributes = dict(document.attributes)
        row.search_text = f"{document.title} {document.body} {document.keywords}".lower()
        row.created_at = document.created_at
        session.add(row)
        rows.append(row)
    await session.flush()
    if rows and _is_sqlite(session):
        values = await anyio.to_thread.run_sync(_fts_rows, documents)
        await _drop_fts(session, [row.id for row in rows])
        await session.execute(text("INSERT INTO search_fts (rowid, words, chars) VALUES (:id, :words, :chars)"),
                              [{"id": row.id, "words": words, "chars": chars}
                               for row, (words, chars) in zip(rows, values, strict=True)])


async def _drop_fts(session: AsyncSession, row_ids: list[int]) -> None:
    if _is_sqlite(session):
        await session.execute(text("DELETE FROM search_fts WHERE rowid = :id"), [{"id": i} for i in row_ids])


async def clear(session: AsyncSession) -> None:
    await session.execute(delete(SearchDocument))
    if _is_sqlite(session):
        await session.execute(text("DELETE FROM search_fts"))


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def fts_match(groups: list[list[str]], match_any: bool = False) -> str:
    """FTS5 query: every group must match (any group with ``match_any``); an alternative matches as a
    word prefix or a substring."""
    def alternative(term: str) -> str:
        return f"(words : {_quoted(term)}* OR chars : {_quoted(spaced_chars(term))}*)"

    joiner = " OR " if match_any else " AND "
    return joiner.join("(" + " OR ".join(alternative(t) for t in group) + ")" for group in groups)


Counts = tuple[int, dict[str, int], dict[int, int], dict[str, dict[str, int]]]  # total, by type, district, attribute
Order = list[tuple[Any, bool]]  # the hits' order: (expression, descending)
Found = tuple[Counts, Sequence[SearchDocument]]  # the counts, and the requested page of hits


def _facet_columns() -> list[Any]:
    return [SearchDocument.doc_type, SearchDocument.district_id,
            *(SearchDocument.attributes[name].as_string() for name in ATTRIBUTE_FACETS)]


def _ordered(order: Order) -> list[Any]:
    return [expression.desc() if descending else expression for expression, descending in order]


async def _in_one_scan(session: AsyncSession, scoped: Callable[[Any], Any], order: Order, offset: int,
                       limit: int) -> Found:
    """PostgreSQL: the total, every facet's counts and the page's ids from one pass over the documents.

    Each word is a ``LIKE`` over every row, so each further pass costs as much as the first (with a query per
    facet, a common word over the city's 1.1 million documents took longer than a visitor waits). The
    matching rows' facet values and sort keys are read once into a materialized CTE; ``GROUPING SETS`` counts
    them and a sub-select takes the page's ids from the same rows. The page's documents are then read by id."""
    columns = _facet_columns()
    matched = scoped(select(SearchDocument.id.label("id"), *(c.label(f"f{k}") for k, c in enumerate(columns)),
                            *(e.label(f"o{k}") for k, (e, _) in enumerate(order)))).cte("matched")
    matched = matched.prefix_with("MATERIALIZED")  # read once, used twice
    facets = [matched.c[f"f{k}"] for k in range(len(columns))]

    def in_order(source: Any) -> list[Any]:
        return _ordered([(source.c[f"o{k}"], descending) for k, (_, descending) in enumerate(order)])

    page = select(matched.c.id, *(matched.c[f"o{k}"] for k in range(len(order)))).order_by(*in_order(matched)) \
        .offset(offset).limit(limit).subquery("page")  # a top-N sort: only the page's rows are kept in order
    page_ids = select(func.array_agg(aggregate_order_by(page.c.id, *in_order(page)))).scalar_subquery()
    everything = (1 << len(columns)) - 1  # GROUPING(...)'s bit for a column is set where it was not grouped by
    rows = (await session.execute(select(func.grouping(*facets), *facets, func.count(), page_ids)
                                  .group_by(func.grouping_sets(tuple_(), *(tuple_(c) for c in facets))))).all()
    total, ids = 0, []
    by_column: list[dict[Any, int]] = [{} for _ in columns]
    for row in rows:  # the empty grouping set gives its row even when nothing matched
        mask, values, n = row[0], row[1:-2], int(row[-2])
        if mask == everything:
            total, ids = n, list(row[-1] or [])
            continue
        for k in range(len(columns)):
            if mask == everything ^ (1 << (len(columns) - 1 - k)) and values[k] is not None:
                by_column[k][values[k]] = n
    type_counts = {str(key): n for key, n in by_column[0].items()}
    attribute_counts = {name: {str(key): n for key, n in by_column[2 + k].items()}
                        for k, name in enumerate(ATTRIBUTE_FACETS)}
    documents = {d.id: d for d in (await session.scalars(select(SearchDocument).where(SearchDocument.id.in_(ids)))
                                   ).all()} if ids else {}
    return (total, type_counts, by_column[1], attribute_counts), [documents[i] for i in ids if i in documents]


async def _one_by_one(session: AsyncSession, scoped: Callable[[Any], Any], order: Order, offset: int,
                      limit: int) -> Found:
    """SQLite: a query per facet and one for the page, each joined to the FTS5 match (an index, not a scan)."""
    total = int(await session.scalar(scoped(select(func.count(SearchDocument.id)))) or 0)
    type_counts = {str(name): int(n) for name, n in (await session.execute(
        scoped(select(SearchDocument.doc_type, func.count())).group_by(SearchDocument.doc_type))).all()}
    district_counts = {district: int(n) for district, n in (await session.execute(
        scoped(select(SearchDocument.district_id, func.count())).where(SearchDocument.district_id.is_not(None))
        .group_by(SearchDocument.district_id))).all() if district is not None}
    attribute_counts: dict[str, dict[str, int]] = {}
    for name in ATTRIBUTE_FACETS:
        value_of = SearchDocument.attributes[name].as_string()
        attribute_counts[name] = {str(value): int(n) for value, n in (await session.execute(
            scoped(select(value_of, func.count())).where(value_of.is_not(None)).group_by(value_of))).all()
            if value is not None}
    rows = (await session.scalars(
        scoped(select(SearchDocument)).order_by(*_ordered(order)).offset(offset).limit(limit))).all()
    return (total, type_counts, district_counts, attribute_counts), rows


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def search(session: AsyncSession, query: SearchQuery, registry: Registry) -> SearchResults:
    groups = await anyio.to_thread.run_sync(query_groups, query.text)  # jieba loads its dictionary on first use
    if query.text and not groups:  # only punctuation was typed
        return SearchResults(query=query, hits=[], total=0, from_fallback=True)
    conditions: list[ColumnElement[bool]] = []
    if query.doc_type:
        conditions.append(SearchDocument.doc_type == query.doc_type)
    if query.area_id is not None:
        conditions.append(SearchDocument.area_ids.like(f"% {query.area_id} %"))
    for name, value in query.attribute_filters.items():
        conditions.append(SearchDocument.attributes[name].as_string() == value)
    terms = [term for group in groups for term in group]
    fts = text(
        "SELECT rowid AS doc_id, bm25(search_fts) AS rank FROM search_fts WHERE search_fts MATCH :match"
    ).bindparams(match=fts_match(groups, query.match_any)).columns(doc_id=Integer, rank=Float).subquery("fts")
    # ``search_text`` is stored lower-cased (``store``), so LIKE with lower-cased words finds what ILIKE would, and
    # does without case-folding every character of every row: 1.8 s instead of 4.1 s over 1.1 million documents
    group_matches = [or_(*(SearchDocument.search_text.like(_like(t.lower()), escape="\\") for t in group))
                     for group in groups]

    def scoped(statement: S) -> S:
        statement = statement.where(*conditions)
        if not groups:
            return statement
        if _is_sqlite(session):
            return statement.join(fts, fts.c.doc_id == SearchDocument.id)
        return statement.where(or_(*group_matches) if query.match_any else and_(*group_matches))

    order: Order = []
    if query.match_any and groups and not _is_sqlite(session):  # most matching words first (bm25 does it on SQLite)
        order.append((sum((case((match, 1), else_=0) for match in group_matches), start=literal(0)), True))
    if terms:
        order.append((case((or_(*(SearchDocument.title.ilike(_like(t), escape="\\") for t in terms)), 0), else_=1),
                      False))
        if _is_sqlite(session):
            order.append((fts.c.rank, False))
    order += [(SearchDocument.title, False), (SearchDocument.id, False)]
    find = _one_by_one if _is_sqlite(session) else _in_one_scan
    (total, type_counts, district_counts, attribute_counts), rows = await find(session, scoped, order, query.offset,
                                                                                 query.per_page)
    hits = [
        Hit(doc_type=row.doc_type, object_id=row.object_id, title=highlight(row.title, terms),
            snippet=highlight(excerpt(row.body, terms), terms), url=row.url,
            badges=registry.get(row.doc_type).badges(row.attributes) if row.doc_type in registry else [])
        for row in rows
    ]
    return SearchResults(query=query, hits=hits, total=total, type_counts=type_counts,
                         district_counts=district_counts, attribute_counts=attribute_counts, from_fallback=True)
