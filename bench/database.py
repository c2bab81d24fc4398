"""The harness's own PostgreSQL database: created at the start, dropped at the end, never anyone else's."""

from __future__ import annotations

import os
import secrets
import time

import asyncpg
from sqlalchemy.engine import URL, make_url

PREFIX = "yishiting_bench_"
DEFAULT_SERVER = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


class NotOurDatabase(ValueError):
    """The URL names a database the harness did not make for itself."""


def target_url(database_url: str | None) -> URL:
    """The URL of the database to create. Given a server URL (database ``postgres`` or none) a fresh
    ``yishiting_bench_<time>_<random>`` name is made; any other name must carry the prefix."""
    url = make_url(database_url or os.environ.get("BENCH_DATABASE_URL") or DEFAULT_SERVER)
    if url.get_backend_name() != "postgresql":
        raise NotOurDatabase(f"the benchmark runs on PostgreSQL only, not {url.get_backend_name()!r}")
    url = url.set(drivername="postgresql+asyncpg")
    if database_url and url.database not in (None, "", "postgres"):
        if not url.database.startswith(PREFIX):
            raise NotOurDatabase(
                f"refusing to use database {url.database!r}: the harness creates and drops its own database, "
                f"whose name must start with {PREFIX!r} (or give a server URL ending in /postgres)")
        return url
    return url.set(database=f"{PREFIX}{time.strftime('%Y%m%d%H%M%S')}_{secrets.token_hex(3)}")


def _connect_args(url: URL, database: str) -> dict[str, object]:
    return {"host": url.host or "127.0.0.1", "port": url.port or 5432, "user": url.username or "postgres",
            "password": url.password, "database": database}


async def server_version(url: URL) -> str:
    conn = await asyncpg.connect(**_connect_args(url, url.database or "postgres"))
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def check_server(url: URL) -> str | None:
    """``None`` if the PostgreSQL server answers, else what is wrong."""
    try:
        conn = await asyncpg.connect(**_connect_args(url, "postgres"), timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        return (f"PostgreSQL is not reachable at {url.host or '127.0.0.1'}:{url.port or 5432} as "
                f"{url.username or 'postgres'} ({exc}). Start it (e.g. `pg_ctlcluster 15 main start`) or pass "
                f"--database-url postgresql+asyncpg://user@host:port/postgres")
    await conn.close()
    return None


async def create(url: URL) -> None:
    assert url.database and url.database.startswith(PREFIX)
    conn = await asyncpg.connect(**_connect_args(url, "postgres"))
    try:
        await conn.execute(f'CREATE DATABASE "{url.database}"')
    finally:
        await conn.close()


async def drop(url: URL) -> None:
    assert url.database and url.database.startswith(PREFIX)
    conn = await asyncpg.connect(**_connect_args(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await conn.close()


async def raw_connect(url: URL) -> asyncpg.Connection:
    return await asyncpg.connect(**_connect_args(url, url.database or "postgres"))


def render(url: URL) -> str:
    return url.render_as_string(hide_password=False)
