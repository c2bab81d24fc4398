"""Every server-rendered page on a phone, scanned with axe-core (no serious or critical violations):
each role's pages in Chinese, pages showing form errors, and a representative subset in English and in
elderly mode (large text, higher contrast). A failure lists page, rule and the offending nodes.
Demo ids are discovered by following links, like a person would. Phone screenshots of the main pages
land in test-artifacts/a11y-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.conftest import PHONE, LiveServer, axe_violations, screenshot

pytestmark = pytest.mark.browser

PASSWORD = "yishiting2026"
LOGINS = {"admin": "13800000000", "worker": "13800000004", "resident": "13800000005", "unverified": "13800000008"}
SEARCH = "%E5%A4%9A%E7%A6%8F%E5%B7%B7"  # 多福巷
NEW_RESIDENT = "13912349876"  # registered here, then verified from a CSV list by the administrator


class Scanner:
    """One browser context (a visitor, maybe logged in, with a language and elderly-mode cookie) that
    collects the violations of every page it scans."""

    def __init__(self, browser: Any, base: str, *, state: dict[str, Any] | None = None, lang: str = "zh_CN",
                 elderly: bool = False) -> None:
        self.base = base
        self.context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, locale="zh-CN",
                                           storage_state=state)
        self.context.add_cookies([{"name": "lang", "value": lang, "url": base},
                                  {"name": "elderly", "value": "1" if elderly else "0", "url": base}])
        self.page = self.context.new_page()
        self.tag = lang + (" elderly" if elderly else "")
        self.scanned: list[str] = []
        self.problems: list[str] = []

    def visit(self, path: str, status: int = 200, shot: str | None = None) -> Scanner:
        response = self.page.goto(self.base + path)
        assert response is not None and response.status == status, f"{path}: HTTP {response and response.status}"
        return self.scan(path, shot)

    def submit(self, form: str = "main form[method=post]") -> Any:
        target = self.page.locator(form).first
        target.evaluate("form => { form.noValidate = true; }")  # the server's messages, not the browser's
        with self.page.expect_navigation() as navigation:
            target.locator("button[type=submit]").first.click()
        return navigation.value

    def submit_empty(self, path: str, form: str = "main form[method=post]", status: int = 422,
                     shot: str | None = None) -> Scanner:
        """Open the page and submit its form untouched: it comes back with errors beside the fields."""
        self.page.goto(self.base + path)
        response = self.submit(form)
        assert response is not None and response.status == status, f"{path} empty: HTTP {response and response.status}"
        return self.scan(f"{path} (empty form)", shot)

    def scan(self, label: str, shot: str | None = None) -> Scanner:
        """Run axe on the current page; ``shot`` also saves a phone screenshot as test-artifacts/a11y-SHOT.png."""
        if shot:
            screenshot(self.page, f"a11y-{shot}")
        self.scanned.append(label)
        for violation in axe_violations(self.page):
            self.problems.append(f"[{self.tag}] {label}: {violation['id']} ({violation['impact']}) "
                                 f"{violation['help']} → {violation['nodes']}")
        return self

    def href(self, selector: str) -> str:
        href = self.page.locator(selector).first.get_attribute("href")
        assert href, f"no link {selector} on {self.page.url}"
        return href

    def close(self) -> None:
        self.context.close()


def last_id(href: str) -> int:
    return int(re.findall(r"\d+", href)[-1])


def assert_clean(*scanners: Scanner) -> None:
    problems = [problem for s in scanners for problem in s.problems]
    scanned = sum(len(s.scanned) for s in scanners)
    print(f"axe scanned {scanned} pages ({', '.join(sorted({s.tag for s in scanners}))})")  # shown with -rP
    assert not problems, f"{len(problems)} serious/critical axe violations on {scanned} pages:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def logins(browser: Any, live_server: LiveServer) -> dict[str, dict[str, Any]]:
    """Each demo role logs in once through the form; the tests reuse its cookies."""
    states = {}
    for role, identifier in LOGINS.items():
        visitor = Scanner(browser, live_server.url)
        try:
            visitor.page.goto(live_server.url + "/login")
            visitor.page.fill("#f-identifier", identifier)
            visitor.page.fill("#f-password", PASSWORD)
            visitor.submit()
            assert "/login" not in visitor.page.url, f"could not log in as {role}"
            states[role] = visitor.context.storage_state()
        finally:
            visitor.close()
    return states


@pytest.fixture(scope="module")
def ids(browser: Any, live_server: LiveServer, logins: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Demo ids found by following links: areas of each level, the worker's community, a household,
    the resident waiting for verification, a staff member and a community the worker does not cover."""
    found: dict[str, int] = {}
    worker = Scanner(browser, live_server.url, state=logins["worker"])
    admin = Scanner(browser, live_server.url, state=logins["admin"])
    try:
        page, base = worker.page, live_server.url
        page.goto(base + "/worker")
        found["community"] = last_id(worker.href("a[href^='/worker/communities/'][href$='/households']"))
        found["waiting"] = last_id(worker.href("a[href^='/worker/residents/']").removesuffix("/verify"))
        page.goto(f"{base}/worker/communities/{found['community']}/households")
        found["household"] = last_id(worker.href("a[href$='/edit']").removesuffix("/edit"))
        page.goto(f"{base}/areas/{found['community']}")
        found["compound"] = last_id(worker.href("main table a[href^='/areas/']"))
        found["street"] = last_id(worker.href("nav.breadcrumb li:nth-last-child(2) a"))
        found["district"] = last_id(worker.href("nav.breadcrumb li:nth-last-child(3) a"))
        found["city"] = last_id(worker.href("nav.breadcrumb li:first-child a"))
        admin.page.goto(base + "/admin/roles")
        found["staff"] = last_id(admin.href("main table a[href^='/admin/roles/users/']"))
        # The imports go to another community, so the other journeys see the demo as it was.
        admin.page.goto(base + "/admin/areas?level=community")
        found["other"] = last_id(admin.href("main table tbody tr:last-child a"))
        assert found["other"] != found["community"]
    finally:
        worker.close()
        admin.close()
    return found


