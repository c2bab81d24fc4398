"""The community worker's console: verification queue, households of their communities, CSV imports.

Every page first requires the console permission (403 for everybody else), then reaches the
community, household or resident through an access function, so a worker of community A asking
for anything of community B gets the same 404 as for something that does not exist.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts import services as accounts
from consultation.accounts.models import User, VerificationMethod
from consultation.areas import csv_import
from consultation.areas import queries as area_queries
from consultation.areas import services as areas
from consultation.areas.models import Area
from consultation.errors import N_, Conflict, Message, NotFound, ValidationFailed, msg
from consultation.validation import check_length
from web.auth import require_permission
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect
from web.i18n import gettext as _
from web.routes.areas import csv_download, csv_rejected, read_csv_upload
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()

METHOD_LABELS = {
    VerificationMethod.in_person: N_("In person, with an identity document"),
    VerificationMethod.household_register: N_("From the household register"),
    VerificationMethod.csv_import: N_("From an imported list (CSV)"),
}
# A CSV list is recorded as such by the bulk import only: the manual form offers what a worker can check.
MANUAL_METHODS = (VerificationMethod.in_person, VerificationMethod.household_register)
HOUSEHOLDS_PER_PAGE = 50
HOUSEHOLD_CHOICES = 200
RESULTS_SHOWN = 200


def require_console(ctx: Ctx) -> None:
    """The gate of every worker page (here and in other route modules): signed in, then staff."""
    require_permission(ctx, "accounts.worker_console")


async def _community(request: Request, ctx: Ctx) -> Area:
    require_console(ctx)
    return await area_queries.community_for(ctx.db, ctx.actor, request.path_params["community_id"])


# --- console and verification --------------------------------------------------------------------

@routes.get("/worker", name="worker_console")
async def console(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    scopes = await area_queries.worker_communities(ctx.db, ctx.actor)
    selected = next((scope for scope in scopes
                     if scope.community.id == int_or_none(request.query_params.get("community"))), None)
    ids: list[int] | None = [scope.community.id for scope in scopes]
    if selected is not None:
        ids = [selected.community.id]
    elif ctx.actor.is_admin:
        ids = None  # every community: no need to list them all in the query
    queue = await area_queries.verification_queue(
        ctx.db, ctx.actor, ids, number=area_queries.page_number(request.query_params.get("page")))
    return render(request, "worker/console.html", {"scopes": scopes, "selected": selected, "queue": queue})


@routes.get("/worker/residents/{user_id:int}/verify", name="worker_verify")
async def verify_form(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    resident, community = await area_queries.resident_for_verification(ctx.db, ctx.actor,
                                                                       request.path_params["user_id"])
    search = request.query_params.get("q", "").strip()[:200]
    form = {"method": VerificationMethod.in_person.value, "q": search}
    return render(request, "worker/verify.html", await _verify_context(ctx, resident, community, search) | {
        "form": form})


async def _verify_context(ctx: Ctx, resident: User, community: Area, search: str) -> dict[str, Any]:
    choices, total = await area_queries.household_choices(ctx.db, community, search, HOUSEHOLD_CHOICES)
    return {
        "resident": resident,
        "community": community,
        "search": search,
        "household_options": [(h.id, h.address) for h in choices],
        "household_total": total,
        "method_options": [(method.value, _(METHOD_LABELS[method])) for method in MANUAL_METHODS],
    }


@routes.post("/worker/residents/{user_id:int}/verify", name="worker_verify_submit")
async def verify_submit(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    resident, community = await area_queries.resident_for_verification(ctx.db, ctx.actor,
                                                                       request.path_params["user_id"])
    form = await form_fields(request)
    errors: dict[str, Message | str] = {}
    household = None
    household_id = int_or_none(form.get("household_id"))
    try:
        household = await area_queries.household_for(ctx.db, community, household_id) if household_id else None
    except NotFound:
        household = None
    if household is None:
        errors["household_id"] = msg("Choose the resident's household in {community}.", community=community.name)
    method = next((m for m in MANUAL_METHODS if m.value == form.get("method")), None)
    if method is None:
        errors["method"] = msg("Choose how you checked the resident's residence.")
    note = form.get("note", "").strip()
    if problem := check_length(note, maximum=200):
        errors["note"] = problem
    if errors:
        context = await _verify_context(ctx, resident, community, form.get("q", "").strip()[:200])
        return invalid_form(request, "worker/verify.html", form, ValidationFailed(errors), context)
    assert household is not None and method is not None
    try:
        await accounts.verify_resident(ctx.db, ctx.actor, resident, household, method, note or None)
    except Conflict:  # a second click on the same form: it is done already
        ctx.flash(_("{name} was already verified for this household.", name=resident.display_name), "info")
        return redirect("/worker")
    ctx.flash(_("{name} is now a verified resident of {address}.", name=resident.display_name,
                address=household.address))
    return redirect(f"/worker?community={community.id}")


# --- households ----------------------------------------------------------------------------------

@routes.get("/worker/communities/{community_id:int}/households", name="worker_households")
async def households(request: Request, ctx: Ctx) -> Response:
    community = await _community(request, ctx)
    search = request.query_params.get("q", "").strip()[:200]
    page = await area_queries.households(ctx.db, community, number=area_queries.page_number(
        request.query_params.get("page")), per_page=HOUSEHOLDS_PER_PAGE, address=search)
    return render(request, "worker/households.html", {"community": community, "page": page, "search": search})


async def _household_context(ctx: Ctx, community: Area, household_id: int | None = None) -> dict[str, Any]:
    compounds = await area_queries.compounds_of(ctx.db, community)
    return {"community": community, "household_id": household_id,
            "compound_options": [(compound.id, compound.name) for compound in compounds]}


async def _compound(ctx: Ctx, community: Area, raw: str | None) -> tuple[Area | None, bool]:
    """The chosen compound of this community; the flag is False when the choice is not one of them."""
    compound_id = int_or_none(raw)
    if compound_id is None:
        return None, raw in (None, "")
    compound = next((c for c in await area_queries.compounds_of(ctx.db, community) if c.id == compound_id), None)
    return compound, compound is not None


@routes.get("/worker/communities/{community_id:int}/households/new", name="worker_household_new")
async def household_new(request: Request, ctx: Ctx) -> Response:
    community = await _community(request, ctx)
    return render(request, "worker/household_form.html", await _household_context(ctx, community))


@routes.post("/worker/communities/{community_id:int}/households/new", name="worker_household_create")
async def household_create(request: Request, ctx: Ctx) -> Response:
    community = await _community(request, ctx)
    form = await form_fields(request)
    try:
        compound, valid = await _compound(ctx, community, form.get("compound_id"))
        if not valid:
            raise ValidationFailed({"compound_id": msg("Choose a compound of this community, or none.")})
        household = await areas.create_household(ctx.db, ctx.actor, community=community, compound=compound,
                                                 address=form.get("address", ""),
                                                 floor_area=form.get("floor_area", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "worker/household_form.html", form, exc,
                            await _household_context(ctx, community))
    ctx.flash(_("The household {address} was added.", address=household.address))
    return redirect(f"/worker/communities/{community.id}/households")


@routes.get("/worker/communities/{community_id:int}/households/{household_id:int}/edit", name="worker_household_edit")
async def household_edit(request: Request, ctx: Ctx) -> Response:
    community = await _community(request, ctx)
    household = await area_queries.household_for(ctx.db, community, request.path_params["household_id"])
    form = {"address": household.address, "compound_id": str(household.compound_id or ""),
            "floor_area": "" if household.floor_area is None else str(household.floor_area)}
    return render(request, "worker/household_form.html",
                  await _household_context(ctx, community, household.id) | {"form": form})


@routes.post("/worker/communities/{community_id:int}/households/{household_id:int}/edit",
             name="worker_household_update")
async def household_update(request: Request, ctx: Ctx) -> Response:
    community = await _community(request, ctx)
    household = await area_queries.household_for(ctx.db, community, request.path_params["household_id"])
    form = await form_fields(request)
    try:
        compound, valid = await _compound(ctx, community, form.get("compound_id"))
        if not valid:
            raise ValidationFailed({"compound_id": msg("Choose a compound of this community, or none.")})
        await areas.update_household(ctx.db, ctx.actor, household, community=community, compound=compound,
                                     address=form.get("address", ""), floor_area=form.get("floor_area", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "worker/household_form.html", form, exc,
                            await _household_context(ctx, community, household.id))
    ctx.flash(_("The household {address} was saved.", address=household.address))
    return redirect(f"/worker/communities/{community.id}/households")


# --- CSV imports ---------------------------------------------------------------------------------

IMPORTS = {
    "households": ("households.imported", csv_import.import_households, "households-template.csv"),
    "verifications": ("verifications.imported", csv_import.import_verifications, "verifications-template.csv"),
}


def _import_context(community: Area, kind: str) -> dict[str, Any]:
    return {"community": community, "kind": kind}


@routes.get("/worker/communities/{community_id:int}/{kind:str}/import", name="worker_import")
async def import_form(request: Request, ctx: Ctx) -> Response:
    kind = _kind(request)
    community = await _community(request, ctx)
    return render(request, "worker/import.html", _import_context(community, kind))


@routes.post("/worker/communities/{community_id:int}/{kind:str}/import", name="worker_import_submit")
async def import_submit(request: Request, ctx: Ctx) -> Response:
    try:
        kind = _kind(request)
        community = await _community(request, ctx)
        filename, data = await read_csv_upload(request)
        result = await IMPORTS[kind][1](ctx.db, ctx.actor, community, filename, data)
    except csv_import.CsvRejected as exc:
        return csv_rejected(request, "worker/import.html", exc, _import_context(community, kind))
    finally:
        await request.close()  # the uploaded file's spool, even when refused before it was read
    return redirect(f"/worker/communities/{community.id}/{kind}/imports/{result.event_id}")


@routes.get("/worker/communities/{community_id:int}/{kind:str}/import/template.csv", name="worker_import_template")
async def import_template(request: Request, ctx: Ctx) -> Response:
    kind = _kind(request)
    await _community(request, ctx)
    return csv_download(kind, IMPORTS[kind][2])


@routes.get("/worker/communities/{community_id:int}/{kind:str}/imports/{event_id:int}", name="worker_import_result")
async def import_result(request: Request, ctx: Ctx) -> Response:
    kind = _kind(request)
    community = await _community(request, ctx)
    event = await area_queries.import_event(ctx.db, ctx.actor, request.path_params["event_id"], IMPORTS[kind][0])
    if event.object_id != str(community.id):
        raise NotFound()
    after = event.after or {}
    count = int(after.get("count", 0))
    context: dict[str, Any] = {**_import_context(community, kind), "count": count,
                               "not_shown": max(0, count - RESULTS_SHOWN)}
    if kind == "households":
        context["households"] = await area_queries.households_by_ids(
            ctx.db, community, list(after.get("ids", []))[:RESULTS_SHOWN])
    else:
        context["residents"] = await area_queries.verified_residents(
            ctx.db, community, list(after.get("user_ids", []))[:RESULTS_SHOWN])
    return render(request, "worker/import_result.html", context)


def _kind(request: Request) -> str:
    kind = str(request.path_params["kind"])
    if kind not in IMPORTS:
        raise NotFound()
    return kind
