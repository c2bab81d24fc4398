"""Comments as JSON: a topic's thread (three levels, tombstones in place, stance counts), posting a
comment or a reply, one comment, the author's edit (within the window) and soft delete, reactions
(set and unset, idempotent) and reports (one per person).

Who sees what is the comments domain's rule (``queries.visible_to``): shown comments and tombstones
for everyone, a comment held for review only for its author and the community's workers. Posting has
the pages' rate limit and double-submit protection (``client_token``, or the ``Idempotency-Key``
header, returns the first comment instead of saving a second).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from consultation.comments import policy, services
from consultation.comments import queries as comments
from consultation.comments.models import (
    BODY_MAX,
    CLIENT_TOKEN_MAX,
    REACTION_LABELS,
    REPORT_REASON_MAX,
    Comment,
    CommentReport,
    CommentStatus,
    ReactionKind,
    Stance,
)
from consultation.comments.queries import Node
from consultation.db import utcnow
from consultation.deliberation import queries as topics
from consultation.errors import N_, NotFound, ValidationFailed, msg
from web.api.core import (
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
    string,
    timestamp,
)
from web.api.core import PageRequest as PageInfo
from web.api.serializers import Person, person
from web.auth import require_user
from web.context import Ctx
from web.i18n import gettext, translate
from web.ratelimit import limit

routes = ApiTable()
TAG = "Comments"

DELETED = N_("This comment was deleted by its author.")
HIDDEN = N_("This comment was hidden by a community worker: {reason}")
REPORTED = N_("This comment was hidden after several reports and awaits review by a community worker.")

CommentNode = Schema("CommentNode", {
    "id": integer(),
    "url": string("The comment on the topic page."),
    "depth": integer(minimum=1, maximum=3),
    "parent_id": nullable(integer()),
    "status": enum([s.value for s in CommentStatus],
                   "visible; held (pending review: only its author and workers get it); reported, hidden or "
                   "deleted (a tombstone: no text)."),
    "shown": boolean("Whether the text is shown (false for a tombstone)."),
    "pending": boolean("Held for review because of a listed word."),
    "author": Person.ref,
    "by_staff": boolean("Written by a community worker."),
    "mine": boolean("Written by the caller."),
    "stance": nullable(enum([s.value for s in Stance], "Top-level comments only.")),
    "stance_label": nullable(string()),
    "body": nullable(string("The text (null for a tombstone).")),
    "tombstone": nullable(string("Why the text is gone (hidden comments carry the worker's public reason).")),
    "is_official_answer": boolean(),
    "created_at": timestamp(),
    "edited_at": nullable(timestamp()),
    "reactions": {"type": "object", "properties": {k.value: integer(minimum=0) for k in ReactionKind},
                  "required": [k.value for k in ReactionKind]},
    "my_reactions": array(enum([k.value for k in ReactionKind])),
    "replies": array({"$ref": "#/components/schemas/CommentNode"}),
}, required=("id", "url", "depth", "parent_id", "status", "shown", "pending", "author", "by_staff", "mine",
             "stance", "stance_label", "body", "tombstone", "is_official_answer", "created_at", "edited_at",
             "reactions", "my_reactions", "replies"))

StanceCounts = Schema("StanceCounts", {s.value: integer(minimum=0) for s in Stance},
                      required=tuple(s.value for s in Stance),
                      description="Shown top-level comments per stance.")

CommentThread = Schema("CommentThread", {
    "items": array(CommentNode), "page": integer(minimum=1), "per_page": integer(minimum=1),
    "total": integer("Top-level comments the caller sees.", minimum=0), "pages": integer(minimum=1),
    "stance_counts": StanceCounts.ref,
    "can_comment": boolean(),
    "comment_problem": nullable(string("Why the caller cannot comment now (null if they can).")),
}, required=("items", "page", "per_page", "total", "pages", "stance_counts", "can_comment", "comment_problem"))

NewComment = Schema("NewComment", {
    "body": string(maxLength=BODY_MAX),
    "stance": nullable(enum([s.value for s in Stance], "Required for a top-level comment; ignored on a reply.")),
    "parent_id": nullable(integer("Reply to this comment of the same topic.")),
    "client_token": nullable(string("Optional: the same token again returns the first comment.",
                                    maxLength=CLIENT_TOKEN_MAX)),
}, required=("body",))


EditComment = Schema("EditComment", {"body": string(maxLength=BODY_MAX)}, required=("body",))

REACTIONS = {"type": "object", "properties": {k.value: integer(minimum=0) for k in ReactionKind},
             "required": [k.value for k in ReactionKind], "description": "How many people reacted, per kind."}

ReactionStatus = Schema("ReactionStatus", {
    "comment_id": integer(),
    "kind": enum([k.value for k in ReactionKind]),
    "on": boolean("Whether the caller now has this reaction."),
    "changed": boolean("False when the request repeated the current state (nothing was done)."),
    "reactions": REACTIONS,
    "my_reactions": array(enum([k.value for k in ReactionKind])),
}, required=("comment_id", "kind", "on", "changed", "reactions", "my_reactions"),
   description="Counts only: who reacted is never published.")

NewReport = Schema("NewReport", {"reason": string("Why the comment should be reviewed.", maxLength=REPORT_REASON_MAX)},
                   required=("reason",))

ReportReceipt = Schema("ReportReceipt", {
    "comment_id": integer(),
    "reason": string("The reason the caller gave (the first one, when reported again)."),
    "reported_at": timestamp(),
    "comment_status": enum([s.value for s in CommentStatus],
                           "\"reported\" when enough reports hid the comment until a worker reviews it."),
}, required=("comment_id", "reason", "reported_at", "comment_status"),
   description="The caller's own report; reporters are never shown to others.")

KIND_PARAM = Param("kind", enum([k.value for k in ReactionKind]), "agree, thanks or question.")


def comment_node(node: Node, ctx: Ctx) -> dict[str, Any]:
    c = node.comment
    shown = c.status in (CommentStatus.visible, CommentStatus.held)
    tombstone = None
    if c.status is CommentStatus.deleted:
        tombstone = gettext(DELETED)
    elif c.status is CommentStatus.hidden:
        tombstone = gettext(HIDDEN, reason=c.hidden_reason or "")
    elif c.status is CommentStatus.reported:
        tombstone = gettext(REPORTED)
    return {
        "id": c.id,
        "url": f"/comments/{c.id}",
        "depth": c.depth,
        "parent_id": c.parent_id,
        "status": c.status.value,
        "shown": shown,
        "pending": c.status is CommentStatus.held,
        "author": person(c.author),
        "by_staff": c.by_staff,
        "mine": ctx.user is not None and c.author_id == ctx.user.id,
        "stance": c.stance.value if c.stance and shown else None,
        "stance_label": gettext(c.stance.label) if c.stance and shown else None,
        "body": c.body if shown else None,
        "tombstone": tombstone,
        "is_official_answer": c.is_official_answer and c.status is CommentStatus.visible,
        "created_at": iso(c.created_at),
        "edited_at": iso(c.edited_at) if shown else None,
        **reaction_counts(node),
        "replies": [comment_node(reply, ctx) for reply in node.replies],
    }


def reaction_counts(node: Node) -> dict[str, Any]:
    return {"reactions": {kind.value: node.reactions.get(kind, 0) for kind in REACTION_LABELS},
            "my_reactions": sorted(kind.value for kind in node.mine)}


async def _node(ctx: Ctx, comment: Comment) -> Node:
    """One comment with its reaction counts and the caller's own reactions (no replies)."""
    node = Node(comment)
    await comments._reactions(ctx.db, ctx.actor, {comment.id: node})  # the thread's own counting
    return node


