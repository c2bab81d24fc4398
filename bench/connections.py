"""How the load generator's connections were spread over the app workers during a scenario.

A worker serves the connections it accepted, so a scenario whose connections all landed on one worker ran on one
core whatever the others did. That happened: in a city vote storm all 64 keep-alive connections went to one of the
two workers while gunicorn's workers shared one listening socket (the first to wake accepted the whole burst). The
server now runs with ``--reuse-port`` (each worker listens on its own socket and the kernel spreads connections by
their addresses); this watch shows the spread each scenario actually got.

Linux only: a worker's connections are its socket descriptors (``/proc/<pid>/fd``) that ``/proc/net/tcp`` lists as
established on the server's port. Elsewhere, or without permission, the watch reports nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

ESTABLISHED = "01"  # /proc/net/tcp's state column
SAMPLE_EVERY_S = 0.5


def established_inodes(port: int, tables: Iterable[str]) -> set[str]:
    """The socket inodes of established connections whose local port is ``port``, from the text of
    ``/proc/net/tcp`` and ``/proc/net/tcp6``."""
    inodes: set[str] = set()
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != ESTABLISHED:
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets process ``pid`` holds (empty when it is gone or not ours to read)."""
    found: set[str] = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return found
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[8:-1])
    return found


def _tables() -> list[str]:
    texts = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            texts.append(Path(path).read_text())
        except OSError:
            pass
    return texts


def per_worker(port: int, pids: Iterable[int]) -> dict[int, int]:
    """Established connections on ``port`` held by each of ``pids`` now."""
    inodes = established_inodes(port, _tables())
    return {pid: len(socket_inodes(pid) & inodes) for pid in pids}


def spread_note(counts: list[int]) -> str:
    total = sum(counts)
    share = max(counts) / total if total else 0.0
    return (f"connections per app worker at the busiest sample: {' / '.join(str(c) for c in counts)} "
            f"(the busiest worker held {share:.0%})")


class ConnectionWatch:
    """Samples ``per_worker`` in a thread while a scenario runs; ``stop`` returns the sample with the most
    connections in all (the scenario's steady load), busiest worker first, or None when nothing was seen."""

    def __init__(self, port: int, pids: Callable[[], Iterable[int]]) -> None:
        self._port = port
        self._pids = pids
        self._best: dict[int, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connection-watch", daemon=True)

    def start(self) -> ConnectionWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._done.wait(SAMPLE_EVERY_S):
            sample = per_worker(self._port, self._pids())
            if sum(sample.values()) > sum(self._best.values()):
                self._best = sample

    def stop(self) -> list[int] | None:
        self._done.set()
        self._thread.join()
        counts = sorted(self._best.values(), reverse=True)
        return counts if sum(counts) else None
