"""The scenario registry. A scenario is a name, what it measures, and a runner; one whose capability
has not landed yet is registered without a runner and reported as "not yet available" with the issue
that brings it. Adding a scenario later is one ``register(...)`` call in this module (or a module it
imports), nothing else changes."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import asyncpg

from bench.client import MeiliReader, Visitor
from bench.seed import PASSWORD, Seeded
from bench.wrk import LoadResult, run_wrk


@dataclass
class RunContext:
    base_url: str
    seeded: Seeded
    work_dir: Path
    duration: float
    concurrency: int
    meili_url: str
    meili_key: str
    meili_index: str
    database_url: str  # the harness's own database (asyncpg DSN form)
    anonymous_headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # the drills' handles (processes, restart hooks)


@dataclass
class ScenarioResult:
    name: str
    kind: str
    settings: dict[str, Any]
    load: LoadResult | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None  # drills: PASS / FAIL
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "settings": self.settings,
                "load": self.load.as_dict() if self.load else None, "figures": self.figures,
                "verdict": self.verdict, "notes": self.notes}


Runner = Callable[[RunContext], ScenarioResult]


@dataclass(frozen=True)
class Scenario:
    name: str
    kind: str  # "ceiling", "load", "probe" or "drill"
    description: str
    runner: Runner | None = None
    pending: str = ""  # for a scenario without a runner: what it waits for
    default: bool = True  # part of a run when --scenarios is not given
    warm: bool = True  # a ceiling or load scenario gets the harness's page warm-up first (a vote storm warms itself)
    # the pages of a scenario measured in the steady state of a site in use: each requested once before the
    # measurement (``bench.wrk.run_once``), so the page caches hold what visitors asked for recently
    primed: Callable[[RunContext], list[str]] | None = None

    @property
    def available(self) -> bool:
        return self.runner is not None


REGISTRY: dict[str, Scenario] = {}


def register(scenario: Scenario) -> None:
    REGISTRY[scenario.name] = scenario


def load_scenario(name: str, kind: str, description: str, paths: Callable[[RunContext], list[str]],
                  notes: Callable[[RunContext], list[str]] | None = None, *, primed: bool = False) -> Scenario:
    def run(ctx: RunContext) -> ScenarioResult:
        urls = paths(ctx)
        settings = {"tool": "wrk", "duration_s": ctx.duration, "concurrency": ctx.concurrency,
                    "distinct_urls": len(urls), "example_url": urls[0]}
        load = run_wrk(ctx.base_url, urls, duration=ctx.duration, concurrency=ctx.concurrency,
                       work_dir=ctx.work_dir, name=name, headers=ctx.anonymous_headers)
        return ScenarioResult(name, kind, settings, load=load, notes=notes(ctx) if notes else [])

    return Scenario(name, kind, description, run, primed=paths if primed else None)


# --- reference ceilings --------------------------------------------------------------------------

register(load_scenario("ceiling_plain", "ceiling", "plain Starlette endpoint (no database, no template)",
                       lambda ctx: ["/_bench/plain"]))
register(load_scenario("ceiling_minimal", "ceiling", "minimal page: one ORM query for 20 rows rendered with Jinja2",
                       lambda ctx: ["/_bench/minimal"]))

# --- read pages ----------------------------------------------------------------------------------

# The page caches keep only what anonymous visitors get at a page's own address (web/templating.py,
# web/routes/search.py): an extra parameter makes every request rendered (and searched) afresh.
UNCACHED = "fresh=1"


def _community_pages(ctx: RunContext) -> list[str]:
    return [f"/areas/{i}" for i in ctx.seeded.community_ids]


def _compound_pages(ctx: RunContext) -> list[str]:
    return [f"/areas/{i}" for i in ctx.seeded.compound_ids]


def _topic_page(ctx: RunContext) -> list[str]:
    return [f"/topics/{ctx.seeded.hot_topic_id}"]


def _topic_notes(ctx: RunContext) -> list[str]:
    if ctx.seeded.hot_topic_comments:
        return [f"the topic has {ctx.seeded.hot_topic_comments} comments"]
    return [f"without comments: {ctx.seeded.comments_note}"]


def _search_pages(ctx: RunContext) -> list[str]:
    return [f"/search?q={quote(term)}" for term in ctx.seeded.search_terms]




def _searched_pages(ctx: RunContext) -> list[str]:
    return [f"{path}&{UNCACHED}" for path in _search_pages(ctx)]


# area_home and topic_list measure a site in use: every page was visited once just before (its first
# render, priced by the *_uncached scenarios, is reported as the priming pass). Visitors find a page kept
# for up to a minute (web.page_cache.LISTENED_TTL) after any visit, in any process of the host.
register(load_scenario("area_home", "load", "community home page /areas/{community} (compounds, households, "
                       "topics grouped by state), rotating over every community, each visited once before",
                       _community_pages, primed=True))
register(load_scenario("topic_list", "load", "topic list of one compound /areas/{compound} (topics grouped by "
                       "state), rotating over every compound, each visited once before", _compound_pages,
                       primed=True))


def _uncached(pages: Callable[[RunContext], list[str]]) -> Callable[[RunContext], list[str]]:
    return lambda ctx: [f"{path}?{UNCACHED}" for path in pages(ctx)]


register(load_scenario("area_home_uncached", "load", f"community home page /areas/{{community}}?{UNCACHED}, rotating "
                       "over every community: never kept, every request rendered (the cold path area_home takes on "
                       "a page's first visit and after each change)", _uncached(_community_pages)))
register(load_scenario("topic_list_uncached", "load", f"topic list /areas/{{compound}}?{UNCACHED}, rotating over "
                       "every compound, every request rendered", _uncached(_compound_pages)))
register(load_scenario("topic_page", "load", "topic page /topics/{id} (timeline, co-signs, sections; 200 comments "
                       "once comments exist)", _topic_page, _topic_notes))
register(load_scenario("search_page", "load", "search page /search?q= with rotating terms (Meilisearch; a repeated "
                       "search is served from the page cache)",
                       _search_pages, lambda ctx: [f"terms: {', '.join(ctx.seeded.search_terms)}"]))
register(load_scenario("search_page_searched", "load", f"search page /search?q=…&{UNCACHED} with rotating terms: "
                       "never from the page cache, every request searched in Meilisearch", _searched_pages,
                       lambda ctx: [f"terms: {', '.join(ctx.seeded.search_terms)}"]))


# --- index lag -----------------------------------------------------------------------------------

def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def index_settled(ctx: RunContext, give_up_s: float = 180.0, every_s: float = 0.2) -> float | None:
    """Wait until the search index has taken in every change made so far: no search update waiting in the
    outbox and no Meilisearch task enqueued or running, twice in a row. Returns the seconds waited (None: not
    settled within ``give_up_s``). After a comment surge this is the time the index took to catch up."""
    reader = MeiliReader(ctx.meili_url, ctx.meili_key, ctx.meili_index)

    async def waiting_updates(conn: asyncpg.Connection) -> int:
        return int(await conn.fetchval(
            "SELECT count(*) FROM outbox_message WHERE topic = 'search.index' AND processed_at IS NULL "
            "AND failed_at IS NULL"))

    async def wait() -> float | None:
        started = time.monotonic()
        conn = await asyncpg.connect(ctx.database_url)
        try:
            quiet = 0
            while time.monotonic() - started < give_up_s:
                quiet = quiet + 1 if not await waiting_updates(conn) and not reader.unfinished_tasks() else 0
                if quiet >= 2:
                    return time.monotonic() - started
                await asyncio.sleep(every_s)
            return None
        finally:
            await conn.close()

    try:
        return asyncio.run(wait())
    finally:
        reader.close()


def index_lag(ctx: RunContext, writes: int = 50, give_up_s: float = 30.0) -> ScenarioResult:
    """Propose topics through the app one after another; after each acknowledgement poll Meilisearch
    until the topic's document is there. Lag = acknowledgement to searchable."""
    visitor = Visitor(ctx.base_url)
    reader = MeiliReader(ctx.meili_url, ctx.meili_key, ctx.meili_index)
    lags: list[float] = []
    lagged: list[int] = []  # which write each lag is of (0: the first)
    write_ms: list[float] = []
    missing: list[int] = []
    settled_s = index_settled(ctx)  # what an earlier scenario left to index is not this write's lag
    try:
        visitor.login(ctx.seeded.proposer_phone, PASSWORD)
        for n in range(writes):
            topic_id, took = visitor.propose(ctx.seeded.proposer_community_id, f"lag-{n}")
            acknowledged = time.perf_counter()
            write_ms.append(took * 1000)
            while not reader.has(f"topic-{topic_id}"):
                if time.perf_counter() - acknowledged > give_up_s:
                    missing.append(topic_id)
                    break
                time.sleep(0.01)
            else:
                lags.append((time.perf_counter() - acknowledged) * 1000)
                lagged.append(n)
        meili_s = reader.task_seconds("documentAdditionOrUpdate", writes)
        slowest_task = reader.slowest_task("documentAdditionOrUpdate", writes)
        diagnosis = asyncio.run(_diagnose_missing(ctx.database_url, missing))
    finally:
        visitor.close()
        reader.close()
    meili_ms = [s * 1000 for s in meili_s]
    figures = {
        "writes": writes, "searchable": len(lags), "missing_after_s": {str(give_up_s): missing},
        "waited_for_index_s": None if settled_s is None else round(settled_s, 1),
        "missing_diagnosis": diagnosis,
        "lag_p50_ms": _round(_percentile(lags, 50)), "lag_p99_ms": _round(_percentile(lags, 99)),
        "lag_max_ms": _round(max(lags) if lags else None),
        "lag_mean_ms": _round(statistics.fmean(lags) if lags else None),
        "write_p50_ms": _round(_percentile(write_ms, 50)), "write_p99_ms": _round(_percentile(write_ms, 99)),
        "meili_task_p50_ms": _round(_percentile(meili_ms, 50)), "meili_task_p99_ms": _round(_percentile(meili_ms, 99)),
        "slowest_write": ({"write": lagged[lags.index(max(lags))], "lag_ms": _round(max(lags))} if lags else None),
        "meili_slowest_task": slowest_task,
    }
    return ScenarioResult("index_lag", "probe", {"writes": writes, "sequential": True, "poll_interval_ms": 10,
                                                 "path": "POST /topics/new, then GET Meilisearch document"},
                          figures=figures,
                          notes=["the outbox worker is its own process (`yishiting worker`, the production "
                                 "default), woken by PostgreSQL's notification of each new outbox row; meili_task_* "
                                 "is the part Meilisearch spends from accepting a document to having it searchable",
                                 "the first write waits until the index has taken in what earlier scenarios left "
                                 "(waited_for_index_s; after the comment surge, comment_surge reports it as "
                                 "index_caught_up_s)"])


