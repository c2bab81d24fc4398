"""The Meilisearch gateway's connections: kept alive between calls (the stock client opens one per call),
answers asked for uncompressed, and a connection that was closed or idle too long replaced without
Meilisearch counting as down."""

from __future__ import annotations

import pytest

from search import client as client_module
from search.client import MeiliGateway
from tests.search.conftest import SwitchableProxy
from web.settings import Settings


def gateway_through(proxy: SwitchableProxy, settings: Settings) -> MeiliGateway:
    return MeiliGateway(proxy.url, settings.meili_master_key, timeout=2.0, index_prefix=settings.meili_index_prefix)


async def test_calls_share_one_connection_and_ask_for_plain_answers(
    meili_settings: Settings, meili_proxy: SwitchableProxy,
) -> None:
    await meili_proxy.start()
    gateway = gateway_through(meili_proxy, meili_settings)
    for _ in range(3):
        assert (await gateway.call(lambda c: c.health()))["status"] == "available"
        await gateway.call(lambda c: c.index("missing").http.get("version"))  # an index's calls too
    assert meili_proxy.connections == 1
    answer = await gateway.call(lambda c: c.session.get(f"{c.config.url}/version",
                                                        headers={"Authorization": f"Bearer {c.config.api_key}"}))
    assert answer.status_code == 200 and "Content-Encoding" not in answer.headers
    assert answer.request.headers["Accept-Encoding"] == "identity"


async def test_a_closed_connection_is_replaced_without_an_outage(
    meili_settings: Settings, meili_proxy: SwitchableProxy,
) -> None:
    await meili_proxy.start()
    gateway = gateway_through(meili_proxy, meili_settings)
    await gateway.call(lambda c: c.health())
    await meili_proxy.stop()  # closes the kept connection
    await meili_proxy.start()
    assert (await gateway.call(lambda c: c.health()))["status"] == "available"
    assert gateway.available and meili_proxy.connections == 2


async def test_an_idle_connection_is_not_reused(
    meili_settings: Settings, meili_proxy: SwitchableProxy, monkeypatch: pytest.MonkeyPatch,
) -> None:
    await meili_proxy.start()
    gateway = gateway_through(meili_proxy, meili_settings)
    monkeypatch.setattr(client_module, "REUSE_IDLE_SECONDS", -1.0)  # every connection counts as idle too long
    for _ in range(3):
        await gateway.call(lambda c: c.health())
    assert meili_proxy.connections == 3
