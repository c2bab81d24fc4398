"""The schema comes from migrations only: upgrade, no drift (``alembic check``), clean downgrade."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from sqlalchemy import inspect

from tests import harness
from web.database import make_engine
from web.migrate import check, downgrade, upgrade

ROUND_TABLES = {"comment_round", "round_area", "draft_comment", "draft_comment_support", "round_theme",
                "draft_comment_theme"}


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


@pytest.fixture
def fresh_url(tmp_path):  # type: ignore[no-untyped-def]
    if harness.backend() == "postgres":
        url, name = asyncio.run(harness.create_postgres_database())
        yield url
        asyncio.run(harness.drop_postgres_database(name))
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"


def test_upgrade_check_downgrade_upgrade(fresh_url: str) -> None:
    upgrade(fresh_url)
    check(fresh_url)  # raises if models and migrated schema differ
    assert {"user_account", "area", "household", "outbox_message", "audit_event"} <= asyncio.run(_tables(fresh_url))
    downgrade(fresh_url, "0001")  # the comment rounds (0002) and the outbox's notify trigger (0003)
    assert not ROUND_TABLES & asyncio.run(_tables(fresh_url))
    assert "draft" in asyncio.run(_tables(fresh_url))
    downgrade(fresh_url, "base")
    remaining = asyncio.run(_tables(fresh_url)) - {"alembic_version"}
    assert not {t for t in remaining if not t.startswith("search_fts")}
    upgrade(fresh_url)
    check(fresh_url)


def test_backend_under_test_is_reported() -> None:
    expected = "postgres" if os.environ.get("TEST_BACKEND") == "postgres" else "sqlite"
    assert harness.backend() == expected


async def _persistence(url: str, table: str) -> str:
    engine = make_engine(url)
    async with engine.connect() as conn:
        kind = (await conn.exec_driver_sql(
            "SELECT relpersistence::text FROM pg_class WHERE relname = $1", (table,))).scalar_one()
    await engine.dispose()
    return str(kind)


@pytest.mark.skipif(harness.backend() != "postgres", reason="unlogged tables are PostgreSQL's")
def test_rate_limit_counters_are_unlogged_on_postgres(fresh_url: str) -> None:
    """Migration 0004: the counters write no WAL (a refused attempt's only write commits without a flush)."""
    upgrade(fresh_url)
    assert asyncio.run(_persistence(fresh_url, "rate_limit_bucket")) == "u"
    assert asyncio.run(_persistence(fresh_url, "audit_event")) == "p"  # what must survive a crash stays logged
    downgrade(fresh_url, "0003")
    assert asyncio.run(_persistence(fresh_url, "rate_limit_bucket")) == "p"


async def _attributes(url: str, stored: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    engine = make_engine(url)
    async with engine.begin() as conn:
        if stored is not None:
            await conn.exec_driver_sql(
                "INSERT INTO search_document (doc_type, object_id, title, body, url, area_ids, attributes, "
                "search_text, created_at, indexed_at) VALUES ('topic', 1, '充电桩', '', '/topics/1', ' 1 ', $1::json, "
                "'充电桩', now(), now())", (json.dumps(stored, ensure_ascii=False),))
        kind = (await conn.exec_driver_sql(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'search_document' "
            "AND column_name = 'attributes'")).scalar_one()
        value = (await conn.exec_driver_sql("SELECT attributes::text FROM search_document")).scalar_one()
    await engine.dispose()
    return str(kind), json.loads(value)


@pytest.mark.skipif(harness.backend() != "postgres", reason="JSONB is PostgreSQL's")
def test_search_attributes_become_jsonb_and_keep_their_values(fresh_url: str) -> None:
    """Migration 0005: a document stored as JSON text keeps its attributes as JSONB, and again after a downgrade."""
    upgrade(fresh_url, "0004")
    kept = {"category": "charging", "state": "collecting", "round": "3"}
    assert asyncio.run(_attributes(fresh_url, kept)) == ("json", kept)
    upgrade(fresh_url)
    assert asyncio.run(_attributes(fresh_url)) == ("jsonb", kept)
    downgrade(fresh_url, "0004")
    assert asyncio.run(_attributes(fresh_url)) == ("json", kept)