async def _comment(request: Request, ctx: Ctx) -> Comment:
    """A comment the caller may see (someone else's held comment looks missing)."""
    return await comments.get_comment(ctx.db, ctx.actor, request.path_params["comment_id"])


async def _posted(ctx: Ctx, comment: Comment, started: Any) -> Response:
    status = 201 if comment.created_at >= started else 200  # 200: the same submission again
    return ok(comment_node(Node(comment), ctx), status, headers={"Location": f"/api/v1/comments/{comment.id}"})


@routes.endpoint("/api/v1/topics/{topic_id:int}/comments", summary="A topic's comment thread", tag=TAG,
                 query=(Param("page", integer(minimum=1, default=1), f"Page of {comments.PER_PAGE} top-level "
                                                                     "comments (oldest first), with their replies."),),
                 responses={200: ("The thread page and the stance counts", CommentThread)})
async def api_topic_comments(request: Request, ctx: Ctx) -> Response:
    topic = await topics.get_topic(ctx.db, request.path_params["topic_id"])
    raw = request.query_params.get("page", "1").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise ValidationFailed({"page": msg("Enter a whole number from 1 to {n}.", n=10_000)})
    thread = await comments.thread(ctx.db, ctx.actor, topic, int(raw))
    problem = policy.comment_problem(ctx.actor, topic)
    counts = await comments.stance_counts(ctx.db, topic.id)
    return ok({
        **page_body([comment_node(node, ctx) for node in thread.nodes], PageInfo(thread.number, comments.PER_PAGE),
                    thread.total),
        "pages": thread.pages,
        "stance_counts": {stance.value: counts[stance] for stance in Stance},
        "can_comment": problem is None,
        "comment_problem": translate(problem) if problem is not None else None,
    })


