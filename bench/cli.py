"""``python -m bench``: one command from an empty PostgreSQL server to a results file.

    make bench ARGS="--scale small"
    .venv/bin/python -m bench --scale small --scenarios ceiling_plain,area_home --duration 5 --concurrency 8
    .venv/bin/python -m bench --list
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import http.client
import os
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import bench.drills
import bench.rounds  # registers the comment surge and the round pages
import bench.votes  # noqa: F401 - registers the vote storm and its kill drill
from bench import cachestats, connections, database, machine, report, seed, watch
from bench.scales import SCALES
from bench.scenarios import REGISTRY, RunContext, ScenarioResult
from bench.services import AppServer, MeiliProcess, OutboxWorker, meili_problem, meili_version, rss_mb, run_cli
from bench.wrk import run_once, run_wrk, wrk_problem
from web.host_cache import default_root

ROOT = Path(__file__).resolve().parent.parent
ORDER = {"ceiling": 0, "load": 1, "probe": 2, "drill": 3}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Yishiting benchmark harness and drills")
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--scenarios", default="", help="comma-separated names (default: every available one "
                        "except drill_pg_restart); see --list")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each scenario")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections of the load generator")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="app (gunicorn) worker processes")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--database-url", default=None,
                        help="PostgreSQL server (…/postgres) or a database named yishiting_bench_*; default "
                             f"$BENCH_DATABASE_URL or {database.DEFAULT_SERVER}")
    parser.add_argument("--keep", action="store_true", help="keep the database (for inspection); it is dropped "
                        "otherwise")
    parser.add_argument("--force-pg-restart", action="store_true",
                        help="let drill_pg_restart restart the cluster even while other databases on it are in use")
    parser.add_argument("--surge-for-duration", action="store_true",
                        help="bound the comment surge by --duration at city scale too (it sends all of the "
                             "scale's surge_comments otherwise, which takes many minutes)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser.parse_args(argv)


def list_scenarios() -> None:
    for scenario in sorted(REGISTRY.values(), key=lambda s: (ORDER[s.kind], s.name)):
        state = "available" if scenario.available else f"not yet available: waits for {scenario.pending}"
        default = "" if scenario.default or not scenario.available else " (only when named)"
        print(f"{scenario.name:24} {scenario.kind:8} {state}{default}\n{'':33} {scenario.description}")


def choose(names: str) -> tuple[list[str], list[str]]:
    """(runnable names in run order, problems)."""
    problems = []
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        for name in wanted:
            if name not in REGISTRY:
                problems.append(f"unknown scenario {name!r} (see --list)")
            elif not REGISTRY[name].available:
                problems.append(f"scenario {name!r} is not yet available: it waits for {REGISTRY[name].pending}")
        chosen = [n for n in wanted if n in REGISTRY and REGISTRY[n].available]
    else:
        chosen = [s.name for s in REGISTRY.values() if s.available and s.default]
    chosen.sort(key=lambda n: ORDER[REGISTRY[n].kind])  # ceilings first, drills last (stable within a kind)
    return chosen, problems


def preflight(args: argparse.Namespace) -> tuple[Any, list[str]]:
    problems = [p for p in (wrk_problem(), meili_problem()) if p]
    url = None
    try:
        url = database.target_url(args.database_url)
    except database.NotOurDatabase as exc:
        problems.append(str(exc))
    if url is not None and (problem := asyncio.run(database.check_server(url))):
        problems.append(problem)
    if not (ROOT / ".venv" / "bin" / "gunicorn").exists():
        problems.append("the virtualenv is missing: run `make install` (or use `make bench`)")
    return url, problems


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        list_scenarios()
        return 0
    chosen, problems = choose(args.scenarios)
    url, more = preflight(args)
    problems += more
    if problems or not chosen:
        for problem in problems or ["no scenario to run"]:
            print(f"bench: {problem}", file=sys.stderr)
        return 2
    return run(args, url, chosen)


def run(args: argparse.Namespace, url: Any, chosen: list[str]) -> int:
    scale = SCALES[args.scale]
    if args.surge_for_duration:
        scale = dataclasses.replace(scale, surge_by_count=False)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    work_dir = args.out / stamp
    work_dir.mkdir(parents=True, exist_ok=True)
    meili_dir = Path(tempfile.mkdtemp(prefix="yishiting-bench-meili-"))
    meili = MeiliProcess(meili_dir)
    server: AppServer | None = None
    worker: OutboxWorker | None = None
    created = False
    try:
        say(f"creating database {url.database}")
        asyncio.run(database.create(url))
        created = True
        secret_key = secrets.token_urlsafe(48)
        env = {**os.environ, "YISHITING_ENV": "production", "SECRET_KEY": secret_key,
               "DATABASE_URL": database.render(url), "SMTP_URL": "smtp://127.0.0.1:9",  # never used: no mail sent
               "MEILI_INDEX_PREFIX": f"bench{secrets.token_hex(3)}_", "LOG_LEVEL": "WARNING",
               "BENCH_CEILING": "1"}
        run_cli(env, "migrate")
        say(f"seeding scale {scale.name}: {scale.describe()}")
        seeded = asyncio.run(_seed(url, scale))
        say(f"seeded {seeded.counts} in {seeded.seconds:.1f} s")
        meili.start()
        env |= {"MEILI_URL": meili.url, "MEILI_MASTER_KEY": meili.key}
        started = time.perf_counter()
        say(run_cli(env, "reindex").strip())
        reindex_s = time.perf_counter() - started
        worker = OutboxWorker(env, work_dir / "worker.log")
        worker.start()
        server = AppServer(env, args.workers, work_dir / "server.log")
        server.start()
        say(f"server on {server.url} with {args.workers} workers (pids {server.worker_pids()})")
        versions = machine.describe(asyncio.run(database.server_version(url)), meili_version(), machine.wrk_version())
        ctx = RunContext(base_url=server.url, seeded=seeded, work_dir=work_dir, duration=args.duration,
                         concurrency=args.concurrency, meili_url=meili.url, meili_key=meili.key,
                         meili_index=f"{env['MEILI_INDEX_PREFIX']}documents",
                         database_url=database.render(url.set(drivername="postgresql")),
                         anonymous_headers=_anonymous_headers(server.url),
                         extra={"meili": meili, "server": server, "worker": worker,
                                "force_pg_restart": args.force_pg_restart, "warmup": args.warmup,
                                # the vote storm signs session cookies and recomputes receipts with the server's key
                                "secret_key": secret_key, "voters": scale.voters})
        results, failed = _run_scenarios(ctx, chosen, args.warmup)
        _repeat_ceilings(ctx, results, args.warmup)
        processes = [{"role": "gunicorn master", "pid": server.process.pid if server.process else None,
                      "rss_mb": rss_mb(server.process.pid) if server.process else None}]
        processes += [{"role": "app worker", "pid": pid, "rss_mb": rss_mb(pid)} for pid in server.worker_pids()]
        if worker.process is not None:
            processes.append({"role": "outbox worker", "pid": worker.process.pid, "rss_mb": rss_mb(worker.process.pid)})
        result_dicts = [r.as_dict() for r in results]
        report.ratios(result_dicts)
        notes = [seeded.comments_note] if seeded.comments_note else []
        document = {
            "machine": versions,
            "run": {"started": stamp, "scale": scale.name, "scale_definition": scale.describe(),
                    "workers": args.workers, "concurrency": args.concurrency, "duration_s": args.duration,
                    "warmup_s": args.warmup, "seeded": seeded.counts, "seed_s": round(seeded.seconds, 1),
                    "reindex_s": round(reindex_s, 1), "notes": notes},
            "results": result_dicts, "failed": failed, "processes": processes,
            "peak_worker_rss": sorted(ctx.extra.get("peak_rss", {}).values(), key=lambda p: p["pid"]),
            "not_available": [{"name": s.name, "kind": s.kind, "description": s.description, "pending": s.pending}
                              for s in REGISTRY.values() if not s.available],
        }
        json_path, md_path = report.write(args.out, stamp, document)
        print(md_path.read_text(encoding="utf-8"))
        say(f"results: {json_path.relative_to(ROOT) if json_path.is_relative_to(ROOT) else json_path}")
        drills_failed = any(r.verdict == "FAIL" for r in results)
        return 1 if failed or drills_failed else 0
    finally:
        if server is not None:
            server.stop()
        if worker is not None:
            worker.stop()
        meili.cleanup()
        shutil.rmtree(meili_dir, ignore_errors=True)
        pages = default_root(database.render(url))  # the app processes' shared pages (web.host_cache), in memory
        if pages is not None:
            shutil.rmtree(pages, ignore_errors=True)
        if created and not args.keep:
            asyncio.run(database.drop(url))
            say(f"dropped database {url.database}")
        elif created:
            say(f"kept database {url.database} (drop it yourself)")


async def _seed(url: Any, scale: Any) -> seed.Seeded:
    from consultation.accounts.passwords import hash_password

    conn = await database.raw_connect(url)
    try:
        return await seed.seed(conn, scale, hash_password(seed.PASSWORD))
    finally:
        await conn.close()


def _anonymous_headers(base_url: str) -> dict[str, str]:
    """A returning anonymous visitor: the CSRF cookie from a first visit, and gzip like every browser."""
    from bench.client import Visitor

    visitor = Visitor(base_url)
    try:
        visitor.get("/")
        cookie = visitor.cookies.get("ycsrf")
    finally:
        visitor.close()
    headers = {"Accept-Encoding": "gzip", "Accept-Language": "zh-CN,zh;q=0.9"}
    if cookie:
        headers["Cookie"] = f"ycsrf={cookie}"
    return headers


def _run_scenarios(ctx: RunContext, chosen: list[str], warmup: float) -> tuple[list[ScenarioResult], dict[str, str]]:
    results: list[ScenarioResult] = []
    failed: dict[str, str] = {}
    for name in chosen:
        scenario = REGISTRY[name]
        assert scenario.runner is not None
        say(f"{name}: {scenario.description}")
        server = ctx.extra.get("server")
        # the drills kill workers on purpose; every other scenario is watched from its warm-up on
        before = watch.mark(server) if server is not None and scenario.kind != "drill" else None
        try:
            minimal = _minimal_just_before(ctx) if scenario.kind == "load" and server is not None else None
            if scenario.kind in ("ceiling", "load") and scenario.warm and warmup > 0:
                _warm(ctx, name, warmup)
            primed = _prime(ctx, name, scenario.primed(ctx)) if scenario.primed is not None else None
            caches_before = _cache_snapshot(server) if before is not None else None
            spread = (connections.ConnectionWatch(server.port, server.worker_pids).start()
                      if before is not None else None)
            try:
                result = scenario.runner(ctx)
            finally:
                counts = spread.stop() if spread is not None else None
            if counts is not None:
                result.figures["connections_per_worker"] = counts
                result.notes.append(connections.spread_note(counts))
            if primed is not None:
                result.figures["primed"] = primed
                result.notes.append(f"each of its {primed['requests']:,} pages requested once just before, in "
                                    f"{primed['seconds']} s ({primed['rps']:,} req/s, p99 {primed['p99_ms']} ms)")
            if minimal is not None:
                result.figures["minimal_just_before_rps"] = minimal
            used = cachestats.difference(caches_before, _cache_snapshot(server)) if caches_before else None
            if used is not None and used.reads:
                result.figures["page_cache"] = used.as_figures()
                result.notes.append(used.note())
        except Exception as exc:  # one broken scenario must not lose the others' figures
            failed[name] = f"{type(exc).__name__}: {exc}"
            (ctx.work_dir / f"{name}.error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            say(f"{name} FAILED to run: {exc}")
            continue
        if before is not None:
            _note_peak_rss(ctx, server, name)
        if before is not None and (deaths := watch.check(server, before)):
            result.figures["worker_deaths"] = len(deaths.pids) or len(deaths.log_lines)
            result.verdict = "FAIL"
            result.notes.insert(0, deaths.note())
        results.append(result)
        if result.load is not None:
            load = result.load
            say(f"{name}: {load.rps:,.1f} req/s, p50 {load.p50_ms} ms, p99 {load.p99_ms} ms, errors {load.errors}")
        if result.verdict is not None:
            say(f"{name}: {result.verdict} {result.figures}")
            for note in result.notes:
                say(f"  {note}")
        elif result.kind == "probe":
            say(f"{name}: {result.figures}")
    return results, failed


# Seconds of the minimal page measured right before each load scenario. The run's two ceiling figures (at
# the start and at the end) bracket a run of some ten minutes, and shared hosts drift meanwhile: on the
# ninth stop's host the minimal page served 2,312 req/s at the start of a run and 1,888 at its end. A
# scenario's ratio to the minimal page measured just before it does not depend on when it ran.
MINIMAL_JUST_BEFORE_S = 3.0


def _minimal_just_before(ctx: RunContext) -> float | None:
    """The minimal page's req/s over ``MINIMAL_JUST_BEFORE_S`` right now (None if it could not be measured)."""
    try:
        load = run_wrk(ctx.base_url, ["/_bench/minimal"], duration=MINIMAL_JUST_BEFORE_S,
                       concurrency=ctx.concurrency, work_dir=ctx.work_dir, name="minimal_just_before")
    except (OSError, RuntimeError) as exc:
        say(f"could not measure the minimal page before the scenario: {exc}")
        return None
    return load.rps if load.rps > 0 else None


