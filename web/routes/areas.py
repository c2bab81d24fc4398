"""Public area pages and the admin pages for the tree, CSV imports, units and role grants."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts import queries as account_queries
from consultation.accounts import services as accounts
from consultation.accounts.models import ROLE_LABELS, Role, User
from consultation.areas import csv_import, roles
from consultation.areas import queries as area_queries
from consultation.areas import services as areas
from consultation.areas.models import Area, AreaLevel, Unit
from consultation.deliberation import queries as topic_queries
from consultation.deliberation import resolutions
from consultation.errors import InvalidState, Message, ValidationFailed, msg
from consultation.meetings import queries as meeting_queries
from web.auth import require_permission
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect, upload
from web.i18n import gettext as _
from web.i18n import translate
from web.routes.polls import area_polls
from web.routing import RouteTable
from web.templating import render, render_for_anyone

routes = RouteTable()

ROW_ERRORS_SHOWN = 200


# --- shared helpers (also used by the worker console) -------------------------------------------

async def read_csv_upload(request: Request) -> tuple[str | None, bytes]:
    """The uploaded ``file`` field, read up to one byte past the limit so oversize files are caught."""
    file = await upload(request, "file")
    if file is None:
        raise csv_import.CsvRejected(file_error=msg("Choose a CSV file to upload."))
    return file.filename, await file.read(csv_import.MAX_BYTES + 1)


def csv_rejected(request: Request, template: str, exc: csv_import.CsvRejected, context: dict[str, Any]) -> Response:
    """The upload page again, with the file problem and every bad line listed (HTTP 422)."""
    row_errors = [(error.line, translate(error.message)) for error in exc.rows]
    hidden = max(0, len(row_errors) - ROW_ERRORS_SHOWN)
    return invalid_form(request, template, {}, exc,
                        {**context, "row_errors": row_errors[:ROW_ERRORS_SHOWN], "row_errors_hidden": hidden})


def csv_download(kind: str, filename: str) -> Response:
    body = csv_import.UTF8_BOM + csv_import.TEMPLATES[kind].encode("utf-8")
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def renamed(exc: ValidationFailed, names: dict[str, str]) -> ValidationFailed:
    """Service errors keyed by the page's own field names (a page with several forms prefixes them)."""
    return ValidationFailed({names.get(key, key): message for key, message in exc.errors.items()})


def level_options() -> list[tuple[str, str]]:
    return [(level.value, _(level.label)) for level in AreaLevel]


# --- public pages --------------------------------------------------------------------------------

@routes.get("/areas/{area_id:int}", name="area_page")
async def area_page(request: Request, ctx: Ctx) -> Response:
    """Anonymous visitors all get the same page (draft polls are for the people who manage them, and
    nothing else is decided per visitor), so it is rendered once and kept in ``web.page_cache`` until a
    table it read changes, in this process or another (``web.change_feed``). A signed-in person, who may just
    have raised a topic, always gets the page's sections afresh (the area tree as the process keeps it)."""
    area_id = request.path_params["area_id"]
    return await render_for_anyone(request, "areas/area.html", lambda: _public_area_context(ctx, area_id),
                                   cache="area_page", shareable=not request.url.query)


async def _public_area_context(ctx: Ctx, area_id: int) -> dict[str, Any]:
    page = await area_queries.area_page(ctx.db, area_id)  # none while the process keeps the tree
    area = page.area
    return {
        "area": area,
        "trail": page.trail,
        "children": page.children,
        "household_total": page.household_total,
        "topic_groups": await topic_queries.area_topics(ctx.db, area),
        "upcoming_meetings": await meeting_queries.upcoming_for_area(ctx.db, area),
        "recent_resolutions": await resolutions.recent_in(ctx.db, area),
        "area_polls": await area_polls(ctx, area),
    }


# --- the tree ------------------------------------------------------------------------------------

