"""web.heap: a production process compiles its templates up front and keeps its long-lived objects out
of the collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from jinja2 import TemplateNotFound
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.api.helpers import log_in, send
from tests.api.test_drafts_api import make_world, person
from tests.conftest import WebClient
from web import heap
from web.app import create_app
from web.settings import Settings
from web.templating import build_environment


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """The test process must not keep its own objects frozen after the test."""
    gc.unfreeze()
    try:
        yield
    finally:
        gc.unfreeze()


def test_settle_compiles_every_template_and_freezes_what_lives(unfrozen: None) -> None:
    jinja = build_environment(auto_reload=False)
    names = jinja.list_templates(extensions=("html",))
    assert len(names) > 50
    tracked_before = len(gc.get_objects())

    frozen = heap.settle(jinja)

    assert frozen == gc.get_freeze_count() > 10_000
    assert len(gc.get_objects()) < tracked_before / 4  # what a full collection still walks

    def no_files(*args: object) -> None:
        raise TemplateNotFound("the loader was asked again")

    jinja.loader.get_source = no_files  # type: ignore[union-attr,method-assign]
    for name in names:  # every page renders from the compiled template without reading its file again
        jinja.get_template(name)


async def test_only_a_process_told_to_settles_its_heap_when_it_starts(
        unfrozen: None, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    plain = create_app(settings, sessionmaker=sessionmaker)
    async with plain.router.lifespan_context(plain):
        assert gc.get_freeze_count() == 0
    server = create_app(settings.with_(freeze_heap=True), sessionmaker=sessionmaker)
    async with server.router.lifespan_context(server):
        assert gc.get_freeze_count() > 10_000


async def test_a_request_leaves_nothing_for_the_cyclic_collector(client: WebClient, db: AsyncSession) -> None:
    """When a request ends, reference counting frees its context, its database session and what that session
    loaded. (The request and its context held each other: every request's graph then waited for the cyclic
    collector, which took 7-10% of an app process's CPU in a city-scale comment surge.)"""
    world = await make_world(db)
    user, _ = await person(db, world, "王小明")
    await db.commit()
    await log_in(client, user)
    url = f"/api/v1/rounds/{world.round.id}/comments"
    article = world.articles[1].id
    assert (await send(client, "POST", url, {"provision_id": article, "body": "建议写明登记费用。"})).status_code == 201
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for k in range(3):
            sent = await send(client, "POST", url, {"provision_id": article, "body": f"第{k}条：登记可网上办理。"})
            assert sent.status_code == 201, sent.text
            assert (await client.get(f"/rounds/{world.round.id}/articles/{article}")).status_code == 200
            assert (await client.get("/")).status_code == 200
        gc.collect()
        left = {f"{type(o).__module__}.{type(o).__qualname__}" for o in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    # What is left are small cycles inside SQLAlchemy (an expression and its comparator, a loaded instance's state
    # and its weak reference, on SQLite a write session and its transaction). Nothing of the request's: nothing of
    # starlette's or the app's, not the person it loaded, nor a page's template context.
    assert sorted(name for name in left if name.startswith(("web.", "starlette.", "jinja2."))) == []
    assert not {"consultation.accounts.models.User", "consultation.policy.Actor"} & left
