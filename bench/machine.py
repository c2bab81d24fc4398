"""What the figures were measured on: the machine, the software versions and the commit."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False,  # noqa: S603, S607
                              timeout=10)
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def describe(postgres: str, meilisearch: str, wrk: str) -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(), "cpu_model": _cpu_model(), "memory_gib": _memory_gib(),
        "kernel": platform.release(), "os": platform.platform(), "python": platform.python_version(),
        "postgresql": postgres, "meilisearch": meilisearch, "wrk": wrk, "load_average_at_start": _load(),
        "commit": _git("rev-parse", "HEAD"), "commit_subject": _git("log", "-1", "--format=%s"),
        "uncommitted_changes": _git("status", "--porcelain") not in ("", "unknown"),
    }


def wrk_version() -> str:
    try:
        done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False,  # noqa: S607
                              timeout=10)
    except OSError:
        return "not installed"
    return (done.stdout or done.stderr).splitlines()[0].strip() if (done.stdout or done.stderr) else "unknown"
