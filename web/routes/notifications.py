"""The notification centre: list, open (marks read), mark read, mark all read."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from consultation.notifications import queries, services
from web.auth import require_user
from web.context import Ctx
from web.forms import int_or_none, redirect, safe_next
from web.i18n import gettext as _
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()


@routes.get("/notifications", name="notifications")
async def centre(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    page = min(int_or_none(request.query_params.get("page")) or 1, 1000)
    items, more = await queries.inbox(ctx.db, user.id, page=page)
    return render(request, "notifications/index.html", {"items": items, "page": page, "more": more})


@routes.post("/notifications/{notification_id:int}/open", name="notification_open")
async def open_notification(request: Request, ctx: Ctx) -> Response:
    """Following a notification's link marks it read."""
    user = require_user(ctx)
    notification = await services.mark_read(ctx.db, user.id, request.path_params["notification_id"])
    return redirect(safe_next(notification.url, "/notifications"))


@routes.post("/notifications/{notification_id:int}/read", name="notification_read")
async def mark_read(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    await services.mark_read(ctx.db, user.id, request.path_params["notification_id"])
    return redirect("/notifications")


@routes.post("/notifications/read-all", name="notifications_read_all")
async def mark_all_read(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    await services.mark_all_read(ctx.db, user.id)
    ctx.flash(_("All notifications are marked as read."))
    return redirect("/notifications")
