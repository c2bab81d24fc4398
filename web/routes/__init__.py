"""Every route table of the app; each domain area has its own module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.routes import account, accounts, areas, deliberation, dev, notifications, pages, search, worker


def all_routes() -> list[BaseRoute]:
    tables = [pages.routes, accounts.routes, areas.routes, worker.routes]
    tables += [account.routes, notifications.routes, dev.routes]
    tables += [search.routes, deliberation.routes]
    return [route for table in tables for route in table.routes]
