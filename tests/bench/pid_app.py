"""A stand-in ASGI app for the server's command line: answers every request with its worker's pid; ``/busy``
first holds its worker for half a second (blocking, as a long request or a collector pass does)."""

from __future__ import annotations

import os
import time
from typing import Any


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/busy":
        time.sleep(0.5)  # noqa: ASYNC251 - blocking on purpose: the worker must not accept meanwhile
    body = f"pid={os.getpid()};".encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
