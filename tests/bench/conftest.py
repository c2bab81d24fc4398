"""A stand-in for the app server under wrk's generated scripts."""

from __future__ import annotations

import http.server
import json
import threading
from collections import Counter
from collections.abc import Iterator

import pytest


@pytest.fixture
def counting_server() -> Iterator[tuple[str, Counter[str]]]:
    """A keep-alive HTTP server that counts what it was asked for: ``path`` for a GET, ``POST path cookie body``
    for a POST, which it answers 201 with a receipt (as a ballot or a comment is answered)."""
    asked: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # the name http.server calls
            with lock:
                asked[self.path] += 1
            self._answer(200, b"ok")

        def do_POST(self) -> None:  # the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            with lock:
                asked[f"POST {self.path} {self.headers.get('Cookie')} {body}"] += 1
                n = sum(asked.values())
            self._answer(201, json.dumps({"receipt": f"R-{n}"}).encode())

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()
