"""The Meilisearch gateway's connections: kept alive between calls (the stock client opens one per call),
answers asked for uncompressed, and a connection that was closed or idle too long replaced without
Meilisearch counting as down."""

from __future__ import annotations

import pytest
from meilisearch.errors import MeilisearchCommunicationError, MeilisearchTimeoutError

from search import client as client_module
from search.client import MeiliGateway, MeiliUnavailable
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


async def test_waiting_for_a_task_asks_again_when_a_status_read_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A reindex waits for Meilisearch's tasks; a busy Meilisearch once took longer than the 2-s timeout to say how
    one stood, and the whole reindex failed. A status read is safe to repeat until the wait's own deadline."""

    class Task:
        status = "succeeded"
        error = None

    class SlowThenFine:
        reads = 0

        def get_task(self, uid: int) -> Task:
            self.reads += 1
            if self.reads == 1:
                raise MeilisearchTimeoutError("Read timed out. (read timeout=2.0)")
            return Task()

    fake = SlowThenFine()
    gateway = MeiliGateway("http://127.0.0.1:9", "key", timeout=2.0, index_prefix="t_")
    monkeypatch.setattr(gateway, "_client", lambda: fake)
    await gateway.wait(45)
    assert fake.reads == 2 and gateway.available


async def test_waiting_for_a_task_fails_when_meilisearch_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    class Refused:
        def get_task(self, uid: int) -> None:
            raise MeilisearchCommunicationError("Connection refused")

    gateway = MeiliGateway("http://127.0.0.1:9", "key", timeout=2.0, index_prefix="t_")
    monkeypatch.setattr(gateway, "_client", lambda: Refused())
    with pytest.raises(MeiliUnavailable):
        await gateway.wait(45)
    assert not gateway.available
