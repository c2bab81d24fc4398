"""Development-only pages: the local message outbox where codes and emails land. 404 in production."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from consultation.errors import NotFound
from consultation.notifications import queries
from web.context import Ctx
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()


@routes.get("/dev/outbox", name="dev_outbox")
async def outbox(request: Request, ctx: Ctx) -> Response:
    if not ctx.settings.dev_tools:
        raise NotFound()
    return render(request, "dev/outbox.html", {"messages": await queries.dev_messages(ctx.db)})
