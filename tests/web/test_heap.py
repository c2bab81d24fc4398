"""web.heap: a production process compiles its templates up front and keeps its long-lived objects out
of the collector's full passes."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from jinja2 import TemplateNotFound
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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
