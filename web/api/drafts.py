"""Draft regulations and their comment rounds as JSON: the drafts, one draft with its versions and rounds,
a version's provisions (a tree, or a flat list with parent keys), the article-by-article comparison of two
versions, a round, its public comments (per article, paged), its feedback report, and sending a comment.

Comments are anonymous here as in a published feedback report: no commenter's name, id or account is
ever sent, only whether a representative wrote it. Comments held for review because of a listed word are
left out, and so are the copies grouped under an earlier identical comment: a group appears once, through
its first comment, with the group's size. Sending a comment has the pages' rules, rate limit and
double-submit protection (``client_token``, or the ``Idempotency-Key`` header, returns the first comment
instead of saving a second).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from consultation.db import utcnow
from consultation.drafts import queries as drafts
from consultation.drafts import services as drafting
from consultation.drafts.compare import ArticleChange, Change
from consultation.drafts.model import Kind, Node, cite
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.drafts.queries import TreeNode
from consultation.errors import N_, ValidationFailed, msg
from consultation.rounds import policy as round_policy
from consultation.rounds import queries as rounds
from consultation.rounds import report as reporting
from consultation.rounds import services as commenting
from consultation.rounds.models import (
    BODY_MAX,
    CLIENT_TOKEN_MAX,
    WORDING_MAX,
    Audience,
    CommentRound,
    DraftComment,
    Outcome,
)
from web.api.core import (
    PAGE_PARAMS,
    ApiTable,
    Param,
    Schema,
    array,
    boolean,
    enum,
    integer,
    iso,
    json_body,
    nullable,
    ok,
    page_body,
    page_of,
    page_request,
    query_choice,
    string,
    timestamp,
)
from web.api.serializers import AreaRef, area_ref
from web.auth import require_user
from web.context import Ctx
from web.i18n import gettext, translate
from web.ratelimit import pending, settle
from web.routes.rounds import round_cached

routes = ApiTable()
TAG = "Drafts"
DRAFT = "/api/v1/drafts/{draft_id:int}"
ROUND = "/api/v1/rounds/{round_id:int}"
SHAPES = ("tree", "flat")
WHOLE_DRAFT = rounds.WHOLE_DRAFT

# The pages' wording (web/routes/drafts.py CHANGE_LABELS); repeated so the API does not import a page module.
CHANGE_LABELS = {
    Change.ADDED: N_("Added"),
    Change.REMOVED: N_("Removed"),
    Change.CHANGED: N_("Changed"),
    Change.RENUMBERED: N_("Renumbered"),
    Change.RENUMBERED_CHANGED: N_("Renumbered and changed"),
    Change.UNCHANGED: N_("Unchanged"),
}
STATUS_LABELS = {"upcoming": N_("Not open yet"), "open": N_("Open for comments"), "closed": N_("Closed")}
NOT_ANSWERED = N_("Not answered yet")
NUMBER_PROBLEM = N_("Enter a version number.")

# --- schemas -------------------------------------------------------------------------------------

COUNT_NAMES = ("parts", "subparts", "chapters", "sections", "articles", "paragraphs", "items")
VersionCounts = Schema("VersionCounts", {name: integer(minimum=0) for name in COUNT_NAMES},
                       required=COUNT_NAMES, description="How many provisions of each kind a version has.")

DraftRef = Schema("DraftRef", {"id": integer(), "title": string(), "url": string("The draft's page."),
                               "api_url": string()}, required=("id", "title", "url", "api_url"))

RoundSummary = Schema("RoundSummary", {
    "id": integer(), "url": string("The round's page."), "api_url": string(),
    "version": integer("The number of the version under comment.", minimum=1),
    "opens_at": timestamp(), "closes_at": timestamp(),
    "audience": enum([a.value for a in Audience]), "audience_label": string(),
    "status": enum(list(STATUS_LABELS), "upcoming, open (comments are accepted) or closed, at the time of the "
                                         "request."),
    "status_label": string(),
}, required=("id", "url", "api_url", "version", "opens_at", "closes_at", "audience", "audience_label", "status",
             "status_label"), description="A comment round (征求意见) on one version of a draft.")

DraftSummary = Schema("DraftSummary", {
    "id": integer(), "url": string("The draft's page."), "api_url": string(), "title": string(),
    "area": {**AreaRef.ref, "description": "The city or district the draft regulation is for."},
    "version_count": integer(minimum=1), "latest_version": integer(minimum=1),
    "created_at": timestamp(),
    "open_rounds": array(RoundSummary, "Rounds accepting comments now."),
}, required=("id", "url", "api_url", "title", "area", "version_count", "latest_version", "created_at",
             "open_rounds"))

VersionSummary = Schema("DraftVersionSummary", {
    "number": integer(minimum=1), "url": string("The version on the draft's page."), "api_url": string(),
    "source_name": string("The file it was uploaded from (empty when pasted)."), "created_at": timestamp(),
    "counts": VersionCounts.ref,
}, required=("number", "url", "api_url", "source_name", "created_at", "counts"))

DraftDetail = Schema("DraftDetail", {
    **DraftSummary.properties,
    "versions": array(VersionSummary, "Oldest first."),
    "rounds": array(RoundSummary, "Every comment round, oldest first."),
}, required=(*DraftSummary.required, "versions", "rounds"))

ProvisionSchema = Schema("DraftProvision", {
    "id": integer("Send it as provision_id to comment on an article, paragraph or item."),
    "key": string("Stable path key within the version, e.g. c3/a12/p2."),
    "parent_key": nullable(string("The key of the enclosing provision (null at the top).")),
    "kind": enum([k.value for k in Kind]),
    "number": integer(minimum=0),
    "label": string("第十二条, 第三章, （二）; empty for paragraphs."),
    "title": string("Headings only, e.g. 总则."),
    "cite": string("How it is cited: 第十二条第二款."),
    "text": string("The provision's text with its label."),
    "body": string("The text without the label; an article's body holds all its paragraphs."),
    "url": string("Where it is shown on the draft page."),
    "children": array({"$ref": "#/components/schemas/DraftProvision"}, "Tree shape only."),
}, required=("id", "key", "parent_key", "kind", "number", "label", "title", "cite", "text", "body", "url"))

VersionDetail = Schema("DraftVersionDetail", {
    **VersionSummary.properties,
    "draft": DraftRef.ref,
    "shape": enum(SHAPES),
    "round": nullable(RoundSummary),
    "provisions": array(ProvisionSchema, "tree: the top-level provisions with their children; flat: every "
                                         "provision in document order with its parent_key."),
}, required=(*VersionSummary.required, "draft", "shape", "round", "provisions"))

DiffSegment = Schema("DiffSegment", {"op": enum(["equal", "insert", "delete"]), "text": string()},
                     required=("op", "text"), description="A run of the inline diff of an article's body.")

ArticleSide = Schema("ComparedArticle", {
    "key": string(), "number": integer(minimum=0), "label": string(), "body": string(),
}, required=("key", "number", "label", "body"))

ArticleChangeSchema = Schema("ArticleChange", {
    "change": enum([c.value for c in Change]), "change_label": string(),
    "old": nullable(ArticleSide), "new": nullable(ArticleSide),
    "old_label": nullable(string()), "new_label": nullable(string()),
    "similarity": {"type": "number", "minimum": 0, "maximum": 1,
                   "description": "How alike the two bodies are (1: identical; 0 for added and removed)."},
    "segments": array(DiffSegment, "The inline diff from the old body to the new (empty when unchanged)."),
}, required=("change", "change_label", "old", "new", "old_label", "new_label", "similarity", "segments"))

ComparisonSchema = Schema("DraftComparison", {
    "draft": DraftRef.ref, "from": integer(minimum=1), "to": integer(minimum=1),
    "counts": {"type": "object", "properties": {c.value: integer(minimum=0) for c in Change},
               "required": [c.value for c in Change], "description": "Articles per kind of change."},
    "changes": array(ArticleChangeSchema, "In the new version's order, removed articles where they stood."),
}, required=("draft", "from", "to", "counts", "changes"))

ArticleCount = Schema("RoundArticleCount", {
    "provision_id": integer(), "label": string(), "count": integer(minimum=0), "url": string(),
}, required=("provision_id", "label", "count", "url"))

RoundDetail = Schema("RoundDetail", {
    **RoundSummary.properties,
    "draft": DraftRef.ref,
    "instructions": string(),
    "areas": array(string(), "For a residents round: the areas whose verified residents may comment."),
    "counts": {"type": "object", "description": "Shown comments (held ones are not counted).", "properties": {
        "comments": integer(minimum=0), "whole_draft": integer(minimum=0),
        "articles": array(ArticleCount, "Articles with comments, in document order.")},
        "required": ["comments", "whole_draft", "articles"]},
    "viewer": {"type": "object", "properties": {
        "signed_in": boolean(), "can_comment": boolean(),
        "problem": nullable(string("Why the caller cannot comment now (null if they can)."))},
        "required": ["signed_in", "can_comment", "problem"]},
}, required=(*RoundSummary.required, "draft", "instructions", "areas", "counts", "viewer"))

CommentTarget = Schema("DraftCommentTarget", {
    "whole_draft": boolean("On the whole draft rather than a provision."),
    "provision_id": nullable(integer()), "article_id": nullable(integer()), "chapter_id": nullable(integer()),
    "cite": nullable(string("The provision commented on, as cited: 第十二条第二款.")),
}, required=("whole_draft", "provision_id", "article_id", "chapter_id", "cite"))

NewProvisionRef = Schema("ChangedProvision", {
    "id": integer(), "version": integer(minimum=1), "label": string(), "url": string(),
}, required=("id", "version", "label", "url"), description="The provision of a later version the answer links.")

DraftCommentSchema = Schema("DraftComment", {
    "id": integer(),
    "url": string("The comment on its article's page (the round's page for the whole draft)."),
    "target": CommentTarget.ref,
    "body": string(),
    "proposed_wording": string("The wording the commenter proposes (may be empty)."),
    "by_representative": boolean("Written by a people's congress representative."),
    "group_size": integer("How many comments made this point (this one and the copies grouped with it).",
                          minimum=1),
    "support_count": integer(minimum=0),
    "supported": boolean("Whether the caller supports it (false when not signed in)."),
    "pending": boolean("Held for review (only its author gets it, in the answer to sending it)."),
    "outcome": nullable(enum([o.value for o in Outcome], "The answer (采纳情况); null until answered.")),
    "outcome_label": string(),
    "reason": nullable(string("Why, as the answer says.")),
    "answered_at": nullable(timestamp()),
    "changed_provision": nullable(NewProvisionRef),
    "themes": array(string(), "Theme tags the drafters gave the group."),
    "created_at": timestamp(),
}, required=("id", "url", "target", "body", "proposed_wording", "by_representative", "group_size", "support_count",
             "supported", "pending", "outcome", "outcome_label", "reason", "answered_at", "changed_provision",
             "themes", "created_at"),
   description="A comment on a draft, anonymous: the commenter is never named or identified.")

NewDraftComment = Schema("NewDraftComment", {
    "provision_id": nullable(integer("An article, paragraph or item of the version under comment; null or absent "
                                     "for the whole draft.")),
    "body": string(maxLength=BODY_MAX),
    "proposed_wording": nullable(string("Optional: the wording proposed instead.", maxLength=WORDING_MAX)),
    "client_token": nullable(string("Optional: the same token again returns the first comment.",
                                    maxLength=CLIENT_TOKEN_MAX)),
}, required=("body",))

ReportComment = Schema("ReportComment", {
    "id": integer(), "url": string(), "body": string(), "group_size": integer(minimum=1),
    "outcome": nullable(enum([o.value for o in Outcome])), "reason": nullable(string()),
}, required=("id", "url", "body", "group_size", "outcome", "reason"))

RoundReport = Schema("RoundReport", {
    "round": RoundSummary.ref,
    "draft": DraftRef.ref,
    "totals": {"type": "object", "properties": {name: integer(minimum=0) for name in (
        "comments", "commenters", "representative_comments", "representatives", "groups", "supports",
        "answered")}, "required": ["comments", "commenters", "representative_comments", "representatives",
                                   "groups", "supports", "answered"],
        "description": "Shown comments only (held ones are not counted)."},
    "whole_draft": integer("Comments on the whole draft.", minimum=0),
    "chapters": array({"type": "object", "properties": {
        "chapter": nullable({"type": "object", "properties": {"id": integer(), "label": string(), "title": string()},
                             "required": ["id", "label", "title"]}),
        "count": integer(minimum=0),
        "articles": array({"type": "object", "properties": {
            "provision_id": integer(), "label": string(), "count": integer(minimum=0),
            "level": integer("Heat, 0 (none) to 5 (the most commented article).", minimum=0, maximum=5)},
            "required": ["provision_id", "label", "count", "level"]}),
    }, "required": ["chapter", "count", "articles"]}, "The heat map: comments per chapter and article (chapter "
                                                      "null: articles outside any chapter)."),
    "themes": array({"type": "object", "properties": {"name": string(), "count": integer(minimum=0)},
                     "required": ["name", "count"]}, "The most frequent themes, by comments covered."),
    "outcomes": array({"type": "object", "properties": {
        "outcome": nullable(enum([o.value for o in Outcome], "null: not answered yet.")), "label": string(),
        "count": integer(minimum=0)}, "required": ["outcome", "label", "count"]}),
    "next_version": nullable(VersionSummary),
    "changed": array({"type": "object", "properties": {
        "change": enum([c.value for c in Change]), "change_label": string(),
        "old_label": nullable(string()), "new_label": nullable(string()),
        "similarity": {"type": "number", "minimum": 0, "maximum": 1},
        "adopted_count": integer("Comments (groups in full) adopted or partly adopted on the old article, or "
                                 "whose answer links the new one.", minimum=0),
        "comments": array(ReportComment, "The largest of those groups."),
    }, "required": ["change", "change_label", "old_label", "new_label", "similarity", "adopted_count",
                    "comments"]}, "Articles changed, added or removed in the next version."),
}, required=("round", "draft", "totals", "whole_draft", "chapters", "themes", "outcomes", "next_version", "changed"))


# --- shapes --------------------------------------------------------------------------------------

def draft_ref(draft: Draft) -> dict[str, Any]:
    return {"id": draft.id, "title": draft.title, "url": f"/drafts/{draft.id}", "api_url": f"/api/v1/drafts/{draft.id}"}


def round_status(round_: CommentRound) -> str:
    now = utcnow()
    return "upcoming" if now < round_.opens_at else ("open" if now < round_.closes_at else "closed")


def round_summary(round_: CommentRound, version_number: int) -> dict[str, Any]:
    status = round_status(round_)
    return {"id": round_.id, "url": f"/rounds/{round_.id}", "api_url": f"/api/v1/rounds/{round_.id}",
            "version": version_number, "opens_at": iso(round_.opens_at), "closes_at": iso(round_.closes_at),
            "audience": round_.audience.value, "audience_label": gettext(round_.audience.label),
            "status": status, "status_label": gettext(STATUS_LABELS[status])}


def version_summary(draft_id: int, version: DraftVersion) -> dict[str, Any]:
    return {"number": version.number, "url": f"/drafts/{draft_id}?v={version.number}",
            "api_url": f"/api/v1/drafts/{draft_id}/versions/{version.number}", "source_name": version.source_name,
            "created_at": iso(version.created_at),
            "counts": {name: int(version.counts.get(name, 0)) for name in COUNT_NAMES}}


def anchor(key: str) -> str:
    """The provision's anchor on the draft page (templates/drafts/_macros.html ``anchor``)."""
    return key.split("/")[-1].replace("~", "-")


