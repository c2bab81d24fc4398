from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, axe_violations, screenshot

pytestmark = pytest.mark.browser


def test_home_page_on_a_phone(phone: Any, live_server: LiveServer) -> None:
    phone.goto(live_server.url + "/")
    assert phone.locator("h1").inner_text() == "身边事，大家议"
    assert axe_violations(phone) == []
    screenshot(phone, "home-phone")
