"""The harness's worker watch (bench/watch.py): a worker that died during a scenario fails it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import watch

GUNICORN_LOG = """\
[2026-11-27 07:40:01 +0000] [9391] [INFO] Booting worker with pid: 9391
[2026-11-27 07:40:07 +0000] [9390] [WARNING] Worker (pid:9391) was sent SIGSEGV!
[2026-11-27 07:40:07 +0000] [9500] [INFO] Booting worker with pid: 9500
[2026-11-27 07:40:09 +0000] [9390] [ERROR] Worker (pid:9392) exited with code 1.
"""


class FakeServer:
    def __init__(self, log_path: Path, pids: list[int]) -> None:
        self.log_path = log_path
        self.pids = pids

    def worker_pids(self) -> list[int]:
        return self.pids


def test_a_worker_that_died_is_found_by_its_pid_and_gunicorns_line(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("[2026-11-27 07:39:58 +0000] [9390] [WARNING] Worker (pid:1) was sent SIGKILL!\n")
    server: Any = FakeServer(log, [9391, 9392])
    before = watch.mark(server)
    with log.open("a") as out:
        out.write(GUNICORN_LOG)
    server.pids = [9500, 9501]
    deaths = watch.check(server, before)
    assert deaths
    assert deaths.pids == [9391, 9392]
    # only what was logged after the mark: the earlier SIGKILL (a drill's) is not this scenario's
    assert [line.split("] ")[-1] for line in deaths.log_lines] == ["Worker (pid:9391) was sent SIGSEGV!",
                                                                   "Worker (pid:9392) exited with code 1."]
    assert "2 app worker(s) died" in deaths.note() and "SIGSEGV" in deaths.note()


def test_no_death_when_the_workers_are_the_same(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("[2026-11-27 07:40:01 +0000] [9391] [INFO] Booting worker with pid: 9391\n")
    server: Any = FakeServer(log, [9391, 9392])
    before = watch.mark(server)
    with log.open("a") as out:
        out.write("[2026-11-27 07:40:02 +0000] [9391] [WARNING] slow request\n")
    assert not watch.check(server, before)


def test_a_server_without_a_log_yet(tmp_path: Path) -> None:
    server: Any = FakeServer(tmp_path / "missing.log", [7])
    before = watch.mark(server)
    server.pids = []
    deaths = watch.check(server, before)
    assert deaths.pids == [7] and deaths.log_lines == []
    assert "gunicorn logged nothing" in deaths.note()
