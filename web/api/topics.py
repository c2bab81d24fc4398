"""Topics as JSON: list (filtered, paged), detail with the public timeline, propose, co-sign, follow.

Handlers only translate between HTTP and the deliberation use cases: the services validate, check the
policy and write; their domain errors become JSON refusals in ``web/errors.py``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from consultation.areas.models import Area
from consultation.deliberation import listing, photos, policy, resolutions
from consultation.deliberation import queries as topics
from consultation.deliberation import services as deliberation
from consultation.deliberation.models import (
    DESCRIPTION_MAX,
    PLACE_MAX,
    TITLE_MAX,
    Category,
    Topic,
    TopicState,
)
from consultation.errors import N_, NotFound, ValidationFailed, msg
from consultation.validation import parse_id
from web.api.core import (
    PAGE_PARAMS,
    ApiTable,
    Param,
    Schema,
    claim_idempotency_key,
    enum,
    integer,
    json_body,
    nullable,
    ok,
    page_body,
    page_of,
    page_request,
    query_choice,
    string,
)
from web.api.serializers import (
    CosignStatus,
    FollowStatus,
    ResolutionDetail,
    TopicDetail,
    TopicSummary,
    cosign_status,
    resolution_detail,
    topic_detail,
    topic_summary,
)
from web.auth import require_user
from web.context import Ctx

routes = ApiTable()
TAG = "Topics"
TOPIC = "/api/v1/topics/{topic_id:int}"
NO_RESOLUTION = N_("This topic has no resolution yet.")

ProposeTopic = Schema("ProposeTopic", {
    "area_id": integer("Your home community (a topic is raised in a community)."),
    "title": string(maxLength=TITLE_MAX),
    "description": string(maxLength=DESCRIPTION_MAX),
    "category": enum([c.value for c in Category]),
    "compound_id": nullable(integer("Optional: a compound (院落) of the community.")),
    "place": nullable(string("Optional: where within the area.", maxLength=PLACE_MAX)),
}, required=("area_id", "title", "description", "category"))


async def _topic(request: Request, ctx: Ctx) -> Topic:
    return await topics.get_topic(ctx.db, request.path_params["topic_id"])


async def _detail(ctx: Ctx, topic: Topic) -> dict[str, object]:
    viewer = await topics.viewer_of(ctx.db, topic, ctx.actor.user_id)
    return topic_detail(
        topic, timeline=await topics.timeline(ctx.db, topic), viewer=viewer, signed_in=ctx.user is not None,
        cosign_problem=policy.cosign_problem(ctx.actor, topic) if ctx.user is not None else None,
        threshold=await deliberation.cosign_threshold(ctx.db, topic.community_id),
        photos=await photos.topic_photos(ctx.db, topic.id),
        resolution=await resolutions.resolution_of(ctx.db, topic.id))


@routes.endpoint("/api/v1/topics", summary="List topics", tag=TAG, query=(
    Param("area", integer(minimum=1), "An area id: its topics and those of every area inside it."),
    Param("state", enum([s.value for s in TopicState])),
    Param("category", enum([c.value for c in Category])),
    *PAGE_PARAMS,
), responses={200: ("Topics, newest first", page_of(TopicSummary))})
async def api_topics(request: Request, ctx: Ctx) -> Response:
    """Topics are public: everyone gets the same list, newest first."""
    page = page_request(request)
    state = query_choice(request, "state", [s.value for s in TopicState])
    category = query_choice(request, "category", [c.value for c in Category])
    area = None
    if request.query_params.get("area"):
        area_id = parse_id(request.query_params["area"])
        area = await ctx.db.get(Area, area_id) if area_id else None
        if area is None:
            raise ValidationFailed({"area": msg("There is no such area.")})
    found, total = await listing.list_topics(
        ctx.db, area=area, state=TopicState(state) if state else None,
        category=Category(category) if category else None, offset=page.offset, limit=page.per_page)
    return ok(page_body([topic_summary(t) for t in found], page, total))


@routes.endpoint("/api/v1/topics", "POST", summary="Propose a topic", name="api_topic_propose", tag=TAG,
                 request=ProposeTopic, signed_in=True, idempotency_key=True,
                 responses={201: ("Proposed; it is collecting co-signs", TopicDetail)})
async def api_topic_propose(request: Request, ctx: Ctx) -> Response:
    """A resident raises a topic in their home community; it starts collecting co-signs at once.
    The rules (and messages) are those of the propose form."""
    require_user(ctx)
    body = await json_body(request, ProposeTopic)
    community = await ctx.db.get(Area, body["area_id"]) if body["area_id"] else None
    if community is None:
        raise ValidationFailed({"area_id": msg("There is no such area.")})
    compound = None
    if body.get("compound_id"):
        compound = await ctx.db.get(Area, body["compound_id"])
        if compound is None:
            raise ValidationFailed({"compound_id": msg("Choose a compound of {community}.", community=community.name)})
    await claim_idempotency_key(request, ctx.db, ctx.user.id if ctx.user else 0)
    topic = await deliberation.propose(
        ctx.db, ctx.actor, community, title=body["title"], description=body["description"],
        category=body["category"], compound=compound, place=body.get("place") or "")
    topic = await topics.get_topic(ctx.db, topic.id)
    return ok(await _detail(ctx, topic), 201, headers={"Location": f"/api/v1/topics/{topic.id}"})


@routes.endpoint(TOPIC, summary="A topic with its public timeline, photos and resolution", tag=TAG,
                 responses={200: ("The topic", TopicDetail)})
async def api_topic(request: Request, ctx: Ctx) -> Response:
    """Everything the topic page shows about the topic itself: the timeline, the photos' resized
    copies, and the resolution once decided (``null`` before); ``viewer`` is about the caller."""
    return ok(await _detail(ctx, await _topic(request, ctx)))


@routes.endpoint(f"{TOPIC}/resolution", summary="A topic's resolution (决议)", tag=TAG,
                 responses={200: ("How it was decided and the agreed actions", ResolutionDetail)})
async def api_topic_resolution(request: Request, ctx: Ctx) -> Response:
    """The decision on the topic: outcome, method (consensus with its minutes, or a poll with its
    counts), summary and the agreed actions with their units, target dates and status. 404 while the
    topic has none."""
    topic = await _topic(request, ctx)
    resolution = await resolutions.resolution_of(ctx.db, topic.id)
    if resolution is None:
        raise NotFound(msg(NO_RESOLUTION))
    return ok(resolution_detail(resolution))


@routes.endpoint(f"{TOPIC}/cosigns", summary="Co-sign count", tag=TAG,
                 responses={200: ("The count and whether the caller co-signed", CosignStatus)})
async def api_topic_cosigns(request: Request, ctx: Ctx) -> Response:
    """How many co-signed and whether the caller did. Who co-signed is never published."""
    topic = await _topic(request, ctx)
    viewer = await topics.viewer_of(ctx.db, topic, ctx.actor.user_id)
    threshold = await deliberation.cosign_threshold(ctx.db, topic.community_id)
    return ok(cosign_status(topic, cosigned=viewer.cosigned, threshold=threshold))


@routes.endpoint(f"{TOPIC}/cosigns", "POST", summary="Co-sign a topic", name="api_topic_cosign", tag=TAG,
                 signed_in=True, responses={201: ("Co-signed", CosignStatus),
                                            200: ("Already co-signed: nothing changed", CosignStatus)})
async def api_topic_cosign(request: Request, ctx: Ctx) -> Response:
    """Verified residents of the topic's community co-sign while it collects co-signs; repeating it
    (even concurrently) adds nothing. Reaching the threshold sends the topic to the workers."""
    require_user(ctx)
    topic = await _topic(request, ctx)
    added = await deliberation.cosign(ctx.db, ctx.actor, topic)
    threshold = await deliberation.cosign_threshold(ctx.db, topic.community_id)
    return ok(cosign_status(topic, cosigned=True, threshold=threshold), 201 if added else 200)


@routes.endpoint(f"{TOPIC}/follow", "POST", summary="Follow a topic", name="api_topic_follow", tag=TAG,
                 signed_in=True, responses={200: ("Following (also when already following)", FollowStatus)})
async def api_topic_follow(request: Request, ctx: Ctx) -> Response:
    """Be notified of each change of the topic's state."""
    require_user(ctx)
    topic = await _topic(request, ctx)
    await deliberation.follow(ctx.db, ctx.actor, topic)
    return ok({"topic_id": topic.id, "following": True})


@routes.endpoint(f"{TOPIC}/follow", "DELETE", summary="Stop following a topic", name="api_topic_unfollow",
                 tag=TAG, signed_in=True, responses={200: ("Not following (also when not following)", FollowStatus)})
async def api_topic_unfollow(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    topic = await _topic(request, ctx)
    await deliberation.unfollow(ctx.db, ctx.actor, topic)
    return ok({"topic_id": topic.id, "following": False})
