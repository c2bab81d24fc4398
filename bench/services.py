"""The processes a run needs: Meilisearch from node_modules, the production server (gunicorn with
uvicorn workers) and the outbox worker. Each is started on loopback and always stopped by the harness."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
MEILI_BIN = ROOT / "node_modules" / "@gaubee" / "meilisearch-linux-amd64" / "meilisearch"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
BACKGROUND_NICE = 10  # ``background``


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with _NO_PROXY.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def wait_until(check: object, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(interval)
    return False


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"


def _stop(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def meili_problem() -> str | None:
    if not MEILI_BIN.exists() or not os.access(MEILI_BIN, os.X_OK):
        return f"Meilisearch binary missing at {MEILI_BIN.relative_to(ROOT)}: run `make node`"
    return None


def meili_version() -> str:
    try:
        out = subprocess.run([str(MEILI_BIN), "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
        return out.stdout.strip() or out.stderr.strip()
    except OSError as exc:
        return f"unknown ({exc})"


def background() -> list[str]:
    """The command prefix of the background services (Meilisearch, the outbox worker): ``nice -n N`` as README's
    production section advises on a host they share with the app processes, so that under a surge requests
    come first and indexing catches up after. ``BENCH_BACKGROUND_NICE=0`` runs them at the app's priority."""
    level = int(os.environ.get("BENCH_BACKGROUND_NICE", str(BACKGROUND_NICE)))
    return ["nice", "-n", str(level)] if level else []


@dataclass
class MeiliProcess:
    """A Meilisearch of the harness's own, on one port and data directory for the whole run (a drill
    stops and restarts it on the same port, as an outage of a real server would look)."""

    work_dir: Path
    port: int = field(default_factory=free_port)
    key: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.work_dir / "meili.log"

    def start(self, wait_seconds: float = 60) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                [*background(), str(MEILI_BIN), "--http-addr", f"127.0.0.1:{self.port}", f"--master-key={self.key}",
                 "--no-analytics", "--db-path", str(self.work_dir / "data.ms"),
                 "--dump-dir", str(self.work_dir / "dumps"), "--env", "development", "--max-indexing-threads", "1"],
                stdout=subprocess.DEVNULL, stderr=log,
            )
        if not wait_until(lambda: self.process is not None and self.process.poll() is None
                          and http_status(f"{self.url}/health", 1) == 200, wait_seconds, 0.2):
            self.stop()
            raise RuntimeError(f"Meilisearch did not start on port {self.port}:\n{_tail(self.log_path)}")

    def stop(self) -> None:
        _stop(self.process)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.work_dir, ignore_errors=True)


def gunicorn_command(app: str, workers: int, port: int) -> list[str]:
    """The production server's command line. ``--reuse-port``: each worker listens on its own socket and the kernel
    spreads new connections over them; with one shared socket the worker that woke first took a whole burst
    (``bench.connections``)."""
    return [str(VENV_BIN / "gunicorn"), app, "-k", "uvicorn.workers.UvicornWorker", "-w", str(workers),
            "-b", f"127.0.0.1:{port}", "--graceful-timeout", "5", "--timeout", "60", "--backlog", "2048",
            "--reuse-port"]


@dataclass
class AppServer:
    """``gunicorn web.asgi:app -k uvicorn.workers.UvicornWorker --reuse-port -w N`` as README's production section
    runs it (``gunicorn_command``)."""

    env: dict[str, str]
    workers: int
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_seconds: float = 60) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603
                gunicorn_command("web.asgi:app", self.workers, self.port),
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        if not wait_until(self._ready, wait_seconds, 0.2):
            self.stop()
            raise RuntimeError(f"the app server did not start:\n{_tail(self.log_path)}")

    def _ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        return http_status(f"{self.url}/healthz", 2) == 200 and len(self.worker_pids()) >= self.workers

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        return children(self.process.pid)

    def stop(self) -> None:
        _stop(self.process)  # gunicorn's SIGTERM: graceful shutdown of every worker
        self.process = None


@dataclass
class OutboxWorker:
    """``yishiting worker``: production drains the outbox outside the web processes."""

    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([*background(), str(VENV_BIN / "yishiting"), "worker"],  # noqa: S603
                                            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise RuntimeError(f"the outbox worker exited:\n{_tail(self.log_path)}")

    def stop(self) -> None:
        _stop(self.process)
        self.process = None


def children(pid: int) -> list[int]:
    result: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            result += [int(x) for x in text]
    except OSError:
        pass
    return result


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def run_cli(env: dict[str, str], *args: str, timeout: float = 3600) -> str:
    """``yishiting <args>`` with the run's environment; raises with its output if it fails."""
    done = subprocess.run([str(VENV_BIN / "yishiting"), *args], cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"yishiting {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout
