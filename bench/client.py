"""A signed-in visitor of the running server: log-in, CSRF token, proposing a topic, and Meilisearch
look-ups. The server sends ``Secure`` cookies (production), which a cookie jar would never return over
plain loopback HTTP, so cookies are kept by hand."""

from __future__ import annotations

import re
import secrets
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx


class Visitor:
    def __init__(self, base_url: str, timeout: float = 15.0) -> None:
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=timeout, trust_env=False)
        self.cookies: dict[str, str] = {}

    def close(self) -> None:
        self.http.close()

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            pair = header.split(";", 1)[0]
            name, _, value = pair.partition("=")
            if value in ("", '""') or re.search(r"max-age=0\b", header, flags=re.I):
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = value.strip()
        return response

    def _cookie_header(self) -> dict[str, str]:
        return {"cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self._keep(self.http.get(path, headers=self._cookie_header(), **kwargs))

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        if "ycsrf" not in self.cookies:
            self.get("/login")
        form = {"csrf_token": self.cookies.get("ycsrf", ""), **data}
        return self._keep(self.http.post(path, data=form, headers=self._cookie_header()))

    def login(self, identifier: str, password: str) -> None:
        self.get("/login")
        response = self.post("/login", {"identifier": identifier, "password": password})
        if response.status_code != 303 or "ysession" not in self.cookies:
            raise RuntimeError(f"log-in as {identifier} failed: HTTP {response.status_code}")

    def propose(self, community_id: int, label: str = "") -> tuple[int, float]:
        """Propose a topic; returns (topic id, seconds the request took). Raises unless acknowledged (303)."""
        token = label or secrets.token_hex(4)
        started = time.perf_counter()
        response = self.post(f"/topics/new?area={community_id}", {
            "title": f"基准测试议题 {token}", "description": f"压力测试写入的议题，编号 {token}。",
            "category": "other", "place": "",
        })
        took = time.perf_counter() - started
        location = response.headers.get("location", "")
        match = re.search(r"/topics/(\d+)", location)
        if response.status_code != 303 or match is None:
            raise RuntimeError(f"proposing a topic was not acknowledged: HTTP {response.status_code} {location}")
        return int(match.group(1)), took


def _instant(value: str) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds (Meilisearch's task times)."""
    match = re.fullmatch(r"(.+?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if match is None:
        raise ValueError(value)
    base = datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(3) == "Z" else match.group(3)))
    return base.timestamp() + float(f"0.{match.group(2) or 0}")


def _milliseconds(value: str) -> float | None:
    """A duration of Meilisearch's progress trace (``"1.20s"``, ``"14.20ms"``, ``"850.00µs"``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(s|ms|µs|ns)", str(value))
    if match is None:
        return None
    return round(float(match.group(1)) * {"s": 1000, "ms": 1, "µs": 1e-3, "ns": 1e-6}[match.group(2)], 2)


def _own_times(trace: dict[str, str], steps: int) -> dict[str, float]:
    """The ``steps`` longest steps of a progress trace by their own time: a step's duration less its direct
    sub-steps' (a parent whose sub-steps are short spent the time itself, untraced)."""
    durations = {name: ms for name, value in trace.items() if (ms := _milliseconds(value)) is not None}
    own = dict(durations)
    for name, ms in durations.items():
        parent = name.rpartition(" > ")[0]
        if parent in own:
            own[parent] -= ms
    return {name: round(ms, 2) for name, ms in sorted(own.items(), key=lambda kv: -kv[1])[:steps]}


class MeiliReader:
    def __init__(self, url: str, key: str, index: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=5.0,
                                 trust_env=False)
        self.index = index

    def close(self) -> None:
        self.http.close()

    def has(self, doc_id: str) -> bool:
        try:
            return self.http.get(f"/indexes/{self.index}/documents/{quote(doc_id)}").status_code == 200
        except httpx.HTTPError:
            return False

    def all_ids(self, page: int = 1000) -> set[str]:
        ids: set[str] = set()
        offset = 0
        while True:
            response = self.http.get(f"/indexes/{self.index}/documents",
                                     params={"fields": "id", "limit": page, "offset": offset})
            response.raise_for_status()
            results = response.json()["results"]
            ids |= {str(r["id"]) for r in results}
            if len(results) < page:
                return ids
            offset += page

    def task_seconds(self, types: str, limit: int) -> list[float]:
        """How long the latest ``limit`` finished tasks of ``types`` took from enqueued to finished."""
        response = self.http.get("/tasks", params={"types": types, "statuses": "succeeded", "limit": limit})
        response.raise_for_status()
        return [(_instant(t["finishedAt"]) - _instant(t["enqueuedAt"])) for t in response.json()["results"]
                if t.get("finishedAt") and t.get("enqueuedAt")]

    def unfinished_tasks(self) -> int:
        """Meilisearch's tasks enqueued or running, of every index."""
        response = self.http.get("/tasks", params={"statuses": "enqueued,processing", "limit": 1})
        response.raise_for_status()
        return int(response.json()["total"])

    def slowest_task(self, types: str, limit: int, steps: int = 6) -> dict[str, Any] | None:
        """Where the slowest of the latest ``limit`` finished tasks of ``types`` spent its time: waiting for an
        earlier batch (enqueued to started) or in its own batch (started to finished), what that batch held, and
        the batch's ``steps`` longest steps of Meilisearch's own progress trace (an outlier explained, not only
        counted)."""
        response = self.http.get("/tasks", params={"types": types, "statuses": "succeeded", "limit": limit})
        response.raise_for_status()
        tasks = [t for t in response.json()["results"] if t.get("finishedAt") and t.get("startedAt")]
        if not tasks:
            return None
        task = max(tasks, key=lambda t: _instant(t["finishedAt"]) - _instant(t["enqueuedAt"]))
        found: dict[str, Any] = {
            "task": task["uid"], "enqueued_at": task["enqueuedAt"],
            "waited_ms": round((_instant(task["startedAt"]) - _instant(task["enqueuedAt"])) * 1000, 1),
            "ran_ms": round((_instant(task["finishedAt"]) - _instant(task["startedAt"])) * 1000, 1),
        }
        if task.get("batchUid") is not None:
            batch = self.http.get(f"/batches/{task['batchUid']}")
            if batch.status_code == 200:
                stats = batch.json().get("stats", {})
                found |= {"batch": task["batchUid"], "batch_tasks": stats.get("totalNbTasks"),
                          "batch_types": stats.get("types"),
                          "longest_steps_ms": _own_times(stats.get("progressTrace") or {}, steps)}
        return found

    def stats(self) -> dict[str, Any]:
        response = self.http.get(f"/indexes/{self.index}/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data
