"""What this process knows of the changes to the database, table by table: the ground the per-process caches
(``web.page_cache``, ``consultation.table_cache``) stand on.

Each table has a stamp: the value of the process's change clock when the table last changed as far as this
process knows. A cached value remembers the clock when its load began and the tables the load read; it is stale
as soon as one of those tables has a later stamp. A table's stamp moves:
- when a statement of this process writes it (so the writer's own next read is fresh, before any commit);
- when that statement's transaction, or savepoint, ends: SQLAlchemy announces a commit (or rollback) before the
  database has it;
- again once the commit is surely done, when the connection begins its next transaction or goes back to its
  pool: a value read in the moment between the announcement and the commit may be the old one;
- when another process says it committed a write to it (``web.change_feed``: PostgreSQL ``LISTEN``/``NOTIFY``,
  batched; a process's committed writes are handed to ``publish`` for that).

A value that depends on more than the tables it read (search results from Meilisearch) depends on ``ANY``.
A write whose table cannot be told (DDL, ``TRUNCATE``) moves the stamp of ``EVERYTHING``, which every value
depends on. So does the change feed (re)connecting: what it missed while it was away is unknown.

The tables a load reads are the ones its SQL statements name after ``FROM`` and ``JOIN`` (``recording``); a
cache that serves a value from its own store inside a recording adds the value's tables (``note_read``).
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import Pool

CHANNEL = "yishiting_changes"  # PostgreSQL channel of the change feed (web.change_feed)
EVERYTHING = "*"  # a change to it is a change to every table
ANY = "+"  # changes with every change to any table: for a value that depends on more than the tables it read

_clock = 0
_stamps: dict[str, int] = {}
_changed_at: dict[str, float] = {}  # time.time() of each table's latest stamp (``changed_after``)
_reading: ContextVar[Reading | None] = ContextVar("changes_reading", default=None)
_publisher: Callable[[frozenset[str]], None] | None = None
_listening = False

_READS = re.compile(r"\s*(SELECT|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|SHOW|SET|PRAGMA|EXPLAIN|VALUES)\b",
                    re.IGNORECASE)
_WRITE_IN_WITH = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)
# a read's row locks (FOR UPDATE OF t): not writes
_ROW_LOCKS = re.compile(r'\bFOR\s+(?:NO\s+KEY\s+)?(?:UPDATE|SHARE)(?:\s+OF\s+"?\w+"?(?:\s*,\s*"?\w+"?)*)?',
                        re.IGNORECASE)
_WRITTEN_TABLE = re.compile(r'\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+"?(\w+)', re.IGNORECASE)
_DELETED_TABLE = re.compile(r'\bDELETE\s+FROM\s+"?(\w+)', re.IGNORECASE)
_UPDATED_TABLE = re.compile(r'\bUPDATE\s+"?(\w+)', re.IGNORECASE)
_READ_TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"?(\w+)', re.IGNORECASE)
_NOT_TABLES = frozenset({"SET", "OF", "ONLY", "LATERAL", "SELECT"})  # words the patterns may catch
_UNCACHED_ABOVE = 4096  # characters: longer statements (bulk inserts, long IN lists) are read each time
_WROTE = "changes_wrote"  # conn.info: the tables written, one set per savepoint level
_COMMITTED = "changes_committed"  # conn.info: the tables of a commit announced, not yet surely done


# --- reading the statements --------------------------------------------------------------------

def written_tables(statement: str) -> frozenset[str]:
    """The tables ``statement`` writes, with those the database changes in turn (``ON DELETE CASCADE``, ``SET
    NULL``): empty for a read, ``{EVERYTHING}`` for a write whose tables cannot be told. (SQLAlchemy's statements
    repeat, so the answer is kept per statement text.)"""
    return _written(statement) if len(statement) <= _UNCACHED_ABOVE else _written.__wrapped__(statement)


@lru_cache(maxsize=2048)
def _written(statement: str) -> frozenset[str]:
    head = statement.lstrip()[:4].upper()
    if head != "WITH" and _READS.match(statement) is not None:
        return frozenset()
    unlocked = _ROW_LOCKS.sub(" ", statement)
    if head == "WITH" and _WRITE_IN_WITH.search(unlocked) is None:
        return frozenset()
    named = {name for name in _WRITTEN_TABLE.findall(unlocked) if name.upper() not in _NOT_TABLES}
    if not named:
        return frozenset({EVERYTHING})
    on_delete, on_update = _cascades()
    for name in _DELETED_TABLE.findall(unlocked):
        named.update(on_delete.get(name, ()))
    for name in _UPDATED_TABLE.findall(unlocked):
        named.update(on_update.get(name, ()))
    return frozenset(named)


def read_tables(statement: str) -> frozenset[str]:
    """The tables ``statement`` reads: the names after ``FROM`` and ``JOIN``, and every mapped table it names
    anywhere (``FROM topic, area`` names the second one after a comma). More names than it reads (a common table
    expression, a column named like a table) only drop a value sooner."""
    return _read(statement) if len(statement) <= _UNCACHED_ABOVE else _read.__wrapped__(statement)


@lru_cache(maxsize=2048)
def _read(statement: str) -> frozenset[str]:
    named = {name for name in _READ_TABLE.findall(statement) if name.upper() not in _NOT_TABLES}
    named.update(_mapped_tables().findall(statement))
    return frozenset(named)


_mapped: tuple[int, re.Pattern[str]] = (0, re.compile(r"(?!)"))
_followers: tuple[int, tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]] = (0, ({}, {}))


def _acts(action: str | None) -> bool:
    return action is not None and action.upper() not in ("RESTRICT", "NO ACTION")


def _cascades() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """For each mapped table, the tables whose rows the database deletes or changes in turn when its rows are
    deleted, and when their keys are changed (foreign keys with ``ON DELETE``/``ON UPDATE`` actions), followed
    to the end."""
    global _followers
    from consultation.db import Base

    tables = Base.metadata.tables
    if len(tables) != _followers[0]:
        _followers = (len(tables), (_closure(tables, "ondelete"), _closure(tables, "onupdate")))
    return _followers[1]


def _closure(tables: Any, action: str) -> dict[str, frozenset[str]]:
    direct: dict[str, set[str]] = {}
    for table in tables.values():
        for key in table.foreign_keys:
            if _acts(getattr(key, action)):
                direct.setdefault(key.column.table.name, set()).add(table.name)
    closed: dict[str, frozenset[str]] = {}
    for name, first in direct.items():
        seen: set[str] = set()
        todo = list(first)
        while todo:
            follower = todo.pop()
            if follower not in seen:
                seen.add(follower)
                # rows deleted in turn act on their own followers (a deletion); a key changed sets theirs
                todo.extend(direct.get(follower, ()))
        closed[name] = frozenset(seen)
    return closed


def _mapped_tables() -> re.Pattern[str]:
    """A pattern of the mapped tables' names, made again when more models have been imported."""
    global _mapped
    from consultation.db import Base

    names = Base.metadata.tables
    if len(names) != _mapped[0]:
        alternatives = "|".join(sorted(map(re.escape, names), key=len, reverse=True)) or "(?!)"
        _mapped = (len(names), re.compile(rf'\b"?({alternatives})\b'))
    return _mapped[1]


