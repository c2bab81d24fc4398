"""Every route table of the app; each domain area has its own module."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.api import comments as api_comments
from web.api import drafts as api_drafts
from web.api import meetings as api_meetings
from web.api import openapi as api_openapi
from web.api import polls as api_polls
from web.api import topics as api_topics
from web.routes import (
    account,
    accounts,
    areas,
    bench,
    comments,
    deliberation,
    dev,
    drafts,
    media,
    meetings,
    notifications,
    pages,
    poll_admin,
    polls,
    resolutions,
    round_admin,
    rounds,
    search,
    worker,
)


def all_routes() -> list[BaseRoute]:
    tables = [pages.routes, accounts.routes, areas.routes, worker.routes]
    tables += [account.routes, notifications.routes, dev.routes]
    tables += [search.routes, deliberation.routes]
    tables += [media.routes]
    tables += [resolutions.routes]
    tables += [comments.routes]
    tables += [meetings.routes]
    tables += [polls.routes, poll_admin.routes]
    tables += [drafts.routes, rounds.routes, round_admin.routes]
    tables += [api_topics.routes, api_comments.routes, api_meetings.routes, api_polls.routes, api_openapi.routes]
    tables += [api_drafts.routes]
    flagged = bench.bench_routes() if bench.enabled() else []  # BENCH_CEILING=1 only: never in production
    return [route for table in tables for route in table.routes] + flagged