def test_anonymous_pages(browser: Any, live_server: LiveServer, ids: dict[str, int]) -> None:
    v = Scanner(browser, live_server.url)
    try:
        v.visit("/", shot="home")
        v.visit("/register", shot="register")
        v.visit("/login", shot="login")
        for path in ["/login/code", "/login/code/enter", "/password/forgot", "/password/reset", "/search",
                     "/search?q=zzzzqqq", f"/areas/{ids['city']}", f"/areas/{ids['district']}",
                     f"/areas/{ids['street']}", f"/areas/{ids['compound']}"]:
            v.visit(path)
        v.visit(f"/areas/{ids['community']}", shot="area")
        v.visit(f"/search?q={SEARCH}", shot="search")
        v.visit("/no-such-page", status=404, shot="404")
        v.page.goto(live_server.url + "/admin/areas")
        assert "/login" in v.page.url
        v.scan("/admin/areas (anonymous: sent to log in)")
        v.submit_empty("/register", shot="register-errors")
        for path in ["/login", "/login/code", "/password/forgot", "/login/code/enter", "/password/reset"]:
            v.submit_empty(path)
        # A code request leaves a message in the development outbox.
        v.page.goto(live_server.url + "/login/code")
        v.page.fill("#f-identifier", LOGINS["unverified"])
        v.submit()
        v.scan("/login/code/enter (after sending a code)")
        v.visit("/dev/outbox")
        assert v.page.locator(".dev-messages li").count() >= 1
    finally:
        v.close()
    assert_clean(v)


def test_resident_pages(browser: Any, live_server: LiveServer, ids: dict[str, int],
                        logins: dict[str, dict[str, Any]]) -> None:
    verified = Scanner(browser, live_server.url, state=logins["resident"])
    unverified = Scanner(browser, live_server.url, state=logins["unverified"])
    try:
        verified.visit("/", shot="home-resident")
        verified.visit("/account", shot="account")
        verified.visit("/notifications", shot="notifications")
        for path in ["/account/password", "/account/sessions", "/account/delete"]:
            verified.visit(path)
        unverified.visit("/", shot="home-unverified")
        unverified.visit("/account")
        verified.visit("/worker", status=403, shot="403")
        # Form errors: an empty name, empty passwords, deleting without the password.
        verified.page.goto(live_server.url + "/account")
        verified.page.fill("#f-display_name", "")
        verified.submit("form[action='/account']")
        verified.scan("/account (empty name)", shot="account-errors")
        verified.submit_empty("/account/password")
        verified.submit_empty("/account/delete")
    finally:
        verified.close()
        unverified.close()
    assert_clean(verified, unverified)


