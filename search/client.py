"""Meilisearch through the official (synchronous) client, without blocking the event loop.

Every call runs in a worker thread (``anyio.to_thread``) with the short HTTP timeout from the
settings. Each thread has its own ``meilisearch.Client``: the client's HTTP helper rewrites a shared
header dict on every request, so one client must not serve two threads at once.

When Meilisearch cannot be reached (connection refused, timeout) the gateway raises
``MeiliUnavailable`` and remembers the failure for ``DOWN_SECONDS``: searches in that window go
straight to the database fallback instead of each waiting out a timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import meilisearch
import requests
from meilisearch.errors import MeilisearchCommunicationError, MeilisearchTimeoutError

T = TypeVar("T")
DOWN_SECONDS = 10.0
LIVE_INDEX = "documents"


class MeiliUnavailable(RuntimeError):
    """Meilisearch did not answer; the caller falls back (search) or retries later (indexing)."""


class MeiliTaskFailed(RuntimeError):
    """Meilisearch accepted a task but could not carry it out (or it did not finish in time)."""


class MeiliGateway:
    def __init__(self, url: str, api_key: str | None, *, timeout: float, index_prefix: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.url = url
        self.api_key = api_key
        self.timeout = timeout
        self.index_prefix = index_prefix
        self._clock = clock
        self._down_until = 0.0
        self._local = threading.local()

    @property
    def live_index(self) -> str:
        return f"{self.index_prefix}{LIVE_INDEX}"

    @property
    def available(self) -> bool:
        return self._clock() >= self._down_until

    def _client(self) -> meilisearch.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            # The client's annotation says int, but requests takes any float timeout.
            client = meilisearch.Client(self.url, self.api_key, timeout=self.timeout)  # type: ignore[arg-type]
            self._local.client = client
        return client

    async def call(self, operation: Callable[[meilisearch.Client], T]) -> T:
        """Run ``operation(client)`` in a thread; unreachable Meilisearch becomes ``MeiliUnavailable``."""
        try:
            result = await anyio.to_thread.run_sync(lambda: operation(self._client()))
        except (MeilisearchCommunicationError, MeilisearchTimeoutError, requests.RequestException) as exc:
            self._down_until = self._clock() + DOWN_SECONDS
            raise MeiliUnavailable(str(exc)) from exc
        self._down_until = 0.0
        return result

    async def wait(self, task_uid: int, *, timeout_seconds: float = 60.0, accept_codes: tuple[str, ...] = ()) -> None:
        """Wait for an asynchronous Meilisearch task and insist that it succeeded (or failed with
        one of ``accept_codes``)."""

        def poll(client: meilisearch.Client) -> Any:
            deadline = time.monotonic() + timeout_seconds
            while time.monotonic() < deadline:
                task = client.get_task(task_uid)
                if task.status not in ("enqueued", "processing"):
                    return task
                time.sleep(0.02)
            return None

        task = await self.call(poll)
        if task is None:
            raise MeiliTaskFailed(f"Meilisearch task {task_uid} did not finish within {timeout_seconds} s")
        if task.status != "succeeded" and (task.error or {}).get("code") not in accept_codes:
            raise MeiliTaskFailed(f"Meilisearch task {task_uid} {task.status}: {task.error}")

    async def wait_all(self, task_uids: list[int]) -> None:
        for uid in task_uids:
            await self.wait(uid)