def _provision(p: Provision, parent_key: str | None, article_label: str, url: str) -> dict[str, Any]:
    return {"id": p.id, "key": p.key, "parent_key": parent_key, "kind": p.kind.value, "number": p.number,
            "label": p.label, "title": p.title, "cite": cite(p.kind, p.label, p.number, article_label),
            "text": p.text, "body": p.body, "url": url}


def provisions_view(draft_id: int, version: DraftVersion, provisions: list[Provision], shape: str) -> list[Any]:
    by_id = {p.id: p for p in provisions}
    page = f"/drafts/{draft_id}?v={version.number}"

    def article_of(p: Provision) -> Provision | None:
        node: Provision | None = p
        while node is not None and node.kind is not Kind.ARTICLE:
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
        return node

    def shaped(p: Provision) -> dict[str, Any]:
        parent = by_id.get(p.parent_id) if p.parent_id is not None else None
        article = article_of(p)
        return _provision(p, parent.key if parent else None, article.label if article else "",
                          f"{page}#{anchor(article.key if article else p.key)}")

    if shape == "flat":
        return [shaped(p) for p in provisions]

    def node(tree: TreeNode) -> dict[str, Any]:
        return {**shaped(tree.provision), "children": [node(child) for child in tree.children]}

    return [node(root) for root in drafts.tree_of(provisions)]


