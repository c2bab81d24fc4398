"""The hottest statements, run straight on the database driver on PostgreSQL.

SQLAlchemy spends 0.2-0.4 ms of CPU on each execution of a statement through a session: the execution context,
the result's metadata and row processors, and for an ORM statement the loading of its entities. That is more
than PostgreSQL needs for an indexed lookup, and every ballot, comment and signed-in request runs such
statements. ``rows`` runs a Core statement as SQLAlchemy would, without that machinery:

- compiled once per statement object and dialect (the statements passed are module constants or ``@cache``d
  builders, so the same object comes back each time);
- its parameters built and processed by the compiled statement's own bind processors, in its positional order;
- sent through the DBAPI cursor of the session's connection (the same prepared-statement cache, transaction
  and autocommit setting as the session's other statements);
- the connection's ``before_cursor_execute`` and ``after_cursor_execute`` listeners told, as SQLAlchemy tells
  them (``consultation.changes`` notes the tables read and written; tests count statements);
- a driver error raised as SQLAlchemy raises it (``sqlalchemy.exc.IntegrityError`` and the others), the
  connection invalidated when the error says it is lost;
- each row's values processed by their types' result processors, the row a named tuple.

Other backends (SQLite) run the statement through ``session.execute``: there the same rows come back as
SQLAlchemy ``Row`` objects, which read the same by position and by name. Statements with expanding (``IN``)
or literal-execute parameters are refused: their SQL changes with their values.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import exc, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any] | None
T = TypeVar("T")


@dataclass
class _Plan:
    compiled: SQLCompiler
    sql: str
    positions: tuple[str, ...]
    binds: Mapping[str, Callable[[Any], Any]]
    row: Callable[..., Any]
    types: tuple[Any, ...]
    results: tuple[Processor, ...] | None = field(default=None)  # from the first answer's column type codes

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        given = self.compiled.construct_params(values, escape_names=False)
        binds = self.binds
        return tuple(binds[key](given[key]) if key in binds else given[key] for key in self.positions)

    def processors(self, dialect: Dialect, description: Sequence[Any]) -> tuple[Processor, ...]:
        if self.results is None:
            self.results = tuple(type_._cached_result_processor(dialect, column[1])
                                 for type_, column in zip(self.types, description, strict=True))
        return self.results


# statement id -> (statement, dialect name, plan); the statement is held so its id is not reused
_PLANS: dict[int, tuple[Executable, str, _Plan]] = {}


def _plan(statement: Executable, dialect: Dialect) -> _Plan:
    found = _PLANS.get(id(statement))
    if found is not None and found[0] is statement and found[1] == dialect.name:
        return found[2]
    compiled = cast(ClauseElement, statement).compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler) and compiled.positional and compiled.positiontup is not None
    if compiled.literal_execute_params or compiled.post_compile_params:
        raise ValueError("consultation.direct runs statements whose SQL does not depend on their values")
    columns = compiled._result_columns
    plan = _Plan(compiled=compiled, sql=compiled.string, positions=tuple(compiled.positiontup),
                 binds=cast(dict[str, Callable[[Any], Any]], dict(compiled._bind_processors)),
                 row=namedtuple("Row", [c[0] for c in columns], rename=True)._make,  # type: ignore[attr-defined]
                 types=tuple(c[3] for c in columns))
    _PLANS[id(statement)] = (statement, dialect.name, plan)
    return plan


async def rows(session: AsyncSession, statement: Executable, parameters: Mapping[str, Any] | None = None
               ) -> Sequence[Any]:
    """Every row of ``statement`` (a Core ``SELECT``, or DML with ``RETURNING``) run with ``parameters``."""
    bind = session.bind if session.bind is not None else session.get_bind()
    if bind.dialect.name != "postgresql":
        return (await session.execute(statement, parameters or {})).all()
    return await session.run_sync(_run, statement, parameters or {})


async def first(session: AsyncSession, statement: Executable, parameters: Mapping[str, Any] | None = None) -> Any:
    """The first row of ``statement``, or None."""
    found = await rows(session, statement, parameters)
    return found[0] if found else None


def _run(session: Session, statement: Executable, parameters: Mapping[str, Any]) -> list[Any]:
    """In the session's greenlet (one for the checkout, the statement and its rows)."""
    connection = session.connection()
    dialect = connection.dialect
    plan = _plan(statement, dialect)
    values = plan.parameters(parameters)
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    cursor = dbapi_connection.cursor()
    try:
        dispatch = connection.dispatch
        if dispatch.before_cursor_execute:
            dispatch.before_cursor_execute(connection, cursor, plan.sql, values, None, False)
        try:
            cursor.execute(plan.sql, values)
            description = cursor.description
            fetched = cursor.fetchall() if description else []
        except dialect.loaded_dbapi.Error as error:
            lost = dialect.is_disconnect(error, dbapi_connection, cursor)
            if lost:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(plan.sql, values, error, dialect.loaded_dbapi.Error,
                                          connection_invalidated=lost, dialect=dialect) from error
        if dispatch.after_cursor_execute:
            dispatch.after_cursor_execute(connection, cursor, plan.sql, values, None, False)
    finally:
        cursor.close()
    if not fetched:
        return []
    processors = plan.processors(dialect, description)
    make = plan.row
    if not any(processors):
        return [make(row) for row in fetched]
    return [make([value if p is None else p(value) for p, value in zip(processors, row, strict=True)])
            for row in fetched]


def columns_of(entity: type[Any], source: Any = None) -> list[Any]:
    """The columns of a mapped class in attribute order, each labelled with its attribute's name, to select
    for ``loaded``; ``source``: a CTE or subquery with the class's table's columns, whose columns are taken."""
    attrs = inspect(entity).column_attrs
    if source is None:
        return [attr.columns[0].label(attr.key) for attr in attrs]
    return [source.c[attr.columns[0].name].label(attr.key) for attr in attrs]


@cache
def _keys(entity: Any) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The attribute names in ``columns_of`` order, and the positions of the primary key among them."""
    mapper = inspect(entity)
    keys = tuple(attr.key for attr in mapper.column_attrs)
    return keys, tuple(keys.index(mapper.get_property_by_column(column).key) for column in mapper.primary_key)


def loaded(session: AsyncSession, entity: type[T], row: Sequence[Any], start: int = 0, *,
           refresh: bool = False) -> T | None:
    """The instance of ``entity`` whose ``columns_of`` are ``row[start:]``, in ``session`` as a query would have
    left it: persistent, unchanged, so a change to it is flushed as an ``UPDATE``; the instance the session
    holds already for that row if there is one (as a query returns it), with these values when ``refresh``
    (as a query with ``populate_existing`` does: a row read again under a lock); None when the primary key is
    NULL (an outer join that found nothing)."""
    keys, primary = _keys(cast(Hashable, entity))
    values = row[start:start + len(keys)]
    identity = [values[i] for i in primary]
    if any(value is None for value in identity):
        return None
    mapper = inspect(entity)
    held = session.identity_map.get(mapper.identity_key_from_primary_key(identity))
    if held is not None:
        if refresh:
            for key, value in zip(keys, values, strict=True):
                set_committed_value(held, key, value)
        return cast(T, held)
    instance = mapper.class_manager.new_instance()
    instance_dict(instance).update(zip(keys, values, strict=True))
    make_transient_to_detached(instance)  # takes the values as loaded: no history, nothing to flush
    session.add(instance)
    return cast(T, instance)
