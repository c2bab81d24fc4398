"""Registration, log-in and log-out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts import services as accounts
from consultation.areas import queries as area_queries
from consultation.errors import ValidationFailed
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect, safe_next
from web.i18n import gettext as _
from web.i18n import translate
from web.ratelimit import limit
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()


async def _register_context(ctx: Ctx) -> dict[str, object]:
    return {"community_options": [(area.id, label) for area, label in await area_queries.communities(ctx.db)]}


@routes.get("/register", name="register")
async def register_form(request: Request, ctx: Ctx) -> Response:
    if ctx.user is not None:
        return redirect("/")
    return render(request, "accounts/register.html", await _register_context(ctx))


@routes.post("/register", name="register_submit")
async def register_submit(request: Request, ctx: Ctx) -> Response:
    await limit(ctx, f"register:ip:{ctx.ip}", max_hits=10, per_seconds=3600)
    form = await form_fields(request)
    data = accounts.Registration(
        identifier=form.get("identifier", ""),
        display_name=form.get("display_name", ""),
        password=form.get("password", ""),
        password_confirm=form.get("password_confirm", ""),
        home_area_id=int_or_none(form.get("home_area_id")),
    )
    try:
        user = await accounts.register(ctx.db, data, ip=ctx.ip)
    except ValidationFailed as exc:
        form.pop("password", None)
        form.pop("password_confirm", None)
        return invalid_form(request, "accounts/register.html", form, exc, await _register_context(ctx))
    token = await accounts.start_session(ctx.db, user, ip=ctx.ip, user_agent=request.headers.get("user-agent"))
    ctx.start_session(token)
    ctx.flash(_("Welcome! Your account is ready. A community worker will verify you as a resident."))
    return redirect("/")


@routes.get("/login", name="login")
async def login_form(request: Request, ctx: Ctx) -> Response:
    if ctx.user is not None:
        return redirect(safe_next(request.query_params.get("next")))
    return render(request, "accounts/login.html", {"form": {"next": request.query_params.get("next", "")}})


@routes.post("/login", name="login_submit")
async def login_submit(request: Request, ctx: Ctx) -> Response:
    form = await form_fields(request)
    identifier = form.get("identifier", "").strip()
    await limit(ctx, f"login:ip:{ctx.ip}", max_hits=20, per_seconds=300)
    await limit(ctx, f"login:id:{identifier.lower()}", max_hits=10, per_seconds=300)
    errors = {}
    if not identifier:
        errors["identifier"] = _("This field is required.")
    if not form.get("password"):
        errors["password"] = _("This field is required.")
    if not errors:
        result = await accounts.authenticate(ctx.db, identifier, form.get("password", ""), ip=ctx.ip)
        if result.user is not None:
            token = await accounts.start_session(ctx.db, result.user, ip=ctx.ip,
                                                 user_agent=request.headers.get("user-agent"))
            ctx.start_session(token)
            return redirect(safe_next(form.get("next")))
        assert result.error is not None
        errors[""] = translate(result.error)
    form.pop("password", None)
    return render(request, "accounts/login.html", {"form": form, "errors": errors}, status_code=422)


@routes.post("/logout", name="logout")
async def logout(request: Request, ctx: Ctx) -> Response:
    if ctx.session_token:
        await accounts.end_session(ctx.db, ctx.session_token)
    ctx.end_session()
    ctx.flash(_("You have logged out."))
    return redirect("/")