# --- stamps ------------------------------------------------------------------------------------

def now() -> int:
    """The change clock: a load that begins now is fresh as long as nothing it reads changes after it."""
    return _clock


def bump(tables: Iterable[str]) -> None:
    global _clock
    _clock += 1
    wall = time.time()
    for table in tables:
        _stamps[table] = _clock
        _changed_at[table] = wall
    _stamps[ANY] = _clock
    _changed_at[ANY] = wall


def changed_since(tables: Iterable[str], clock: int) -> bool:
    """Whether any of ``tables`` (or everything) changed after ``clock``."""
    stamps = _stamps
    if stamps.get(EVERYTHING, 0) > clock:
        return True
    return any(stamps.get(table, 0) > clock for table in tables)


def changed_after(tables: Iterable[str], wall: float) -> bool:
    """Whether any of ``tables`` (or everything) changed at or after ``wall`` (``time.time()``) as far as this
    process knows: for values another process made (``web.host_cache``), whose change clock is not this one's.
    Before the process has heard of any change (it has not listened yet), everything counts as changed."""
    changed_at = _changed_at
    if changed_at.get(EVERYTHING, float("inf")) >= wall:
        return True
    return any(changed_at.get(table, 0.0) >= wall for table in tables)


class Reading:
    """What a load has read so far: the tables; when the oldest value it took from a cache was loaded
    (``oldest``, ``time.monotonic()``), for telling whether anything it read has changed since; and the earliest
    time one of those values was to be loaded again (``until``), so a value made of cached ones is not kept
    longer than they would have been. Both are None while it has taken no cached value."""

    __slots__ = ("oldest", "tables", "until")

    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.oldest: float | None = None
        self.until: float | None = None

    def took(self, tables: Iterable[str], loaded_at: float | None, until: float | None = None) -> None:
        self.tables.update(tables)
        if loaded_at is not None and (self.oldest is None or loaded_at < self.oldest):
            self.oldest = loaded_at
        if until is not None and (self.until is None or until < self.until):
            self.until = until