def _note_peak_rss(ctx: RunContext, server: Any, scenario: str) -> None:
    """Each app worker's largest resident size after a scenario, and after which (the drills restart the
    workers, so the sizes at the end of the run are those of fresh processes)."""
    peaks: dict[int, dict[str, Any]] = ctx.extra.setdefault("peak_rss", {})
    for pid in server.worker_pids():
        size = rss_mb(pid)
        if size is not None and size > peaks.get(pid, {}).get("rss_mb", 0):
            peaks[pid] = {"pid": pid, "rss_mb": size, "after": scenario}


def _cache_snapshot(server: Any) -> dict[int, cachestats.Counts] | None:
    try:
        return cachestats.snapshot(server.url, set(server.worker_pids()))
    except (OSError, RuntimeError, ValueError, http.client.HTTPException) as exc:
        say(f"could not read the page caches' counts: {exc}")
        return None


def _repeat_ceilings(ctx: RunContext, results: list[ScenarioResult], warmup: float) -> None:
    """Measure the ceilings once more after the scenarios, so a ratio does not depend on when the shared
    machine was busier."""
    if not any(r.kind == "load" for r in results):
        return
    for result in results:
        scenario = REGISTRY[result.name]
        if result.kind != "ceiling" or scenario.runner is None:
            continue
        if warmup > 0:
            _warm(ctx, result.name, warmup)
        again = scenario.runner(ctx)
        if again.load is not None:
            result.figures["rps_repeat"] = again.load.rps
            say(f"{result.name} again: {again.load.rps:,.1f} req/s")


