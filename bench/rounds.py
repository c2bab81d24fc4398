"""Draft comment rounds under load (issue 5 "Performance", issue 6): the comment surge, and the pages
that read a round with its seeded comments present (``scale.round_comments``: 80,000 at city scale).

- ``draft_article_page``: ``GET /rounds/{round}/articles/{article}`` for the most commented article.
- ``round_report``: ``GET /rounds/{round}/report`` (the public feedback report; every figure an aggregate).
- ``round_queue``: ``GET /rounds/{round}/queue`` signed in as the round's drafter (the staff queue).
- ``comment_surge``: residents POST comments into the round at concurrency 64, each request as another
  signed-in resident (``auth_session`` rows made in bulk, cookies signed with the server's key, as the
  vote storm does) with the CSRF double-submit pair and a same-site ``Origin``. It uses the JSON API
  ``POST /api/v1/rounds/{round}/comments`` when the server has it, else the form
  ``POST /rounds/{round}/comments``. About 30% of the texts repeat the seeded campaigns on their
  provision (so they join those groups, as a real campaign does); the rest are new texts spread over the
  articles. At city scale it runs until ``scale.surge_comments`` (80,000) comments are sent; at small
  scale for ``--duration`` seconds (at most ``surge_comments``). Before it, other residents post comments
  for ``--warmup`` seconds (not counted), as every load scenario is warmed. Afterwards the database is checked:
  every acknowledged comment is stored, nothing more than was sent, and every group's ``group_size``
  matches its members.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import secrets
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import httpx

from bench.scenarios import RunContext, Scenario, ScenarioResult, index_settled, register
from bench.seed import CAMPAIGNS, SeededRound, _advance_sequences, campaign_variants, comment_body, copy_rows
from bench.votes import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, _lua_string, _token_hash, session_cookie_value
from bench.wrk import DONE_HOOK, LUA_THREADS_AND_CLOCK, LoadResult, finish, run_script, run_wrk, start, wrk_threads

CONCURRENCY = 64  # issue 4 / issue 6: the surge runs at concurrency 64 whatever --concurrency says
MAX_SURGE_S = 3600  # wrk's -d when the surge is bounded by its count (city scale)
WARMUP_COMMENTS_PER_S = 1000  # comments ready for each second of the warm-up (more than a surge posts)
CAMPAIGN_SHARE = 0.3
ACCEPTED = (200, 201, 303)  # the API answers 201 (or 200 for a repeat); the form redirects


def _round(ctx: RunContext) -> SeededRound:
    if ctx.seeded.round is None:
        raise RuntimeError("this scale seeds no comment round (round_comments is 0)")
    return ctx.seeded.round


async def _sessions(database_url: str, user_ids: list[int], secret_key: str, agent: str) -> list[str]:
    """A signed-in session for each user (``auth_session`` rows in bulk); returns the signed cookie values."""
    conn = await asyncpg.connect(database_url)
    try:
        now = datetime.now(UTC)
        tokens = [secrets.token_urlsafe(32) for _ in user_ids]
        first = int(await conn.fetchval("SELECT COALESCE(max(id), 0) + 1 FROM auth_session"))
        await copy_rows(conn, "auth_session", ({
            "id": first + i, "token_hash": _token_hash(token), "user_id": uid, "created_at": now,
            "last_seen_at": now, "expires_at": now + timedelta(days=1), "user_agent": agent}
            for i, (uid, token) in enumerate(zip(user_ids, tokens, strict=True))))
        await _advance_sequences(conn)
        await conn.execute("ANALYZE auth_session")
    finally:
        await conn.close()
    return [session_cookie_value(secret_key, token) for token in tokens]


def _cookie(session: str, csrf: str) -> str:
    return f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"


def _probe(ctx: RunContext, path: str, headers: dict[str, str]) -> None:
    """The page must answer 200 before it is measured (the round pages are built by other work)."""
    with httpx.Client(base_url=ctx.base_url, timeout=60, trust_env=False) as http:
        status = http.get(path, headers=headers).status_code
    if status != 200:
        raise RuntimeError(f"GET {path} answered HTTP {status}, not 200: the page is not there yet or is broken")


async def _count(database_url: str, query: str, *args: Any) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(query, *args) or 0)
    finally:
        await conn.close()


def _staff_headers(ctx: RunContext) -> dict[str, str]:
    headers = ctx.extra.get("round_staff_headers")
    if headers is None:
        seeded = _round(ctx)
        [session] = asyncio.run(_sessions(ctx.database_url, [seeded.drafter_id], ctx.extra["secret_key"],
                                          "bench round staff"))
        headers = {**ctx.anonymous_headers, "Cookie": _cookie(session, secrets.token_urlsafe(24))}
        ctx.extra["round_staff_headers"] = headers
    assert isinstance(headers, dict)
    return headers


def page_scenario(name: str, description: str, path: Callable[[SeededRound], str], *,
                  staff: bool = False) -> Scenario:
    def run(ctx: RunContext) -> ScenarioResult:
        seeded = _round(ctx)
        url = path(seeded)
        headers = _staff_headers(ctx) if staff else ctx.anonymous_headers
        _probe(ctx, url, headers)
        warmup = float(ctx.extra.get("warmup", 0))
        if warmup > 0:
            run_wrk(ctx.base_url, [url], duration=warmup, concurrency=ctx.concurrency, work_dir=ctx.work_dir,
                    name=f"{name}.warmup", headers=headers)
        present = asyncio.run(_count(ctx.database_url, "SELECT count(*) FROM draft_comment WHERE round_id = $1",
                                     seeded.round_id))
        asyncio.run(wait_idle(ctx.database_url))  # what the warm-up left queued in the server has finished
        load = run_wrk(ctx.base_url, [url], duration=ctx.duration, concurrency=ctx.concurrency,
                       work_dir=ctx.work_dir, name=name, headers=headers)
        settings = {"tool": "wrk", "duration_s": ctx.duration, "concurrency": ctx.concurrency, "example_url": url,
                    "signed_in": "the round's drafter" if staff else "anonymous"}
        notes = [f"{present:,} comments in the round ({seeded.groups:,} groups seeded)"]
        if "articles" in url:
            notes.append(f"the article has {seeded.hot_article_comments:,} seeded comments")
        return ScenarioResult(name, "load", settings, load=load, notes=notes)

    return Scenario(name, "load", description, run, warm=False)


# --- the surge's wrk script --------------------------------------------------------------------------

SURGE_LUA = r"""
-- generated by bench/rounds.py: one comment per request, each line of the data file once
local path = %(path)s
local origin = %(origin)s
local content_type = %(content_type)s
local accept = %(accept)s
""" + LUA_THREADS_AND_CLOCK + r"""
local lines  -- this thread's share: {index, cookie header, csrf token, body}
local data, nthreads
local next_request = 0
local sent, answered = 0, 0
local log

