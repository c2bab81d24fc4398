"""Per-process caches of what a surge reads on every write but that rarely changes: the sensitive-word
list, and the provisions a comment is placed in (a draft version's provisions are never changed; a new
text is a new version).

How fresh (the promise ``web.page_cache`` makes for pages, on the same ground: ``consultation.changes``):
- A write to the table drops its entries: this process's own at once (and again when its transaction ends, and
  once the commit is surely done), so an administrator who adds a word sees the next comment held on any
  process of the feed, and a write rolled back is not kept; another process's when the change feed reports it.
- An entry lives at most ``ttl`` seconds, ``listened_ttl`` while the change feed listens: the bound for writes
  nothing reports (a one-off command, ``psql``).

A transaction that writes a table and then reads it through its cache shares what it wrote with the process's
other requests before it commits (the administrators' pages do not read through the caches; the demo loader
does, alone).

Entries are per database (engine), so tests with their own databases never share them.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from consultation import changes

V = TypeVar("V")
DEFAULT_TTL = 10.0  # seconds, as web.page_cache.DEFAULT_TTL
LISTENED_TTL = 60.0  # seconds, as web.page_cache.LISTENED_TTL
_caches: list[TableCache[Any]] = []


class TableCache(Generic[V]):
    """Values computed from table ``table`` (or the tables of a tuple), kept up to ``ttl`` seconds (see the
    module's docstring); ``max_entries`` bounds it, the oldest going first. A value must be safe to share
    between requests: plain data, or ORM objects no session holds (``session.expunge``, or copies made with
    their columns) that nothing writes through."""

    def __init__(self, table: str | tuple[str, ...], *, ttl: float = DEFAULT_TTL, listened_ttl: float = LISTENED_TTL,
                 max_entries: int = 1000) -> None:
        self.tables = frozenset({table} if isinstance(table, str) else table)
        self.ttl = ttl
        self.listened_ttl = listened_ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[int, float, Any]] = OrderedDict()
        # loads under way: the change clock and the time (time.monotonic()) each began, and its result
        self._flights: dict[Hashable, tuple[int, float, asyncio.Future[Any]]] = {}
        _caches.append(self)

    async def get(self, session: AsyncSession, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        """The value of ``key``: cached, or ``load()``-ed (and kept unless the table changed while it
        loaded)."""
        full_key = (id(session.get_bind().engine), key)
        clock = changes.now()
        began = time.monotonic()
        found = self._entries.get(full_key)
        lifetime = self.listened_ttl if changes.listening() else self.ttl
        if found is not None and began - found[1] < lifetime and not changes.changed_since(self.tables, found[0]):
            changes.note_read(self.tables, found[1], found[1] + lifetime)
            return found[2]
        flight = self._flights.get(full_key)
        if flight is not None and not changes.changed_since(self.tables, flight[0]):
            await asyncio.wait([flight[2]])  # one load however many miss it at once (the area tree after a change)
            if not flight[2].cancelled():
                # as old as that load: it began before this request
                changes.note_read(self.tables, flight[1], flight[1] + lifetime)
                shared: V = flight[2].result()
                return shared
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._flights[full_key] = (clock, began, future)
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody waited
            raise
        finally:
            if self._flights.get(full_key, (0, 0.0, None))[2] is future:
                del self._flights[full_key]
        future.set_result(value)
        if not changes.changed_since(self.tables, clock):
            self._entries[full_key] = (clock, began, value)
            self._entries.move_to_end(full_key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value

    def forget(self, session: AsyncSession, key: Hashable) -> None:
        """Drop ``key``'s value (one known to be behind the database: the next ``get`` loads it)."""
        self._entries.pop((id(session.get_bind().engine), key), None)

    def clear(self) -> None:
        self._entries.clear()


def clear_all() -> None:
    """Empty every cache (tests that count the statements of a cold write, and then of a warm one)."""
    for table_cache in _caches:
        table_cache.clear()