@routes.get("/admin/areas", name="admin_areas")
async def admin_areas(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    return render(request, "areas/admin_index.html", await _index_context(request, ctx))


async def _index_context(request: Request, ctx: Ctx) -> dict[str, Any]:
    level = request.query_params.get("level", "")
    level_page = None
    if level in AreaLevel.__members__:
        level_page = await area_queries.areas_at_level(
            ctx.db, AreaLevel(level), area_queries.page_number(request.query_params.get("page")))
    return {"tree": await area_queries.subtree(ctx.db, None, depth=3), "level": level, "level_page": level_page,
            "levels": level_options()}


@routes.post("/admin/areas/cities", name="admin_areas_create_city")
async def create_city(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    form = await form_fields(request)
    try:
        city = await areas.create_area(ctx.db, ctx.actor, name=form.get("name", ""), code=form.get("code", ""),
                                       level=AreaLevel.city, parent=None)
    except ValidationFailed as exc:
        return invalid_form(request, "areas/admin_index.html", form, exc, await _index_context(request, ctx))
    ctx.flash(_("{name} was created.", name=city.name))
    return redirect(f"/admin/areas/{city.id}")


@routes.get("/admin/areas/{area_id:int}", name="admin_area")
async def admin_area(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    area = await area_queries.get_area(ctx.db, request.path_params["area_id"])
    return render(request, "areas/admin_area.html", await _area_context(ctx, area) | {"form": {"name": area.name}})


async def _area_context(ctx: Ctx, area: Area) -> dict[str, Any]:
    return {
        "area": area,
        "trail": await area_queries.ancestors(ctx.db, area),
        "children": await area_queries.children_with_counts(ctx.db, area),
        "household_total": await area_queries.household_count(ctx.db, area),
    }


@routes.post("/admin/areas/{area_id:int}/children", name="admin_area_create_child")
async def create_child(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    parent = await area_queries.get_area(ctx.db, request.path_params["area_id"])
    form = await form_fields(request)
    try:
        if parent.level.child is None:
            raise ValidationFailed({"child_name": msg("Nothing can be placed under a {parent_label}.",
                                                      parent_label=parent.level.label)})
        child = await areas.create_area(ctx.db, ctx.actor, name=form.get("child_name", ""), parent=parent,
                                        code=form.get("child_code", ""), level=parent.level.child)
    except ValidationFailed as exc:
        exc = renamed(exc, {"name": "child_name", "code": "child_code", "level": "child_name"})
        return invalid_form(request, "areas/admin_area.html", {"name": parent.name, **form}, exc,
                            await _area_context(ctx, parent))
    ctx.flash(_("{name} was created.", name=child.name))
    return redirect(f"/admin/areas/{parent.id}")


@routes.post("/admin/areas/{area_id:int}/rename", name="admin_area_rename")
async def rename(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    area = await area_queries.get_area(ctx.db, request.path_params["area_id"])
    form = await form_fields(request)
    old_name = area.name
    try:
        await areas.rename_area(ctx.db, ctx.actor, area, name=form.get("name", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "areas/admin_area.html", form, exc, await _area_context(ctx, area))
    if area.name != old_name:
        ctx.flash(_("{old} is now called {new}.", old=old_name, new=area.name))
    return redirect(f"/admin/areas/{area.id}")


@routes.post("/admin/areas/{area_id:int}/delete", name="admin_area_delete")
async def delete(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    area = await area_queries.get_area(ctx.db, request.path_params["area_id"])
    try:
        await areas.delete_area(ctx.db, ctx.actor, area)
    except InvalidState as exc:
        ctx.flash(translate(exc.message), "error")
        return redirect(f"/admin/areas/{area.id}")
    ctx.flash(_("{name} was deleted.", name=area.name))
    return redirect(f"/admin/areas/{area.parent_id}" if area.parent_id else "/admin/areas")


# --- CSV import of the tree ----------------------------------------------------------------------

@routes.get("/admin/areas/import", name="admin_areas_import")
async def import_form(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    return render(request, "areas/import.html", {"levels": list(AreaLevel)})


@routes.post("/admin/areas/import", name="admin_areas_import_submit")
async def import_submit(request: Request, ctx: Ctx) -> Response:
    try:
        require_permission(ctx, "areas.manage")
        filename, data = await read_csv_upload(request)
        result = await csv_import.import_areas(ctx.db, ctx.actor, filename, data)
    except csv_import.CsvRejected as exc:
        return csv_rejected(request, "areas/import.html", exc, {"levels": list(AreaLevel)})
    finally:
        await request.close()  # the uploaded file's spool, even when refused before it was read
    return redirect(f"/admin/areas/imports/{result.event_id}")


@routes.get("/admin/areas/import/template.csv", name="admin_areas_import_template")
async def import_template(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    return csv_download("areas", "areas-template.csv")


@routes.get("/admin/areas/imports/{event_id:int}", name="admin_areas_import_result")
async def import_result(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    event = await area_queries.import_event(ctx.db, ctx.actor, request.path_params["event_id"], "areas.imported")
    after = event.after or {}
    return render(request, "areas/import_result.html", {
        "event": event, "count": after.get("count", 0),
        "by_level": [(level, after.get("by_level", {}).get(level.value, 0)) for level in AreaLevel],
        "areas": await area_queries.areas_by_ids(ctx.db, list(after.get("ids", []))[:ROW_ERRORS_SHOWN]),
    })


# --- responsible units ---------------------------------------------------------------------------

@routes.get("/admin/units", name="admin_units")
async def units(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    return render(request, "areas/units.html", await _units_context(ctx))


async def _units_context(ctx: Ctx) -> dict[str, Any]:
    return {"units": await area_queries.units(ctx.db),
            "area_options": [(area.id, label) for area, label in await area_queries.area_choices(ctx.db)]}


@routes.post("/admin/units", name="admin_units_create")
async def create_unit(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "areas.manage")
    form = await form_fields(request)
    area_id = int_or_none(form.get("area_id"))
    area = await ctx.db.get(Area, area_id) if area_id else None
    try:
        unit = await areas.create_unit(ctx.db, ctx.actor, name=form.get("name", ""), area=area)
    except ValidationFailed as exc:
        return invalid_form(request, "areas/units.html", form, exc, await _units_context(ctx))
    ctx.flash(_("{name} was created.", name=unit.name))
    return redirect("/admin/units")


# --- role grants ---------------------------------------------------------------------------------

@routes.get("/admin/roles", name="admin_roles")
async def roles_index(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "accounts.manage_roles")
    return render(request, "areas/roles.html", await _roles_context(ctx))


async def _roles_context(ctx: Ctx) -> dict[str, Any]:
    return {"grants": await area_queries.staff_grants(ctx.db)}


@routes.post("/admin/roles/find", name="admin_roles_find")
async def roles_find(request: Request, ctx: Ctx) -> Response:
    """Look a person up by phone or email (posted, so numbers stay out of URLs and logs)."""
    require_permission(ctx, "accounts.manage_roles")
    form = await form_fields(request)
    identifier = form.get("identifier", "").strip()
    user = await accounts.find_by_identifier(ctx.db, identifier) if identifier else None
    if user is None:
        problem: Message = (msg("No account uses this phone number or email.") if identifier
                            else msg("This field is required."))
        return invalid_form(request, "areas/roles.html", form, ValidationFailed({"identifier": problem}),
                            await _roles_context(ctx))
    return redirect(f"/admin/roles/users/{user.id}")


@routes.get("/admin/roles/users/{user_id:int}", name="admin_roles_user")
async def roles_user(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "accounts.manage_roles")
    person = await account_queries.get_user(ctx.db, request.path_params["user_id"])
    return render(request, "areas/roles_user.html", await _person_context(ctx, person))


async def _person_context(ctx: Ctx, person: User) -> dict[str, Any]:
    return {
        "person": person,
        "person_grants": await account_queries.grants_of(ctx.db, person.id),
        "role_options": [(role.value, _(label)) for role, label in ROLE_LABELS.items()],
        "area_options": [(area.id, label) for area, label in await area_queries.area_choices(ctx.db)],
        "unit_options": [(unit.id, unit.name) for unit in await area_queries.units(ctx.db)],
    }


@routes.post("/admin/roles/users/{user_id:int}/grant", name="admin_roles_grant")
async def roles_grant(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "accounts.manage_roles")
    person = await account_queries.get_user(ctx.db, request.path_params["user_id"])
    form = await form_fields(request)
    role = Role(form["role"]) if form.get("role") in Role.__members__ else None
    area_id, unit_id = int_or_none(form.get("area_id")), int_or_none(form.get("unit_id"))
    area = await ctx.db.get(Area, area_id) if area_id else None
    unit = await ctx.db.get(Unit, unit_id) if unit_id else None
    try:
        await roles.grant_role(ctx.db, ctx.actor, person, role, area=area, unit=unit)
    except ValidationFailed as exc:
        return invalid_form(request, "areas/roles_user.html", form, exc, await _person_context(ctx, person))
    assert role is not None
    ctx.flash(_("{name} is now {role}.", name=person.display_name, role=_(ROLE_LABELS[role])))
    return redirect(f"/admin/roles/users/{person.id}")


@routes.post("/admin/roles/users/{user_id:int}/grants/{grant_id:int}/revoke", name="admin_roles_revoke")
async def roles_revoke(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "accounts.manage_roles")
    person = await account_queries.get_user(ctx.db, request.path_params["user_id"])
    grant = await roles.grant_of(ctx.db, person, request.path_params["grant_id"])
    try:
        await roles.revoke_role(ctx.db, ctx.actor, grant)
    except InvalidState as exc:
        ctx.flash(translate(exc.message), "error")
    else:
        ctx.flash(_("The role {role} was revoked.", role=_(ROLE_LABELS[grant.role])))
    return redirect(f"/admin/roles/users/{person.id}")