def _side(node: Node | None) -> dict[str, Any] | None:
    if node is None:
        return None
    return {"key": node.key, "number": node.number, "label": node.label, "body": node.body}


def article_change(change: ArticleChange) -> dict[str, Any]:
    return {"change": change.change.value, "change_label": gettext(CHANGE_LABELS[change.change]),
            "old": _side(change.old), "new": _side(change.new),
            "old_label": change.old.label if change.old else None,
            "new_label": change.new.label if change.new else None,
            "similarity": round(change.similarity, 4),
            "segments": [{"op": op, "text": text} for op, text in change.segments]}


def comment_url(comment: DraftComment) -> str:
    if comment.article_id is None:
        return f"/rounds/{comment.round_id}#comment-{comment.id}"
    return f"/rounds/{comment.round_id}/articles/{comment.article_id}#comment-{comment.id}"


async def _comment_views(ctx: Ctx, round_: CommentRound, comments: list[DraftComment], *, fresh: bool = False,
                         known: dict[int, Provision] | None = None) -> list[dict[str, Any]]:
    """Comments as the public sees them; what each is on, its answer, themes and the caller's support.
    ``fresh``: comments just written in this request, which have no themes and no supports yet (themes
    live on groups' first comments); ``known``: provisions the caller has loaded already."""
    ids = [] if fresh else [c.id for c in comments]
    known = known or {}
    provisions = known | await rounds.provisions_by_id(ctx.db, {c.provision_id for c in comments
                                                                if c.provision_id not in known}
                                                       | {c.article_id for c in comments if c.article_id not in known})
    changed_ids = {c.changed_provision_id for c in comments if c.changed_provision_id is not None}
    changed = {p.id: (p, number) for p, number in (await ctx.db.execute(
        select(Provision, DraftVersion.number).join(DraftVersion, DraftVersion.id == Provision.version_id)
        .where(Provision.id.in_(changed_ids)))).all()} if changed_ids else {}
    themes = await rounds.themes_by_comment(ctx.db, ids)
    supported = await rounds.supported_by(ctx.db, ctx.actor.user_id, ids)
    views = []
    for c in comments:
        target = provisions.get(c.provision_id) if c.provision_id is not None else None
        article = provisions.get(c.article_id) if c.article_id is not None else None
        new = changed.get(c.changed_provision_id) if c.changed_provision_id is not None else None
        views.append({
            "id": c.id, "url": comment_url(c),
            "target": {"whole_draft": c.provision_id is None, "provision_id": c.provision_id,
                       "article_id": c.article_id, "chapter_id": c.chapter_id,
                       "cite": cite(target.kind, target.label, target.number, article.label if article else "")
                       if target is not None else None},
            "body": c.body, "proposed_wording": c.proposed_wording, "by_representative": c.by_representative,
            "group_size": c.group_size, "support_count": c.support_count, "supported": c.id in supported,
            "pending": c.held,
            "outcome": c.outcome.value if c.outcome is not None else None,
            "outcome_label": gettext(c.outcome.label if c.outcome is not None else NOT_ANSWERED),
            "reason": c.reason if c.outcome is not None else None, "answered_at": iso(c.answered_at),
            "changed_provision": {"id": new[0].id, "version": new[1], "label": new[0].label or new[0].key,
                                  "url": f"/drafts/{round_.draft_id}?v={new[1]}#{anchor(new[0].key)}"}
            if new is not None else None,
            "themes": themes.get(c.id, []),
            "created_at": iso(c.created_at),
        })
    return views


