"""Meilisearch through the official (synchronous) client, without blocking the event loop.

Every call runs in a worker thread (``anyio.to_thread``) with the short HTTP timeout from the
settings. Each thread has its own ``meilisearch.Client``: the client's HTTP helper rewrites a shared
header dict on every request, so one client must not serve two threads at once.

Each thread's client keeps its connection to Meilisearch open (``requests.Session``) and asks for
answers uncompressed. The stock client opens a connection per call, and a compressed answer comes in
chunks that wait on delayed acknowledgements over a kept-alive connection: 52 ms a search at city scale,
against about 11 ms kept alive uncompressed and 15 ms with a connection per call. A connection idle for
``REUSE_IDLE_SECONDS`` is not reused: whatever holds its other end (Meilisearch 1.21 kept one open for over
30 s; a proxy between may not) could be closing it, and a request sent as it does so would fail and count
as Meilisearch being down.

When Meilisearch cannot be reached (connection refused, timeout) the gateway raises
``MeiliUnavailable`` and remembers the failure for ``DOWN_SECONDS``: searches in that window go
straight to the database fallback instead of each waiting out a timeout. Waiting for a task (``wait``) is
the exception: a status read that times out is asked again until the wait's own deadline, since a busy
Meilisearch can take longer than the timeout to answer one while the server is up.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
import meilisearch
import requests
from meilisearch._httprequests import HttpRequests
from meilisearch.config import Config
from meilisearch.errors import MeilisearchCommunicationError, MeilisearchTimeoutError
from meilisearch.index import Index

T = TypeVar("T")
DOWN_SECONDS = 10.0
REUSE_IDLE_SECONDS = 2.0
LIVE_INDEX = "documents"


class MeiliUnavailable(RuntimeError):
    """Meilisearch did not answer; the caller falls back (search) or retries later (indexing)."""


class MeiliTaskFailed(RuntimeError):
    """Meilisearch accepted a task but could not carry it out (or it did not finish in time)."""


class _SessionHttp(HttpRequests):
    """The client's HTTP helper, sending through one session instead of a new connection per call."""

    def __init__(self, config: Config, session: requests.Session) -> None:
        super().__init__(config)
        self.session = session

    def send_request(self, http_method: Callable[..., Any], path: str, *args: Any, **kwargs: Any) -> Any:
        # the helper passes ``requests.get``, ``requests.post``, ...: the session's method of that name
        return super().send_request(getattr(self.session, http_method.__name__), path, *args, **kwargs)


class KeptAliveClient(meilisearch.Client):
    """``meilisearch.Client`` whose calls, and those of the indexes it hands out, share one session."""

    def __init__(self, url: str, api_key: str | None, *, timeout: float) -> None:
        # The client's annotation says int, but requests takes any float timeout.
        super().__init__(url, api_key, timeout=timeout)  # type: ignore[arg-type]
        self.session = requests.Session()
        self.session.headers["Accept-Encoding"] = "identity"
        self.http = _SessionHttp(self.config, self.session)
        self.task_handler.http = self.http
        self.last_used = 0.0

    def begin(self, now: float) -> None:
        """Before a call: drop connections that have been idle too long to be sure of."""
        if now - self.last_used > REUSE_IDLE_SECONDS:
            self.session.close()  # the next request opens a new connection
        self.last_used = now

    def index(self, uid: str) -> Index:
        index = super().index(uid)
        index.http = index.task_handler.http = self.http
        return index


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

    def _client(self) -> KeptAliveClient:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = KeptAliveClient(self.url, self.api_key, timeout=self.timeout)
        client.begin(time.monotonic())
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
                try:
                    task = client.get_task(task_uid)
                except MeilisearchTimeoutError:
                    # up but slow to answer (a status read can wait behind a large batch on a busy host): a
                    # status read is safe to repeat, so ask again until the deadline; refused connections still fail
                    continue
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