def test_worker_pages(browser: Any, live_server: LiveServer, ids: dict[str, int],
                      logins: dict[str, dict[str, Any]]) -> None:
    v = Scanner(browser, live_server.url, state=logins["worker"])
    community = f"/worker/communities/{ids['community']}"
    try:
        v.visit("/worker", shot="worker-console")
        v.visit(f"{community}/households", shot="households")
        v.visit(f"/worker/residents/{ids['waiting']}/verify", shot="verify")
        for path in [f"/worker?community={ids['community']}",
                     f"/worker/residents/{ids['waiting']}/verify?q=%E6%B2%A1%E6%9C%89",
                     f"{community}/households?q=1%E5%8F%B7%E9%99%A2&page=2",
                     f"{community}/households/{ids['household']}/edit", f"{community}/verifications/import",
                     f"/areas/{ids['community']}"]:
            v.visit(path)
        v.visit(f"{community}/households/import", shot="households-import")
        v.visit(f"/worker/communities/{ids['other']}/households", status=404)
        v.submit_empty(f"{community}/households/new", shot="household-errors")
        v.submit_empty(f"/worker/residents/{ids['waiting']}/verify", form="main form[method=post][novalidate]")
        v.page.goto(live_server.url + f"{community}/households/{ids['household']}/edit")
        v.page.fill("#f-floor_area", "-3")
        v.submit()
        v.scan(f"{community}/households/…/edit (bad floor area)")
    finally:
        v.close()
    assert_clean(v)


