"""Comment rounds on draft regulations, resident side: staff open and edit a round; the round page (the
window, the audience, a table of contents with comment counts, comments on the whole draft); the
article page (the text with numbered paragraphs, the comment form, the comments on the article with
supports and answers); posting and supporting; and each person's own comments with what became of them.

Comments are shown without the commenter's name (as in a published feedback report). The staff's
queue, comment detail and report pages live in their own module.

Performance (issue 6: 80,000 comments in a round): what every visitor of the round and article pages
sees alike (the round, the article's text, the counts, the page of comments with its citations) is kept
in ``web.page_cache`` until a table it read changes, in this process or another (``web.change_feed``).
Only the visitor's own part (may they comment, which comments they support) is read per request. Nothing
is written through the cached objects."""

from __future__ import annotations

import math
import secrets
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from consultation import changes
from consultation.areas import queries as areas
from consultation.areas.models import AreaLevel
from consultation.areas.queries import Page, page_number
from consultation.clock import TIMEZONE, local_minute
from consultation.db import utcnow
from consultation.drafts import queries as drafts
from consultation.drafts.model import Kind, cite
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import N_, Forbidden, InvalidState, NotFound, ValidationFailed, msg
from consultation.policy import can, require
from consultation.rounds import policy, queries, services
from consultation.rounds.models import (
    AUDIENCE_LABELS,
    BODY_MAX,
    INSTRUCTIONS_MAX,
    OUTCOME_LABELS,
    WORDING_MAX,
    Audience,
    CommentRound,
    DraftComment,
)
from web.auth import require_permission, require_user
from web.context import Ctx
from web.forms import form_fields, id_list, int_or_none, redirect
from web.i18n import gettext as _
from web.i18n import translate
from web.page_cache import PageCache, cache_of
from web.ratelimit import limit
from web.routing import RouteTable
from web.templating import field_errors, render, render_for_anyone

routes = RouteTable()

LOCAL_FORMAT = "%Y-%m-%dT%H:%M"
AREA_CHOICES_MAX = 300  # checkboxes on the round form; deeper levels are left out beyond this
DEFAULT_DAYS = 30  # the usual public comment period
FOLD_TOC_ABOVE = 30  # articles: beyond this the table of contents shows chapters folded
FOLD_AREAS_ABOVE = 40  # area checkboxes: beyond this each district and street folds
LIMITS = {"body_max": BODY_MAX, "wording_max": WORDING_MAX, "instructions_max": INSTRUCTIONS_MAX}
UNREADABLE_TIME = N_("Enter the date and time as 2026-05-01 09:00.")
# Entries kept of each page's public part (``round_cached``): an article page's is some 50 KiB.
CACHE_SIZES = {"round_page": 100, "round_article": 500, "round_report": 50, "round_report_page": 50,
               "round_queue_counts": 500, "round_api": 100}
T = TypeVar("T")


def round_cache(app: Any, name: str) -> PageCache:
    """The application's short-lived cache ``name`` (a key of ``CACHE_SIZES``) of the round pages' public
    parts: ``web.page_cache`` semantics (an entry goes when a table it read changes, in this process or
    another)."""
    return cache_of(app, name, max_entries=CACHE_SIZES[name])


