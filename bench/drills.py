"""Reliability drills: each does something bad to a running system, checks what the issue promises,
and prints PASS or FAIL with its numbers. Registered in the scenario registry (kind "drill")."""

from __future__ import annotations

import asyncio
import re
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx

from bench.client import MeiliReader, Visitor
from bench.scenarios import RunContext, Scenario, ScenarioResult, register
from bench.seed import PASSWORD


async def _fetch(dsn: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query))
    finally:
        await conn.close()


def _expected_documents(ctx: RunContext) -> set[str]:
    """What Meilisearch should hold: the fallback table has exactly the documents the outbox built."""
    rows = asyncio.run(_fetch(ctx.database_url, "SELECT doc_type, object_id FROM search_document"))
    return {f"{r['doc_type']}-{r['object_id']}" for r in rows}


def _pending_index_messages(ctx: RunContext) -> int:
    rows = asyncio.run(_fetch(ctx.database_url, "SELECT count(*) AS n FROM outbox_message WHERE topic = 'search.index' "
                                                "AND processed_at IS NULL AND failed_at IS NULL"))
    return int(rows[0]["n"])


def _status(visitor: Visitor, path: str) -> int:
    """The page's HTTP status, 0 when the server dropped the connection instead."""
    try:
        return visitor.get(path).status_code
    except httpx.HTTPError:
        return 0


def _json(visitor: Visitor, path: str) -> dict[str, Any]:
    try:
        response = visitor.get(path)
        data: dict[str, Any] = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return {}
    return data


def drill_meili_outage(ctx: RunContext, writes: int = 20, min_outage_s: float = 15.0,
                       catch_up_s: float = 180.0) -> ScenarioResult:
    meili = ctx.extra["meili"]
    visitor = Visitor(ctx.base_url)
    reader = MeiliReader(ctx.meili_url, ctx.meili_key, ctx.meili_index)
    figures: dict[str, Any] = {}
    problems: list[str] = []
    term = ctx.seeded.search_terms[0]
    try:
        visitor.login(ctx.seeded.proposer_phone, PASSWORD)
        meili.stop()
        stopped = time.perf_counter()
        written: list[int] = []
        failed_writes = 0
        n = 0  # at least ``writes`` writes, spread over at least ``min_outage_s`` (retries back off meanwhile)
        while n < writes or time.perf_counter() - stopped < min_outage_s:
            try:
                written.append(visitor.propose(ctx.seeded.proposer_community_id, f"outage-{n}")[0])
            except (RuntimeError, OSError, httpx.HTTPError) as exc:
                failed_writes += 1
                problems.append(f"write {n} failed: {exc}")
            n += 1
            time.sleep(min_outage_s / writes / 2)
        pages = {f"/areas/{ctx.seeded.proposer_community_id}": 0, f"/topics/{ctx.seeded.hot_topic_id}": 0,
                 f"/search?q={quote(term)}": 0}
        page_ms: dict[str, float] = {}  # how long each page took, the fallback search above all
        for path in pages:
            began = time.perf_counter()
            pages[path] = _status(visitor, path)
            page_ms[path] = round((time.perf_counter() - began) * 1000, 1)
        began = time.perf_counter()
        api_json = _json(visitor, f"/api/v1/search?q={quote(term)}")
        page_ms["/api/v1/search"] = round((time.perf_counter() - began) * 1000, 1)
        # a topic written during the outage is found through the fallback
        fresh: dict[str, Any] = {}
        deadline = time.perf_counter() + 10  # the worker stores the fallback document within its poll interval
        while written and not fresh.get("total") and time.perf_counter() < deadline:
            fresh = _json(visitor, f"/api/v1/search?q={quote('outage-0')}")
            time.sleep(0.2)
        figures.update({
            "writes_during_outage": n, "acknowledged": len(written), "failed_writes": failed_writes,
            "page_status": pages, "page_ms": page_ms, "search_from_fallback": bool(api_json.get("from_fallback")),
            "fallback_hits": api_json.get("total"), "fresh_topic_found_by_fallback": bool(fresh.get("total")),
            "outage_s": None,
        })
        if any(status != 200 for status in pages.values()):
            problems.append(f"a page failed during the outage: {pages}")
        if not api_json.get("from_fallback") or not api_json.get("total"):
            problems.append("search did not fall back to the database with results")
        if written and not fresh.get("total"):
            problems.append("a topic written during the outage was not found by the fallback search")
        meili.start()
        figures["outage_s"] = round(time.perf_counter() - stopped, 1)
        restarted = time.perf_counter()
        caught_up = None
        while time.perf_counter() - restarted < catch_up_s:
            if _pending_index_messages(ctx) == 0 and all(reader.has(f"topic-{t}") for t in written):
                caught_up = time.perf_counter() - restarted
                break
            time.sleep(0.25)
        figures["catch_up_s"] = round(caught_up, 1) if caught_up is not None else None
        if caught_up is None:
            problems.append(f"the index did not catch up within {catch_up_s:.0f} s")
        expected, actual = _expected_documents(ctx), reader.all_ids()
        missing, extra = sorted(expected - actual), sorted(actual - expected)
        # the source of truth too: every topic is public, so every topic row must be searchable
        topics = {f"topic-{r['id']}" for r in asyncio.run(_fetch(ctx.database_url, "SELECT id FROM topic"))}
        topics_missing = sorted(topics - actual)
        figures.update({"documents_in_database": len(expected), "documents_in_meilisearch": len(actual),
                        "missing": len(missing), "extra": len(extra), "topics": len(topics),
                        "topics_missing": len(topics_missing), "missing_examples": (missing + topics_missing)[:10],
                        "extra_examples": extra[:10]})
        if missing or extra:
            problems.append(f"{len(missing)} documents missing from Meilisearch, {len(extra)} extra")
        if topics_missing:
            problems.append(f"{len(topics_missing)} topics have no document in Meilisearch")
    finally:
        visitor.close()
        reader.close()
        if meili.process is None:
            meili.start()
    return ScenarioResult("drill_meili_outage", "drill",
                          {"writes": writes, "min_outage_s": min_outage_s, "catch_up_limit_s": catch_up_s,
                           "how": "Meilisearch stopped (SIGTERM), writes and page reads, restarted on the same port"},
                          figures=figures, verdict="FAIL" if problems else "PASS", notes=problems)