function init(args)
  local prefix
  data, prefix, nthreads = args[1], args[2], tonumber(args[3])
  log = io.open(prefix .. "." .. (id or 0) .. ".log", "w")
  log:setvbuf("line")
end

-- Read on the thread's first delay(), in the thread itself, not in init(): wrk runs each thread's init() in
-- turn and starts that thread at once, so a share read there would start the first thread while the next
-- one still reads its own (a second, for 80,000 comments), at half the concurrency.
local function load()
  lines = {}
  local me = id or 0
  for line in io.lines(data) do
    local index, session, csrf, body = line:match("^(%%d+)\t(%%S+)\t(%%S+)\t(.+)$")
    if index and tonumber(index) %% nthreads == me then
      table.insert(lines, {index, %(session_cookie)s .. "=" .. session .. "; " .. %(csrf_cookie)s .. "=" .. csrf,
                           csrf, body})
    end
  end
end

function delay()
  if lines == nil then load() end
  if next_request >= #lines then return 3600000 end  -- nothing left to send: idle until the run is stopped
  return arm(0)
end

function request()
  if checking() then return wrk.format("GET", %(filler)s) end
  if next_request >= #lines then  -- another connection took the last one meanwhile: a harmless read
    sent = sent + 1
    log:write(string.format("F %%.6f\n", now()))
    return wrk.format("GET", %(filler)s)
  end
  next_request = next_request + 1
  local v = lines[next_request]
  sent = sent + 1
  log:write(string.format("S %%s %%.6f\n", v[1], now()))
  return wrk.format("POST", path, {
    ["Content-Type"] = content_type, ["Accept"] = accept, ["Origin"] = origin,
    ["Cookie"] = v[2], [%(csrf_header)s] = v[3]}, v[4])
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 and status ~= 201 and status ~= 303 then non2xx = non2xx + 1 end
  log:write(string.format("R %%d %%.6f\n", status, now()))
  if next_request >= #lines and answered >= sent then wrk.thread:stop() end
