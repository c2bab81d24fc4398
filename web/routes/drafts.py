"""Draft regulations: the list, creating a draft from pasted or uploaded text with a preview of its
structure before saving, the draft page (the latest version's tree), new versions and the comparison."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from consultation.areas.models import Area
from consultation.drafts import queries, services
from consultation.drafts.compare import Change, Comparison
from consultation.drafts.model import ParsedDraft
from consultation.drafts.models import MAX_TEXT_BYTES, SOURCE_NAME_MAX, TITLE_MAX, Draft, DraftVersion
from consultation.errors import N_, NotFound, ValidationFailed, msg
from consultation.policy import can, require
from consultation.rounds import queries as round_queries
from consultation.rounds import report as round_report
from consultation.rounds.models import OUTCOME_LABELS
from consultation.rounds.report import ChangedArticle
from web.auth import require_permission
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect, upload
from web.i18n import gettext as _
from web.i18n import translate
from web.routes import rounds as rounds_pages
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()

CHANGE_LABELS = {
    Change.ADDED: N_("Added"),
    Change.REMOVED: N_("Removed"),
    Change.CHANGED: N_("Changed"),
    Change.RENUMBERED: N_("Renumbered"),
    Change.RENUMBERED_CHANGED: N_("Renumbered and changed"),
    Change.UNCHANGED: N_("Unchanged"),
}
COUNT_LABELS = [
    ("parts", N_("Parts (编)")), ("subparts", N_("Sub-parts (分编)")), ("chapters", N_("Chapters (章)")),
    ("sections", N_("Sections (节)")), ("articles", N_("Articles (条)")), ("paragraphs", N_("Paragraphs (款)")),
    ("items", N_("Items (项)")),
]
LIMITS = {"title_max": TITLE_MAX, "max_mb": MAX_TEXT_BYTES // (1024 * 1024)}


async def _form(request: Request) -> tuple[dict[str, str], UploadFile | None]:
    """The submitted fields; the draft text is read whole (form_fields cuts long fields)."""
    form = await form_fields(request)
    raw = (await request.form()).get("text")
    form["text"] = raw if isinstance(raw, str) else ""
    return form, await upload(request, "file")


async def _text_of(form: dict[str, str], file: UploadFile | None) -> None:
    """Puts an uploaded file's text into the form (so the preview keeps it in the text box)."""
    if file is None:
        return
    data = await file.read(MAX_TEXT_BYTES + 1)
    form["text"] = services.read_upload(file.filename or "", data)
    form["source_name"] = (file.filename or "")[:SOURCE_NAME_MAX]


def _preview_context(parsed: ParsedDraft) -> dict[str, Any]:
    counts = vars(parsed.counts)
    return {
        "parsed": parsed,
        "counts": [(_(label), counts[name]) for name, label in COUNT_LABELS if counts[name]],
        "problems": [(p.line, translate(p.message)) for p in parsed.problems],
    }


async def _new_context(ctx: Ctx) -> dict[str, Any]:
    areas = await queries.manageable_areas(ctx.db, ctx.actor)
    return {"area_options": [(a.id, a.name) for a in areas], **LIMITS}


# --- list and creating -----------------------------------------------------------------------------

@routes.get("/drafts", name="drafts")
async def draft_list(request: Request, ctx: Ctx) -> Response:
    return render(request, "drafts/list.html", {"rows": await queries.list_drafts(ctx.db),
                                                "open_rounds": await rounds_pages.open_round_views(ctx)})


@routes.get("/drafts/new", name="draft_new")
async def new_form(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "drafts.create")
    return render(request, "drafts/new.html", await _new_context(ctx))


