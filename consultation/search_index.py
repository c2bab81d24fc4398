"""The database side of search: the fallback table and the hook services call when an indexed
object changes.

A service that changes something searchable calls ``search_changed(session, "area", [area.id])``
in the same transaction. That enqueues one ``search.index`` outbox message per document type and
transaction (later calls merge their ids into it). The search package's outbox handler rebuilds
those documents, stores them in ``search_document`` (the fallback answered from when Meilisearch
is not configured or is down) and pushes them to Meilisearch. An object that no longer exists,
or is no longer public, builds no document and is removed from both. This module never imports
``search``: it only knows the document type's name.

On SQLite the fallback also has ``search_fts``, an FTS5 table whose rowid is
``search_document.id``: column ``words`` holds jieba-segmented words, column ``chars`` the same
text with every CJK character separated, so that a phrase query is a substring match whatever
way jieba cut the words. Alembic does not manage it (alembic/env.py skips ``search_fts*``): the
initial migration renders ``FTS_CREATE`` / ``FTS_DROP`` as literal statements, from
alembic/script.py.mako, whenever scripts/regen_migration.sh regenerates it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from consultation.accounts.models import RoleGrant
from consultation.areas.models import Area
from consultation.db import Base, UTCDateTime, utcnow
from consultation.outbox import OutboxMessage, enqueue

SEARCH_INDEX_TOPIC = "search.index"
_PENDING = "search_index_pending"

FTS_CREATE = (
    "CREATE VIRTUAL TABLE search_fts USING fts5(words, chars, tokenize = 'unicode61 remove_diacritics 2')",
)
FTS_DROP = ("DROP TABLE IF EXISTS search_fts",)


class SearchDocument(Base):
    """One searchable object as the fallback search sees it (Meilisearch holds the same document)."""

    __tablename__ = "search_document"
    __table_args__ = (
        UniqueConstraint("doc_type", "object_id"),
        Index("ix_search_document_district", "district_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(300), default="")
    # Every area the object lies in, ancestors included, as " 1 4 17 " (filter: LIKE '% 4 %').
    area_ids: Mapped[str] = mapped_column(String(500), default=" ")
    district_id: Mapped[int | None]
    # JSONB on PostgreSQL: the fallback reads six attributes of every matching row for its facets, and a JSON
    # (text) column is parsed again for each of them (0.75 s instead of 0.37 s for 158,000 rows)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"), default=dict)
    # Title, body and keywords, lower-cased: what PostgreSQL's fallback matches with LIKE.
    search_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def search_changed(session: AsyncSession, doc_type: str, ids: Iterable[int]) -> None:
    """Queue (re)indexing of these objects with the current transaction: nothing is indexed if it
    rolls back, and nothing is lost if Meilisearch is down when it commits."""
    changed = {int(i) for i in ids}
    if not changed:
        return
    transaction = session.sync_session.get_transaction()
    owner, messages = session.info.get(_PENDING, (None, {}))
    if owner is None or owner is not transaction:
        messages = {}
    message: OutboxMessage | None = messages.get(doc_type)
    if message is not None and message in session:
        merged = set(message.payload["ids"]) | changed
        message.payload = {"type": doc_type, "ids": sorted(merged)}
        return
    messages[doc_type] = enqueue(session, SEARCH_INDEX_TOPIC, {"type": doc_type, "ids": sorted(changed)})
    session.info[_PENDING] = (session.sync_session.get_transaction(), messages)


def changed_cte(source: Any, doc_type: str, id_column: Any) -> Any:
    """``search_changed`` as a ``WITH`` part (PostgreSQL), for a write that queues its indexing in the same
    statement: the outbox message for the object whose id is ``id_column`` of ``source``'s row (it has one
    at most), written only if there is one and the parameter ``:index`` is true. ``:o_now`` is the time."""
    table = cast(Table, OutboxMessage.__table__)
    payload = func.json_build_object(literal("type"), literal(doc_type), literal("ids"),
                                     func.json_build_array(id_column), type_=JSON)
    now = bindparam("o_now", type_=UTCDateTime())
    return (insert(table).from_select(["topic", "payload", "attempts", "next_attempt_at", "created_at"],
                                      select(literal(SEARCH_INDEX_TOPIC), payload, literal(0), now, now)
                                      .select_from(source).where(bindparam("index", type_=Boolean)))
            .cte("search_changed"))


async def area_tree_changed(session: AsyncSession, area: Area) -> None:
    """An area was renamed: its breadcrumb appears in every area below it and its name in the
    profiles of the people serving there, so all of those are rebuilt."""
    below = list((await session.scalars(select(Area.id).where(Area.path.startswith(area.path)))).all())
    search_changed(session, "area", below)
    serving = (await session.scalars(select(RoleGrant.user_id).where(RoleGrant.area_id.in_(below)))).all()
    search_changed(session, "profile", serving)
