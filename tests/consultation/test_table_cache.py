"""The per-process caches of rarely written tables (``consultation.table_cache``): this process's own
writes are seen at once, a write rolled back is not kept, other processes' writes at most ``ttl`` late."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from consultation import changes, table_cache
from consultation.accounts.models import Role
from consultation.comments import words
from consultation.comments.models import SensitiveWord
from consultation.policy import Actor, Grant
from consultation.table_cache import TableCache

ADMIN = Actor(user_id=None, grants=(Grant(Role.admin),))


async def test_the_word_list_follows_this_process_s_writes_at_once(db: Any) -> None:
    assert await words.matches(db, "可以代开发票") == []  # the empty list is cached now
    await words.add_word(db, ADMIN, "代开发票")
    assert await words.matches(db, "可以代 开-发票") == ["代开发票"]
    word = await db.scalar(select(SensitiveWord).where(SensitiveWord.word == "代开发票"))
    await words.remove_word(db, ADMIN, word.id)
    assert await words.matches(db, "可以代开发票") == []


async def test_a_write_rolled_back_is_not_kept(db: Any) -> None:
    assert await words.matches(db, "刷单") == []
    savepoint = await db.begin_nested()
    await words.add_word(db, ADMIN, "刷单")
    assert await words.matches(db, "刷单") == ["刷单"]  # read (and cached) inside the savepoint
    await savepoint.rollback()
    assert await words.matches(db, "刷单") == []


async def test_another_process_s_write_is_seen_after_the_time_to_live(db: Any, monkeypatch: pytest.MonkeyPatch
                                                                       ) -> None:
    clock = [time.monotonic()]
    monkeypatch.setattr(table_cache.time, "monotonic", lambda: clock[0])
    cache = TableCache[str]("sensitive_word", ttl=10)
    stored = ["old"]  # what the database holds: another process changes it without this one knowing

    async def load() -> str:
        return stored[0]

    assert await cache.get(db, "k", load) == "old"
    stored[0] = "new"
    clock[0] += 9.9
    assert await cache.get(db, "k", load) == "old"
    clock[0] += 0.2
    assert await cache.get(db, "k", load) == "new"


async def test_a_value_loaded_while_this_process_wrote_is_not_kept(db: Any) -> None:
    cache = TableCache[int]("sensitive_word")
    loads = [0]

    async def load_during_a_write() -> int:
        loads[0] += 1
        if loads[0] == 1:
            await words.add_word(db, ADMIN, "高利贷")  # as if another request of this process wrote meanwhile
        return loads[0]

    assert await cache.get(db, "k", load_during_a_write) == 1
    assert await cache.get(db, "k", load_during_a_write) == 2  # loaded again: the first one may be stale
    assert await cache.get(db, "k", load_during_a_write) == 2


async def test_a_value_loaded_just_after_a_commit_is_not_kept(db: Any) -> None:
    """SQLAlchemy announces a commit before the database has it: what is read in that moment may be the old
    list, so it is dropped once the commit is surely done (the connection goes back to its pool or begins
    again)."""
    cache = TableCache[int]("sensitive_word")
    loads = [0]

    async def load() -> int:
        loads[0] += 1
        return loads[0]

    writer: Any = SimpleNamespace(info={})
    changes._note_statement(writer, None, "INSERT INTO sensitive_word (word) VALUES (?)", None, None, False)
    changes._note_commit(writer)  # the commit announced, perhaps not yet done
    assert await cache.get(db, "k", load) == 1
    assert await cache.get(db, "k", load) == 1
    changes._note_begin(writer)  # the connection begins again: the commit is done
    assert await cache.get(db, "k", load) == 2  # the value read in between was dropped
    assert await cache.get(db, "k", load) == 2


async def test_entries_are_bounded(db: Any) -> None:
    table_cache.clear_all()
    cache = TableCache[int]("sensitive_word", max_entries=2)
    calls: list[int] = []

    def constant(value: int) -> Callable[[], Awaitable[int]]:
        async def load() -> int:
            calls.append(value)
            return value
        return load

    for key in range(3):
        assert await cache.get(db, key, constant(key)) == key
    assert await cache.get(db, 2, constant(-1)) == 2 and await cache.get(db, 1, constant(-1)) == 1
    assert await cache.get(db, 0, constant(-1)) == -1  # the oldest went first
    assert calls == [0, 1, 2, -1]


async def test_requests_missing_a_value_at_once_load_it_once(db: Any) -> None:
    """After a change drops the area tree, the area pages that miss it together wait for one load."""
    cache = TableCache[int]("scratch_words")
    calls: list[int] = []

    async def load() -> int:
        calls.append(1)
        await asyncio.sleep(0.01)
        return 7

    assert await asyncio.gather(*(cache.get(db, "k", load) for _ in range(5))) == [7] * 5
    assert len(calls) == 1


async def test_a_request_that_waited_for_another_s_load_has_a_value_as_old_as_that_load(db: Any) -> None:
    """A page built from it is as old as the load it waited for, not as the request (web.host_cache compares
    that age with the changes another process made)."""
    cache = TableCache[int]("scratch_words")
    started = asyncio.Event()

    async def load() -> int:
        started.set()
        await asyncio.sleep(0.05)
        return 7

    async def waiter() -> float | None:
        await started.wait()
        await asyncio.sleep(0.02)
        with changes.recording() as reading:
            assert await cache.get(db, "k", load) == 7
        return reading.oldest

    began = time.monotonic()
    _, oldest = await asyncio.gather(cache.get(db, "k", load), waiter())
    assert oldest is not None and oldest - began < 0.015  # the first load's start, not the waiter's (20 ms later)
