"""Browser journeys: a real server process (uvicorn) on a fresh migrated database with demo data,
driven by Debian's headless Chromium through Playwright, with axe-core scans."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.harness import ROOT, free_port

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}

# Demo people of 多福巷社区 the journeys log in as (web/demo.py).
DEMO_PASSWORD = "yishiting2026"
COMMUNITY = "多福巷社区"
WORKER = "13800000004"  # 张雨桐, community worker of 多福巷社区
PROPOSER = "13800000005"  # 朱宇航, verified resident
WANG = "13800000006"  # 王伟, verified resident
LUO = "13800000007"  # 罗红梅, verified resident


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if os.environ.get("TEST_BACKEND") == "postgres":
        pytest.skip("browser journeys run once, on the embedded SQLite default")
    data = tmp_path_factory.mktemp("live")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{data / 'live.db'}",
        "YISHITING_ENV": "development",
        "SECRET_KEY": "e2e-secret-key-long-enough-for-tests-0000",
        "RATE_LIMITS": "false",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("MEILI_URL", None)
    cli = [sys.executable, "-m", "web.cli"]
    subprocess.run([*cli, "migrate"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*cli, "demo"], env=env, check=True, cwd=ROOT, capture_output=True)
    log = (data / "server.log").open("wb")
    process = subprocess.Popen([*cli, "serve", "--port", str(port)], env=env, cwd=ROOT, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    else:
        process.kill()
        log.close()
        raise RuntimeError((data / "server.log").read_text())
    yield LiveServer(url, process, env)
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it is
    open, which would stop the async tests that follow from starting theirs."""
    executable = _chromium()
    if executable is None:
        if os.environ.get("REQUIRE_BROWSER"):
            raise RuntimeError("chromium is not installed: run `make browser`")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield instance
        instance.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A phone-sized browser context; axe is injected via CDP evaluation, so the CSP stays on."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the current page."""
    page.evaluate(AXE_JS.read_text(encoding="utf-8"))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [
        {"id": v["id"], "impact": v["impact"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def people(browser: Any, live_server: LiveServer) -> Iterator[dict[str, Any]]:
    """A logged-in phone (page) for each person of the journey."""
    contexts = []
    pages: dict[str, Any] = {}
    for who, phone in (("worker", WORKER), ("zhu", PROPOSER), ("wang", WANG), ("luo", LUO)):
        context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                      locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(live_server.url + "/login")
        page.get_by_label("手机号或邮箱").fill(phone)
        page.get_by_label("密码").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="登录", exact=True).click()
        page.wait_for_url(live_server.url + "/")
        pages[who] = page
    try:
        yield pages
    finally:
        for context in contexts:
            context.close()