def _prime(ctx: RunContext, name: str, paths: list[str]) -> dict[str, Any]:
    """Each page requested once (a site in use), unmeasured; what the pass took is reported beside."""
    load = run_once(ctx.base_url, paths, concurrency=ctx.concurrency, work_dir=ctx.work_dir, name=f"{name}.primed",
                    headers=ctx.anonymous_headers)
    say(f"{name}: primed {load.requests:,} pages in {load.seconds} s ({load.rps:,.1f} req/s, errors {load.errors})")
    return {"requests": load.requests, "seconds": load.seconds, "rps": load.rps, "p50_ms": load.p50_ms,
            "p99_ms": load.p99_ms, "errors": load.errors}


def _warm(ctx: RunContext, name: str, seconds: float) -> None:
    """Unmeasured load first, so connection pools, caches and templates are warm."""
    paths = {"ceiling_plain": ["/_bench/plain"], "ceiling_minimal": ["/_bench/minimal"]}.get(name)
    if paths is None:
        paths = [f"/areas/{ctx.seeded.community_ids[0]}", f"/topics/{ctx.seeded.hot_topic_id}",
                 "/search?q=%E7%94%B5%E6%A2%AF"]
    run_wrk(ctx.base_url, paths, duration=seconds, concurrency=ctx.concurrency, work_dir=ctx.work_dir,
            name=f"{name}.warmup", headers=ctx.anonymous_headers)
