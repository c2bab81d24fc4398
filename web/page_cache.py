"""A short-lived, in-process cache of public page data (issue 6: the area page is read far more than
it changes).

What may go in: data that every visitor sees alike (no per-person part, no permission decided at
read time) and that is only read after it is cached — ORM objects are kept detached with everything
the page shows already loaded, and nothing writes through them.

How fresh it is:
- Any write this process makes drops everything cached, at once: every INSERT, UPDATE, DELETE (or other
  non-read statement) sent by any SQLAlchemy engine of the process, and again when such a transaction
  commits (so a page read between the write and its commit is not kept). A person who changes
  something and looks again on the same process sees the change.
- Writes made by *other* processes (the other app workers, the outbox worker, a CLI command) are not
  seen: an entry lives at most ``ttl`` seconds, so another process shows a change at most that late.
  Several stateless app processes therefore agree within ``ttl``.

One cache per application (``cache_of(app)``), so tests, each with their own app and database, never
share entries.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from starlette.applications import Starlette

T = TypeVar("T")
DEFAULT_TTL = 10.0  # seconds
# Entries kept per cache at most; each keeps the HTML anonymous visitors get, as UTF-8 and gzip-compressed
# (``web.shared_page``); past that the oldest go first. The area pages are bounded by their size instead: a
# community's page takes about 20 KiB with its compressed copy, a compound's about 10 KiB, and a city of 1,000
# communities with 3,000 compounds (bench --scale city) has all its area pages in about 50 MiB. Under a surge
# spread over the whole city (a vote or a round announced everywhere at once) each area page can then be
# rendered once per time to live; with 1,000 entries, visits going round 3,000 compound pages (the harness's
# topic_list) found each page dropped before its next visit.
MAX_ENTRIES = {"area_page": 20_000, "topic_page": 100, "search_page": 200}
MAX_BYTES = {"area_page": 64 * 1024 * 1024}

_READS = re.compile(r"\s*(SELECT|SAVEPOINT|RELEASE|ROLLBACK|BEGIN|COMMIT|SHOW|SET|PRAGMA|EXPLAIN)\b", re.IGNORECASE)
_WRITE_IN_WITH = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b")  # SQLAlchemy writes keywords in capitals
_WROTE = "page_cache_wrote"
_generation = 0  # bumped by every write of the process; an entry filled under an older one is stale


def _bump() -> None:
    global _generation
    _generation += 1


def is_write(statement: str) -> bool:
    if statement.lstrip()[:4].upper() == "WITH":
        return _WRITE_IN_WITH.search(statement) is not None
    return _READS.match(statement) is None


@event.listens_for(Engine, "before_cursor_execute")
def _note_write(conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> None:
    if is_write(statement):
        conn.info[_WROTE] = True
        _bump()


@event.listens_for(Engine, "commit")
def _note_commit(conn: Connection) -> None:
    if conn.info.pop(_WROTE, False):
        _bump()


@event.listens_for(Engine, "rollback")
def _note_rollback(conn: Connection) -> None:
    conn.info.pop(_WROTE, None)


class PageCache:
    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = 100, max_bytes: int | None = None) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # of the pages (``_size``); other values are counted by entries only
        self._entries: dict[Hashable, tuple[float, int, Any]] = {}  # in the order they were stored
        self._flights: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}  # loads under way, by generation
        self._bytes = 0
        self.hits = 0  # reads answered from the cache since the process started (the benchmark reports them)
        self.misses = 0

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key``, or ``await load()`` (kept unless a write happened meanwhile).

        Loaded once however many requests miss it at the same time: when a page read by dozens of visitors
        at once expires (a topic page during a surge, a round's report), the others wait for the first
        one's result, or its error, instead of each rendering the same page. A load begun before this
        process last wrote is not waited for, and one that was cancelled leaves the others to load."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now and entry[1] == _generation:
            self.hits += 1
            value: T = entry[2]
            return value
        flight = self._flights.get(key)
        if flight is not None and flight[0] == _generation:
            await asyncio.wait([flight[1]])
            if not flight[1].cancelled():
                self.hits += 1  # answered without loading
                shared: T = flight[1].result()  # or the first one's error (NotFound…)
                return shared
        self.misses += 1
        generation = _generation
        value = await self._load_once(key, generation, load)
        if self.ttl > 0 and generation == _generation:  # nothing was written while it loaded
            self._drop(key)
            size = _size(value)
            if len(self._entries) >= self.max_entries or self._over(size):
                self._make_room(now, size)
            self._entries[key] = (now + self.ttl, generation, value)
            self._bytes += size
        return value

    async def _load_once(self, key: Hashable, generation: int, load: Callable[[], Awaitable[T]]) -> T:
        """``await load()``, with its result (or error) handed to the requests that wait for it."""
        flight = (generation, asyncio.get_running_loop().create_future())
        self._flights[key] = flight
        try:
            value = await load()
        except asyncio.CancelledError:
            flight[1].cancel()  # the others load it themselves
            raise
        except BaseException as exc:
            flight[1].set_exception(exc)
            flight[1].exception()  # retrieved: no warning when nobody waited
            raise
        else:
            flight[1].set_result(value)
            return value
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def _over(self, adding: int) -> bool:
        return self.max_bytes is not None and self._bytes + adding > self.max_bytes

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= _size(entry[2])

    def _make_room(self, now: float, adding: int) -> None:
        """Drop entries from the oldest on while they are stale or there are too many (or too many bytes
        with ``adding`` more). The entries are in the order they were stored, so the stale ones (expired,
        or from before a write) lead: this stops at the first live entry instead of looking at every entry
        on every store of a full cache. A stale entry stored out of order stays until it leads;
        ``get_or_load`` never serves one."""
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            expires, generation, _ = entries[oldest]
            if (expires > now and generation == _generation and len(entries) < self.max_entries
                    and not self._over(adding)):
                return
            self._drop(oldest)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0


def _size(value: Any) -> int:
    """The bytes a page takes (``bytes``, or a ``SharedPage``'s ``nbytes``); 0 for other values."""
    return len(value) if isinstance(value, bytes) else int(getattr(value, "nbytes", 0))


def cache_of(app: Starlette, name: str, *, max_entries: int | None = None) -> PageCache:
    """The application's cache ``name``, made on first use with ``max_entries`` (default: its entry in
    ``MAX_ENTRIES``) and its ``MAX_BYTES`` if it has one. Other modules keep their own sizes
    (``web.routes.rounds.CACHE_SIZES``)."""
    caches: dict[str, PageCache] | None = getattr(app.state, "page_caches", None)
    if caches is None:
        caches = app.state.page_caches = {}
    cache = caches.get(name)
    if cache is None:
        cache = caches[name] = PageCache(max_entries=max_entries if max_entries is not None else MAX_ENTRIES[name],
                                         max_bytes=MAX_BYTES.get(name))
    return cache


def counts(app: Starlette) -> dict[str, dict[str, int]]:
    """Each cache of the application with its reads from the cache (hits), reads that loaded (misses), and
    the entries and bytes (of pages) it holds."""
    caches: dict[str, PageCache] = getattr(app.state, "page_caches", {})
    return {name: {"hits": cache.hits, "misses": cache.misses, "entries": len(cache._entries), "bytes": cache._bytes}
            for name, cache in caches.items()}


def clear_all(app: Starlette) -> None:
    """Empty every cache of the application (tests that count a cold page's statements)."""
    for cache in getattr(app.state, "page_caches", {}).values():
        cache.clear()
