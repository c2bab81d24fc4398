"""Declarative base, naming convention, mixins and shared column types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, MetaData, Table, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, make_transient_to_detached, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, server_default=func.now())


DbSession = AsyncSession


def detached_copy(instance: Any) -> Any:
    """A copy of a loaded ORM object with its column values that no session holds, known as persistent: a
    relationship not set on it raises (``lazy="raise"``) or reads nothing instead of querying, and a session
    it is added to does not insert it. For per-process caches (``consultation.table_cache``)."""
    mapper = instance.__mapper__
    copy = mapper.class_(**{attr.key: getattr(instance, attr.key) for attr in mapper.column_attrs})
    make_transient_to_detached(copy)
    return copy


def dialect_insert(session: AsyncSession, target: type[Any] | Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` for the session's backend (PostgreSQL or SQLite), so ``ON CONFLICT`` clauses can be added."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(target)


async def insert_ignore(session: AsyncSession, target: type[Any] | Table, values: dict[str, Any],
                        conflict: list[str]) -> bool:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING``: True if a row was added. Two concurrent requests
    inserting the same key therefore leave exactly one row, without an error."""
    result = await session.execute(
        dialect_insert(session, target).values(**values).on_conflict_do_nothing(index_elements=conflict))
    return getattr(result, "rowcount", 0) == 1


async def insert_ignore_returning(session: AsyncSession, target: type[Any] | Table, values: dict[str, Any],
                                  conflict: list[str], column: Any) -> Any:
    """Like ``insert_ignore``, but returns ``column`` of the added row (``None`` when nothing was added)."""
    statement = (dialect_insert(session, target).values(**values)
                 .on_conflict_do_nothing(index_elements=conflict).returning(column))
    return (await session.execute(statement)).scalar_one_or_none()
