"""How much of a scenario the page caches answered (``web.page_cache``). A cached page costs a fraction
of a rendered one, so a scenario's figure means little without it: the same scenario is mostly cache
hits on a fast machine (it cycles through its pages within the cache's time to live) and mostly renders
on a slow one.

Each app worker counts its caches' hits and misses; ``/_bench/caches`` (``BENCH_CEILING=1`` only) answers
with the counts of the worker that took the connection. ``snapshot`` asks on new connections until every
worker has answered, and ``difference`` of two snapshots is what happened in between. A worker replaced
meanwhile (a crash) makes the difference unknown rather than wrong.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

# cache name -> (hits, misses, host hits): a host hit (``web.host_cache``) is a miss of the worker's own cache that
# another worker's page answered; it is counted here as a hit (the page was not rendered), and also on its own
Counts = dict[str, tuple[int, int, int]]


def ask(base_url: str, timeout: float = 5.0) -> tuple[int, Counts]:
    """One worker's pid and counts, on a connection of its own."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request("GET", "/_bench/caches")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"/_bench/caches answered {response.status}")
    finally:
        connection.close()
    data = json.loads(body)
    return int(data["pid"]), {name: _counts(c) for name, c in data["caches"].items()}


def _counts(answer: dict[str, int]) -> tuple[int, int, int]:
    host = int(answer.get("host_hits", 0))
    return int(answer["hits"]) + host, int(answer["misses"]) - host, host


def snapshot(base_url: str, pids: set[int], tries: int = 1000, pause_every: int = 50) -> dict[int, Counts] | None:
    """Every worker's counts (``None`` if some worker did not answer within ``tries`` connections). Which
    idle worker accepts a connection is up to the kernel, and a worker that has only just started may not
    accept yet: after every ``pause_every`` connections the others are left alone for a moment."""
    found: dict[int, Counts] = {}
    for attempt in range(1, tries + 1):
        pid, counts = ask(base_url)
        found[pid] = counts
        if pids <= found.keys():
            return {pid: found[pid] for pid in pids}
        if attempt % pause_every == 0:
            time.sleep(0.05)
    return None


@dataclass
class CacheUse:
    """Reads of each cache during a scenario, over all workers."""

    reads: dict[str, tuple[int, int, int]]  # name -> (hits, misses, host hits), caches that were read only

    def as_figures(self) -> dict[str, dict[str, int | float]]:
        return {name: {"hits": hits, "misses": misses, "hit_percent": _percent(hits, misses), "host_hits": host}
                for name, (hits, misses, host) in self.reads.items()}

    def note(self) -> str:
        if not self.reads:
            return "page cache: not read"
        parts = [f"{name} {_percent(hits, misses):g}% of {hits + misses:,} reads"
                 + (f" ({host:,} from another worker's page)" if host else "")
                 for name, (hits, misses, host) in sorted(self.reads.items(), key=lambda item: -sum(item[1][:2]))]
        return "page cache hits: " + ", ".join(parts)


def difference(before: dict[int, Counts] | None, after: dict[int, Counts] | None) -> CacheUse | None:
    """What the caches did between two snapshots of the same workers (``None`` if either is missing or
    the workers changed)."""
    if before is None or after is None or before.keys() != after.keys():
        return None
    reads: dict[str, tuple[int, int, int]] = {}
    for pid, counts in after.items():
        for name, now in counts.items():
            old = before[pid].get(name, (0, 0, 0))
            total = reads.get(name, (0, 0, 0))
            reads[name] = (total[0] + now[0] - old[0], total[1] + now[1] - old[1], total[2] + now[2] - old[2])
    return CacheUse({name: counts for name, counts in reads.items() if sum(counts[:2]) > 0})


def _percent(hits: int, misses: int) -> float:
    return round(100 * hits / (hits + misses), 1) if hits + misses else 0.0
