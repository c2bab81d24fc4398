"""Per-process caches of what a surge reads on every write but that rarely changes: the sensitive-word
list, and the provisions a comment is placed in (a draft version's provisions are never changed; a new
text is a new version).

How fresh (the promise ``web.page_cache`` makes for pages):
- A write this process makes to a watched table drops that table's entries at once, and again when the
  write's transaction commits or rolls back (or the savepoint it was made in is rolled back), so an
  administrator who adds a word sees the next comment held on the same process, and a write rolled back
  is not kept.
- Writes by other processes are seen at most ``ttl`` seconds late.

SQLAlchemy announces a commit before the database has it: a value loaded in the moment between the two would
be the old one. So a value is only kept if its load began ``SETTLE`` seconds or more after the last end of a
transaction of this process that wrote the table.

A transaction that writes a table and then reads it through its cache shares what it wrote with the process's
other requests before it commits (the administrators' pages do not read through the caches; the demo loader
does, alone).

Entries are per database (engine), so tests with their own databases never share them.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncSession

V = TypeVar("V")
DEFAULT_TTL = 10.0  # seconds, as web.page_cache.DEFAULT_TTL

SETTLE = 1.0  # seconds: far longer than a commit takes
_versions: dict[str, int] = {}  # watched table → bumped by every write of this process to it
_settled_at: dict[str, float] = {}  # watched table → when the last transaction that wrote it has surely ended
_caches: list[TableCache[Any]] = []
_WRITE_HEADS = ("INSERT", "UPDATE", "DELETE", "WITH", "MERGE")
# the tables a statement writes (SQLAlchemy writes the keywords in capitals)
_WRITTEN_TABLE = re.compile(r'\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|MERGE\s+INTO)\s+"?(\w+)')
_WROTE = "table_cache_wrote"


def _bump(tables: set[str], *, ended: bool = False) -> None:
    for table in tables:
        _versions[table] += 1
        if ended:
            _settled_at[table] = time.monotonic() + SETTLE


def _levels(conn: Connection) -> list[set[str]]:
    """The watched tables written by the connection's transaction, one set per savepoint level."""
    levels: list[set[str]] = conn.info.setdefault(_WROTE, [set()])
    return levels


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
    if not statement.lstrip()[:6].upper().startswith(_WRITE_HEADS) or not any(name in statement for name in _versions):
        return  # most statements: a read, or a write that does not name a watched table
    written = {name for name in _WRITTEN_TABLE.findall(statement) if name in _versions}
    if written:
        _levels(conn)[-1].update(written)
        _bump(written)


@event.listens_for(Engine, "commit")
@event.listens_for(Engine, "rollback")
def _note_end(conn: Connection) -> None:
    _bump(set().union(*conn.info.pop(_WROTE, [])), ended=True)


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
    _bump(levels.pop() if len(levels) > 1 else levels[-1], ended=True)


class TableCache(Generic[V]):
    """Values computed from table ``table``, kept up to ``ttl`` seconds (see the module's docstring);
    ``max_entries`` bounds it, the oldest going first. A value must be safe to share between requests:
    plain data, or ORM objects no session holds (``session.expunge``) that nothing writes through."""

    def __init__(self, table: str, *, ttl: float = DEFAULT_TTL, max_entries: int = 1000) -> None:
        _versions.setdefault(table, 0)
        _settled_at.setdefault(table, 0.0)
        self.table = table
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        _caches.append(self)

    async def get(self, session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value of ``key``: cached, or ``load()``-ed (and kept unless this process wrote the table
        while it loaded)."""
        full_key = (id(session.get_bind().engine), key)
        version = _versions[self.table]
        began = time.monotonic()
        found = self._entries.get(full_key)
        if found is not None and found[0] == version and began - found[1] < self.ttl:
            return found[2]
        value = await load()
        if _versions[self.table] == version and began >= _settled_at[self.table]:
            self._entries[full_key] = (version, began, value)
            self._entries.move_to_end(full_key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()


def clear_all() -> None:
    """Empty every cache and forget when writes ended (tests that count the statements of a cold write, and
    then of a warm one)."""
    for table_cache in _caches:
        table_cache.clear()
    for table in _settled_at:
        _settled_at[table] = 0.0
