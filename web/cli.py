"""The ``yishiting`` command: serve, migrate, demo, worker, reindex, purge-uploads, createadmin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys

from web.settings import Settings, from_env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="yishiting", description="Yishiting (议事厅) platform")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the web application")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="app processes sharing one socket; production runs "
                       "gunicorn with --reuse-port instead, which spreads connections evenly (README)")
    serve.add_argument("--reload", action="store_true")
    sub.add_parser("migrate", help="apply database migrations (alembic upgrade head)")
    demo = sub.add_parser("demo", help="load demo data into an empty database")
    demo.add_argument("--force", action="store_true", help="load even if areas already exist")
    sub.add_parser("worker", help="run the outbox worker (production: its own process)")
    sub.add_parser("reindex", help="rebuild the search index and swap it in")
    sub.add_parser("purge-uploads", help="delete photo uploads never attached to a topic within 24 hours (cron)")
    admin = sub.add_parser("createadmin", help="create an administrator account")
    admin.add_argument("identifier", help="mobile number or email")
    admin.add_argument("--name", default="管理员")
    admin.add_argument("--password", help="read from the terminal (or YISHITING_ADMIN_PASSWORD) if omitted")
    args = parser.parse_args(argv)

    settings = from_env()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "serve":
        return _serve(settings, args)
    if args.command == "migrate":
        from web.migrate import upgrade

        upgrade(settings.database_url)
        print("database is at the newest migration")
        return 0
    if args.command == "demo":
        from web.demo import load_demo

        return asyncio.run(load_demo(settings, force=args.force))
    if args.command == "worker":
        from web.worker import run_worker

        asyncio.run(run_worker(settings))
        return 0
    if args.command == "reindex":
        from web.worker import reindex

        return asyncio.run(reindex(settings))
    if args.command == "purge-uploads":
        return asyncio.run(_purge_uploads(settings))
    if args.command == "createadmin":
        password = args.password or os.environ.get("YISHITING_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        from web.worker import create_admin

        return asyncio.run(create_admin(settings, args.identifier, args.name, password))
    parser.error("unknown command")
    return 2


async def _purge_uploads(settings: Settings) -> int:
    from consultation.deliberation.photos import purge_stale_uploads
    from web.database import make_engine, make_write_sessionmaker

    engine = make_engine(settings.database_url, pool_size=2)
    try:
        async with make_write_sessionmaker(engine)() as session, session.begin():
            deleted = await purge_stale_uploads(session)
        print(f"deleted {deleted} stale photo uploads")
        return 0
    finally:
        await engine.dispose()


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "web.asgi:app",
        host=args.host,
        port=args.port,
        workers=None if args.reload else args.workers,
        reload=args.reload,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        log_level=settings.log_level.lower(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