async def _diagnose_missing(database_url: str, topic_ids: list[int]) -> list[dict[str, Any]]:
    """For each topic missing from Meilisearch: its ``search.index`` outbox messages (processed? tried how
    often? last error?) and whether the database fallback has its document, so a miss can be explained."""
    if not topic_ids:
        return []
    conn = await asyncpg.connect(database_url)
    try:
        found = []
        for topic_id in topic_ids:
            messages = await conn.fetch(
                "SELECT id, created_at, processed_at, failed_at, attempts, next_attempt_at, last_error "
                "FROM outbox_message WHERE topic = 'search.index' AND payload->>'type' = 'topic' "
                "AND (payload->'ids')::jsonb @> to_jsonb($1::int)", topic_id)
            stored = await conn.fetchval("SELECT count(*) FROM search_document WHERE doc_type = 'topic' "
                                         "AND object_id = $1", topic_id)
            found.append({"topic": topic_id, "in_fallback": bool(stored),
                          "messages": [{k: str(v) if v is not None else None for k, v in m.items()} for m in messages]})
        return found
    finally:
        await conn.close()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


register(Scenario("index_lag", "probe", "search index lag after a write: 50 topics proposed through the app, each "
                  "polled in Meilisearch until searchable", index_lag))


# --- search latency --------------------------------------------------------------------------------