@dataclass
class _Prober:
    """Light load: one visitor reading a page every ``interval`` seconds, logging (time, status)."""

    base_url: str
    path: str
    interval: float = 0.05
    log: list[tuple[float, int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        visitor = Visitor(self.base_url, timeout=5.0)
        try:
            while not self.stop.is_set():
                try:
                    status = visitor.get(self.path).status_code
                except Exception:
                    status = 0
                self.log.append((time.perf_counter(), status))
                time.sleep(self.interval)
        finally:
            visitor.close()


def _cluster_for_port(port: int) -> tuple[str, str] | None:
    try:
        out = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False,  # noqa: S607
                             timeout=10).stdout
    except OSError:
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == str(port):
            return parts[0], parts[1]
    return None


def drill_pg_restart(ctx: RunContext, recover_within_s: float = 30.0) -> ScenarioResult:
    server = ctx.extra["server"]
    port_match = re.search(r":(\d+)/", ctx.database_url)
    port = int(port_match.group(1)) if port_match else 5432
    cluster = _cluster_for_port(port)
    settings = {"recover_within_s": recover_within_s, "load": "1 reader, a request every 50 ms",
                "command": f"pg_ctlcluster --skip-systemctl-redirect {' '.join(cluster or ('?', '?'))} restart"}
    if cluster is None:
        return ScenarioResult("drill_pg_restart", "drill", settings, verdict="FAIL",
                              notes=[f"no local PostgreSQL cluster on port {port} (pg_lsclusters): cannot restart it"])
    busy = asyncio.run(_fetch(ctx.database_url, "SELECT datname, count(*) AS n FROM pg_stat_activity WHERE datname IS "
                                                "NOT NULL AND datname NOT IN ('postgres', current_database()) "
                                                "GROUP BY datname"))
    if busy and not ctx.extra.get("force_pg_restart"):
        names = ", ".join(f"{r['datname']} ({r['n']})" for r in busy)
        return ScenarioResult("drill_pg_restart", "drill", settings, verdict="SKIPPED",
                              notes=[f"other databases of this cluster are in use ({names}): restarting it would break "
                                     f"their work; run again when it is idle, or pass --force-pg-restart"])
    pids_before = sorted(server.worker_pids())
    prober = _Prober(ctx.base_url, f"/areas/{ctx.seeded.proposer_community_id}")
    thread = threading.Thread(target=prober.run, daemon=True)
    thread.start()
    time.sleep(2)
    began = time.perf_counter()
    done = subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster[0], cluster[1], "restart"],  # noqa: S603, S607
                          capture_output=True, text=True, check=False, timeout=120)
    restarted = time.perf_counter()
    # recovered: the first success after the restart that is followed by only successes for 2 s
    recovered_at = None
    while time.perf_counter() - restarted < recover_within_s + 5:
        time.sleep(0.5)
        after = [(t, s) for t, s in prober.log if t >= restarted]
        for index, (t, status) in enumerate(after):
            if status == 200 and all(s == 200 for _, s in after[index:]) and after[-1][0] - t >= 2:
                recovered_at = t
                break
        if recovered_at is not None:
            break
    prober.stop.set()
    thread.join(timeout=10)
    failed = [s for t, s in prober.log if t >= began and s != 200]
    write_ok = False
    try:
        visitor = Visitor(ctx.base_url)
        visitor.login(ctx.seeded.proposer_phone, PASSWORD)
        visitor.propose(ctx.seeded.proposer_community_id, "after-pg-restart")
        visitor.close()
        write_ok = True
    except Exception as exc:
        write_problem = str(exc)
    else:
        write_problem = ""
    pids_after = sorted(server.worker_pids())
    figures = {
        "restart_command_s": round(restarted - began, 1), "restart_exit": done.returncode,
        "recovered_after_restart_s": round(recovered_at - restarted, 2) if recovered_at else None,
        "requests": len([1 for t, _ in prober.log if t >= began]), "failed_requests": len(failed),
        "write_after_recovery": write_ok, "app_workers_same": pids_before == pids_after,
    }
    problems = []
    if done.returncode != 0:
        problems.append(f"the restart command failed: {done.stderr.strip()}")
    if recovered_at is None:
        problems.append(f"requests did not succeed again within {recover_within_s:.0f} s of the restart")
    if not write_ok:
        problems.append(f"a write after recovery failed: {write_problem}")
    if pids_before != pids_after:
        problems.append(f"app worker processes changed (gunicorn restarted them): {pids_before} -> {pids_after}")
    return ScenarioResult("drill_pg_restart", "drill", settings, figures=figures,
                          verdict="FAIL" if problems else "PASS", notes=problems)


register(Scenario("drill_meili_outage", "drill", "stop Meilisearch during writes: pages and writes keep working, "
                  "search falls back, after restart the index catches up with nothing missing", drill_meili_outage))
register(Scenario("drill_pg_restart", "drill", "restart PostgreSQL under light load: the app recovers by itself "
                  "(only when named in --scenarios: it restarts the whole local cluster)", drill_pg_restart,
                  default=False))