def upload(v: Scanner, path: str, name: str, text: str) -> None:
    v.page.goto(v.base + path)
    v.page.set_input_files("#f-file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}])
    v.submit("main form[enctype]")


def test_admin_pages(browser: Any, live_server: LiveServer, ids: dict[str, int],
                     logins: dict[str, dict[str, Any]]) -> None:
    v = Scanner(browser, live_server.url, state=logins["admin"])
    other = f"/worker/communities/{ids['other']}"
    try:
        v.visit("/admin/areas", shot="admin-areas")
        v.visit(f"/admin/areas/{ids['community']}", shot="admin-area")
        v.visit("/admin/roles", shot="admin-roles")
        v.visit(f"/admin/roles/users/{ids['staff']}", shot="admin-roles-user")
        v.visit("/admin/units", shot="admin-units")
        for path in ["/admin/areas?level=community", "/admin/areas?level=compound&page=2",
                     f"/admin/areas/{ids['city']}", f"/admin/areas/{ids['compound']}", "/admin/areas/import",
                     "/worker"]:
            v.visit(path)
        # Form errors: each admin form submitted empty, and a CSV with broken lines.
        v.submit_empty("/admin/areas", form="form[action='/admin/areas/cities']")
        v.submit_empty(f"/admin/areas/{ids['street']}", form="form[action$='/children']")
        v.submit_empty("/admin/units", form="form[action='/admin/units']")
        v.submit_empty("/admin/roles", form="form[action='/admin/roles/find']")
        v.submit_empty(f"/admin/roles/users/{ids['staff']}", form="form[action$='/grant']")
        upload(v, "/admin/areas/import", "areas.csv", "code,name,level,parent_code\n,,planet,\nX1,Y,city,nope\n")
        v.scan("/admin/areas/import (lines to correct)", shot="admin-import-errors")

        # Imports into another community, and their result pages.
        v.page.goto(live_server.url + f"/admin/areas/{ids['other']}")
        code = re.search(r"(\d{6,})", v.page.locator("main p.meta").first.inner_text())
        assert code, "the community's code is shown"
        upload(v, "/admin/areas/import", "areas.csv",
               f"code,name,level,parent_code\n{code.group(1)}A11,无障碍测试楼,compound,{code.group(1)}\n")
        assert "/admin/areas/imports/" in v.page.url
        v.scan("/admin/areas/imports/… (result)", shot="admin-import-result")
        upload(v, f"{other}/households/import", "households.csv",
               "address,compound,floor_area\n无障碍测试楼1单元101室,无障碍测试楼,66.5\n")
        assert "/households/imports/" in v.page.url
        v.scan(f"{other}/households/imports/… (result)")
        resident = Scanner(browser, live_server.url)
        try:
            resident.page.goto(live_server.url + "/register")
            resident.page.fill("#f-identifier", NEW_RESIDENT)
            resident.page.fill("#f-display_name", "钱无障")
            resident.page.select_option("#f-home_area_id", str(ids["other"]))
            resident.page.fill("#f-password", "qian2026x")
            resident.page.fill("#f-password_confirm", "qian2026x")
            resident.submit()
        finally:
            resident.close()
        upload(v, f"{other}/verifications/import", "verifications.csv",
               f"phone,address\n{NEW_RESIDENT},无障碍测试楼1单元101室\n")
        assert "/verifications/imports/" in v.page.url, v.page.locator("main").inner_text()
        v.scan(f"{other}/verifications/imports/… (result)")
        upload(v, f"{other}/households/import", "households.csv", "address,compound,floor_area\n,没有这个楼,abc\n")
        v.scan(f"{other}/households/import (lines to correct)")
    finally:
        v.close()
    assert_clean(v)


def test_topic_pages(browser: Any, live_server: LiveServer, ids: dict[str, int],
                     logins: dict[str, dict[str, Any]]) -> None:
    """Neighbourhood topics (民事民提): every demo topic's page (each in another state), proposing one,
    my topics and the workers' triage queue."""
    anonymous = Scanner(browser, live_server.url)
    resident = Scanner(browser, live_server.url, state=logins["resident"])
    worker = Scanner(browser, live_server.url, state=logins["worker"])
    scanners = (anonymous, resident, worker)
    try:
        anonymous.page.goto(f"{live_server.url}/areas/{ids['community']}")
        topic_links = anonymous.page.locator("main a[href^='/topics/']")
        topics = sorted({href for href in (topic_links.nth(i).get_attribute("href") for i in range(topic_links.count()))
                         if href and re.fullmatch(r"/topics/\d+", href)})
        assert topics, "the demo community lists topics"
        for number, path in enumerate(topics):
            anonymous.visit(path, shot="topic" if number == 0 else None)
        resident.visit(topics[0], shot="topic-resident")
        resident.visit(f"/topics/new?area={ids['community']}", shot="topic-new")
        resident.submit_empty(f"/topics/new?area={ids['community']}", shot="topic-new-errors")
        resident.visit("/my/topics")
        worker.visit("/worker/triage", shot="triage")
        review = worker.page.locator("main a[href^='/worker/triage/']")
        if review.count():
            worker.visit(review.first.get_attribute("href") or "", shot="triage-topic")
            worker.scanned[-1] = "/worker/triage/… (review)"
    finally:
        for scanner in scanners:
            scanner.close()
    assert_clean(*scanners)


@pytest.mark.parametrize(("lang", "elderly"), [("en", False), ("zh_CN", True)], ids=["english", "elderly"])
def test_language_and_elderly_mode(browser: Any, live_server: LiveServer, ids: dict[str, int],
                                   logins: dict[str, dict[str, Any]], lang: str, elderly: bool) -> None:
    name = "elderly" if elderly else lang
    anonymous = Scanner(browser, live_server.url, lang=lang, elderly=elderly)
    resident, worker, admin = (Scanner(browser, live_server.url, state=logins[role], lang=lang, elderly=elderly)
                               for role in ("unverified", "worker", "admin"))
    scanners = (anonymous, resident, worker, admin)
    try:
        anonymous.visit("/", shot=f"home-{name}")
        assert ("elderly" in (anonymous.page.locator("html").get_attribute("class") or "")) == elderly
        assert anonymous.page.locator("html").get_attribute("lang") == ("en" if lang == "en" else "zh-CN")
        anonymous.visit(f"/search?q={SEARCH}")
        anonymous.visit(f"/areas/{ids['community']}")
        anonymous.visit("/no-such-page", status=404)
        anonymous.submit_empty("/register", shot=f"register-errors-{name}")
        resident.visit("/", shot=f"home-unverified-{name}")
        resident.visit("/account", shot=f"account-{name}")
        resident.visit("/notifications")
        resident.submit_empty("/account/password")
        worker.visit("/worker", shot=f"worker-console-{name}")
        worker.visit(f"/worker/residents/{ids['waiting']}/verify")
        worker.visit(f"/worker/communities/{ids['community']}/households", shot=f"households-{name}")
        worker.submit_empty(f"/worker/communities/{ids['community']}/households/new")
        admin.visit("/admin/areas", shot=f"admin-areas-{name}")
        admin.visit(f"/admin/areas/{ids['community']}")
        admin.visit(f"/admin/roles/users/{ids['staff']}")
        admin.submit_empty("/admin/roles", form="form[action='/admin/roles/find']")
    finally:
        for scanner in scanners:
            scanner.close()
    assert_clean(*scanners)