@routes.endpoint("/api/v1/topics/{topic_id:int}/comments", "POST", summary="Comment on a topic, or reply",
                 name="api_topic_comment_post", tag=TAG, request=NewComment, signed_in=True, idempotency_key=True,
                 responses={201: ("Posted (\"pending\" if held for review)", CommentNode),
                            200: ("The same submission again: the first comment, nothing doubled", CommentNode)})
async def api_topic_comment_post(request: Request, ctx: Ctx) -> Response:
    """Residents of the topic's community (and its workers) comment while the topic is open. A
    top-level comment needs a stance; a reply (``parent_id``) has none. The ``Idempotency-Key`` header
    works like ``client_token``: a repeat returns the first comment with 200."""
    require_user(ctx)
    topic = await topics.get_topic(ctx.db, request.path_params["topic_id"])
    body = await json_body(request, NewComment)
    token = body.get("client_token") or request.headers.get("idempotency-key") or None
    started = utcnow()
    await limit(ctx, **policy.POSTING.of(ctx.actor.user_id))
    if body.get("parent_id"):
        try:
            parent = await comments.get_comment(ctx.db, ctx.actor, body["parent_id"])
        except NotFound:
            parent = None
        if parent is None or parent.topic_id != topic.id:
            raise ValidationFailed({"parent_id": msg("There is no such comment on this topic.")})
        comment = await services.reply(ctx.db, ctx.actor, parent, body=body["body"], client_token=token)
    else:
        comment = await services.post_comment(ctx.db, ctx.actor, topic, body=body["body"],
                                              stance=body.get("stance") or "", client_token=token)
    return await _posted(ctx, comment, started)


@routes.endpoint("/api/v1/comments/{comment_id:int}", summary="One comment", tag=TAG,
                 responses={200: ("The comment (without its replies)", CommentNode)})
async def api_comment(request: Request, ctx: Ctx) -> Response:
    comment = await _comment(request, ctx)
    return ok(comment_node(await _node(ctx, comment), ctx))


