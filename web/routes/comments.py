"""Comments: the topic page's comment section (stance counts, the form, the thread), reply, edit,
report and delete pages for no-JS use, reactions, the permalink, the workers' moderation queue and
the administrators' sensitive-word list."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.comments import moderation, policy, services, words
from consultation.comments import queries as comments
from consultation.comments.models import (
    BODY_MAX,
    HIDE_REASON_MAX,
    REACTION_LABELS,
    REPORT_REASON_MAX,
    STANCE_LABELS,
    WORD_MAX,
    Comment,
    CommentStatus,
)
from consultation.deliberation import queries as topics
from consultation.deliberation.models import Topic
from consultation.errors import NotFound, ValidationFailed
from web.auth import require_permission, require_user
from web.context import Ctx
from web.forms import form_fields, int_or_none, redirect
from web.i18n import gettext as _
from web.ratelimit import limit
from web.routes.deliberation import topic_context
from web.routing import RouteTable
from web.templating import field_errors, render
from web.topic_sections import topic_section

routes = RouteTable()
LIMITS = {"body_max": BODY_MAX, "report_reason_max": REPORT_REASON_MAX, "hide_reason_max": HIDE_REASON_MAX,
          "word_max": WORD_MAX}


def _token() -> str:
    """A fresh idempotency token for a comment form: submitting the same form twice saves one comment."""
    return secrets.token_urlsafe(16)


def _stance_options() -> list[tuple[str, str]]:
    return [(stance.value, _(label)) for stance, label in STANCE_LABELS.items()]


@topic_section("deliberation/_topic_comments.html", order=40, slot="end")
async def comment_section(ctx: Ctx, topic: Topic) -> dict[str, Any]:
    number = int_or_none(ctx.request.query_params.get("comments_page")) or 1
    thread = await comments.thread(ctx.db, ctx.actor, topic, number)  # with its stance counts: two statements
    return {
        "comments": thread,
        "stance_counts": thread.stance_counts,
        "comment_problem": policy.comment_problem(ctx.actor, topic),
        "may_moderate": policy.is_staff_of(ctx.actor, topic.community),
        "stance_options": _stance_options(),
        "reaction_labels": REACTION_LABELS,
        "comment_form": {"client_token": _token()},
        "comment_errors": {},
        "comment_token": _token,
        "comment_edit_problem": policy.edit_problem,
        "comment_limits": LIMITS,
    }


async def _comment(request: Request, ctx: Ctx) -> Comment:
    return await comments.get_comment(ctx.db, ctx.actor, request.path_params["comment_id"])


async def _permalink(ctx: Ctx, comment: Comment) -> str:
    topic = await services.topic_of(ctx.db, comment)
    number = await comments.page_of(ctx.db, ctx.actor, comment, topic)
    page = f"?comments_page={number}" if number > 1 else ""
    return f"/topics/{topic.id}{page}#comment-{comment.id}"


async def _limit(ctx: Ctx, rule: policy.RateLimit) -> None:
    """Per-person limits of posting, editing and reporting (``policy.POSTING``, ``EDITING``, ``REPORTING``),
    shared with the JSON API."""
    await limit(ctx, **rule.of(ctx.actor.user_id))


async def _limit_posting(ctx: Ctx) -> None:
    await _limit(ctx, policy.POSTING)


def _posted_flash(ctx: Ctx, comment: Comment) -> None:
    if comment.status is CommentStatus.held:
        ctx.flash(_("Your comment is waiting for review by a community worker. Until then only you can see it."),
                  "info")
    else:
        ctx.flash(_("Your comment was published."))


# --- posting -------------------------------------------------------------------------------------

@routes.post("/topics/{topic_id:int}/comments", name="comment_post")
async def post_comment(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    topic = await topics.get_topic(ctx.db, request.path_params["topic_id"])
    form = await form_fields(request)
    try:
        await _limit_posting(ctx)
        comment = await services.post_comment(ctx.db, ctx.actor, topic, body=form.get("body", ""),
                                              stance=form.get("stance", ""), client_token=form.get("client_token"))
    except ValidationFailed as exc:
        context = await topic_context(ctx, topic)
        context.update({"comment_form": form, "comment_errors": field_errors(exc.errors)})
        return render(request, "deliberation/topic.html", context, status_code=422)
    _posted_flash(ctx, comment)
    return redirect(await _permalink(ctx, comment))


def _reply_context(comment: Comment, form: dict[str, str], errors: dict[str, str] | None = None) -> dict[str, Any]:
    return {"comment": comment, "form": form, "errors": errors or {}, **LIMITS}


@routes.get("/comments/{comment_id:int}/reply", name="comment_reply_form")
async def reply_form(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    topic = await services.topic_of(ctx.db, comment)
    return render(request, "comments/reply.html", _reply_context(comment, {"client_token": _token()}) | {
        "topic": topic, "problem": policy.comment_problem(ctx.actor, topic)})


@routes.post("/comments/{comment_id:int}/reply", name="comment_reply")
async def reply(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    parent = await _comment(request, ctx)
    form = await form_fields(request)
    try:
        await _limit_posting(ctx)
        comment = await services.reply(ctx.db, ctx.actor, parent, body=form.get("body", ""),
                                       client_token=form.get("client_token"))
    except ValidationFailed as exc:
        topic = await services.topic_of(ctx.db, parent)
        return render(request, "comments/reply.html", _reply_context(parent, form, field_errors(exc.errors)) | {
            "topic": topic, "problem": None}, status_code=422)
    _posted_flash(ctx, comment)
    return redirect(await _permalink(ctx, comment))


# --- the author's edit and delete ----------------------------------------------------------------

@routes.get("/comments/{comment_id:int}/edit", name="comment_edit_form")
async def edit_form(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    return render(request, "comments/edit.html", _reply_context(comment, {"body": comment.body}) | {
        "problem": policy.edit_problem(ctx.actor, comment)})


@routes.post("/comments/{comment_id:int}/edit", name="comment_edit")
async def edit(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    form = await form_fields(request)
    try:
        await _limit(ctx, policy.EDITING)
        await services.edit_comment(ctx.db, ctx.actor, comment, body=form.get("body", ""))
    except ValidationFailed as exc:
        return render(request, "comments/edit.html", _reply_context(comment, form, field_errors(exc.errors)) | {
            "problem": None}, status_code=422)
    if comment.status is CommentStatus.held:
        ctx.flash(_("Your comment is waiting for review by a community worker. Until then only you can see it."),
                  "info")
    else:
        ctx.flash(_("Your comment was changed."))
    return redirect(await _permalink(ctx, comment))


@routes.post("/comments/{comment_id:int}/delete", name="comment_delete")
async def delete(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    await services.delete_comment(ctx.db, ctx.actor, comment)
    ctx.flash(_("Your comment was deleted."))
    return redirect(await _permalink(ctx, comment))


# --- reactions and reports -----------------------------------------------------------------------

@routes.post("/comments/{comment_id:int}/react", name="comment_react")
async def react(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    form = await form_fields(request)
    await services.set_reaction(ctx.db, ctx.actor, comment, form.get("kind", ""), form.get("on") == "1")
    return redirect(await _permalink(ctx, comment))


@routes.get("/comments/{comment_id:int}/report", name="comment_report_form")
async def report_form(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    return render(request, "comments/report.html", _reply_context(comment, {}))


@routes.post("/comments/{comment_id:int}/report", name="comment_report")
async def report(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    comment = await _comment(request, ctx)
    form = await form_fields(request)
    try:
        await _limit(ctx, policy.REPORTING)
        added = await services.report_comment(ctx.db, ctx.actor, comment, form.get("reason", ""))
    except ValidationFailed as exc:
        return render(request, "comments/report.html", _reply_context(comment, form, field_errors(exc.errors)),
                      status_code=422)
    if added:
        ctx.flash(_("Thank you. Community workers will review the comment."))
    else:
        ctx.flash(_("You have already reported this comment."), "info")
    return redirect(await _permalink(ctx, comment))


@routes.get("/comments/{comment_id:int}", name="comment_permalink")
async def permalink(request: Request, ctx: Ctx) -> Response:
    """A stable address for a comment (search results, notifications): the right page of its thread."""
    return redirect(await _permalink(ctx, await _comment(request, ctx)))


# --- moderation ----------------------------------------------------------------------------------

@routes.get("/worker/moderation", name="worker_moderation")
async def moderation_queue(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "comments.moderation_queue")
    return render(request, "comments/moderation_queue.html", {
        "queue": await comments.moderation_queue(ctx.db, ctx.actor), **LIMITS})


MODERATION_ACTIONS = ("hide", "restore", "approve", "dismiss", "official", "unofficial")


@routes.post("/worker/moderation/comments/{comment_id:int}/{action:str}", name="worker_moderation_action")
async def moderate(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "comments.moderation_queue")
    action = request.path_params["action"]
    comment = await _comment(request, ctx)
    if action not in MODERATION_ACTIONS or not policy.can_moderate(ctx.actor, comment):
        raise NotFound()  # another community's comment looks missing
    form = await form_fields(request)
    back = "/worker/moderation" if form.get("back") == "queue" else None
    try:
        if action == "hide":
            await moderation.hide(ctx.db, ctx.actor, comment, form.get("reason", ""))
        elif action == "restore":
            await moderation.restore(ctx.db, ctx.actor, comment)
        elif action == "approve":
            await moderation.approve(ctx.db, ctx.actor, comment)
        elif action == "dismiss":
            await moderation.dismiss_reports(ctx.db, ctx.actor, comment)
        else:
            await moderation.mark_official(ctx.db, ctx.actor, comment, official=action == "official")
    except ValidationFailed as exc:
        ctx.flash(_("Give the reason; it is shown publicly in place of the comment.") if "reason" in exc.errors
                  else ", ".join(field_errors(exc.errors).values()), "error")
        return redirect(back or await _permalink(ctx, comment))
    ctx.flash(_("Done: the comment was updated."))
    return redirect(back or await _permalink(ctx, comment))


# --- sensitive words (administrators) ------------------------------------------------------------

async def _words_page(request: Request, ctx: Ctx, form: dict[str, str], errors: dict[str, str] | None = None,
                      status_code: int = 200) -> Response:
    return render(request, "comments/sensitive_words.html", {
        "words": await words.listed(ctx.db), "form": form, "errors": errors or {}, **LIMITS}, status_code=status_code)


@routes.get("/admin/sensitive-words", name="admin_sensitive_words")
async def sensitive_words(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "comments.manage_words")
    return await _words_page(request, ctx, {})


@routes.post("/admin/sensitive-words", name="admin_sensitive_words_add")
async def add_sensitive_word(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "comments.manage_words")
    form = await form_fields(request)
    try:
        added = await words.add_word(ctx.db, ctx.actor, form.get("word", ""))
    except ValidationFailed as exc:
        return await _words_page(request, ctx, form, field_errors(exc.errors), status_code=422)
    if added:
        ctx.flash(_("The word was added. New comments containing it are held for review."))
    else:
        ctx.flash(_("This word is already on the list."), "info")
    return redirect("/admin/sensitive-words")


@routes.post("/admin/sensitive-words/{word_id:int}/delete", name="admin_sensitive_word_delete")
async def remove_sensitive_word(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "comments.manage_words")
    word = await words.remove_word(ctx.db, ctx.actor, request.path_params["word_id"])
    ctx.flash(_("“{word}” was removed from the list.", word=word))
    return redirect("/admin/sensitive-words")