end

%(done)s"""


def surge_lua(path: str, origin: str, *, api: bool, filler: str) -> str:
    """The wrk script: each line of the data file (``index<TAB>cookie<TAB>csrf<TAB>body``) is posted once,
    to ``path`` as JSON (``api``) or as a form; the threads log ``S`` (sent) and ``R`` (answer) lines."""
    return SURGE_LUA % {
        "path": _lua_string(path), "origin": _lua_string(origin),
        "content_type": _lua_string("application/json" if api else "application/x-www-form-urlencoded"),
        "accept": _lua_string("application/json" if api else "text/html"),
        "filler": _lua_string(filler), "session_cookie": _lua_string(SESSION_COOKIE),
        "csrf_cookie": _lua_string(CSRF_COOKIE), "csrf_header": _lua_string(CSRF_HEADER), "done": DONE_HOOK,
    }


@dataclass
class Comment:
    provision_id: int | None
    body: str
    token: str


def surge_comments(n: int, seeded: SeededRound, campaigns: list[tuple[int | None, str]],
                   rng: random.Random) -> list[Comment]:
    """``n`` comments: about 30% repeat a seeded campaign on its provision (an identical or near-identical
    copy), the rest are new texts on random articles (one in twelve on the whole draft)."""
    variants = {text: campaign_variants(text) for _, text in campaigns}
    out = []
    for k in range(n):
        if campaigns and rng.random() < CAMPAIGN_SHARE:
            provision, text = rng.choice(campaigns)
            out.append(Comment(provision, rng.choice(variants[text]), f"surge-{k}"))
        else:
            provision = None if rng.random() < 1 / 12 else rng.choice(seeded.article_ids)
            out.append(Comment(provision, f"{comment_body(rng)}（{k}）", f"surge-{k}"))
    return out


def payload(comment: Comment, csrf: str, *, api: bool) -> str:
    """The request body of one comment (no tabs or newlines: one line of the data file)."""
    if api:
        return json.dumps({"provision_id": comment.provision_id, "body": comment.body, "proposed_wording": "",
                           "client_token": comment.token}, ensure_ascii=False)
    return urlencode({"csrf_token": csrf, "provision_id": "" if comment.provision_id is None
                      else str(comment.provision_id), "body": comment.body, "proposed_wording": "",
                      "client_token": comment.token})


def data_lines(rows: list[tuple[int, str, str, str]]) -> str:
    lines = []
    for index, session, csrf, body in rows:
        if any(c in session + csrf for c in "\t\n ;") or any(c in body for c in "\t\n"):
            raise ValueError("a data line may not hold tabs or newlines (nor spaces or semicolons in cookies)")
        lines.append(f"{index}\t{session}\t{csrf}\t{body}\n")
    return "".join(lines)


# --- the client's log and the check --------------------------------------------------------------------

@dataclass
class SurgeLog:
    sent: list[float] = field(default_factory=list)  # times comments were sent
    answers: list[tuple[int, float]] = field(default_factory=list)  # (status, time), fillers included
    fillers: int = 0
    bad_lines: int = 0


def parse_surge_log(text: str, into: SurgeLog | None = None) -> SurgeLog:
    log = into or SurgeLog()
    for line in text.splitlines():
        parts = line.split()
        try:
            if parts[0] == "S" and len(parts) == 3:
                log.sent.append(float(parts[2]))
            elif parts[0] == "R" and len(parts) == 3:
                log.answers.append((int(parts[1]), float(parts[2])))
            elif parts[0] == "F" and len(parts) == 2:
                log.fillers += 1
            else:
                log.bad_lines += 1
        except (IndexError, ValueError):
            log.bad_lines += 1  # a line cut off when wrk stopped a thread
    return log


@dataclass
class SurgeCheck:
    sent: int = 0
    acknowledged: int = 0  # 201/200/303 answers to comments (filler reads answer 200 too: taken off)
    statuses: dict[str, int] = field(default_factory=dict)
    unanswered: int = 0
    stored: int = 0  # new comments in the round
    groups_wrong_size: int = 0  # leads whose group_size is not 1 + their members
    joined_groups: int = 0  # new comments that joined a group
    comments_per_s: float | None = None  # acknowledged, from the first sent to the last acknowledgement
    server_comments_per_s: float | None = None  # stored, first to last created_at
    window_s: float | None = None
    problems: list[str] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "problems"}


def check_surge(log: SurgeLog, stored: int, groups_wrong_size: int, joined: int,
                server_span_s: float | None) -> SurgeCheck:
    out = SurgeCheck(sent=len(log.sent), stored=stored, groups_wrong_size=groups_wrong_size, joined_groups=joined)
    statuses = Counter(status for status, _ in log.answers)
    out.statuses = {str(k): v for k, v in sorted(statuses.items())}
    accepted = sum(n for status, n in statuses.items() if status in ACCEPTED)
    out.acknowledged = max(0, accepted - log.fillers)  # a filler read is answered 200
    out.unanswered = max(0, out.sent + log.fillers - len(log.answers))
    ack_times = sorted(t for status, t in log.answers if status in ACCEPTED)
    if log.sent and ack_times:
        out.window_s = round(max(ack_times[-1] - min(log.sent), 1e-6), 3)
        out.comments_per_s = round(out.acknowledged / out.window_s, 1)
    if server_span_s:
        out.server_comments_per_s = round(stored / server_span_s, 1)
    if out.acknowledged == 0:
        out.problems.append("no comment was acknowledged")
    if stored < out.acknowledged:
        out.problems.append(f"{out.acknowledged - stored} acknowledged comments are not in the database")
    if stored > out.sent:
        out.problems.append(f"{stored - out.sent} more comments stored than were sent (duplicates)")
    if groups_wrong_size:
        out.problems.append(f"{groups_wrong_size} groups whose group_size does not match their members")
    return out


async def wait_idle(database_url: str, quiet_s: float = 1.0, give_up_s: float = 60.0) -> float:
    """Wait until no other session of the database has run a query for ``quiet_s`` (requests left over
    from an earlier scenario have finished); returns the seconds waited."""
    started = time.monotonic()
    conn = await asyncpg.connect(database_url)
    try:
        quiet_since = None
        while time.monotonic() - started < give_up_s:
            busy = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND backend_type = 'client backend' AND (state LIKE 'idle in transaction%' OR (state = 'active' "
                "AND query NOT LIKE 'LISTEN%'))")
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                break
            await asyncio.sleep(0.1)
    finally:
        await conn.close()
    return time.monotonic() - started


async def _stored(database_url: str, round_id: int, after_id: int) -> tuple[int, int, int, float | None]:
    """(new comments, groups of the round with a wrong size, new comments in groups, server span s)."""
    conn = await asyncpg.connect(database_url)
    try:
        new = await conn.fetchrow(
            "SELECT count(*) AS n, count(lead_id) AS joined, min(created_at) AS first, max(created_at) AS last "
            "FROM draft_comment WHERE round_id = $1 AND id > $2", round_id, after_id)
        wrong = await conn.fetchval(
            "SELECT count(*) FROM draft_comment l LEFT JOIN (SELECT lead_id, count(*) AS n FROM draft_comment "
            "WHERE round_id = $1 AND lead_id IS NOT NULL GROUP BY lead_id) m ON m.lead_id = l.id "
            "WHERE l.round_id = $1 AND l.lead_id IS NULL AND l.group_size <> 1 + COALESCE(m.n, 0)", round_id)
    finally:
        await conn.close()
    span = (new["last"] - new["first"]).total_seconds() if new["first"] and new["last"] else None
    return int(new["n"]), int(wrong), int(new["joined"]), span


async def _campaigns(database_url: str, round_id: int) -> tuple[list[tuple[int | None, str]], int]:
    """The seeded campaigns' (provision, text) and the round's highest comment id before the surge."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT provision_id, body FROM draft_comment WHERE round_id = $1 AND "
                                "lead_id IS NULL AND group_size > 1 AND body = ANY($2::text[])", round_id, CAMPAIGNS)
        last = int(await conn.fetchval("SELECT COALESCE(max(id), 0) FROM draft_comment") or 0)
    finally:
        await conn.close()
    return [(r["provision_id"], r["body"]) for r in rows], last


