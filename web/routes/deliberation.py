"""Neighbourhood deliberation pages: propose a topic, the topic page (co-sign, follow, timeline,
the worker's next step), "my topics", the workers' triage queue, and similar topics as JSON."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from consultation.areas import queries as area_queries
from consultation.areas.models import Area, AreaLevel
from consultation.deliberation import photos, policy, rules
from consultation.deliberation import queries as topics
from consultation.deliberation import services as deliberation
from consultation.deliberation.models import (
    CATEGORY_LABELS,
    DESCRIPTION_MAX,
    PLACE_MAX,
    REASON_MAX,
    REFERRED_TO_MAX,
    TITLE_MAX,
    Topic,
    TopicState,
)
from consultation.errors import Forbidden, NotFound, ValidationFailed, msg
from search.results import SearchQuery, SearchResults
from search.service import SearchService
from search.text import MAX_QUERY_CHARS, normalise
from web.api.core import Param, Schema, array, boolean, describe, integer, string
from web.auth import require_permission, require_user
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect
from web.i18n import TIMEZONE, translate
from web.i18n import gettext as _
from web.routes import media
from web.routes.areas import renamed
from web.routing import RouteTable
from web.templating import render, render_for_anyone
from web.topic_sections import sections_for

routes = RouteTable()
SIMILAR_LIMIT = 5
LIMITS = {"title_max": TITLE_MAX, "description_max": DESCRIPTION_MAX, "place_max": PLACE_MAX,
          "reason_max": REASON_MAX, "referred_to_max": REFERRED_TO_MAX}


def category_options() -> list[tuple[str, str]]:
    return [(category.value, _(label)) for category, label in CATEGORY_LABELS.items()]


async def _topic(request: Request, ctx: Ctx) -> Topic:
    return await topics.get_topic(ctx.db, request.path_params["topic_id"])


# --- proposing -----------------------------------------------------------------------------------

async def _community(request: Request, ctx: Ctx) -> Area:
    area_id = int_or_none(request.query_params.get("area"))
    area = await ctx.db.get(Area, area_id) if area_id else None
    if area is None or area.level is not AreaLevel.community:
        raise NotFound()
    return area


async def _propose_context(ctx: Ctx, community: Area) -> dict[str, Any]:
    compounds = await area_queries.compounds_of(ctx.db, community)
    return {"community": community, "category_options": category_options(),
            "compound_options": [(c.id, c.name) for c in compounds], **LIMITS, **media.photo_form_context()}


async def _may_propose(ctx: Ctx, community: Area) -> None:
    require_user(ctx)
    if (problem := policy.propose_problem(ctx.actor, community)) is not None:
        raise Forbidden(problem)


@routes.get("/topics/new", name="topic_new")
async def propose_form(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    community = await _community(request, ctx)
    await _may_propose(ctx, community)
    return render(request, "deliberation/new.html", await _propose_context(ctx, community))


@routes.post("/topics/new", name="topic_new_submit")
async def propose_submit(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    community = await _community(request, ctx)
    await _may_propose(ctx, community)
    form = await form_fields(request)
    compound_id = int_or_none(form.get("compound_id"))
    compound = await ctx.db.get(Area, compound_id) if compound_id else None
    staged = await media.stage_photos(request, ctx)  # pending uploads survive a failed form
    if form.get("check_similar"):  # the no-JavaScript way to see similar topics before publishing
        results = await similar_topics(request, ctx, str(community.id), form.get("title", ""))
        return render(request, "deliberation/new.html", {
            **await _propose_context(ctx, community), **media.photo_form_context(staged), "form": form,
            "errors": {}, "similar_checked": True, "similar_hits": results.hits if results else []})
    try:
        async with ctx.db.begin_nested():  # the topic and its photos are saved together or not at all
            topic = await deliberation.propose(
                ctx.db, ctx.actor, community, title=form.get("title", ""), description=form.get("description", ""),
                category=form.get("category", ""), compound=compound, place=form.get("place", ""))
            await photos.attach(ctx.db, ctx.actor, topic, staged)
    except ValidationFailed as exc:
        return invalid_form(request, "deliberation/new.html", form, media.with_photo_problems(exc, staged),
                            {**await _propose_context(ctx, community), **media.photo_form_context(staged)})
    ctx.flash(_("Your topic was published. Verified neighbours can now co-sign it."))
    return redirect(f"/topics/{topic.id}")


# --- the topic page ------------------------------------------------------------------------------

def parse_day_end(raw: str) -> datetime | None:
    """A ``YYYY-MM-DD`` date as the end of that day in China Standard Time (``None`` if invalid)."""
    try:
        day = date.fromisoformat(raw.strip())
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=TIMEZONE) - timedelta(seconds=1)


async def topic_context(ctx: Ctx, topic: Topic, page: topics.TopicPage | None = None) -> dict[str, Any]:
    """The topic page's template context (also used by the comment form's re-render in web/routes/comments).
    ``page`` is what ``topics.topic_page`` loaded with the topic; without it the viewer and threshold are read."""
    if page is None:
        viewer, threshold = await topics.page_state(ctx.db, topic, ctx.actor.user_id)
    else:
        viewer, threshold = page.viewer, page.threshold
    can_advance = policy.can_advance(ctx.actor, topic)
    # Deciding steps are taken by recording the resolution (its own form), not from the generic one.
    steps = [s for s in rules.next_steps(topic.state, rules.By.WORKER) if not s.needs_resolution] if can_advance else []
    section_templates, section_context = await sections_for(ctx, topic)
    return {
        "topic": topic,
        "timeline": await topics.timeline(ctx.db, topic),
        "viewer": viewer,
        "cosign_problem": policy.cosign_problem(ctx.actor, topic) if ctx.user and not viewer.cosigned else None,
        "threshold": threshold,
        "five_steps": rules.FIVE_STEPS,
        "current_step": rules.five_step_index(topic.state),
        "advance_options": [(s.target.value, _(s.label)) for s in steps],
        "needs_publicity_date": any(s.target is TopicState.publicised for s in steps),
        "can_triage": policy.can_triage(ctx.actor, topic),
        "topic_sections": section_templates,
        **LIMITS,
        **section_context,
    }


async def _topic_page_context(ctx: Ctx, topic_id: int) -> dict[str, Any]:
    page = await topics.topic_page(ctx.db, topic_id, ctx.actor.user_id)
    return await topic_context(ctx, page.topic, page)


_SHAREABLE_QUERY = re.compile(r"(comments_page=[1-9][0-9]{0,5})?")


@routes.get("/topics/{topic_id:int}", name="topic_page")
async def topic_page(request: Request, ctx: Ctx) -> Response:
    """Anonymous visitors all get the same page (they can only read it and log in), so it is rendered
    once and kept in ``web.page_cache`` until a table it read changes, in this process or another
    (``web.change_feed``). A signed-in person, who may just have co-signed or commented, always gets a fresh
    page."""
    topic_id = request.path_params["topic_id"]
    shareable = _SHAREABLE_QUERY.fullmatch(request.url.query) is not None
    return await render_for_anyone(request, "deliberation/topic.html", lambda: _topic_page_context(ctx, topic_id),
                                   cache="topic_page", shareable=shareable)


@routes.post("/topics/{topic_id:int}/cosign", name="topic_cosign")
async def cosign(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    topic = await _topic(request, ctx)
    if await deliberation.cosign(ctx.db, ctx.actor, topic):
        ctx.flash(_("Thank you: your co-sign was counted."))
    else:
        ctx.flash(_("You have already co-signed this topic."), "info")
    return redirect(f"/topics/{topic.id}")


@routes.post("/topics/{topic_id:int}/follow", name="topic_follow")
async def follow(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    topic = await _topic(request, ctx)
    await deliberation.follow(ctx.db, ctx.actor, topic)
    ctx.flash(_("You follow this topic: you will be notified of each change of its status."))
    return redirect(f"/topics/{topic.id}")


@routes.post("/topics/{topic_id:int}/unfollow", name="topic_unfollow")
async def unfollow(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    topic = await _topic(request, ctx)
    await deliberation.unfollow(ctx.db, ctx.actor, topic)
    ctx.flash(_("You no longer follow this topic."), "info")
    return redirect(f"/topics/{topic.id}")


@routes.post("/topics/{topic_id:int}/advance", name="topic_advance")
async def advance(request: Request, ctx: Ctx) -> Response:
    """A worker's step after triage (to the decision, publicity, action, evaluation)."""
    require_user(ctx)
    topic = await _topic(request, ctx)
    form = await form_fields(request)
    target = form.get("to_state", "")
    ends = parse_day_end(form.get("publicity_ends_on", "")) if form.get("publicity_ends_on") else None
    step = rules.step(topic.state, TopicState(target)) if target in TopicState.__members__ else None
    if step is not None and step.needs_resolution:  # a decision is recorded with its resolution
        require_permission(ctx, "deliberation.advance", topic)
        return redirect(f"/topics/{topic.id}/resolution")
    try:
        if target not in TopicState.__members__:
            raise ValidationFailed({"to_state": msg("Choose the next step.")})
        if form.get("publicity_ends_on") and ends is None:
            raise ValidationFailed({"publicity_ends_on": msg("Enter a date like 2026-12-31.")})
        await deliberation.transition(ctx.db, topic, TopicState(target), ctx.actor, form.get("reason", ""),
                                      publicity_ends_at=ends)
    except ValidationFailed as exc:
        return invalid_form(request, "deliberation/topic.html", form, exc, await topic_context(ctx, topic))
    ctx.flash(_("The topic is now: {state}.", state=_(topic.state.label)))
    return redirect(f"/topics/{topic.id}")


