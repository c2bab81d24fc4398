"""A shared page compressed once: every visitor's gzip body is the page with their token, byte for byte."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.applications import Starlette

from tests.deliberation.helpers import make_world, raise_topic
from tests.web.test_query_counts import statements
from web.page_cache import PageCache
from web.shared_page import SharedPage

STAND_IN = b"@@token@@"


@pytest.mark.parametrize("page", [
    b"<form><input value=\"@@token@@\"></form>" * 40,  # many places
    b"@@token@@ at the start, at the end @@token@@",
    b"@@token@@@@token@@ side by side",
    "没有表单的页面，只有文字。".encode() * 200,  # no place at all
    b"",
])
@pytest.mark.parametrize("token", [b"", b"abc", b"x" * 70_000])  # 70,000: more than one stored block holds
def test_the_gzip_body_is_the_page_with_the_token(page: bytes, token: bytes) -> None:
    shared = SharedPage.of(page, STAND_IN)
    expected = page.replace(STAND_IN, token)
    assert shared.body(token) == expected
    assert gzip.decompress(shared.gzipped(token)) == expected  # checks the CRC-32 and the length too
    assert zlib.decompress(shared.gzipped(token), 16 + zlib.MAX_WBITS) == expected


def test_a_shared_page_counts_its_pieces_in_a_cache_of_bytes() -> None:
    page = ("<p>议事厅</p>" * 500).encode() + STAND_IN + b"<footer></footer>"
    shared = SharedPage.of(page, STAND_IN)
    assert shared.size == len(page) - len(STAND_IN)
    assert shared.nbytes == shared.size + sum(map(len, shared.deflated))
    assert sum(map(len, shared.deflated)) < shared.size / 5  # repetitive HTML compresses well


async def test_a_cache_bounded_by_bytes_counts_shared_pages() -> None:
    cache = PageCache(ttl=60, max_entries=100, max_bytes=10_000)
    shared = SharedPage.of(b"x" * 4_000 + STAND_IN, STAND_IN)

    async def load() -> SharedPage:
        return shared
    for key in "abc":
        await cache.get_or_load(key, load)
    assert cache._bytes == 2 * shared.nbytes and list(cache._entries) == ["b", "c"]


async def test_browsers_get_the_compressed_page_and_others_the_plain_one(
        app: Starlette, db: AsyncSession, connection: AsyncConnection, make_client: Any) -> None:
    world = await make_world(db, neighbours=1)
    topic = await raise_topic(db, world)
    path = f"/topics/{topic.id}"
    browser, plain = make_client(), make_client()
    first = await browser.get(path)  # httpx asks for gzip and decodes it, as a browser does
    assert first.headers["content-encoding"] == "gzip" and "accept-encoding" in first.headers["vary"].lower()
    assert f'name="csrf_token" value="{browser.cookies["ycsrf"]}"' in first.text
    with statements(connection) as seen:
        again = await plain.get(path, headers={"Accept-Encoding": "identity"})
    assert seen == []  # from the cache
    assert "content-encoding" not in again.headers
    assert f'name="csrf_token" value="{plain.cookies["ycsrf"]}"' in again.text
    assert again.text.replace(plain.cookies["ycsrf"], browser.cookies["ycsrf"]) == first.text
    assert int(again.headers["content-length"]) == len(again.content)