@routes.post("/drafts/new", name="draft_new_submit")
async def new_submit(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "drafts.create")
    form, file = await _form(request)
    context = await _new_context(ctx)
    try:
        await _text_of(form, file)
        if file is not None or form.get("action") != "save":
            context.update(_preview_context(services.preview(form["text"])))
            return render(request, "drafts/new.html", {**context, "form": form})
        area_id = int_or_none(form.get("area_id"))
        area = await ctx.db.get(Area, area_id) if area_id else None
        if area is None:
            raise ValidationFailed({"area_id": msg("Choose the area the draft is for.")})
        async with ctx.db.begin_nested():  # the draft, its version and provisions together or not at all
            draft = await services.create_draft(ctx.db, ctx.actor, area, form.get("title", ""), form["text"],
                                                form.get("source_name", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "drafts/new.html", form, exc, context)
    ctx.flash(_("The draft was saved as version 1."))
    return redirect(f"/drafts/{draft.id}")


# --- one draft ---------------------------------------------------------------------------------

async def _draft(request: Request, ctx: Ctx) -> Draft:
    return await queries.get_draft(ctx.db, request.path_params["draft_id"])


@routes.get("/drafts/{draft_id:int}", name="draft")
async def draft_page(request: Request, ctx: Ctx) -> Response:
    draft = await _draft(request, ctx)
    versions = await queries.versions_of(ctx.db, draft)
    wanted = int_or_none(request.query_params.get("v"))
    version = next((v for v in versions if v.number == wanted), None) if wanted else versions[-1]
    if version is None:
        raise NotFound()
    tree = queries.tree_of(await queries.provisions_of(ctx.db, version))
    counts = [(_(label), version.counts.get(name, 0)) for name, label in COUNT_LABELS if version.counts.get(name)]
    return render(request, "drafts/draft.html", {
        "draft": draft, "versions": versions, "version": version, "tree": tree, "counts": counts,
        "can_manage": ctx.actor.authenticated and _can_manage(ctx, draft),
        **await rounds_pages.rounds_for_draft(ctx, draft, versions)})


def _can_manage(ctx: Ctx, draft: Draft) -> bool:
    return can(ctx.actor, "drafts.manage", draft.area)


async def _managed_draft(request: Request, ctx: Ctx) -> Draft:
    require_permission(ctx, "drafts.create")
    draft = await _draft(request, ctx)
    require(ctx.actor, "drafts.manage", draft.area)
    return draft


@routes.get("/drafts/{draft_id:int}/versions/new", name="draft_version_new")
async def version_form(request: Request, ctx: Ctx) -> Response:
    draft = await _managed_draft(request, ctx)
    latest = await queries.latest_version(ctx.db, draft)
    return render(request, "drafts/version_new.html", {"draft": draft, "latest": latest, **LIMITS,
                                                       "form": {"text": latest.text}})


@routes.post("/drafts/{draft_id:int}/versions/new", name="draft_version_new_submit")
async def version_submit(request: Request, ctx: Ctx) -> Response:
    draft = await _managed_draft(request, ctx)
    latest = await queries.latest_version(ctx.db, draft)
    form, file = await _form(request)
    context: dict[str, Any] = {"draft": draft, "latest": latest, **LIMITS}
    try:
        await _text_of(form, file)
        if file is not None or form.get("action") != "save":
            context.update(_preview_context(services.preview(form["text"])))
            return render(request, "drafts/version_new.html", {**context, "form": form})
        async with ctx.db.begin_nested():
            version = await services.add_version(ctx.db, ctx.actor, draft, form["text"], form.get("source_name", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "drafts/version_new.html", form, exc, context)
    ctx.flash(_("Version {n} was saved.", n=version.number))
    return redirect(f"/drafts/{draft.id}/compare?from={version.number - 1}&to={version.number}")


@routes.get("/drafts/{draft_id:int}/compare", name="draft_compare")
async def compare_page(request: Request, ctx: Ctx) -> Response:
    draft = await _draft(request, ctx)
    versions = await queries.versions_of(ctx.db, draft)
    numbers = [v.number for v in versions]
    to_number = int_or_none(request.query_params.get("to")) or numbers[-1]
    from_number = int_or_none(request.query_params.get("from")) or max(1, to_number - 1)
    if from_number not in numbers or to_number not in numbers:
        raise NotFound()
    comparison = await services.compare_versions(ctx.db, draft, from_number, to_number)
    shown = [c for c in comparison.changes if c.change is not Change.UNCHANGED]
    led_by = await _comments_behind(ctx, versions, from_number, to_number, comparison)
    unchanged = comparison.of(Change.UNCHANGED)
    counts = [(change.value, _(CHANGE_LABELS[change]), n) for change, n in comparison.counts.items() if n]
    return render(request, "drafts/compare.html", {
        "draft": draft, "versions": versions, "from_number": from_number, "to_number": to_number,
        "shown": shown, "unchanged": unchanged, "counts": counts, "led_by": led_by,
        "outcome_labels": {o.value: _(label) for o, label in OUTCOME_LABELS.items()},
        "change_labels": {change.value: _(label) for change, label in CHANGE_LABELS.items()}})


async def _comments_behind(ctx: Ctx, versions: list[DraftVersion], from_number: int, to_number: int,
                           comparison: Comparison) -> dict[tuple[str | None, str | None], ChangedArticle]:
    """For a later version compared with one that had a comment round: the comments behind each change,
    keyed by (old article key, new article key)."""
    by_number = {v.number: v for v in versions}
    round_ = await round_queries.round_on_version(ctx.db, by_number[from_number].id)
    if round_ is None or to_number <= from_number:
        return {}
    changed = await round_report.changed_articles(ctx.db, round_, by_number[to_number], comparison)
    return {(c.change.old.key if c.change.old else None, c.change.new.key if c.change.new else None): c
            for c in changed if c.count}
