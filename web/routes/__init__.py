"""Every route table of the app; each domain area has its own module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.routes import accounts, pages


def all_routes() -> list[BaseRoute]:
    tables = [pages.routes, accounts.routes]
    return [route for table in tables for route in table.routes]