# --- my topics -----------------------------------------------------------------------------------

@routes.get("/my/topics", name="my_topics")
async def my_topics(request: Request, ctx: Ctx) -> Response:
    user = require_user(ctx)
    return render(request, "deliberation/my_topics.html", {"mine": await topics.my_topics(ctx.db, user.id)})


# --- the workers' triage queue -------------------------------------------------------------------

@routes.get("/worker/triage", name="worker_triage")
async def triage_queue(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "deliberation.triage_queue")
    scopes = await area_queries.worker_communities(ctx.db, ctx.actor)
    thresholds = await topics.cosign_thresholds(ctx.db, [scope.community.id for scope in scopes])
    return render(request, "deliberation/triage_queue.html", {
        "queue": await topics.triage_queue(ctx.db, ctx.actor), "scopes": scopes, "thresholds": thresholds})


async def _triage_topic(request: Request, ctx: Ctx) -> Topic:
    require_permission(ctx, "deliberation.triage_queue")
    return await topics.topic_for_triage(ctx.db, ctx.actor, request.path_params["topic_id"])


async def _triage_context(ctx: Ctx, topic: Topic) -> dict[str, Any]:
    targets = await topics.merge_targets(ctx.db, topic)
    return {"topic": topic, "target_options": [(t.id, f"{t.title} ({_(t.state.label)})") for t in targets],
            "can_triage": policy.can_triage(ctx.actor, topic), **LIMITS}