async def round_cached(app: Any, name: str, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
    """``round_cache(app, name)``'s value of ``key``, loaded once however many requests miss it at the same
    time (``PageCache.get_or_load``): when an entry expires under load (a report read by dozens of readers
    at once), the others wait for the first one's result instead of each running the same aggregates."""
    return await round_cache(app, name).get_or_load(key, load)


# --- shared pieces -------------------------------------------------------------------------------

@dataclass
class RoundView:
    """A round as the pages show it: its window in local time, a short status and a line with the date."""

    round: CommentRound
    state: str  # "upcoming" | "open" | "closed"
    status: str  # "Open: 12 days left"
    detail: str  # "Closes on 2026-12-18 18:00"
    opens: str
    closes: str

    @property
    def id(self) -> int:
        return self.round.id


def round_view(round_: CommentRound, now: datetime | None = None) -> RoundView:
    now = now or utcnow()
    opens, closes = local_minute(round_.opens_at), local_minute(round_.closes_at)
    if now < round_.opens_at:
        return RoundView(round_, "upcoming", _("Not open yet"), _("Opens on {when}", when=opens), opens, closes)
    if now >= round_.closes_at:
        return RoundView(round_, "closed", _("Closed"), _("Closed on {when}", when=closes), opens, closes)
    days = math.ceil((round_.closes_at - now) / timedelta(days=1))
    status = _("Open: last day") if days <= 1 else _("Open: {n} days left", n=days)
    return RoundView(round_, "open", status, _("Closes on {when}", when=closes), opens, closes)


async def rounds_for_draft(ctx: Ctx, draft: Draft, versions: list[DraftVersion]) -> dict[str, Any]:
    """The draft page's rounds section: every round with its status, and whether staff may open one on
    the latest version (one round per version)."""
    rounds = await queries.rounds_of(ctx.db, draft)
    latest = versions[-1] if versions else None
    manage = ctx.actor.authenticated and can(ctx.actor, "rounds.manage", draft)
    return {"draft_rounds": [round_view(r) for r in reversed(rounds)],
            "may_open_round": manage and latest is not None and all(r.version_id != latest.id for r in rounds),
            "may_manage_rounds": manage}


async def open_round_views(ctx: Ctx) -> list[RoundView]:
    """Rounds open now (the drafts list)."""
    now = utcnow()
    return [round_view(r, now) for r in await queries.open_rounds(ctx.db, now)]


async def _citations(ctx: Ctx, provisions: Iterable[Provision | None],
                     known: dict[int, Provision] | None = None) -> dict[int, str]:
    """How each provision is cited ("第十二条第二款"): paragraphs and items need their article's label,
    looked up in at most two batches."""
    wanted = {p.id: p for p in provisions if p is not None}
    found: dict[int, Provision] = dict(known or {}) | wanted
    for _level in range(2):
        missing = {p.parent_id for p in found.values()
                   if p.kind in (Kind.PARAGRAPH, Kind.ITEM) and p.parent_id is not None and p.parent_id not in found}
        if not missing:
            break
        found |= await queries.provisions_by_id(ctx.db, set(missing))
    citations = {}
    for p in wanted.values():
        node: Provision | None = p
        while node is not None and node.kind is not Kind.ARTICLE:
            node = found.get(node.parent_id) if node.parent_id is not None else None
        citations[p.id] = cite(p.kind, p.label, p.number, node.label if node is not None else "")
    return citations


def _token() -> str:
    """A fresh idempotency token: submitting the same comment form twice saves one comment."""
    return secrets.token_urlsafe(16)


def _audience(round_: CommentRound, area_names: list[str]) -> str:
    label = _(AUDIENCE_LABELS[round_.audience])
    return f"{label}：{'、'.join(area_names)}" if area_names else label


@dataclass
class CommentsShown:
    """A page of an article's (or the whole draft's) public comments with how each one's target is cited."""

    comments: Page[DraftComment]
    citations: dict[int, str]


async def _comments_shown(ctx: Ctx, round_: CommentRound, article_id: int, page: int, known: dict[int, Provision],
                          total: int) -> CommentsShown:
    comments = await queries.public_comments(ctx.db, round_.id, article_id, page, total=total)
    provisions = await queries.provisions_by_id(ctx.db, {c.provision_id for c in comments.items
                                                         if c.provision_id not in known})
    targets = {c.provision_id: known.get(c.provision_id) or provisions.get(c.provision_id)
               for c in comments.items if c.provision_id is not None}
    return CommentsShown(comments, await _citations(ctx, targets.values(), known | provisions))


async def _comments_context(ctx: Ctx, shown: CommentsShown) -> dict[str, Any]:
    """The comments for the template, with the visitor's own supports among them."""
    ids = [c.id for c in shown.comments.items]
    return {"comments": shown.comments, "citations": shown.citations,
            "supported": await queries.supported_by(ctx.db, ctx.actor.user_id, ids)}


async def _areas(ctx: Ctx, round_: CommentRound) -> list[tuple[str, str]]:
    return await queries.round_areas(ctx.db, round_) if round_.audience is Audience.residents else []


async def _round_basics(ctx: Ctx, round_: CommentRound, areas: list[tuple[str, str]]) -> dict[str, Any]:
    """The round's facts and what the visitor may do (``areas``: the round's ``round_areas``)."""
    area_names = [name for _path, name in areas]
    # Outside the window that is the reason for everyone (also before signing in); else the audience's.
    window = policy.window_problem(round_, utcnow(), local_minute(round_.opens_at), local_minute(round_.closes_at))
    problem = window or await services.participation_problem(ctx.db, ctx.actor, round_, areas=areas)
    return {
        "round": round_, "draft": round_.draft, "version": round_.version, "view": round_view(round_),
        "audience": _audience(round_, area_names), "problem": translate(problem) if problem else None,
        "may_take_part": problem is None, "sign_in_first": window is None and not ctx.actor.authenticated,
        "may_manage": ctx.actor.authenticated and can(ctx.actor, "rounds.manage", round_.draft),
        "outcome_labels": {o.value: _(label) for o, label in OUTCOME_LABELS.items()}, **LIMITS,
    }


def _page(request: Request) -> int:
    return page_number(request.query_params.get("page"))


# --- opening and editing a round (staff) ----------------------------------------------------------

def parse_local(raw: str) -> datetime | None:
    """A ``datetime-local`` value (``2026-05-01T09:00``) read as China time; None if empty or unreadable."""
    try:
        value = datetime.fromisoformat(raw.strip().replace(" ", "T"))
    except ValueError:
        return None
    return value.replace(tzinfo=TIMEZONE) if value.tzinfo is None else None


def local_input(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime(LOCAL_FORMAT)


async def _area_choices(ctx: Ctx, draft: Draft) -> tuple[list[areas.TreeNode], bool]:
    """The draft's area and the areas below it down to communities, as a tree; when that would be more
    than ``AREA_CHOICES_MAX`` checkboxes the deepest levels are left out (True is returned then)."""
    root = draft.area
    depth = max(0, AreaLevel.community.depth - root.level.depth)
    cut = False
    while depth > 0:
        nodes = await areas.subtree(ctx.db, root, depth)
        if _count(nodes) <= AREA_CHOICES_MAX:
            return [areas.TreeNode(root, nodes)], cut
        depth, cut = depth - 1, True
    return [areas.TreeNode(root, [])], cut


def _count(nodes: list[areas.TreeNode]) -> int:
    return sum(1 + _count(n.children) for n in nodes)


async def _form_context(ctx: Ctx, draft: Draft, version: DraftVersion, round_: CommentRound | None,
                        chosen: Iterable[int]) -> dict[str, Any]:
    tree, cut = await _area_choices(ctx, draft)
    return {"draft": draft, "version": version, "round": round_, "area_tree": tree, "areas_cut": cut,
            "fold_areas": _count(tree) > FOLD_AREAS_ABOVE,
            "chosen_areas": set(chosen),
            "audience_options": [(a.value, _(label)) for a, label in AUDIENCE_LABELS.items()], **LIMITS}


async def _round_form(request: Request) -> tuple[dict[str, str], list[int]]:
    return await form_fields(request), await id_list(request, "area_ids")


def _unreadable(form: dict[str, str]) -> dict[str, str]:
    """Field errors for times that were typed but cannot be read (the service only sees them missing)."""
    return {name: _(UNREADABLE_TIME) for name in ("opens_at", "closes_at")
            if form.get(name, "").strip() and parse_local(form[name]) is None}


async def _save_round(request: Request, ctx: Ctx, draft: Draft, version: DraftVersion,
                      round_: CommentRound | None) -> Response:
    form, area_ids = await _round_form(request)
    values: dict[str, Any] = {
        "opens_at": parse_local(form.get("opens_at", "")), "closes_at": parse_local(form.get("closes_at", "")),
        "audience": form.get("audience", ""), "area_ids": area_ids, "instructions": form.get("instructions", "")}
    try:
        async with ctx.db.begin_nested():  # the round and its areas together or not at all
            if round_ is None:
                round_ = await services.open_round(ctx.db, ctx.actor, draft, version, **values)
                ctx.flash(_("The comment round on version {n} was saved.", n=version.number))
            else:
                await services.update_round(ctx.db, ctx.actor, draft, round_, **values)
                ctx.flash(_("The comment round was changed."))
    except ValidationFailed as exc:
        context = await _form_context(ctx, draft, version, round_, area_ids)
        errors = field_errors(exc.errors) | _unreadable(form)
        return render(request, "rounds/form.html", {**context, "form": form, "errors": errors}, status_code=422)
    return redirect(f"/rounds/{round_.id}")


async def _managed_draft(request: Request, ctx: Ctx) -> Draft:
    require_permission(ctx, "drafts.create")  # legislative staff only; then the draft is looked up
    draft = await drafts.get_draft(ctx.db, request.path_params["draft_id"])
    require(ctx.actor, "rounds.manage", draft)
    return draft


async def _managed_round(request: Request, ctx: Ctx) -> CommentRound:
    require_permission(ctx, "drafts.create")
    round_ = await queries.get_round(ctx.db, request.path_params["round_id"])
    require(ctx.actor, "rounds.manage", round_.draft)
    return round_


@routes.get("/drafts/{draft_id:int}/rounds/new", name="round_new")
async def new_round_form(request: Request, ctx: Ctx) -> Response:
    draft = await _managed_draft(request, ctx)
    version = await drafts.latest_version(ctx.db, draft)
    existing = next((r for r in await queries.rounds_of(ctx.db, draft) if r.version_id == version.id), None)
    start = (utcnow().astimezone(TIMEZONE) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    form = {"opens_at": local_input(start), "closes_at": local_input(start + timedelta(days=DEFAULT_DAYS)),
            "audience": Audience.everyone.value}
    context = await _form_context(ctx, draft, version, None, [])
    return render(request, "rounds/form.html", {**context, "form": form, "existing": existing})


@routes.post("/drafts/{draft_id:int}/rounds/new", name="round_new_submit")
async def new_round_submit(request: Request, ctx: Ctx) -> Response:
    draft = await _managed_draft(request, ctx)
    version = await drafts.latest_version(ctx.db, draft)
    return await _save_round(request, ctx, draft, version, None)


@routes.get("/rounds/{round_id:int}/edit", name="round_edit")
async def edit_round_form(request: Request, ctx: Ctx) -> Response:
    round_ = await _managed_round(request, ctx)
    chosen = [int(path.strip("/").split("/")[-1]) for path, _name in await queries.round_areas(ctx.db, round_)]
    form = {"opens_at": local_input(round_.opens_at), "closes_at": local_input(round_.closes_at),
            "audience": round_.audience.value, "instructions": round_.instructions}
    context = await _form_context(ctx, round_.draft, round_.version, round_, chosen)
    return render(request, "rounds/form.html", {**context, "form": form})


@routes.post("/rounds/{round_id:int}/edit", name="round_edit_submit")
async def edit_round_submit(request: Request, ctx: Ctx) -> Response:
    round_ = await _managed_round(request, ctx)
    return await _save_round(request, ctx, round_.draft, round_.version, round_)


# --- the round page -------------------------------------------------------------------------------

@dataclass
class RoundPublic:
    """What every visitor of a round page sees alike."""

    round: CommentRound
    areas: list[tuple[str, str]]
    toc: list[drafts.TreeNode]
    counts: dict[int | None, int]
    heading_counts: dict[int, int]
    fold_toc: bool
    shown: CommentsShown


async def _round_public(ctx: Ctx, round_: CommentRound, page: int) -> RoundPublic:
    outline = await drafts.outline_of(ctx.db, round_.version)
    counts = await queries.article_counts(ctx.db, round_.id)
    groups = (await queries.article_figures(ctx.db, round_.id, queries.WHOLE_DRAFT)).groups
    tree = drafts.tree_of(outline)
    return RoundPublic(round_, await _areas(ctx, round_), tree, counts, _heading_counts(tree, counts),
                       sum(1 for p in outline if p.kind is Kind.ARTICLE) > FOLD_TOC_ABOVE,
                       await _comments_shown(ctx, round_, queries.WHOLE_DRAFT, page, {}, groups))


async def _cached_round_public(request: Request, ctx: Ctx, page: int) -> RoundPublic:
    round_id = request.path_params["round_id"]

    async def load() -> RoundPublic:
        return await _round_public(ctx, await queries.get_round(ctx.db, round_id), page)

    return await round_cached(request.app, "round_page", (round_id, page), load)


async def _round_context(ctx: Ctx, public: RoundPublic) -> dict[str, Any]:
    return {
        **await _round_basics(ctx, public.round, public.areas),
        "toc": public.toc, "counts": public.counts, "whole_count": public.counts.get(None, 0),
        "heading_counts": public.heading_counts, "fold_toc": public.fold_toc,
        **await _comments_context(ctx, public.shown),
        "form": {"client_token": _token()}, "errors": {},
    }


def _heading_counts(nodes: list[drafts.TreeNode], counts: dict[int | None, int]) -> dict[int, int]:
    """Comments under each heading (chapter, section…), summed from its articles."""
    found: dict[int, int] = {}

    def visit(node: drafts.TreeNode) -> int:
        if node.kind is Kind.ARTICLE:
            return counts.get(node.provision.id, 0)
        found[node.provision.id] = total = sum(visit(child) for child in node.children)
        return total

    for node in nodes:
        visit(node)
    return found


@routes.get("/rounds/{round_id:int}", name="round")
async def round_page(request: Request, ctx: Ctx) -> Response:
    async def context() -> dict[str, Any]:
        public = await _cached_round_public(request, ctx, _page(request))
        kept_until_the_window_turns(public.round)
        return await _round_context(ctx, public)

    return await render_for_anyone(request, "rounds/round.html", context, cache="round_pages")


# --- the article page -----------------------------------------------------------------------------

ArticleText = drafts.ArticleParts  # the article, its paragraphs and items, its headings and neighbours


def _targets(text: ArticleText) -> list[tuple[int, str]]:
    """The comment form's choices: the whole article, then each paragraph (when there are several) and item."""
    article = text.article
    options = [(article.id, _("The whole article ({cite})", cite=article.label))]
    several = len(text.paragraphs) > 1
    for paragraph in text.paragraphs:
        if several:
            options.append((paragraph.id, cite(Kind.PARAGRAPH, "", paragraph.number, article.label)))
        for item in text.items.get(paragraph.id, []):
            prefix = cite(Kind.PARAGRAPH, "", paragraph.number, article.label) if several else article.label
            options.append((item.id, f"{prefix}第{item.label}项"))
    return options


@dataclass
class ArticlePublic:
    """What every visitor of an article page sees alike."""

    round: CommentRound
    areas: list[tuple[str, str]]
    text: ArticleText
    targets: list[tuple[int, str]]
    figures: queries.ArticleFigures
    shown: CommentsShown


async def _article_public(ctx: Ctx, round_: CommentRound, article_id: int, page: int) -> ArticlePublic:
    """The article's text (one statement, not the whole version), its counts (index-only) and a page of its
    comments; NotFound unless it is an article of the round's version."""
    text = await drafts.article_parts(ctx.db, round_.version_id, article_id)
    if text is None:
        raise NotFound()
    known = {p.id: p for p in [text.article, *text.paragraphs, *[i for v in text.items.values() for i in v]]}
    figures = await queries.article_figures(ctx.db, round_.id, article_id)
    return ArticlePublic(round_, await _areas(ctx, round_), text, _targets(text), figures,
                         await _comments_shown(ctx, round_, article_id, page, known, figures.groups))


async def _article_context(ctx: Ctx, public: ArticlePublic) -> dict[str, Any]:
    text = public.text
    return {
        **await _round_basics(ctx, public.round, public.areas),
        "text": text, "targets": public.targets, "article_count": public.figures.comments,
        "paragraph_labels": {p.id: cite(Kind.PARAGRAPH, "", p.number) for p in text.paragraphs},
        **await _comments_context(ctx, public.shown),
        "form": {"client_token": _token(), "provision_id": str(text.article.id)}, "errors": {},
    }


@routes.get("/rounds/{round_id:int}/articles/{provision_id:int}", name="round_article")
async def article_page(request: Request, ctx: Ctx) -> Response:
    round_id, article_id, page = request.path_params["round_id"], request.path_params["provision_id"], _page(request)

    async def load() -> ArticlePublic:
        return await _article_public(ctx, await queries.get_round(ctx.db, round_id), article_id, page)

    async def context() -> dict[str, Any]:
        public = await round_cached(request.app, "round_article", (round_id, article_id, page), load)
        kept_until_the_window_turns(public.round)
        return await _article_context(ctx, public)

    return await render_for_anyone(request, "rounds/article.html", context, cache="round_pages")


def kept_until_the_window_turns(round_: CommentRound) -> None:
    """Anonymous visitors (the most, when a round is announced) all get the round's pages (the round, its
    articles, its report) kept in the cache ``round_pages`` (``render_for_anyone``). A page shows the round's
    status ("open: 12 days left", the form or why there is none), so it is kept no longer than until the round
    opens or closes."""
    now = utcnow()
    turns = [moment for moment in (round_.opens_at, round_.closes_at) if moment > now]
    if turns:
        changes.note_expiry((min(turns) - now).total_seconds())


# --- posting and supporting -----------------------------------------------------------------------

async def _article_of(ctx: Ctx, round_: CommentRound, provision_id: int | None) -> Provision | None:
    """The article of the round's version a provision is (or is in); None for anything else."""
    if provision_id is None:
        return None
    chain = await drafts.with_ancestors(ctx.db, provision_id)
    if not chain or chain[0].version_id != round_.version_id:
        return None
    return next((node for node in chain[:3] if node.kind is Kind.ARTICLE), None)


def _location(round_: CommentRound, article_id: int | None, comment_id: int | None = None, page: int = 1) -> str:
    base = f"/rounds/{round_.id}/articles/{article_id}" if article_id else f"/rounds/{round_.id}"
    query = f"?page={page}" if page > 1 else ""
    return f"{base}{query}#comment-{comment_id}" if comment_id else f"{base}{query}#comments"


@routes.post("/rounds/{round_id:int}/comments", name="round_comment_post")
async def post_comment(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    round_ = await queries.round_alone(ctx.db, request.path_params["round_id"])  # the pages' parts if refused
    form = await form_fields(request)
    raw = form.get("provision_id", "").strip()
    provision_id = int_or_none(raw)
    try:
        if raw and provision_id is None:
            await services.check_may_take_part(ctx.db, ctx.actor, round_)
            raise ValidationFailed({"provision_id": msg("This provision is not part of the draft under comment.")})
        await limit(ctx, f"draft-comment:user:{user.id}", **policy.COMMENTING_LIMIT)
        comment = await services.post_comment(
            ctx.db, ctx.actor, round_, provision_id=provision_id, body=form.get("body", ""),
            proposed_wording=form.get("proposed_wording", ""), client_token=form.get("client_token"))
    except (ValidationFailed, InvalidState, Forbidden) as exc:
        # Refused: the page again with the form filled in, or, when the window closed or the visitor is not
        # in the audience, with the reason and the text they typed (so it is not lost).
        errors = field_errors(exc.errors) if isinstance(exc, ValidationFailed) else {}
        status = 422 if isinstance(exc, ValidationFailed) else 409 if isinstance(exc, InvalidState) else 403
        round_ = await queries.get_round(ctx.db, round_.id)  # with its draft and version, for the page
        article = await _article_of(ctx, round_, provision_id)
        if article is not None:
            context = await _article_context(ctx, await _article_public(ctx, round_, article.id, 1))
            template = "rounds/article.html"
        else:
            context = await _round_context(ctx, await _round_public(ctx, round_, 1))
            template = "rounds/round.html"
            form["provision_id"] = ""
        return render(request, template, {**context, "form": form, "errors": errors}, status_code=status)
    if comment.held:
        ctx.flash(_("Thank you. Your comment was received; it is checked before it is shown publicly. "
                    "You can follow it under My comments on drafts."), "info")
        return redirect(_location(round_, comment.article_id))
    if comment.lead_id is not None:
        ctx.flash(_("Thank you. Your comment was received. Someone said the same before, so it is counted "
                    "with that comment and gets the same answer."))
    else:
        ctx.flash(_("Thank you. Your comment was received and will be answered when the round is processed."))
    return redirect(_location(round_, comment.article_id, comment.lead_id or comment.id))


@routes.post("/rounds/{round_id:int}/comments/{comment_id:int}/support", name="round_comment_support")
async def support(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    round_ = await queries.round_alone(ctx.db, request.path_params["round_id"])
    comment = await queries.get_comment(ctx.db, request.path_params["comment_id"])
    if comment.round_id != round_.id or comment.held:
        raise NotFound()
    form = await form_fields(request)
    on = form.get("on") == "1"
    changed = await services.set_support(ctx.db, ctx.actor, round_, comment, on)
    if changed:
        ctx.flash(_("Your support was counted.") if on else _("Your support was withdrawn."))
    return redirect(_location(round_, comment.article_id, comment.id, int_or_none(form.get("page")) or 1))


# --- my comments ----------------------------------------------------------------------------------

@dataclass
class MyCommentView:
    item: queries.MyComment
    target: str
    new_target: str


@routes.get("/my/draft-comments", name="my_draft_comments")
async def my_comments(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    page = await queries.my_comments(ctx.db, user.id, _page(request))
    citations = await _citations(ctx, [m.provision for m in page.items] + [m.new_provision for m in page.items])
    rows = [MyCommentView(m, citations.get(m.provision.id, "") if m.provision else _("The whole draft"),
                          citations.get(m.new_provision.id, "") if m.new_provision else "")
            for m in page.items]
    return render(request, "rounds/my_comments.html", {
        "page": page, "rows": rows, "outcome_labels": {o.value: _(label) for o, label in OUTCOME_LABELS.items()}})