@contextlib.contextmanager
def recording() -> Iterator[Reading]:
    """Collect what the statements run inside read (also added to an enclosing recording)."""
    outer = _reading.get()
    reading = Reading()
    token = _reading.set(reading)
    try:
        yield reading
    finally:
        _reading.reset(token)
        if outer is not None:
            outer.took(reading.tables, reading.oldest, reading.until)


def note_read(tables: Iterable[str], loaded_at: float | None = None, until: float | None = None) -> None:
    """A value a load uses came from ``tables`` without a statement: from a cache, where it was loaded at
    ``loaded_at`` and is kept until ``until`` at most (both ``time.monotonic()``)."""
    reading = _reading.get()
    if reading is not None:
        reading.took(tables, loaded_at, until)


def note_expiry(seconds: float) -> None:
    """What a load makes turns stale by itself in ``seconds`` (a comment round opens or closes): a value made
    with it is kept no longer."""
    note_read((), None, time.monotonic() + max(0.0, seconds))


# --- other processes ---------------------------------------------------------------------------

def listening() -> bool:
    """True while the change feed hears every other process's committed writes: caches may then keep
    values longer."""
    return _listening


def start_listening() -> None:
    global _listening
    bump({EVERYTHING})  # what the feed missed before is unknown
    _listening = True


def stop_listening() -> None:
    global _listening
    _listening = False


def heard(tables: Iterable[str]) -> None:
    """Another process committed writes to ``tables``."""
    bump(tables)


def set_publisher(publisher: Callable[[frozenset[str]], None] | None) -> None:
    """``publisher(tables)`` is called with the tables of each commit of this process once it is done."""
    global _publisher
    _publisher = publisher


# --- the engine's events -----------------------------------------------------------------------

def _levels(conn: Connection) -> list[set[str]]:
    levels: list[set[str]] = conn.info.setdefault(_WROTE, [set()])
    return levels


@event.listens_for(Engine, "before_cursor_execute")
def _note_statement(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                    executemany: bool) -> None:
    reading = _reading.get()
    if reading is not None:
        reading.tables.update(read_tables(statement))
    written = written_tables(statement)
    if written:
        _levels(conn)[-1].update(written)
        bump(written)


@event.listens_for(Engine, "commit")
def _note_commit(conn: Connection) -> None:
    written = set().union(*conn.info.pop(_WROTE, []))
    if written:
        bump(written)
        conn.info.setdefault(_COMMITTED, set()).update(written)


@event.listens_for(Engine, "rollback")
def _note_rollback(conn: Connection) -> None:
    written = set().union(*conn.info.pop(_WROTE, []))
    if written:
        bump(written)
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":  # each statement committed
            conn.info.setdefault(_COMMITTED, set()).update(written)


@event.listens_for(Engine, "savepoint")
def _note_savepoint(conn: Connection, name: str) -> None:
    _levels(conn).append(set())


@event.listens_for(Engine, "release_savepoint")
def _note_release(conn: Connection, name: str, context: Any) -> None:
    levels = _levels(conn)
    if len(levels) > 1:
        levels[-2].update(levels.pop())


@event.listens_for(Engine, "rollback_savepoint")
def _note_savepoint_rollback(conn: Connection, name: str, context: Any) -> None:
    levels = _levels(conn)
    bump(levels.pop() if len(levels) > 1 else levels[-1])


def _settle(info: dict[Any, Any]) -> None:
    """The commit announced on this connection is done: values read meanwhile are stale, and the other
    processes may be told."""
    committed: set[str] | None = info.pop(_COMMITTED, None)
    if committed:
        bump(committed)
        if _publisher is not None:
            _publisher(frozenset(committed))


@event.listens_for(Engine, "begin")
def _note_begin(conn: Connection) -> None:
    if _COMMITTED in conn.info:
        _settle(conn.info)


@event.listens_for(Pool, "checkin")
def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    if record is not None and _COMMITTED in record.info:
        _settle(record.info)