def search_latency(ctx: RunContext, requests: int = 300) -> ScenarioResult:
    """The search page's own latency: one visitor searching the rotating terms one request after another,
    so the figure is the page's time (Meilisearch query, facets, rendering) and not the queue in front of
    it that ``search_page`` measures at its concurrency. The main figures are of searches answered by
    Meilisearch (``UNCACHED``); ``kept_*`` are of the same searches served from the page cache."""
    visitor = Visitor(ctx.base_url)
    searched: list[float] = []
    kept: list[float] = []
    statuses: dict[str, int] = {}
    paths, fresh = _search_pages(ctx), _searched_pages(ctx)
    try:
        for path in paths + fresh:  # warm: each term once, each way
            visitor.get(path)
        for n in range(requests):
            for took, chosen in ((searched, fresh), (kept, paths)):
                started = time.perf_counter()
                status = visitor.get(chosen[n % len(chosen)]).status_code
                took.append((time.perf_counter() - started) * 1000)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
    finally:
        visitor.close()
    figures = {"requests": requests, "statuses": statuses,
               "p50_ms": _round(_percentile(searched, 50)), "p90_ms": _round(_percentile(searched, 90)),
               "p99_ms": _round(_percentile(searched, 99)), "max_ms": _round(max(searched)),
               "kept_p50_ms": _round(_percentile(kept, 50)), "kept_p99_ms": _round(_percentile(kept, 99))}
    return ScenarioResult("search_latency", "probe", {"requests": requests, "concurrency": 1,
                                                      "distinct_terms": len(paths), "example_url": fresh[0]},
                          figures=figures, notes=["one visitor, requests one after another (HTTP keep-alive); "
                                                  f"p50/p90/p99/max: searched afresh ({UNCACHED}), "
                                                  "kept_*: the same searches from the page cache"])


register(Scenario("search_latency", "probe", "search page latency: one visitor, 300 searches one after "
                  "another over the rotating terms, each searched afresh, and 300 from the page cache (p50/p99 "
                  "of the page itself, no queue)", search_latency))


# --- waiting for their capability ---------------------------------------------------------------
# (the vote storm and its kill drill are in bench/votes.py; the comment surge and the round pages in
# bench/rounds.py)

register(Scenario("task_list", "load", "governance tasks list (50,000 tasks at city scale)",
                  pending="governance tasks"))
