"""Did an app worker die during a scenario? gunicorn replaces a dead worker within seconds, so a crash
(the segmentation fault that CPython 3.11.7 showed under concurrent renders of poll pages, README
"Production") would otherwise show only as a few failed requests. The harness compares the workers before
and after every scenario that is not a drill (the drills kill workers on purpose) and reads what gunicorn
logged meanwhile; a death fails the scenario and the run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# gunicorn's own lines about a worker that did not stop by itself (arbiter.py)
_DEATH_LINE = re.compile(r"Worker \(pid:\d+\) (was sent \w+|exited with code -?\d+)|WORKER TIMEOUT \(pid:\d+\)")


@dataclass
class Mark:
    pids: set[int]
    log_offset: int


@dataclass
class Deaths:
    pids: list[int] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.pids or self.log_lines)

    def note(self) -> str:
        said = "; ".join(self.log_lines[:5]) or "gunicorn logged nothing about it"
        return (f"{len(self.pids) or len(self.log_lines)} app worker(s) died during the scenario "
                f"(pids {sorted(self.pids) or 'unknown'}): {said}")


def mark(server: Any) -> Mark:
    """The workers now, and where the server's log ends."""
    path: Path = server.log_path
    return Mark(set(server.worker_pids()), path.stat().st_size if path.exists() else 0)


def deaths_since(before: Mark, pids_now: set[int], log_text: str) -> Deaths:
    """Workers of ``before`` that are gone, and gunicorn's lines about dead workers in ``log_text`` (what the
    log gained since ``before``)."""
    lines = [line.strip() for line in log_text.splitlines() if _DEATH_LINE.search(line)]
    return Deaths(sorted(before.pids - pids_now), lines)


def check(server: Any, before: Mark) -> Deaths:
    path: Path = server.log_path
    text = ""
    if path.exists():
        with path.open("rb") as log:
            log.seek(before.log_offset)
            text = log.read().decode("utf-8", "replace")
    return deaths_since(before, set(server.worker_pids()), text)