@routes.endpoint("/api/v1/comments/{comment_id:int}", "PATCH", summary="Edit one's own comment",
                 name="api_comment_edit", tag=TAG, request=EditComment, signed_in=True,
                 responses={200: ("Changed (\"edited_at\" set; \"pending\" if now held for review)", CommentNode)})
async def api_comment_edit(request: Request, ctx: Ctx) -> Response:
    """Only the author (403 for anyone else), within the edit window after posting and while the
    topic is open (409 after that, with the reason). The earlier text is kept for the moderators.
    Sending the same text again changes nothing."""
    require_user(ctx)
    comment = await _comment(request, ctx)
    body = await json_body(request, EditComment)
    await limit(ctx, **policy.EDITING.of(ctx.actor.user_id))  # one budget with the pages
    comment = await services.edit_comment(ctx.db, ctx.actor, comment, body=body["body"])
    return ok(comment_node(await _node(ctx, comment), ctx))


@routes.endpoint("/api/v1/comments/{comment_id:int}", "DELETE", summary="Delete one's own comment",
                 name="api_comment_delete", tag=TAG, signed_in=True,
                 responses={200: ("Deleted: a tombstone stays in the thread", CommentNode)})
async def api_comment_delete(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    comment = await services.delete_comment(ctx.db, ctx.actor, comment)
    return ok(comment_node(await _node(ctx, comment), ctx))


async def _react(request: Request, ctx: Ctx, on: bool) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    kind = request.path_params["kind"]
    changed = await services.set_reaction(ctx.db, ctx.actor, comment, kind, on)
    return ok({"comment_id": comment.id, "kind": kind, "on": on, "changed": changed,
               **reaction_counts(await _node(ctx, comment))})


REACTION = "/api/v1/comments/{comment_id:int}/reactions/{kind:str}"


@routes.endpoint(REACTION, "PUT", summary="React to a comment", name="api_comment_react", tag=TAG,
                 path_params=(KIND_PARAM,), signed_in=True,
                 responses={200: ("The reaction is on (also when it already was)", ReactionStatus)})
async def api_comment_react(request: Request, ctx: Ctx) -> Response:
    """People who may comment in the topic's community react to a shown comment while the topic is
    open. Idempotent: repeating it (even at once) keeps one reaction."""
    return await _react(request, ctx, on=True)


@routes.endpoint(REACTION, "DELETE", summary="Take back a reaction", name="api_comment_unreact", tag=TAG,
                 path_params=(KIND_PARAM,), signed_in=True,
                 responses={200: ("The reaction is off (also when it already was)", ReactionStatus)})
async def api_comment_unreact(request: Request, ctx: Ctx) -> Response:
    return await _react(request, ctx, on=False)


@routes.endpoint("/api/v1/comments/{comment_id:int}/reports", "POST", summary="Report a comment",
                 name="api_comment_report", tag=TAG, request=NewReport, signed_in=True,
                 responses={201: ("Reported: community workers will review it", ReportReceipt),
                            200: ("Already reported by the caller: the first report, nothing added", ReportReceipt)})
async def api_comment_report(request: Request, ctx: Ctx) -> Response:
    """People who may comment in the comment's community (except its author) report a shown comment,
    once: a repeat answers 200 with the first report. Three reports of verified residents or staff of
    the community hide the comment until a worker reviews it."""
    require_user(ctx)
    comment = await _comment(request, ctx)
    body = await json_body(request, NewReport)
    await limit(ctx, **policy.REPORTING.of(ctx.actor.user_id))
    added = await services.report_comment(ctx.db, ctx.actor, comment, body["reason"])
    report = await ctx.db.scalar(select(CommentReport).where(CommentReport.comment_id == comment.id,
                                                             CommentReport.user_id == ctx.actor.user_id))
    if report is None:  # cannot happen: report_comment added it or found it
        raise NotFound()
    return ok({"comment_id": comment.id, "reason": report.reason, "reported_at": iso(report.created_at),
               "comment_status": comment.status.value}, 201 if added else 200)
