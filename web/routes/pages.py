"""Home page and visitor preferences (language, elderly-friendly mode)."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consultation.areas import queries as area_queries
from web.context import ELDERLY_COOKIE, LANG_COOKIE, Ctx
from web.forms import form_fields, redirect, safe_next
from web.i18n import LOCALES
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()


@routes.get("/", name="home")
async def home(request: Request, ctx: Ctx) -> Response:
    home_area = None
    if ctx.user is not None and ctx.user.home_area_id is not None:
        home_area = await area_queries.get_area(ctx.db, ctx.user.home_area_id)
    districts = await area_queries.district_overview(ctx.db)
    return render(request, "pages/home.html", {"home_area": home_area, "districts": districts})


@routes.post("/prefs/language", name="set_language")
async def set_language(request: Request, ctx: Ctx) -> Response:
    form = await form_fields(request)
    locale = form.get("locale", "")
    if locale in LOCALES:
        ctx.set_cookie(LANG_COOKIE, locale, httponly=False)
        if ctx.user is not None:
            ctx.user.locale = locale
    return redirect(safe_next(form.get("next")))


@routes.post("/prefs/elderly", name="set_elderly")
async def set_elderly(request: Request, ctx: Ctx) -> Response:
    form = await form_fields(request)
    enabled = form.get("enabled") == "1"
    ctx.set_cookie(ELDERLY_COOKIE, "1" if enabled else "0", httponly=False)
    if ctx.user is not None:
        ctx.user.elderly_mode = enabled
    return redirect(safe_next(form.get("next")))


@routes.get("/healthz", name="healthz")
async def healthz(request: Request, ctx: Ctx) -> Response:
    await ctx.db.execute(text("SELECT 1"))
    return JSONResponse({"status": "ok"})
