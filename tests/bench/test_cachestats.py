"""How much of a scenario the page caches answered (bench/cachestats.py): every worker is asked, the
difference of two snapshots is summed over workers, and a replaced worker makes it unknown."""

from __future__ import annotations

import itertools

import pytest

from bench import cachestats
from bench.cachestats import CacheUse, difference, snapshot


def test_a_snapshot_asks_until_every_worker_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = itertools.cycle([(11, {"area_page": (5, 1, 0)}), (11, {"area_page": (6, 1, 0)}),
                               (12, {"area_page": (0, 3, 0)})])
    monkeypatch.setattr(cachestats, "ask", lambda base_url: next(answers))
    found = snapshot("http://127.0.0.1:1", {11, 12})
    assert found == {11: {"area_page": (6, 1, 0)}, 12: {"area_page": (0, 3, 0)}}  # the latest answer of each
    monkeypatch.setattr(cachestats, "ask", lambda base_url: (11, {}))
    assert snapshot("http://127.0.0.1:1", {11, 12}, tries=5, pause_every=2) is None  # worker 12 never answered


def test_the_difference_is_summed_over_workers_and_caches_that_were_read() -> None:
    before = {11: {"area_page": (100, 10, 0), "topic_page": (5, 5, 0)}, 12: {"area_page": (50, 50, 1)}}
    after = {11: {"area_page": (190, 20, 0), "topic_page": (5, 5, 0)},
             12: {"area_page": (140, 50, 31), "search_page": (0, 4, 0)}}
    used = difference(before, after)
    assert used == CacheUse({"area_page": (180, 10, 30), "search_page": (0, 4, 0)})
    assert used.as_figures()["area_page"] == {"hits": 180, "misses": 10, "hit_percent": 94.7, "host_hits": 30}
    assert used.note() == ("page cache hits: area_page 94.7% of 190 reads (30 from another worker's page), "
                           "search_page 0% of 4 reads")


def test_a_host_hit_counts_as_a_hit_and_on_its_own() -> None:
    assert cachestats._counts({"hits": 5, "misses": 4, "host_hits": 3}) == (8, 1, 3)
    assert cachestats._counts({"hits": 5, "misses": 4}) == (5, 4, 0)
    assert CacheUse({}).note() == "page cache: not read"


def test_a_worker_replaced_or_missing_makes_the_difference_unknown() -> None:
    assert difference({11: {}, 12: {}}, {11: {}, 13: {}}) is None
    assert difference(None, {11: {}}) is None and difference({11: {}}, None) is None
