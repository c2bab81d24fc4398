"""Test infrastructure: per-run databases built by migrations, and a real Meilisearch process."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
MEILI_BIN = ROOT / "node_modules" / "@gaubee" / "meilisearch-linux-amd64" / "meilisearch"


def backend() -> str:
    return os.environ.get("TEST_BACKEND", "sqlite")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def create_postgres_database() -> tuple[str, str]:
    """A fresh database on the TEST_DATABASE_URL server; returns (url, name). Never reuses one."""
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        raise RuntimeError("TEST_BACKEND=postgres needs TEST_DATABASE_URL")
    url = make_url(base)
    name = f"yishiting_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, database=url.database or "postgres",
    )
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return url.set(database=name).render_as_string(hide_password=False), name


async def drop_postgres_database(name: str) -> None:
    url = make_url(os.environ["TEST_DATABASE_URL"])
    admin = await asyncpg.connect(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
        password=url.password, database=url.database or "postgres",
    )
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@dataclass
class Meili:
    url: str
    key: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def _meili_log_tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _healthy(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes through a proxy
    try:
        with opener.open(f"{url}/health", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_meili(data_dir: Path, attempts: int = 3, wait_seconds: float = 60) -> Meili:
    """Start Meilisearch on a free loopback port; retries on a new port if the process dies or never answers.

    A failure names the binary's own last log lines, so a CI log says why rather than only that it failed.
    """
    failures: list[str] = []
    for attempt in range(1, attempts + 1):
        port = free_port()
        key = secrets.token_urlsafe(24)
        run_dir = data_dir / f"run{attempt}"
        run_dir.mkdir(parents=True, exist_ok=True)
        log_path = run_dir / "meili.log"
        with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
            process = subprocess.Popen(
                [str(MEILI_BIN), "--http-addr", f"127.0.0.1:{port}", f"--master-key={key}", "--no-analytics",
                 "--db-path", str(run_dir / "data.ms"), "--dump-dir", str(run_dir / "dumps"),
                 "--env", "development", "--max-indexing-threads", "1"],
                stdout=subprocess.DEVNULL, stderr=log,
            )
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline and process.poll() is None:
            if _healthy(url):
                return Meili(url, key, process, data_dir)
            time.sleep(0.2)
        exit_code = process.poll()
        if exit_code is None:
            process.kill()
            process.wait(timeout=10)
        failures.append(f"attempt {attempt} on port {port}: "
                        f"{'exited with ' + str(exit_code) if exit_code is not None else 'no answer in time'}\n"
                        f"{_meili_log_tail(log_path)}")
    raise RuntimeError("Meilisearch did not start:\n" + "\n".join(failures))