def _endpoint(ctx: RunContext, round_id: int, cookie: str, csrf: str, comment: Comment) -> tuple[bool, str]:
    """Which way comments go in: the JSON API if the server has it, else the form. The probe is a real
    comment of the surge's first user."""
    headers = {"Cookie": cookie, CSRF_HEADER: csrf, "Origin": ctx.base_url}
    with httpx.Client(base_url=ctx.base_url, timeout=30, trust_env=False, follow_redirects=False) as http:
        api = http.post(f"/api/v1/rounds/{round_id}/comments",
                        headers={**headers, "Accept": "application/json", "Content-Type": "application/json"},
                        content=payload(comment, csrf, api=True).encode())
        if api.status_code in ACCEPTED:
            return True, f"POST /api/v1/rounds/{round_id}/comments"
        form = http.post(f"/rounds/{round_id}/comments", content=payload(comment, csrf, api=False).encode(),
                         headers={**headers, "Content-Type": "application/x-www-form-urlencoded"})
        if form.status_code in ACCEPTED:
            return False, f"POST /rounds/{round_id}/comments (form)"
    raise RuntimeError(f"posting a comment failed: the API answered {api.status_code}, the form {form.status_code}"
                       f" ({form.text[:200]!r})")


def _read_log(ctx: RunContext, prefix: Path) -> SurgeLog:
    log = SurgeLog()
    for part in sorted(ctx.work_dir.glob(f"{prefix.name}.*.log")):
        parse_surge_log(part.read_text(encoding="utf-8", errors="replace"), log)
    return log


