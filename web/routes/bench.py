"""The benchmark's two reference ceilings (issue 6), registered only when ``BENCH_CEILING=1``.

They bypass the request pipeline on purpose: ``/_bench/plain`` is a plain Starlette endpoint and
``/_bench/minimal`` the smallest real page (one ORM query for 20 rows, rendered with Jinja2). Every
scenario of the harness is reported as a ratio to them, measured on the same server in the same run.
``/_bench/caches`` tells which worker process answered and its page caches' hits and misses, so the
harness can say how much of a scenario was served from them. Production never sets the flag, so these
paths do not exist there.
"""

from __future__ import annotations

import os

from jinja2 import Environment
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from consultation.deliberation.models import Topic
from web import page_cache

FLAG = "BENCH_CEILING"

_PAGE = Environment(autoescape=True).from_string(
    "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>议题</title></head><body><ul>"
    "{% for topic in topics %}<li><a href=\"/topics/{{ topic.id }}\">{{ topic.title }}</a> "
    "{{ topic.cosign_count }} · {{ topic.created_at.strftime('%Y-%m-%d') }}</li>{% endfor %}</ul></body></html>"
)


async def plain(request: Request) -> Response:
    return PlainTextResponse("ok")


async def minimal(request: Request) -> Response:
    async with request.app.state.sessionmaker() as session:
        topics = (await session.scalars(select(Topic).order_by(Topic.id).limit(20))).all()
    return HTMLResponse(_PAGE.render(topics=topics))


async def caches(request: Request) -> Response:
    return JSONResponse({"pid": os.getpid(), "caches": page_cache.counts(request.app)},
                        headers={"Connection": "close"})


def enabled() -> bool:
    return os.environ.get(FLAG) == "1"


def bench_routes() -> list[BaseRoute]:
    return [Route("/_bench/plain", plain, methods=["GET"]), Route("/_bench/minimal", minimal, methods=["GET"]),
            Route("/_bench/caches", caches, methods=["GET"])]
