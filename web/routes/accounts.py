"""Registration, log-in (password or one-time code), log-out and password reset."""

from __future__ import annotations

from itsdangerous import BadSignature
from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts import codes
from consultation.accounts import services as accounts
from consultation.accounts.models import CodePurpose
from consultation.areas import queries as area_queries
from consultation.errors import N_, RateLimited, ValidationFailed
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect, safe_next
from web.i18n import gettext as _
from web.i18n import translate
from web.ratelimit import limit
from web.routing import RouteTable
from web.senders import code_channels
from web.templating import render

routes = RouteTable()
CODE_COOKIE = "ycode"  # remembers where the code went, to fill in the next form (10 minutes)


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
    await limit(ctx, f"login:{accounts.lockout_key(identifier)}", max_hits=10, per_seconds=300)
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


# One-time codes: log-in by code and password reset share the request step and its limits.

class CodeRateLimited(RateLimited):
    default = N_("A code was sent to this address a moment ago. Please wait {seconds} seconds before asking "
                 "for another one.")


CODE_FORMS = {
    CodePurpose.login: {"action": "/login/code", "next_url": "/login/code/enter",
                        "title": N_("Log in with a one-time code"),
                        "lead": N_("We send a 6-digit code to the mobile number or email of your account.")},
    CodePurpose.reset: {"action": "/password/forgot", "next_url": "/password/reset",
                        "title": N_("Forgot your password?"),
                        "lead": N_("We send a 6-digit code to the mobile number or email of your account; with "
                                   "it you choose a new password.")},
}


async def _limit_code_sending(ctx: Ctx, destination: codes.Destination) -> None:
    """At most one code a minute and five an hour to any one phone or email, whatever the purpose."""
    try:
        await limit(ctx, f"code:dest:{destination.value}:minute", max_hits=1, per_seconds=60)
        await limit(ctx, f"code:dest:{destination.value}:hour", max_hits=5, per_seconds=3600)
    except RateLimited as exc:
        raise CodeRateLimited(exc.retry_after) from None


async def _code_request_form(request: Request, ctx: Ctx, purpose: CodePurpose) -> Response:
    form = {"identifier": _remembered_identifier(ctx)}
    return render(request, "accounts/code_request.html", {"form": form, **CODE_FORMS[purpose]})


async def _code_request_submit(request: Request, ctx: Ctx, purpose: CodePurpose) -> Response:
    await limit(ctx, f"code:ip:{ctx.ip}", max_hits=20, per_seconds=3600)
    form = await form_fields(request)
    try:
        destination = codes.parse_destination(form.get("identifier", ""), channels=code_channels(ctx.settings))
    except ValidationFailed as exc:
        return invalid_form(request, "accounts/code_request.html", form, exc, CODE_FORMS[purpose])
    await _limit_code_sending(ctx, destination)
    await codes.request_code(ctx.db, destination, purpose, locale=ctx.locale, ip=ctx.ip)
    ctx.set_cookie(CODE_COOKIE, ctx.serializer("code").dumps(destination.value), max_age=600)
    # The same answer whether or not an account exists, so nobody can probe for accounts.
    ctx.flash(_("If an account uses {destination}, a 6-digit code is on its way to it. The code is valid "
                "for 10 minutes.", destination=destination.value), "info")
    return redirect(str(CODE_FORMS[purpose]["next_url"]))


def _remembered_identifier(ctx: Ctx) -> str:
    raw = ctx.request.cookies.get(CODE_COOKIE)
    if not raw:
        return ""
    try:
        value = ctx.serializer("code").loads(raw)
    except BadSignature:  # a tampered cookie just leaves the field empty
        return ""
    return value if isinstance(value, str) else ""


@routes.get("/login/code", name="login_code")
async def login_code_form(request: Request, ctx: Ctx) -> Response:
    if ctx.user is not None:
        return redirect("/")
    return await _code_request_form(request, ctx, CodePurpose.login)


@routes.post("/login/code", name="login_code_submit")
async def login_code_submit(request: Request, ctx: Ctx) -> Response:
    return await _code_request_submit(request, ctx, CodePurpose.login)


@routes.get("/login/code/enter", name="login_code_enter")
async def login_code_enter_form(request: Request, ctx: Ctx) -> Response:
    form = {"identifier": _remembered_identifier(ctx), "next": request.query_params.get("next", "")}
    return render(request, "accounts/code_enter.html", {"form": form})


@routes.post("/login/code/enter", name="login_code_enter_submit")
async def login_code_enter_submit(request: Request, ctx: Ctx) -> Response:
    await limit(ctx, f"code:check:ip:{ctx.ip}", max_hits=30, per_seconds=600)
    form = await form_fields(request)
    try:
        user = await codes.login_with_code(ctx.db, form.get("identifier", ""), form.get("code", ""),
                                           channels=code_channels(ctx.settings), ip=ctx.ip)
    except ValidationFailed as exc:  # returning (not raising) commits the counted attempt
        form.pop("code", None)
        return invalid_form(request, "accounts/code_enter.html", form, exc)
    token = await accounts.start_session(ctx.db, user, ip=ctx.ip, user_agent=request.headers.get("user-agent"))
    ctx.start_session(token)
    ctx.set_cookie(CODE_COOKIE, None)
    return redirect(safe_next(form.get("next")))


@routes.get("/password/forgot", name="password_forgot")
async def password_forgot_form(request: Request, ctx: Ctx) -> Response:
    return await _code_request_form(request, ctx, CodePurpose.reset)


@routes.post("/password/forgot", name="password_forgot_submit")
async def password_forgot_submit(request: Request, ctx: Ctx) -> Response:
    return await _code_request_submit(request, ctx, CodePurpose.reset)


@routes.get("/password/reset", name="password_reset")
async def password_reset_form(request: Request, ctx: Ctx) -> Response:
    return render(request, "accounts/password_reset.html", {"form": {"identifier": _remembered_identifier(ctx)}})


@routes.post("/password/reset", name="password_reset_submit")
async def password_reset_submit(request: Request, ctx: Ctx) -> Response:
    await limit(ctx, f"code:check:ip:{ctx.ip}", max_hits=30, per_seconds=600)
    form = await form_fields(request)
    data = codes.PasswordReset(identifier=form.get("identifier", ""), code=form.get("code", ""),
                               password=form.get("password", ""), password_confirm=form.get("password_confirm", ""))
    try:
        await codes.reset_password(ctx.db, data, channels=code_channels(ctx.settings), ip=ctx.ip)
    except ValidationFailed as exc:  # returning (not raising) commits the counted attempt
        for secret in ("code", "password", "password_confirm"):
            form.pop(secret, None)
        return invalid_form(request, "accounts/password_reset.html", form, exc)
    ctx.set_cookie(CODE_COOKIE, None)
    if ctx.user is not None:
        ctx.end_session()  # every session was revoked, this browser's too
    ctx.flash(_("Your password has been changed and every device was logged out. Log in with the new password."))
    return redirect("/login")
