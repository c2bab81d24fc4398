"""How a scenario's connections were spread over the app workers (bench/connections.py), and the server's command
line that spreads them (bench/services.py: ``--reuse-port``)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import connections
from bench.services import ROOT, _stop, free_port, gunicorn_command, http_status, wait_until

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

TCP_TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0 20 4 30 10 -1
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 1003 1 0 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:C351 06 00000000:00000000 03:00000F9F 00000000     0        0 0 3 0
   4: 0100007F:1F90 0100007F:C352 01 00000000:00000000 00:00000000 00000000     0        0 1004 1 0 20 4 30 10 -1
"""


def test_only_established_connections_on_the_servers_own_port_count() -> None:
    # 0x1F90 = 8080: the listening socket (0A), the client's end (local port 0xC350) and a TIME_WAIT (06) do not
    assert connections.established_inodes(8080, [TCP_TABLE]) == {"1002", "1004"}
    assert connections.established_inodes(8081, [TCP_TABLE]) == set()


@pytest.fixture
def listening() -> Iterator[tuple[socket.socket, list[socket.socket]]]:
    server = socket.create_server(("127.0.0.1", 0))
    opened: list[socket.socket] = []
    yield server, opened
    for sock in opened:
        sock.close()
    server.close()


def _connect(server: socket.socket, opened: list[socket.socket], n: int) -> None:
    for _ in range(n):
        opened.append(socket.create_connection(server.getsockname()))
        opened.append(server.accept()[0])


@linux_only
def test_a_process_is_counted_for_the_connections_it_accepted(
        listening: tuple[socket.socket, list[socket.socket]]) -> None:
    server, opened = listening
    _connect(server, opened, 3)  # this process holds both ends; only the accepted ones are on the server's port
    assert connections.per_worker(server.getsockname()[1], [os.getpid()]) == {os.getpid(): 3}


@linux_only
def test_the_watch_keeps_its_busiest_sample(listening: tuple[socket.socket, list[socket.socket]],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server, opened = listening
    monkeypatch.setattr(connections, "SAMPLE_EVERY_S", 0.02)
    watch = connections.ConnectionWatch(server.getsockname()[1], lambda: [os.getpid()]).start()
    _connect(server, opened, 2)
    time.sleep(0.2)
    _connect(server, opened, 2)
    time.sleep(0.2)
    for sock in opened:
        sock.close()
    opened.clear()
    time.sleep(0.2)
    assert watch.stop() == [4]
    assert connections.spread_note([40, 24]) == ("connections per app worker at the busiest sample: 40 / 24 "
                                                 "(the busiest worker held 62%)")


def test_a_watch_that_saw_nothing_says_nothing() -> None:
    watch = connections.ConnectionWatch(free_port(), lambda: []).start()
    assert watch.stop() is None


def _pid_of_answer(sock: socket.socket) -> str:
    sock.settimeout(10)
    answer = b""
    while not (found := re.search(rb"pid=(\d+);", answer)):
        chunk = sock.recv(4096)
        assert chunk, "the server closed a connection without answering"
        answer += chunk
    return found.group(1).decode()


@linux_only
def test_a_worker_busy_when_a_burst_arrives_still_gets_its_share(tmp_path: Path) -> None:
    """64 connections opened while one of two workers is busy. With one shared listening socket the idle worker took
    the whole burst, and a keep-alive client keeps its connections: in a city vote storm all 64 stayed on one worker.
    With ``--reuse-port`` each worker has its own socket and queue, so the busy one serves its share when it is free
    (fewer than 13 of 64 would happen about once in a million bursts)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with (tmp_path / "gunicorn.log").open("ab") as log:
        process = subprocess.Popen(gunicorn_command("tests.bench.pid_app:app", 2, port),
                                   cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: http_status(f"http://127.0.0.1:{port}/") == 200, 30), \
            (tmp_path / "gunicorn.log").read_text()
        time.sleep(1.0)  # both workers listening
        busy = socket.create_connection(("127.0.0.1", port))
        busy.sendall(b"GET /busy HTTP/1.1\r\nHost: bench\r\n\r\n")
        time.sleep(0.1)
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(64)]
        try:
            for sock in socks:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            pids = Counter(_pid_of_answer(sock) for sock in socks)
            busy_pid = _pid_of_answer(busy)
        finally:
            for sock in [busy, *socks]:
                sock.close()
        assert len(pids) == 2 and pids[busy_pid] > 12, (busy_pid, pids)
    finally:
        _stop(process)
