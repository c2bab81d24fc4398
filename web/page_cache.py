"""A short-lived, in-process cache of public page data (issue 6: the area page is read far more than
it changes).

What may go in: data that every visitor sees alike (no per-person part, no permission decided at
read time) and that is only read after it is cached — ORM objects are kept detached with everything
the page shows already loaded, and nothing writes through them.

How fresh it is (``consultation.changes``):
- An entry is dropped as soon as a table its load read changes: written by this process (at once, before
  the commit, and again when the commit is surely done, so a page read in between is not kept), or by
  another process that the change feed (``web.change_feed``, PostgreSQL) reports. A person who changes
  something sees the change on their next page, on any process.
- An entry lives at most ``ttl`` seconds; while the change feed is listening, ``LISTENED_TTL``. That bounds
  what no table tells: the time (a meeting that has just ended still listed, a countdown a little behind) and
  writes of processes outside the feed (a one-off command, ``psql``).
- A cache of values made from more than SQL (the search page: Meilisearch's answers) is dropped by any change
  to any table, and keeps ``ttl`` (``from_sql_alone=False``).

One cache per application (``cache_of(app)``), so tests, each with their own app and database, never
share entries. The caches of ``web.host_cache.SHARED`` also share their pages with the host's other app
processes while the change feed listens (``web.host_cache``): a process renders a page only if no process of
its host has a fresh one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.applications import Starlette

from consultation import changes
from web.host_cache import MAX_AGE_SECONDS, SHARED, SKEW_SECONDS, HostCache
from web.shared_page import SharedPage

T = TypeVar("T")
DEFAULT_TTL = 10.0  # seconds
LISTENED_TTL = MAX_AGE_SECONDS  # seconds (60), while the change feed listens (``PageCache.listened_ttl``)
# Entries kept per cache at most; each keeps the HTML anonymous visitors get, as UTF-8 and gzip-compressed
# (``web.shared_page``); past that the oldest go first. The area pages are bounded by their size instead: a
# community's page takes about 20 KiB with its compressed copy, a compound's about 10 KiB, and a city of 1,000
# communities with 3,000 compounds (bench --scale city) has all its area pages in about 50 MiB. Under a surge
# spread over the whole city (a vote or a round announced everywhere at once) each area page can then be
# rendered once per time to live; with 1,000 entries, visits going round 3,000 compound pages (the harness's
# topic_list) found each page dropped before its next visit.
MAX_ENTRIES = {"area_page": 20_000, "topic_page": 100, "search_page": 200, "round_pages": 300}
# a round's page or one of its articles' with their comments takes some 60 KiB with its compressed copy
MAX_BYTES = {"area_page": 64 * 1024 * 1024, "round_pages": 16 * 1024 * 1024}
# Caches whose values come from more than the database: they keep ``DEFAULT_TTL`` even while the feed listens.
NOT_FROM_SQL_ALONE = frozenset({"search_page"})


_ANY = frozenset({changes.ANY})


@dataclass(slots=True)
class _Entry:
    loaded_at: float  # time.monotonic() when its load began (or when the oldest cached value it used was loaded)
    clock: int  # changes.now() when its load began
    tables: frozenset[str]  # the tables the load read
    value: Any
    began: float  # time.monotonic() when its own load began: its lifetime counts from then
    until: float | None = None  # time.monotonic() when the first of the cached values it used was to be reloaded

    def expires(self, lifetime: float) -> float:
        return _expiry(self.began, lifetime, self.until)


def _expiry(began: float, lifetime: float, until: float | None) -> float:
    """When a value loaded from ``began`` expires: after ``lifetime``, or when the first cached value it used
    was to be reloaded (``until``), if that is sooner."""
    return began + lifetime if until is None else min(began + lifetime, until)


@dataclass(slots=True)
class _Flight:
    clock: int
    began: float  # time.monotonic()
    reading: changes.Reading  # what it has read so far
    future: asyncio.Future[Any]


class PageCache:
    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = 100, max_bytes: int | None = None,
                 from_sql_alone: bool = True, *, name: str = "", host: HostCache | None = None) -> None:
        """``from_sql_alone``: the values are made from what the load's SQL statements read, and kept until one
        of those tables changes (``listened_ttl`` at most while the change feed listens). Otherwise any change
        to any table drops them, and they live ``ttl`` at most. ``host``: where the host's processes share the
        cache ``name``'s pages (``SharedPage`` values of a cache from SQL alone)."""
        self.ttl = ttl
        self.listened_ttl = LISTENED_TTL if from_sql_alone else None
        self.from_sql_alone = from_sql_alone
        self.max_entries = max_entries
        self.max_bytes = max_bytes  # of the pages (``_size``); other values are counted by entries only
        self._entries: dict[Hashable, _Entry] = {}  # in the order they were stored
        self._flights: dict[Hashable, _Flight] = {}  # loads under way
        self._bytes = 0
        self.name = name
        self.host = host if from_sql_alone else None
        self.hits = 0  # reads answered from the cache since the process started (the benchmark reports them)
        self.misses = 0
        self.host_hits = 0  # of the misses, those answered by a page another process of the host made

    def _lifetime(self) -> float:
        if self.listened_ttl is not None and changes.listening():
            return self.listened_ttl
        return self.ttl

    def _fresh(self, entry: _Entry, now: float) -> bool:
        return now < entry.expires(self._lifetime()) and not changes.changed_since(entry.tables, entry.clock)

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value of ``key``, or ``await load()`` (kept unless what it read changed meanwhile).

        Loaded once however many requests miss it at the same time: when a page read by dozens of visitors
        at once expires (a topic page during a surge, a round's report), the others wait for the first
        one's result, or its error, instead of each rendering the same page. A load that has read a table
        changed since it began is not waited for, and one that was cancelled leaves the others to load."""
        now, wall = time.monotonic(), time.time()
        entry = self._entries.get(key)
        if entry is not None and self._fresh(entry, now):
            self.hits += 1
            # for a cached value that is part of another's load
            changes.note_read(entry.tables, entry.loaded_at, entry.expires(self._lifetime()))
            value: T = entry.value
            return value
        flight = self._flights.get(key)
        if flight is not None and not changes.changed_since(self._depends(flight.reading.tables), flight.clock):
            await asyncio.wait([flight.future])
            if not flight.future.cancelled():
                self.hits += 1  # answered without loading
                reading = flight.reading  # as old as that load: it began before this request
                oldest = flight.began if reading.oldest is None else min(flight.began, reading.oldest)
                changes.note_read(reading.tables, oldest, _expiry(flight.began, self._lifetime(), reading.until))
                shared: T = flight.future.result()  # or the first one's error (NotFound…)
                return shared
        self.misses += 1
        sharing = self.host is not None and self.ttl > 0 and changes.listening()
        if sharing and (found := self._from_host(key, now)) is not None:
            return found
        clock = changes.now()
        with changes.recording() as reading:
            flight = _Flight(clock, now, reading, asyncio.get_running_loop().create_future())
            value = await self._load_once(key, flight, load)
        depends = self._depends(reading.tables)
        if self.ttl > 0 and not changes.changed_since(depends, clock):  # nothing it read changed while it loaded
            # made of values other caches kept: as old as the oldest of them for what has changed since, and kept
            # no longer than the first of them is (a search page keeps 10 s even when its labels are older)
            born = now if reading.oldest is None else min(now, reading.oldest)
            self._store(key, _Entry(born, clock, depends, value, now, reading.until), now)
            # the host's files carry the time a page was made, not an earlier end (``until``): one that must end
            # sooner than its lifetime from then stays in this process
            ends_early = reading.until is not None and reading.until < born + self._lifetime()
            if sharing and self.host is not None and isinstance(value, SharedPage) and not ends_early:
                self.host.write(self.name, key, wall - (now - born), depends, value)
        return value

    def _store(self, key: Hashable, entry: _Entry, now: float) -> None:
        self._drop(key)
        size = _size(entry.value)
        if len(self._entries) >= self.max_entries or self._over(size):
            self._make_room(now, size)
        self._entries[key] = entry
        self._bytes += size

    def _from_host(self, key: Hashable, now: float) -> Any:
        """The page another process of the host made, if it is still fresh for this one (``web.host_cache``);
        kept in this process's cache too."""
        assert self.host is not None
        found = self.host.read(self.name, key)
        if found is None:
            return None
        age = time.time() - found.loaded_at
        if not 0 <= age < self._lifetime() or changes.changed_after(found.tables, found.loaded_at - SKEW_SECONDS):
            return None
        self.host_hits += 1
        # nothing it read has changed since it was made, as far as this process knows: fresh from now on
        entry = _Entry(now - age, changes.now(), found.tables, found.page, now - age)
        self._store(key, entry, now)
        changes.note_read(entry.tables, entry.loaded_at, entry.expires(self._lifetime()))
        return found.page

    def _depends(self, tables: set[str]) -> frozenset[str]:
        return frozenset(tables) if self.from_sql_alone else _ANY

    async def _load_once(self, key: Hashable, flight: _Flight, load: Callable[[], Awaitable[T]]) -> T:
        """``await load()``, with its result (or error) handed to the requests that wait for it."""
        self._flights[key] = flight
        try:
            value = await load()
        except asyncio.CancelledError:
            flight.future.cancel()  # the others load it themselves
            raise
        except BaseException as exc:
            flight.future.set_exception(exc)
            flight.future.exception()  # retrieved: no warning when nobody waited
            raise
        else:
            flight.future.set_result(value)
            return value
        finally:
            if self._flights.get(key) is flight:
                del self._flights[key]

    def _over(self, adding: int) -> bool:
        return self.max_bytes is not None and self._bytes + adding > self.max_bytes

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= _size(entry.value)

    def _make_room(self, now: float, adding: int) -> None:
        """Drop entries from the oldest on while they are stale or there are too many (or too many bytes
        with ``adding`` more). The entries are in the order they were stored, so the expired ones lead: this
        stops at the first fresh entry instead of looking at every entry on every store of a full cache. A
        stale entry behind a fresh one stays until it leads; ``get_or_load`` never serves one."""
        entries = self._entries
        while entries:
            oldest = next(iter(entries))
            if self._fresh(entries[oldest], now) and len(entries) < self.max_entries and not self._over(adding):
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
    ``MAX_ENTRIES``) and its ``MAX_BYTES`` if it has one, sharing its pages through the application's host
    cache (``app.state.host_cache``) if it is one of ``web.host_cache.SHARED``. Other modules keep their own
    sizes (``web.routes.rounds.CACHE_SIZES``)."""
    caches: dict[str, PageCache] | None = getattr(app.state, "page_caches", None)
    if caches is None:
        caches = app.state.page_caches = {}
    cache = caches.get(name)
    if cache is None:
        host = getattr(app.state, "host_cache", None) if name in SHARED else None
        cache = caches[name] = PageCache(max_entries=max_entries if max_entries is not None else MAX_ENTRIES[name],
                                         max_bytes=MAX_BYTES.get(name),
                                         from_sql_alone=name not in NOT_FROM_SQL_ALONE, name=name, host=host)
    return cache


def counts(app: Starlette) -> dict[str, dict[str, int]]:
    """Each cache of the application with its reads from the cache (hits), reads that loaded (misses; of
    them, ``host_hits`` answered by another process's page), and the entries and bytes (of pages) it holds."""
    caches: dict[str, PageCache] = getattr(app.state, "page_caches", {})
    return {name: {"hits": cache.hits, "misses": cache.misses, "host_hits": cache.host_hits,
                   "entries": len(cache._entries), "bytes": cache._bytes}
            for name, cache in caches.items()}


def clear_all(app: Starlette) -> None:
    """Empty every cache of the application (tests that count a cold page's statements)."""
    for cache in getattr(app.state, "page_caches", {}).values():
        cache.clear()