@routes.get("/worker/triage/{topic_id:int}", name="worker_triage_topic")
async def triage_topic(request: Request, ctx: Ctx) -> Response:
    topic = await _triage_topic(request, ctx)
    return render(request, "deliberation/triage_topic.html", await _triage_context(ctx, topic))


TRIAGE_FIELDS = {
    "accept": {"reason": "accept_note"},
    "decline": {"reason": "decline_reason"},
    "refer": {"reason": "refer_reason", "referred_to": "refer_to"},
    "merge": {"reason": "merge_reason", "target_id": "merge_target_id"},
}


@routes.post("/worker/triage/{topic_id:int}/{action:str}", name="worker_triage_action")
async def triage_action(request: Request, ctx: Ctx) -> Response:
    action = request.path_params["action"]
    if action not in TRIAGE_FIELDS:
        raise NotFound()
    topic = await _triage_topic(request, ctx)
    form = await form_fields(request)
    try:
        if action == "accept":
            await deliberation.accept(ctx.db, ctx.actor, topic, form.get("accept_note", ""))
        elif action == "decline":
            await deliberation.decline(ctx.db, ctx.actor, topic, form.get("decline_reason", ""))
        elif action == "refer":
            await deliberation.refer(ctx.db, ctx.actor, topic, form.get("refer_reason", ""),
                                     form.get("refer_to", ""))
        else:
            target = await topics.topic_or_none(ctx.db, int_or_none(form.get("merge_target_id")))
            await deliberation.merge(ctx.db, ctx.actor, topic, target, form.get("merge_reason", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "deliberation/triage_topic.html", form,
                            renamed(exc, TRIAGE_FIELDS[action]), await _triage_context(ctx, topic))
    ctx.flash(_("“{title}” is now: {state}.", title=topic.title, state=_(topic.state.label)))
    return redirect("/worker/triage")


@routes.post("/worker/communities/{community_id:int}/cosign-threshold", name="worker_cosign_threshold")
async def cosign_threshold(request: Request, ctx: Ctx) -> Response:
    require_permission(ctx, "deliberation.triage_queue")
    community = await area_queries.community_for(ctx.db, ctx.actor, request.path_params["community_id"])
    form = await form_fields(request)
    try:
        threshold = await deliberation.set_cosign_threshold(ctx.db, ctx.actor, community,
                                                            form.get("cosign_threshold", ""))
    except ValidationFailed as exc:
        problem = translate(exc.errors["cosign_threshold"])
        ctx.flash(_("{community}: {problem}", community=community.name, problem=problem), "error")
        return redirect("/worker/triage")
    ctx.flash(_("{community} now needs {n} co-signs to send a topic for review.", community=community.name,
                n=threshold))
    return redirect("/worker/triage")


# --- similar topics while typing (JSON) ----------------------------------------------------------

SimilarTopic = Schema("SimilarTopic", {"id": integer(), "title": string(), "url": string(),
                                      "badges": array(string())}, required=("id", "title", "url", "badges"))
SimilarTopics = Schema("SimilarTopics", {"from_fallback": boolean(), "hits": array(SimilarTopic)},
                       required=("from_fallback", "hits"))


@describe("/api/v1/topics/similar", summary="Topics similar to a title being typed", name="api_topics_similar",
          tag="Topics", query=(Param("q", string(), "The title typed so far (2 characters or more).", required=True),
                               Param("area", integer(minimum=1), "The community.", required=True)),
          responses={200: (f"Up to {SIMILAR_LIMIT} topics", SimilarTopics)})
@routes.get("/api/v1/topics/similar", name="api_topics_similar")
async def similar(request: Request, ctx: Ctx) -> Response:
    """Topics like the title being typed, in the given area, so a resident can co-sign instead."""
    results = await similar_topics(request, ctx, request.query_params.get("area"), request.query_params.get("q", ""))
    return JSONResponse({
        "from_fallback": results.from_fallback if results else False,
        "hits": [{"id": hit.object_id, "title": hit.title.striptags(), "url": hit.url,
                  "badges": [_(badge) for badge in hit.badges]} for hit in (results.hits if results else [])],
    })


async def similar_topics(request: Request, ctx: Ctx, area: str | None, title: str) -> SearchResults | None:
    """Topics of the area whose words match ``title`` (``None`` when there is too little to search for).
    Serves the suggestions while typing (JSON) and the propose form's no-JavaScript "check" button."""
    text = normalise(title)[:MAX_QUERY_CHARS]
    area_id = int_or_none(area)
    if len(text) < 2 or area_id is None or area_id < 1:
        return None
    service: SearchService = request.app.state.services.search
    return await service.search(ctx.db, SearchQuery(text=text, doc_type="topic", area_id=area_id,
                                                    per_page=SIMILAR_LIMIT, match_any=True))
