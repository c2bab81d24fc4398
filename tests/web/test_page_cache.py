"""The public pages' short-lived cache (web/page_cache.py: area, topic and search pages as anonymous
visitors get them): what this process writes shows at once, an entry ends after its time to live, a load
that overlapped a write is not kept, and what only some people may see (draft polls) never enters it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.applications import Starlette

from consultation import changes
from consultation.areas.models import AreaLevel
from consultation.areas.services import create_area
from consultation.errors import NotFound
from consultation.table_cache import TableCache
from tests.areas.helpers import section
from tests.conftest import WebClient
from tests.deliberation.helpers import make_world, raise_topic
from tests.factories import PASSWORD, identifier, make_city, make_user
from tests.meetings.helpers import log_in
from tests.search.conftest import drain, visible
from tests.voting.test_pages import poll_form
from tests.web.test_query_counts import statements
from web import page_cache
from web.page_cache import PageCache, cache_of


async def test_a_cached_value_lives_its_time_then_is_loaded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: clock[0])
    cache = PageCache(ttl=10)
    loads = []

    async def load() -> int:
        loads.append(1)
        return len(loads)

    assert await cache.get_or_load("k", load) == 1
    clock[0] += 9
    assert await cache.get_or_load("k", load) == 1
    clock[0] += 2
    assert await cache.get_or_load("k", load) == 2
    assert (cache.hits, cache.misses) == (1, 2)  # counted for the benchmark's report (bench/cachestats.py)


async def test_a_full_cache_drops_stale_entries_then_the_oldest(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: clock[0])
    cache = PageCache(ttl=10, max_entries=3)

    async def load_at(key: str) -> str:
        async def load() -> str:
            return f"{key}@{clock[0]:.0f}"
        return await cache.get_or_load(key, load)

    for key in "abc":
        await load_at(key)
        clock[0] += 1
    assert await load_at("d") == "d@1003"  # full: the oldest (a) makes room
    assert list(cache._entries) == ["b", "c", "d"]
    assert await load_at("b") == "b@1001"  # still kept
    clock[0] += 9  # b and c have expired, d has not
    await load_at("e")
    assert list(cache._entries) == ["d", "e"]
    changes.bump({changes.EVERYTHING})  # a write: every entry is stale at once
    await load_at("f")  # not full yet: nothing dropped
    await load_at("g")  # full: both stale entries go, the live one stays
    assert list(cache._entries) == ["f", "g"]
    assert await load_at("d") == "d@1012"  # loaded again, not served stale


async def test_a_cache_of_pages_keeps_to_its_bytes() -> None:
    """Pages (bytes) count by their size: storing past ``max_bytes`` drops the oldest until the new one
    fits, live or not; a page stored again under its key counts once."""
    cache = PageCache(ttl=60, max_entries=100, max_bytes=1000)

    async def store(key: str, size: int) -> None:
        async def load() -> bytes:
            return b"x" * size
        await cache.get_or_load(key, load)

    for key in "abc":
        await store(key, 300)
    assert cache._bytes == 900 and list(cache._entries) == ["a", "b", "c"]
    await store("d", 250)  # 1,150 would not fit: the oldest (live) page makes room
    assert cache._bytes == 850 and list(cache._entries) == ["b", "c", "d"]
    changes.bump({changes.EVERYTHING})  # a write: all stale
    await store("c", 100)  # stored again: the stale entries ahead of it are not in the way yet
    assert cache._bytes == 650 and list(cache._entries) == ["b", "d", "c"]
    cache.clear()
    assert cache._bytes == 0


async def test_a_load_during_which_something_was_written_is_not_kept() -> None:
    cache = PageCache(ttl=60)

    async def load_while_writing() -> str:
        changes.bump({changes.EVERYTHING})  # as a write of another request of this process would
        return "read before the write was committed"

    async def load() -> str:
        return "fresh"

    assert await cache.get_or_load("k", load_while_writing) == "read before the write was committed"
    assert await cache.get_or_load("k", load) == "fresh"
    assert await cache.get_or_load("k", load_while_writing) == "fresh"  # kept now


async def test_requests_missing_a_page_at_once_load_it_once() -> None:
    """A page that expires under load is rendered by the first request that misses it; the others wait for
    its result (counted as hits), or get its error."""
    cache = PageCache(ttl=60)
    calls = []

    async def render() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        return f"page {len(calls)}"

    assert await asyncio.gather(*(cache.get_or_load("k", render) for _ in range(10))) == ["page 1"] * 10
    assert len(calls) == 1 and (cache.hits, cache.misses) == (9, 1)

    async def missing() -> str:
        calls.append(1)
        await asyncio.sleep(0.01)
        raise NotFound()

    found = await asyncio.gather(*(cache.get_or_load("gone", missing) for _ in range(5)), return_exceptions=True)
    assert all(isinstance(f, NotFound) for f in found) and len(calls) == 2
    assert await cache.get_or_load("gone", render) == "page 3"  # an error is not kept


async def _loading(cache: PageCache, key: str, seconds: float, value: str) -> asyncio.Task[str]:
    """A request that has begun loading ``key`` (it takes ``seconds``, then gives ``value``)."""
    started = asyncio.Event()

    async def load() -> str:
        started.set()
        await asyncio.sleep(seconds)
        return value

    task = asyncio.create_task(cache.get_or_load(key, load))
    await started.wait()
    return task


async def test_a_load_begun_before_a_write_is_not_waited_for() -> None:
    cache = PageCache(ttl=60)

    async def after_the_write() -> str:
        return "as it is"

    first = await _loading(cache, "k", 0.02, "as it was")
    changes.bump({changes.EVERYTHING})  # this process wrote while the first request was rendering
    assert await cache.get_or_load("k", after_the_write) == "as it is"
    assert await first == "as it was"  # its own visitor gets it; nobody else does
    async def reload() -> str:
        return "loaded again"
    assert await cache.get_or_load("k", reload) == "as it is"  # the page after the write was kept


async def test_when_the_first_load_is_cancelled_the_others_load_it() -> None:
    cache = PageCache(ttl=60)

    async def quick() -> str:
        return "loaded by the one who waited"

    first = await _loading(cache, "k", 10, "never")
    waiting = asyncio.create_task(cache.get_or_load("k", quick))
    await asyncio.sleep(0)
    first.cancel()
    assert await waiting == "loaded by the one who waited"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_what_this_process_writes_shows_at_once(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                                                      client: WebClient, make_client: Any) -> None:
    world = await make_world(db, neighbours=2)
    community = f"/areas/{world.city.community_a.id}"
    await raise_topic(db, world, title="东门路灯不亮")
    assert "东门路灯不亮" in (await client.get(community)).text
    with statements(connection) as seen:
        assert "东门路灯不亮" in (await client.get(community)).text
    assert seen == []  # from the cache
    # written by the test's own session (a flush, no commit): seen at once
    await raise_topic(db, world, title="西门垃圾满溢", author=world.neighbours[0])
    assert "西门垃圾满溢" in (await client.get(community)).text
    # written through the app by someone else: seen at once by the anonymous visitor
    resident = make_client()
    await resident.login(identifier(world.neighbours[1]), PASSWORD)
    proposed = await resident.submit(f"/topics/new?area={world.city.community_a.id}", {
        "title": "南门快递柜太少", "description": "包裹堆在门口容易丢失。", "category": "other"})
    assert proposed.status_code == 303, proposed.text
    assert "南门快递柜太少" in (await client.get(community)).text
    # a renamed area too
    admin = make_client()
    await admin.login(identifier(world.admin), PASSWORD)
    renamed = await admin.submit(f"/admin/areas/{world.city.community_a.id}/rename", {"name": "新多福巷社区"})
    assert renamed.status_code == 303
    assert "新多福巷社区" in (await client.get(community)).text


async def test_draft_polls_stay_with_the_people_who_manage_them(app: Starlette, db: AsyncSession,
                                                                 make_client: Any) -> None:
    world = await make_world(db, neighbours=1)
    await db.commit()
    community = f"/areas/{world.city.community_a.id}"
    worker = await log_in(make_client(), world.worker_a)
    draft = await worker.submit(f"/worker/areas/{world.city.community_a.id}/polls/new", poll_form())
    poll_id = int(draft.headers["location"].rsplit("/", 1)[1])

    def polls(html: str) -> str:
        return section(html, "section", 'aria-labelledby="area-polls"')

    visitor, resident = make_client(), await log_in(make_client(), world.author)
    assert f'href="/polls/{poll_id}"' not in polls((await visitor.get(community)).text)  # fills the cache
    assert f'href="/polls/{poll_id}"' in polls((await worker.get(community)).text)
    assert f'href="/polls/{poll_id}"' not in polls((await visitor.get(community)).text)
    assert f'href="/polls/{poll_id}"' not in polls((await resident.get(community)).text)
    assert cache_of(app, "area_page")._entries  # the anonymous visits were served from the cache


async def test_signed_in_people_always_get_fresh_area_data(app: Starlette, db: AsyncSession,
                                                            connection: AsyncConnection, make_client: Any) -> None:
    world = await make_world(db, neighbours=1)
    community = f"/areas/{world.city.community_a.id}"
    resident = make_client()
    await resident.login(identifier(world.author), PASSWORD)
    await resident.get(community)
    with statements(connection) as seen:
        await resident.get(community)
    assert any("FROM topic" in statement for statement in seen)  # read afresh (the area tree is kept apart)


async def test_the_anonymous_topic_page_shows_new_comments_at_once(app: Starlette, db: AsyncSession,
                                                                    connection: AsyncConnection, client: WebClient,
                                                                    make_client: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await raise_topic(db, world)
    path = f"/topics/{topic.id}"
    assert "同意尽快修灯。" not in (await client.get(path)).text
    with statements(connection) as seen:
        await client.get(path)
    assert seen == []  # from the cache
    with statements(connection) as seen:
        await client.get(f"{path}?comments_page=1&utm_source=wechat")  # an unusual address is read afresh
    assert seen
    resident = make_client()
    await resident.login(identifier(world.neighbours[0]), PASSWORD)
    posted = await resident.submit(f"{path}/comments", {"body": "同意尽快修灯。", "stance": "support",
                                                        "client_token": "t-1"})
    assert posted.status_code == 303, posted.text
    assert "同意尽快修灯。" in (await client.get(path)).text
    with statements(connection) as seen:
        assert "同意尽快修灯。" in (await resident.get(path)).text
    assert seen  # signed in: never from the cache


async def test_each_anonymous_visitor_gets_their_own_csrf_token_in_a_shared_page(
        app: Starlette, db: AsyncSession, connection: AsyncConnection, make_client: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await raise_topic(db, world)
    path = f"/topics/{topic.id}"
    first, second, odd = make_client(), make_client(), make_client()
    first_page = (await first.get(path)).text
    with statements(connection) as seen:
        second_page = (await second.get(path)).text
    assert seen == []  # the second visitor got the shared page
    assert f'name="csrf_token" value="{first.cookies["ycsrf"]}"' in first_page
    assert f'name="csrf_token" value="{second.cookies["ycsrf"]}"' in second_page
    assert first.cookies["ycsrf"] not in second_page
    odd.cookies.set("ycsrf", 'x"><script>alert(1)</script>-long-enough')
    odd_page = (await odd.get(path)).text
    assert "<script>alert(1)" not in odd_page and "&lt;script&gt;alert(1)" in odd_page
    # the page works: the visitor's token is accepted with its cookie
    switched = await second.submit("/prefs/language", {"locale": "en", "next": path})
    assert switched.status_code == 303
    english = (await second.get(path)).text
    assert 'lang="en"' in english and 'name="csrf_token" value="' + second.cookies["ycsrf"] in english


async def test_anonymous_searches_are_kept_in_their_canonical_form_only(
        app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient, make_client: Any) -> None:
    city = await make_city(db)
    await drain(app, db)
    path = "/search?q=%E5%A4%9A%E7%A6%8F%E5%B7%B7"  # 多福巷, as the page's own links write it
    assert "多福巷社区" in visible((await client.get(path)).text)
    with statements(connection) as seen:
        assert "多福巷社区" in visible((await client.get(path)).text)
    assert seen == []  # from the cache
    with statements(connection) as seen:
        await client.get(f"{path}&utm_source=wechat")  # not canonical: searched afresh, and not kept
    assert seen
    assert len(cache_of(app, "search_page")._entries) == 1
    # what this process writes shows at once: a new compound is found
    await create_area(db, None, name="多福巷新建院", code="DFX-9", level=AreaLevel.compound, parent=city.community_a)
    await drain(app, db)
    assert "多福巷新建院" in visible((await client.get(path)).text)
    resident = make_client()
    await resident.login(identifier(await make_user(db, name="居民甲", area=city.community_a)), PASSWORD)
    await resident.get(path)
    with statements(connection) as seen:
        await resident.get(path)
    assert seen  # signed in: never from the cache


async def test_a_page_made_of_a_value_another_cache_kept_is_as_old_as_that_value(
        db: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: clock[0])  # the one clock of both caches
    tree = TableCache[str]("scratch_tree", ttl=10, listened_ttl=10)
    page = PageCache(ttl=10)

    async def load_tree() -> str:
        return "tree"

    async def load_page() -> str:
        return await tree.get(db, "k", load_tree) + " page"

    await tree.get(db, "k", load_tree)  # kept at 1000
    clock[0] += 8
    assert await page.get_or_load("p", load_page) == "tree page"  # at 1008, with the tree of 1000
    clock[0] += 3  # the tree is 11 s old: the page made with it is too

    async def again() -> str:
        return "loaded again"

    assert await page.get_or_load("p", again) == "loaded again"


async def test_a_page_kept_shorter_than_the_values_it_uses_keeps_its_own_time(
        db: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """A search page (10 s) with labels another cache has kept for 50 of their 60 s: kept its 10 s, not
    taken for 50 s old; and no longer than the labels are."""
    clock = [1000.0]
    monkeypatch.setattr(page_cache.time, "monotonic", lambda: clock[0])  # the one clock of both caches
    labels = TableCache[str]("scratch_labels", ttl=60, listened_ttl=60)
    page = PageCache(ttl=10)
    loads: list[float] = []

    async def load_labels() -> str:
        return "labels"

    async def load_page() -> str:
        loads.append(clock[0])
        return await labels.get(db, "k", load_labels) + " page"

    await labels.get(db, "k", load_labels)  # kept at 1000, until 1060
    clock[0] += 50
    assert await page.get_or_load("p", load_page) == "labels page"  # at 1050
    clock[0] += 9
    assert await page.get_or_load("p", load_page) == "labels page" and loads == [1050]  # still kept at 1059
    clock[0] += 0.5
    await page.get_or_load("p", load_page)  # 1059.5: kept; at 1060 the labels are due to be loaded again
    clock[0] += 0.5
    await page.get_or_load("p", load_page)
    assert loads == [1050, 1060]