def finished(log: SurgeLog, count: int) -> bool:
    """Every comment sent and every request (the filler reads too) answered."""
    return len(log.sent) >= count and len(log.answers) >= len(log.sent) + log.fillers


def _until_sent(ctx: RunContext, script: str, args: list[str], count: int, prefix: Path,
                stalled_s: float = 15.0) -> LoadResult:
    """wrk runs for its whole -d even when every thread has stopped, so a surge bounded by its count is
    stopped with SIGINT (on which wrk reports) once every comment is answered, or when answers have
    stopped coming for ``stalled_s`` after the last comment was sent (requests that timed out)."""
    process = start(ctx.base_url, script, duration=MAX_SURGE_S, concurrency=CONCURRENCY, work_dir=ctx.work_dir,
                    name="comment_surge", script_args=args)
    answered, last_change = -1, time.monotonic()
    while process.poll() is None:
        time.sleep(2)
        log = _read_log(ctx, prefix)
        if finished(log, count):
            break
        if len(log.answers) != answered:
            answered, last_change = len(log.answers), time.monotonic()
        elif len(log.sent) >= count and time.monotonic() - last_change > stalled_s:
            break
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
    return finish(process, ctx.work_dir, "comment_surge", 60)


def _warm_up(ctx: RunContext, script: str, seeded: SeededRound, campaigns: list[tuple[int | None, str]],
             surge_users: int, seconds: float, *, api: bool) -> dict[str, Any]:
    """Comments posted for ``seconds`` before the surge, as every load scenario is warmed with its own load: the
    app processes' connections, prepared statements and caches are then as a surge into a round that people are
    already commenting on finds them. They come from the residents after the surge's own (from the first ones
    again at a scale with fewer residents), with texts of their own, and are not counted: the check counts the
    comments stored after them."""
    n = max(1, int(WARMUP_COMMENTS_PER_S * seconds))
    users = [(surge_users + k) % seeded.residents + 1 for k in range(n)]
    sessions = asyncio.run(_sessions(ctx.database_url, users, ctx.extra["secret_key"], "bench comment surge warm-up"))
    csrf = [secrets.token_urlsafe(24) for _ in users]
    comments = surge_comments(n, seeded, campaigns, random.Random(6))
    rows = [(k, sessions[k], csrf[k], payload(dataclasses.replace(comment, token=f"warm-{k}"), csrf[k], api=api))
            for k, comment in enumerate(comments)]
    data_path = ctx.work_dir / "comment_surge.warmup.comments.tsv"
    data_path.write_text(data_lines(rows), encoding="utf-8")
    os.chmod(data_path, 0o600)  # live session tokens
    prefix = ctx.work_dir / "comment_surge.warmup.client"
    for old in ctx.work_dir.glob(f"{prefix.name}.*.log"):
        old.unlink()
    run_script(ctx.base_url, script, duration=seconds, concurrency=CONCURRENCY, work_dir=ctx.work_dir,
               name="comment_surge.warmup", script_args=[str(data_path), str(prefix), str(wrk_threads(CONCURRENCY))])
    log = _read_log(ctx, prefix)
    acknowledged = check_surge(log, 0, 0, 0, None).acknowledged
    return {"seconds": seconds, "sent": len(log.sent), "acknowledged": acknowledged}