def _number(request: Request, name: str) -> int | None:
    raw = (request.query_params.get(name) or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        raise ValidationFailed({name: msg(NUMBER_PROBLEM)})
    return int(raw)


async def _draft(request: Request, ctx: Ctx) -> Draft:
    return await drafts.get_draft(ctx.db, request.path_params["draft_id"])


async def _round(request: Request, ctx: Ctx) -> CommentRound:
    return await rounds.get_round(ctx.db, request.path_params["round_id"])


async def _open_rounds(ctx: Ctx, draft_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    if not draft_ids:
        return {}
    now = utcnow()
    found: dict[int, list[dict[str, Any]]] = {}
    for round_, number in (await ctx.db.execute(
            select(CommentRound, DraftVersion.number).join(DraftVersion, DraftVersion.id == CommentRound.version_id)
            .where(CommentRound.draft_id.in_(draft_ids), CommentRound.opens_at <= now, CommentRound.closes_at > now)
            .order_by(CommentRound.closes_at))).all():
        found.setdefault(round_.draft_id, []).append(round_summary(round_, number))
    return found


def _draft_summary(draft: Draft, area: Any, version_count: int, latest: int,
                   open_rounds: list[dict[str, Any]]) -> dict[str, Any]:
    return {**draft_ref(draft), "area": area, "version_count": version_count, "latest_version": latest,
            "created_at": iso(draft.created_at), "open_rounds": open_rounds}


# --- drafts --------------------------------------------------------------------------------------

@routes.endpoint("/api/v1/drafts", summary="Draft regulations", tag=TAG, query=PAGE_PARAMS,
                 responses={200: ("Newest first", page_of(DraftSummary))})
async def api_drafts(request: Request, ctx: Ctx) -> Response:
    page = page_request(request)
    total = int(await ctx.db.scalar(select(func.count()).select_from(Draft)) or 0)
    rows = (await drafts.list_drafts(ctx.db, limit=page.offset + page.per_page))[page.offset:]
    ids = [row.draft.id for row in rows]
    latest = dict((await ctx.db.execute(select(DraftVersion.draft_id, func.max(DraftVersion.number))
                                        .where(DraftVersion.draft_id.in_(ids)).group_by(DraftVersion.draft_id)))
                  .all()) if ids else {}
    open_rounds = await _open_rounds(ctx, ids)
    return ok(page_body([
        _draft_summary(row.draft, {"id": row.draft.area_id, "name": row.area_name}, row.versions,
                       int(latest.get(row.draft.id, row.versions)), open_rounds.get(row.draft.id, []))
        for row in rows], page, total))


@routes.endpoint(DRAFT, summary="A draft with its versions and comment rounds", tag=TAG,
                 responses={200: ("The draft", DraftDetail)})
async def api_draft(request: Request, ctx: Ctx) -> Response:
    draft = await _draft(request, ctx)
    versions = await drafts.versions_of(ctx.db, draft)
    all_rounds = await rounds.rounds_of(ctx.db, draft)
    summaries = [round_summary(r, r.version.number) for r in all_rounds]
    return ok({
        **_draft_summary(draft, area_ref(draft.area), len(versions), versions[-1].number,
                         [s for s in summaries if s["status"] == "open"]),
        "versions": [version_summary(draft.id, v) for v in versions],
        "rounds": summaries,
    })


@routes.endpoint(f"{DRAFT}/versions/{{number:int}}", summary="A version's provisions", tag=TAG,
                 query=(Param("shape", {**enum(SHAPES), "default": "tree"},
                              "tree (nested children) or flat (document order, with parent_key)."),),
                 responses={200: ("The version, its counts and its provisions", VersionDetail)})
async def api_draft_version(request: Request, ctx: Ctx) -> Response:
    draft = await _draft(request, ctx)
    version = await drafts.get_version(ctx.db, draft, request.path_params["number"])
    shape = query_choice(request, "shape", SHAPES) or "tree"
    provisions = await drafts.provisions_of(ctx.db, version)
    round_ = await ctx.db.scalar(select(CommentRound).where(CommentRound.version_id == version.id))
    return ok({
        **version_summary(draft.id, version), "draft": draft_ref(draft), "shape": shape,
        "round": round_summary(round_, version.number) if round_ is not None else None,
        "provisions": provisions_view(draft.id, version, provisions, shape),
    })


@routes.endpoint(f"{DRAFT}/compare", summary="What changed between two versions, article by article", tag=TAG,
                 query=(Param("from", integer(minimum=1), "The earlier version (default: the one before `to`)."),
                        Param("to", integer(minimum=1), "The later version (default: the latest).")),
                 responses={200: ("Every article's change with its inline diff", ComparisonSchema)})
async def api_draft_compare(request: Request, ctx: Ctx) -> Response:
    """Articles are matched by content, so an article that only moved is "renumbered", not removed and
    added. A version number the draft does not have answers 404."""
    draft = await _draft(request, ctx)
    to_number = _number(request, "to")
    from_number = _number(request, "from")
    if to_number is None:
        to_number = (await drafts.latest_version(ctx.db, draft)).number
    if from_number is None:
        from_number = max(1, to_number - 1)
    comparison = await drafting.compare_versions(ctx.db, draft, from_number, to_number)
    return ok({"draft": draft_ref(draft), "from": from_number, "to": to_number,
               "counts": {change.value: n for change, n in comparison.counts.items()},
               "changes": [article_change(change) for change in comparison.changes]})


# --- rounds --------------------------------------------------------------------------------------

@routes.endpoint(ROUND, summary="A comment round: window, audience, status and counts", tag=TAG,
                 responses={200: ("The round", RoundDetail)})
async def api_round(request: Request, ctx: Ctx) -> Response:
    round_id = request.path_params["round_id"]

    async def load() -> tuple[CommentRound, dict[int | None, int], list[tuple[int, str]], list[tuple[str, str]]]:
        round_ = await rounds.get_round(ctx.db, round_id)
        counts = await rounds.article_counts(ctx.db, round_.id)
        articles = [(pid, label) for pid, label in await drafts.article_labels(ctx.db, round_.version_id)
                    if pid in counts]
        areas = await rounds.round_areas(ctx.db, round_) if round_.audience is Audience.residents else []
        return round_, counts, articles, areas

    round_, counts, articles, areas = await round_cached(request.app, "round_api", round_id, load)
    problem = await commenting.participation_problem(ctx.db, ctx.actor, round_, areas=areas)
    return ok({
        **round_summary(round_, round_.version.number),
        "draft": draft_ref(round_.draft), "instructions": round_.instructions, "areas": [name for _, name in areas],
        "counts": {"comments": sum(counts.values()), "whole_draft": counts.get(None, 0),
                   "articles": [{"provision_id": pid, "label": label, "count": counts[pid],
                                 "url": f"/rounds/{round_.id}/articles/{pid}"} for pid, label in articles]},
        "viewer": {"signed_in": ctx.user is not None, "can_comment": problem is None,
                   "problem": translate(problem) if problem is not None else None},
    })


@routes.endpoint(f"{ROUND}/comments", summary="A round's comments (anonymous), per article", tag=TAG,
                 query=(Param("article", integer(minimum=0), f"An article's provision id; {WHOLE_DRAFT} for comments "
                                                             "on the whole draft; absent for all."),
                        *PAGE_PARAMS),
                 responses={200: ("The largest groups and the most supported first", page_of(DraftCommentSchema))})
async def api_round_comments(request: Request, ctx: Ctx) -> Response:
    """Held comments are left out, and so are copies grouped under an earlier comment (``group_size``
    counts them). No commenter is named or identified."""
    round_ = await _round(request, ctx)
    page = page_request(request)
    raw = (request.query_params.get("article") or "").strip()
    article_id: int | None = None
    if raw:
        article = await ctx.db.get(Provision, int(raw)) if raw.isdigit() and len(raw) <= 10 else None
        if raw != str(WHOLE_DRAFT) and (article is None or article.version_id != round_.version_id
                                        or article.kind is not Kind.ARTICLE):
            raise ValidationFailed({"article": msg("There is no such article in the version under comment.")})
        article_id = int(raw)
    total = (await rounds.article_figures(ctx.db, round_.id, article_id)).groups if article_id is not None else None
    found = await rounds.public_comments(ctx.db, round_.id, article_id, page.page, page.per_page, total=total)
    if found.number != page.page:  # past the last page: an empty page, as other lists answer
        found.items = []
    return ok(page_body(await _comment_views(ctx, round_, found.items), page, found.total))


@routes.endpoint(f"{ROUND}/comments", "POST", summary="Comment on an article, a paragraph or the whole draft",
                 name="api_round_comment_post", tag=TAG, request=NewDraftComment, signed_in=True,
                 idempotency_key=True, autocommit=True,  # on PostgreSQL the comment is one statement
                 responses={201: ("Sent (\"pending\" if held for review)", DraftCommentSchema),
                            200: ("The same submission again: the first comment, nothing doubled",
                                  DraftCommentSchema)})
async def api_round_comment_post(request: Request, ctx: Ctx) -> Response:
    """Who may comment is the round's audience (403 for others, with the reason), while the round is open
    (409 before and after its window). A provision that is not part of the version under comment is
    refused (422) and nothing is saved. A copy of an earlier comment on the same article joins its group."""
    user = require_user(ctx)
    hit = pending(ctx, f"draft-comment:user:{user.id}", per_seconds=round_policy.COMMENTING_LIMIT["per_seconds"])
    # its draft is not needed; the attempt is counted with it
    round_, counted = await rounds.round_for_comment(ctx.db, request.path_params["round_id"], hit)
    await settle(ctx, hit, counted, max_hits=round_policy.COMMENTING_LIMIT["max_hits"])
    body = await json_body(request, NewDraftComment)
    token = body.get("client_token") or request.headers.get("idempotency-key") or None
    started = utcnow()
    known: dict[int, Provision] = {}
    comment = await commenting.post_comment(ctx.db, ctx.actor, round_, provision_id=body.get("provision_id"),
                                            body=body["body"], proposed_wording=body.get("proposed_wording") or "",
                                            client_token=token, provisions=known)
    # On PostgreSQL the route runs in autocommit (``web.routing``): the attempt's count commits with the read of
    # the round, and the comment, its event, its indexing and its group's size with the one statement that
    # writes them, so the group's row that every copy of a campaign updates is locked only while it runs.
    created = comment.created_at >= started
    [view] = await _comment_views(ctx, round_, [comment], fresh=created, known=known)
    return ok(view, 201 if created else 200)


@routes.endpoint(f"{ROUND}/report", summary="A round's feedback report (征求意见情况)", tag=TAG,
                 responses={200: ("The report's figures", RoundReport)})
async def api_round_report(request: Request, ctx: Ctx) -> Response:
    """The figures of the printable report page: totals, the heat map, themes, answers per outcome and
    the articles the next version changed, with the comments adopted on them."""
    round_id = request.path_params["round_id"]

    async def load() -> reporting.Report:
        return await reporting.build(ctx.db, await rounds.get_round(ctx.db, round_id))

    built = await round_cached(request.app, "round_report", round_id, load)
    round_ = built.round
    return ok({
        "round": round_summary(round_, round_.version.number),
        "draft": draft_ref(round_.draft),
        "totals": dict(vars(built.totals)),
        "whole_draft": built.whole_draft,
        "chapters": [{
            "chapter": {"id": ch.provision.id, "label": ch.provision.label, "title": ch.provision.title}
            if ch.provision is not None else None,
            "count": ch.count,
            "articles": [{"provision_id": a.provision.id, "label": a.provision.label, "count": a.count,
                          "level": a.level} for a in ch.articles],
        } for ch in built.chapters],
        "themes": [{"name": name, "count": n} for name, n in built.themes],
        "outcomes": [{"outcome": o.value if o is not None else None,
                      "label": gettext(o.label if o is not None else NOT_ANSWERED), "count": n}
                     for o, n in built.outcomes.items()],
        "next_version": version_summary(round_.draft_id, built.next_version) if built.next_version else None,
        "changed": [{
            **{k: v for k, v in article_change(changed.change).items()
               if k in ("change", "change_label", "old_label", "new_label", "similarity")},
            "adopted_count": changed.count,
            "comments": [{"id": c.id, "url": comment_url(c), "body": c.body, "group_size": c.group_size,
                          "outcome": c.outcome.value if c.outcome else None,
                          "reason": c.reason if c.outcome else None} for c in changed.comments],
        } for changed in built.changed],
    })
