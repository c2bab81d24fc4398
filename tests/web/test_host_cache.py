"""Pages shared by the app processes of one host (web/host_cache.py): a process takes another's page only while
the change feed listens, only if it is younger than the cache's lifetime and nothing it read has changed since
it was made, and never from a directory others may write in. Two ``PageCache`` objects with one directory stand
for two processes."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from consultation import changes
from web.app import _host_cache
from web.host_cache import HostCache, decode, encode
from web.page_cache import PageCache
from web.settings import Settings
from web.shared_page import SharedPage

STAND_IN = b"@@token@@"


def page(text: str) -> SharedPage:
    return SharedPage.of(f"<p>{text}</p><input value='@@token@@'><p>{'x' * 2000}</p>".encode(), STAND_IN)


@pytest.fixture
def listening() -> Iterator[None]:
    changes.start_listening()
    time.sleep(0.02)  # loads begin clearly after the feed (re)connected: changes.changed_after is conservative
    try:
        yield
    finally:
        changes.stop_listening()


def process(host: HostCache) -> PageCache:
    return PageCache(ttl=10, name="area_page", host=host)


def loader(text: str, loads: list[str], tables: frozenset[str] = frozenset({"area", "topic"})
           ) -> Callable[[], Awaitable[SharedPage]]:
    async def load() -> SharedPage:
        changes.note_read(tables)  # what its SQL statements would have read
        loads.append(text)
        return page(text)
    return load


def test_a_page_is_stored_and_read_back_for_its_key_only() -> None:
    stored = page("社区")
    data = encode(b"key-1", 1234.5, frozenset({"area", "topic"}), stored)
    found = decode(data, b"key-1")
    assert found is not None and found.page == stored and found.loaded_at == 1234.5
    assert found.tables == frozenset({"area", "topic"})
    assert found.page.gzipped(b"abc") == stored.gzipped(b"abc")
    assert decode(data, b"key-2") is None  # another key's page (a hash collision, a renamed file)
    assert decode(data[:-3], b"key-1") is None and decode(b"junk", b"key-1") is None  # damaged


async def test_another_process_takes_the_page_instead_of_rendering_it(tmp_path: Path, listening: None) -> None:
    host = HostCache(tmp_path)
    first, second = process(host), process(host)
    loads: list[str] = []
    assert (await first.get_or_load("/areas/1", loader("one", loads))).body(b"t") == page("one").body(b"t")
    taken = await second.get_or_load("/areas/1", loader("two", loads))
    assert taken == page("one") and loads == ["one"] and second.host_hits == 1
    assert await second.get_or_load("/areas/1", loader("three", loads)) == page("one")  # now its own entry
    assert second.hits == 1 and loads == ["one"]


async def test_a_page_whose_tables_changed_since_it_was_made_is_rendered_again(tmp_path: Path,
                                                                                listening: None) -> None:
    host = HostCache(tmp_path)
    loads: list[str] = []
    await process(host).get_or_load("/areas/1", loader("old", loads))
    await process(host).get_or_load("/areas/2", loader("other", loads, frozenset({"meeting"})))
    changes.heard({"topic"})  # another process wrote a topic after both pages were made
    await asyncio.sleep(0.02)  # (a page whose load began within SKEW_SECONDS of a change is not shared)
    late = process(host)
    assert await late.get_or_load("/areas/1", loader("new", loads)) == page("new")
    assert await late.get_or_load("/areas/2", loader("other again", loads)) == page("other")  # read no topic
    assert late.host_hits == 1 and loads == ["old", "other", "new"]
    # the page rendered after the change replaced the old one for everybody
    assert await process(host).get_or_load("/areas/1", loader("newer", loads)) == page("new")


async def test_an_old_page_or_one_made_before_the_feed_reconnected_is_not_taken(tmp_path: Path,
                                                                                listening: None) -> None:
    host = HostCache(tmp_path)
    host.write("area_page", "/areas/1", time.time() - 11, frozenset({"area"}), page("too old"))  # ttl 10
    host.write("area_page", "/areas/2", time.time() - 1, frozenset({"area"}), page("before"))
    changes.start_listening()  # reconnected: what was missed meanwhile is unknown
    loads: list[str] = []
    cache = process(host)
    assert await cache.get_or_load("/areas/1", loader("fresh 1", loads)) == page("fresh 1")
    assert await cache.get_or_load("/areas/2", loader("fresh 2", loads)) == page("fresh 2")
    assert cache.host_hits == 0


async def test_without_the_change_feed_nothing_is_shared(tmp_path: Path) -> None:
    host = HostCache(tmp_path)
    loads: list[str] = []
    await process(host).get_or_load("/areas/1", loader("one", loads))
    assert not os.listdir(tmp_path)  # not written
    host.write("area_page", "/areas/1", time.time(), frozenset({"area"}), page("shared"))
    assert await process(host).get_or_load("/areas/1", loader("two", loads)) == page("two")  # not read


async def test_values_that_are_not_pages_or_not_from_sql_alone_are_not_shared(tmp_path: Path,
                                                                              listening: None) -> None:
    host = HostCache(tmp_path)

    async def load() -> str:
        return "a value"

    await PageCache(ttl=10, name="area_page", host=host).get_or_load("k", load)
    assert PageCache(ttl=10, name="search_page", host=host, from_sql_alone=False).host is None
    assert not os.listdir(tmp_path)


def test_the_directory_must_be_this_users_alone(tmp_path: Path) -> None:
    made = HostCache.open(tmp_path / "pages")
    assert made is not None and (tmp_path / "pages").stat().st_mode & 0o777 == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    os.chmod(shared, 0o777)  # noqa: S103 - the case refused
    assert HostCache.open(shared) is None  # anyone could put a page there
    (tmp_path / "link").symlink_to(tmp_path / "pages")
    assert HostCache.open(tmp_path / "link") is None
    (tmp_path / "file").write_text("")
    assert HostCache.open(tmp_path / "file") is None


def test_a_file_that_is_not_this_users_alone_is_not_read(tmp_path: Path) -> None:
    host = HostCache(tmp_path)
    host.write("area_page", "/areas/1", time.time(), frozenset({"area"}), page("one"))
    path = host._path("area_page", HostCache.key_bytes("area_page", "/areas/1"))
    assert host.read("area_page", "/areas/1") is not None and path.stat().st_mode & 0o777 == 0o600
    os.chmod(path, 0o644)  # as a file someone else made, in a directory made again behind the app's back
    assert host.read("area_page", "/areas/1") is None
    os.chmod(path, 0o600)
    path.rename(path.with_name("elsewhere"))
    path.symlink_to(path.with_name("elsewhere"))
    assert host.read("area_page", "/areas/1") is None


def test_another_build_s_page_is_not_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = HostCache(tmp_path)
    host.write("area_page", "/areas/1", time.time(), frozenset({"area"}), page("old code"))
    monkeypatch.setattr("web.host_cache.build", lambda: "another")
    assert host.read("area_page", "/areas/1") is None


def test_the_directory_keeps_to_its_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def path(n: int) -> Path:
        return host._path("area_page", HostCache.key_bytes("area_page", f"/areas/{n}"))

    size = len(encode(HostCache.key_bytes("area_page", "/areas/0"), 0.0, frozenset({"area"}), page("0")))
    host = HostCache(tmp_path, max_bytes=3 * size + 10)
    assert host.max_bytes == 3 * size + 10
    for n in range(3):
        host.write("area_page", f"/areas/{n}", time.time(), frozenset({"area"}), page(str(n)))
        os.utime(path(n), (time.time() - 3 + n, time.time() - 3 + n))  # written a second apart, oldest first
    host.write("area_page", "/areas/3", time.time(), frozenset({"area"}), page("3"))
    # past the bound: the oldest went first, down to three quarters of it
    assert [n for n in range(4) if host.read("area_page", f"/areas/{n}")] == [2, 3]
    os.utime(path(2), (time.time() - 120, time.time() - 120))  # expired: no process would take it
    monkeypatch.setattr("web.host_cache.SWEEP_SECONDS", 0.0)
    host.write("area_page", "/areas/1", time.time(), frozenset({"area"}), page("1 again"))
    assert [n for n in range(4) if host.read("area_page", f"/areas/{n}")] == [1, 3]


def test_the_app_shares_pages_only_with_the_change_feed(tmp_path: Path) -> None:
    postgres = "postgresql+asyncpg://postgres@127.0.0.1:5432/yishiting"
    assert _host_cache(Settings(database_url=postgres, host_cache=str(tmp_path / "a"))) is not None
    assert _host_cache(Settings(database_url=postgres, host_cache=str(tmp_path / "b"), change_feed=False)) is None
    assert _host_cache(Settings(database_url=postgres, host_cache="off")) is None
    assert _host_cache(Settings(database_url="sqlite+aiosqlite:///x.db", host_cache=str(tmp_path / "c"))) is None


async def test_a_page_that_must_end_before_its_lifetime_is_not_shared(tmp_path: Path, listening: None) -> None:
    """The host's files carry when a page was made, not an earlier end (a round about to close): such a page
    stays in the process that made it."""
    host = HostCache(tmp_path)
    loads: list[str] = []

    async def closing_soon() -> SharedPage:
        changes.note_expiry(3)
        return await loader("closing", loads)()

    await process(host).get_or_load("/rounds/1", closing_soon)
    await process(host).get_or_load("/rounds/1", loader("again", loads))
    assert loads == ["closing", "again"]