def comment_surge(ctx: RunContext) -> ScenarioResult:
    seeded = _round(ctx)
    count = seeded.surge_comments
    by_count = seeded.surge_by_count
    rng = random.Random(5)
    users = list(range(1, min(seeded.residents, count + 1) + 1))  # user 1 makes the probe comment
    started = time.perf_counter()
    sessions = asyncio.run(_sessions(ctx.database_url, users, ctx.extra["secret_key"], "bench comment surge"))
    csrf = [secrets.token_urlsafe(24) for _ in users]
    campaigns, _ = asyncio.run(_campaigns(ctx.database_url, seeded.round_id))
    comments = surge_comments(count + 1, seeded, campaigns, rng)
    api, endpoint = _endpoint(ctx, seeded.round_id, _cookie(sessions[0], csrf[0]), csrf[0], comments[0])
    rows = [(k, sessions[1 + k % (len(users) - 1)], csrf[1 + k % (len(users) - 1)],
             payload(comments[k + 1], csrf[1 + k % (len(users) - 1)], api=api)) for k in range(count)]
    data_path = ctx.work_dir / "comment_surge.comments.tsv"
    data_path.write_text(data_lines(rows), encoding="utf-8")
    os.chmod(data_path, 0o600)  # live session tokens
    prepared_s = time.perf_counter() - started
    log_prefix = ctx.work_dir / "comment_surge.client"
    for old in ctx.work_dir.glob(f"{log_prefix.name}.*.log"):
        old.unlink()
    warmup = float(ctx.extra.get("warmup", 0))
    read = f"/api/v1/rounds/{seeded.round_id}" if api else f"/rounds/{seeded.round_id}"
    path = f"/api/v1/rounds/{seeded.round_id}/comments" if api else f"/rounds/{seeded.round_id}/comments"
    script = surge_lua(path, ctx.base_url, api=api, filler=read)
    warmed = _warm_up(ctx, script, seeded, campaigns, len(users), warmup, api=api) if warmup > 0 else None
    idle_s = asyncio.run(wait_idle(ctx.database_url))
    _, last_id = asyncio.run(_campaigns(ctx.database_url, seeded.round_id))  # the check counts from here
    args = [str(data_path), str(log_prefix), str(wrk_threads(CONCURRENCY))]
    if by_count:
        load = _until_sent(ctx, script, args, count, log_prefix)
    else:
        load = run_script(ctx.base_url, script, duration=ctx.duration, concurrency=CONCURRENCY,
                          work_dir=ctx.work_dir, name="comment_surge", script_args=args)
    ended = time.monotonic()
    log = _read_log(ctx, log_prefix)
    asyncio.run(wait_idle(ctx.database_url))  # requests wrk stopped waiting for still run to their end
    settled = index_settled(ctx)
    caught_up_s = None if settled is None else round(time.monotonic() - ended, 1)
    stored, wrong, joined, span = asyncio.run(_stored(ctx.database_url, seeded.round_id, last_id))
    check = check_surge(log, stored, wrong, joined, span)
    total = asyncio.run(_count(ctx.database_url, "SELECT count(*) FROM draft_comment WHERE round_id = $1",
                               seeded.round_id))
    settings = {"tool": "wrk + Lua (client log per thread)", "concurrency": CONCURRENCY, "endpoint": endpoint,
                "bounded_by": f"count ({count:,} comments, at most {MAX_SURGE_S} s)" if by_count
                else f"duration ({ctx.duration} s, at most {count:,} comments)",
                "campaign_share": CAMPAIGN_SHARE, "users": len(users) - 1, "prepared_s": round(prepared_s, 1),
                "waited_for_idle_s": round(idle_s, 1), "warmup": warmed}
    notes = [*check.problems,
             f"{check.acknowledged:,} comments acknowledged at {check.comments_per_s} comments/s (client), "
             f"{check.server_comments_per_s} comments/s (server); {check.joined_groups:,} joined a group",
             f"the round held {seeded.comments:,} seeded comments before and {total:,} after"
             + (f" ({warmed['acknowledged']:,} of them the warm-up's)" if warmed else ""),
             f"concurrency {CONCURRENCY} (fixed for this scenario); each request is another signed-in resident"]
    if by_count and check.sent < count:
        notes.append(f"the run ended before every comment was sent ({check.sent:,} of {count:,})")
    if by_count:
        notes.append("wrk's req/s spans its whole run, including the wait for the last answers, and its read errors "
                     "include connections the server closed while they idled at the end: comments/s is the figure")
    notes.append("index_caught_up_s: from the surge's end until every comment was searchable (no search update "
                 "waiting in the outbox, no Meilisearch task unfinished); None: not within 3 minutes")
    return ScenarioResult("comment_surge", "load", settings, load=load,
                          figures={**check.figures(), "index_caught_up_s": caught_up_s},
                          verdict="PASS" if not check.problems else "FAIL", notes=notes)


register(page_scenario("draft_article_page", "draft article page /rounds/{round}/articles/{article}: the most "
                       "commented article of a round with round_comments comments (80,000 at city scale)",
                       lambda r: f"/rounds/{r.round_id}/articles/{r.hot_article_id}"))
register(page_scenario("round_report", "feedback report /rounds/{round}/report of that round (heat map, themes, "
                       "outcomes: SQL aggregates over every comment)", lambda r: f"/rounds/{r.round_id}/report"))
register(page_scenario("round_queue", "staff queue /rounds/{round}/queue of that round, signed in as its drafter "
                       "(pending groups, biggest first)", lambda r: f"/rounds/{r.round_id}/queue", staff=True))
register(Scenario("comment_surge", "load", "residents post comments into one draft comment round at concurrency "
                  "64 (city scale: 80,000 comments; small: for --duration): comments/s, p50/p99, and every "
                  "acknowledged comment stored with group sizes intact", comment_surge, warm=False))

