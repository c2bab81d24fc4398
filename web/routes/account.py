"""A person's own account: profile, password, sessions, download my data, delete my account."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from consultation import audit
from consultation.accounts import personal_data, selfservice
from consultation.accounts import queries as account_queries
from consultation.accounts import services as accounts
from consultation.accounts.display import public_name
from consultation.accounts.models import User
from consultation.errors import ValidationFailed
from web import i18n
from web.auth import require_user
from web.context import ELDERLY_COOKIE, LANG_COOKIE, Ctx
from web.forms import form_fields, invalid_form, redirect
from web.i18n import gettext as _
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()


def _profile_form(user: User) -> dict[str, str]:
    return {"display_name": user.display_name, "show_full_name": "1" if user.show_full_name else "",
            "locale": user.locale, "elderly_mode": "1" if user.elderly_mode else ""}


async def _profile_context(ctx: Ctx, user_id: int) -> dict[str, object]:
    user = await account_queries.get_user(ctx.db, user_id)
    return {
        "me": user,
        "grants": await account_queries.grants_of(ctx.db, user_id),
        "verifications": await personal_data.verifications(ctx.db, user_id),
        "locale_options": [(code, i18n.LOCALE_NAMES[code]) for code in i18n.LOCALES],
    }


@routes.get("/account", name="account")
async def profile(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    return render(request, "accounts/profile.html", {"form": _profile_form(user),
                                                     **await _profile_context(ctx, user.id)})


@routes.post("/account", name="account_update")
async def profile_update(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    form = await form_fields(request)
    change = selfservice.ProfileChange(
        display_name=form.get("display_name", ""),
        show_full_name=form.get("show_full_name") == "1",
        locale=form.get("locale", ""),
        elderly_mode=form.get("elderly_mode") == "1",
    )
    try:
        await selfservice.update_profile(ctx.db, user, change, locales=i18n.LOCALES, ip=ctx.ip)
    except ValidationFailed as exc:
        return invalid_form(request, "accounts/profile.html", form, exc, await _profile_context(ctx, user.id))
    # The visitor cookies win over the profile (see web.context), so they follow the new choice.
    ctx.set_cookie(LANG_COOKIE, change.locale, httponly=False)
    ctx.set_cookie(ELDERLY_COOKIE, "1" if change.elderly_mode else "0", httponly=False)
    i18n.current_locale.set(change.locale)
    ctx.flash(_("Your profile has been saved."))
    return redirect("/account")


@routes.get("/account/password", name="account_password")
async def password_form(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    return render(request, "accounts/password_change.html")


@routes.post("/account/password", name="account_password_submit")
async def password_submit(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    form = await form_fields(request)
    data = selfservice.PasswordChange(current_password=form.get("current_password", ""),
                                      password=form.get("password", ""),
                                      password_confirm=form.get("password_confirm", ""))
    try:
        revoked = await selfservice.change_password(ctx.db, user, data, keep_token=ctx.session_token, ip=ctx.ip)
    except ValidationFailed as exc:  # returning commits the audited failure
        return invalid_form(request, "accounts/password_change.html", {}, exc)
    ctx.flash(i18n.ngettext("Your password has been changed. {n} other device was logged out.",
                            "Your password has been changed. {n} other devices were logged out.", revoked))
    return redirect("/account")


@routes.get("/account/sessions", name="account_sessions")
async def sessions(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    current = accounts.token_hash(ctx.session_token) if ctx.session_token else None
    rows = [(s, s.token_hash == current) for s in await personal_data.active_sessions(ctx.db, user.id)]
    return render(request, "accounts/sessions.html", {"sessions": rows})


@routes.post("/account/sessions/{session_id:int}/revoke", name="account_session_revoke")
async def session_revoke(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    revoked = await selfservice.revoke_session(ctx.db, user, request.path_params["session_id"], ip=ctx.ip)
    if ctx.session_token and revoked.token_hash == accounts.token_hash(ctx.session_token):
        ctx.end_session()
        ctx.flash(_("You have logged out."))
        return redirect("/")
    ctx.flash(_("That device has been logged out."))
    return redirect("/account/sessions")


@routes.post("/account/sessions/revoke-others", name="account_sessions_revoke_others")
async def sessions_revoke_others(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    count = await accounts.revoke_all_sessions(ctx.db, user.id, ip=ctx.ip, except_token=ctx.session_token)
    ctx.flash(i18n.ngettext("{n} other device was logged out.", "{n} other devices were logged out.", count))
    return redirect("/account/sessions")


@routes.post("/account/sessions/revoke-all", name="account_sessions_revoke_all")
async def sessions_revoke_all(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    await accounts.revoke_all_sessions(ctx.db, user.id, ip=ctx.ip)
    ctx.end_session()
    ctx.flash(_("You have been logged out on every device, this one included."))
    return redirect("/login")


@routes.post("/account/export", name="account_export")
async def export(request: Request, ctx: Ctx) -> Response:
    """Download my data: a JSON file of everything kept about the person (no secrets)."""
    user = require_user(ctx)
    await selfservice.throttle(ctx.db, user.id, "data.exported", allowed=selfservice.EXPORTS_ALLOWED,
                               window=selfservice.EXPORT_WINDOW)
    data = await personal_data.export(ctx.db, user.id)
    await audit.record(ctx.db, "data.exported", "user", user.id, actor_id=user.id, ip=ctx.ip)
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    filename = f"yishiting-my-data-{user.id}.json"
    return Response(body, media_type="application/json; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@routes.get("/account/delete", name="account_delete")
async def delete_form(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    return render(request, "accounts/delete.html", {"shown_as": public_name(user)})


@routes.post("/account/delete", name="account_delete_submit")
async def delete_submit(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    form = await form_fields(request)
    try:
        await selfservice.delete_account(ctx.db, user, form.get("password", ""), ip=ctx.ip)
    except ValidationFailed as exc:  # returning commits the audited failure
        return invalid_form(request, "accounts/delete.html", {}, exc, {"shown_as": public_name(user)})
    ctx.end_session()
    ctx.flash(_("Your account has been deleted. What you contributed stays, without your name."))
    return redirect("/")

