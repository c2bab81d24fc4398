"""Route tables and the single request pipeline every endpoint runs through.

The pipeline opens the request's one database session (the unit of work), loads who is asking,
enforces CSRF on every unsafe method, runs the handler, commits once if it returned, rolls back
if it raised, and finally writes the queued cookies. Because every route is registered through
``RouteTable``, no endpoint can skip CSRF or the unit of work.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette._utils import get_route_path
from starlette.convertors import IntegerConvertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

from consultation.errors import N_, Forbidden
from consultation.meetings.models import ATTENDANCE_SHEET_MAX
from web.context import Ctx, load_context


class BoundedIntConvertor(IntegerConvertor):
    """``{x:int}`` path parameters: at most 9 digits, so an id never overflows a database integer."""

    regex = "[0-9]{1,9}"


# Registered before any route is built, so it replaces Starlette's unbounded "int" everywhere.
register_url_convertor("int", BoundedIntConvertor())

Handler = Callable[[Request, Ctx], Awaitable[Response]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
# Fields one form may carry: the largest is a session's attendance sheet (a checkbox per seat and per
# walk-in), plus the fields around it. Beyond this the form is refused (as a CSRF failure).
MAX_FORM_FIELDS = ATTENDANCE_SHEET_MAX + 100
MAX_FORM_FILES = 12  # 6 photos, and a clear message beyond
# One text field may be as large as the request body limit lets it be (a pasted draft regulation up to
# 2 MB gets the handler's own message); the parser's default of 1 MB would refuse it unexplained.
MAX_FORM_PART_BYTES = 3 * 1024 * 1024


class CsrfFailed(Forbidden):
    default = N_("Your form has expired or did not come from this site. Go back, reload the page and try again.")


class RouteTable:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, path: str, handler: Handler, *, methods: tuple[str, ...] = ("GET",), name: str | None = None,
            csrf: bool = True, autocommit: bool = False) -> None:
        """``autocommit``: every write the handler makes is one statement, atomic by itself, so on PostgreSQL
        it runs without a transaction around it (``web.database.make_statement_sessionmaker``)."""
        self.routes.append(Route(path, _endpoint(handler, csrf=csrf, autocommit=autocommit), methods=list(methods),
                                 name=name or handler.__name__))

    def get(self, path: str, name: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, methods=("GET",), name=name)

    def post(self, path: str, name: str | None = None) -> Callable[[Handler], Handler]:
        return self.route(path, methods=("POST",), name=name)

    def route(self, path: str, *, methods: tuple[str, ...], name: str | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(path, handler, methods=methods, name=name)
            return handler

        return register


def _endpoint(handler: Handler, *, csrf: bool, autocommit: bool = False) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = request.app.state
        writes = request.method not in SAFE_METHODS
        async with sessionmaker_for(state, writes=writes, autocommit=autocommit)() as db:
            ctx = await load_context(request, db, request.app.state.settings)
            request.state.ctx = ctx
            try:
                if csrf and request.method not in SAFE_METHODS:
                    await check_csrf(request, ctx)
                response = await handler(request, ctx)
                await db.commit()
            except BaseException:
                await db.rollback()
                raise
            finally:
                await request.close()  # closes spooled uploads even when the handler never read them
        ctx.apply_cookies(response)
        # The request holds its context and the context its request: a cycle that reference counting cannot
        # free, so each request's whole graph (its session, identity map, user) waited for the cyclic collector,
        # which then spent 7-10% of an app process's CPU under a comment surge. Once the response exists
        # nothing reads it there any more (on an error, the handlers still find it).
        del request.state.ctx
        if ctx.user is not None or request.method not in SAFE_METHODS:
            response.headers.setdefault("Cache-Control", "private, no-store")
        after_commit = getattr(request.app.state, "after_commit", None)
        if after_commit is not None:
            after_commit()
        return response

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    endpoint.autocommit = autocommit  # type: ignore[attr-defined]  # for the tests: which routes run so
    return endpoint


def sessionmaker_for(state: Any, *, writes: bool, autocommit: bool) -> async_sessionmaker[AsyncSession]:
    """Reads: ``state.sessionmaker``; writes: ``state.write_sessionmaker``, or ``state.statement_sessionmaker``
    for an ``autocommit`` route (``web.database``)."""
    if not writes:
        return state.sessionmaker
    return state.statement_sessionmaker if autocommit else state.write_sessionmaker


async def check_csrf(request: Request, ctx: Ctx) -> None:
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host"):
        raise CsrfFailed()
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form(max_files=MAX_FORM_FILES, max_fields=MAX_FORM_FIELDS,
                                      max_part_size=MAX_FORM_PART_BYTES)
            value = form.get(CSRF_FIELD)
            supplied = value if isinstance(value, str) else None
    cookie = request.cookies.get("ycsrf")
    if not supplied or not cookie or not hmac.compare_digest(supplied, cookie):
        raise CsrfFailed()


class SegmentRouter(Router):
    """Starlette's router, trying only the routes that can match the request path's first segment.

    Starlette tries every route in order until one matches: with about 200 routes, a path near the end
    of the table (the JSON API, where every ballot and comment of a surge arrives) cost 80-90 µs of
    regular-expression matching per request. Here the routes are grouped by their first path segment
    (``/api/…``, ``/topics/…``); a request is tried, in the table's order, against its group and the
    routes whose first segment is a parameter. The result is the same as Starlette's: the first full
    match wins, else the first partial match (405), else the trailing-slash redirect, else 404."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._groups: dict[str, list[BaseRoute]] = {}
        self._anywhere: list[BaseRoute] = []
        self._grouped = -1  # len(self.routes) when grouped: a test may add routes to a built app

    def candidates(self, route_path: str) -> list[BaseRoute]:
        if self._grouped != len(self.routes):
            self._group()
        return self._groups.get(route_path[1:].partition("/")[0], self._anywhere)

    def _group(self) -> None:
        keys = [_first_segment(route) for route in self.routes]
        self._groups = {key: [route for route, k in zip(self.routes, keys, strict=True) if k in (key, None)]
                        for key in keys if key is not None}
        self._anywhere = [route for route, k in zip(self.routes, keys, strict=True) if k is None]
        self._grouped = len(self.routes)

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await super().app(scope, receive, send)  # lifespan
            return
        scope.setdefault("router", self)
        partial = partial_scope = None
        for route in self.candidates(get_route_path(scope)):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
            if match is Match.PARTIAL and partial is None:
                partial, partial_scope = route, child_scope
        if partial is not None and partial_scope is not None:
            scope["route"] = partial
            scope.update(partial_scope)
            await partial.handle(scope, receive, send)
            return
        await super().app(scope, receive, send)  # nothing here: Starlette's trailing-slash redirect or 404


def _first_segment(route: BaseRoute) -> str | None:
    """The literal first segment every path the route matches starts with; ``None`` when it may be any."""
    path = getattr(route, "path", None)
    if not isinstance(path, str) or (isinstance(route, Mount) and not path.strip("/")):
        return None
    first = path[1:].partition("/")[0]
    return None if "{" in first else first
