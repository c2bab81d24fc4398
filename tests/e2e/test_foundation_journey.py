"""The foundation journey in a real browser on a phone: register → a worker verifies the resident →
log in → switch language → elderly mode, with an axe-core scan of every page on the way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, axe_violations, screenshot

pytestmark = pytest.mark.browser

WORKER = "13800000004"  # demo worker of 多福巷社区
DEMO_PASSWORD = "yishiting2026"


def scan(page: Any, name: str) -> None:
    assert axe_violations(page) == [], f"axe found serious or critical violations on {name}"
    screenshot(page, name)


def log_in(page: Any, base: str, identifier: str, password: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("手机号或邮箱").fill(identifier)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录", exact=True).click()


def test_register_verify_login_language_and_elderly_mode(browser: Any, live_server: LiveServer) -> None:
    base = live_server.url
    resident_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    worker_ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    resident, worker = resident_ctx.new_page(), worker_ctx.new_page()
    try:
        # 1. A resident registers on their phone; a mistake comes back with the message beside the field.
        resident.goto(base + "/register")
        scan(resident, "journey-01-register")
        resident.get_by_label("手机号或邮箱").fill("13912340000")
        resident.get_by_label("姓名").fill("赵桂兰")
        resident.get_by_label("所在社区").select_option(label="东城区 / 东华门街道 / 多福巷社区")
        resident.locator("#f-password").fill("guilan2026")
        resident.locator("#f-password_confirm").fill("guilan2027")
        resident.get_by_role("button", name="注册").click()
        assert "两次输入的密码不一致" in resident.locator("main").inner_text()
        assert resident.get_by_label("姓名").input_value() == "赵桂兰"
        scan(resident, "journey-02-register-error")
        resident.locator("#f-password").fill("guilan2026")
        resident.locator("#f-password_confirm").fill("guilan2026")
        resident.get_by_role("button", name="注册").click()
        resident.wait_for_url(base + "/")
        assert "您的居民身份尚未认证" in resident.locator("main").inner_text()
        scan(resident, "journey-03-registered")
        resident.get_by_role("button", name="退出登录").click()

        # 2. The community worker verifies her against a household of the community.
        log_in(worker, base, WORKER, DEMO_PASSWORD)
        worker.goto(base + "/worker")
        scan(worker, "journey-04-worker-console")
        worker.get_by_role("link", name="认证 赵桂兰").click()
        assert "赵桂兰" in worker.locator("h1").inner_text()
        scan(worker, "journey-05-verify-form")
        worker.locator("#f-household_id").select_option(index=1)
        worker.get_by_role("button", name="确认认证").click()
        worker.goto(base + "/worker")
        assert worker.get_by_role("link", name="认证 赵桂兰").count() == 0

        # 3. She logs in again and sees that she is verified.
        log_in(resident, base, "13912340000", "guilan2026")
        resident.wait_for_url(base + "/")
        assert "已认证居民" in resident.locator("main").inner_text()
        scan(resident, "journey-06-verified-home")

        # 4. She switches to English (remembered across pages), then back to Chinese.
        # Choosing a language submits the form at once (progressive enhancement; the 切换 button is for
        # visitors without JavaScript), so wait for the English page rather than clicking.
        resident.get_by_label("语言").select_option("en")
        resident.wait_for_selector("html[lang=en]")
        assert "Verified resident" in resident.locator("main").inner_text()
        resident.goto(base + "/account")
        assert resident.locator("html").get_attribute("lang") == "en"
        scan(resident, "journey-07-english-account")

        # 5. Elderly mode: larger text that stays on as she moves around.
        resident.goto(base + "/")
        before = resident.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        resident.get_by_role("button", name="Large text").click()
        resident.wait_for_selector("html.elderly")
        after = resident.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
        assert after >= before * 1.2
        resident.goto(base + "/search")
        assert "elderly" in (resident.locator("html").get_attribute("class") or "")
        scan(resident, "journey-08-elderly-mode")
    finally:
        resident_ctx.close()
        worker_ctx.close()
