"""What the API shows of topics, and the schema of each shape (declared side by side so they agree).

Nothing personal leaves here: people appear only by their public name (masked 王*明 like on the
pages, unless they chose to show it in full), never with a phone number, e-mail address or user id;
timeline steps name a role, not a person.
"""

from __future__ import annotations

from typing import Any

from consultation.accounts.display import public_name
from consultation.accounts.models import User
from consultation.areas.models import Area
from consultation.deliberation.models import ActorRole, Category, Topic, TopicState, TopicTransition
from consultation.deliberation.photos import PhotoView, VariantInfo
from consultation.deliberation.queries import Viewer
from consultation.deliberation.resolution_models import ActionStatus, Method, Outcome, Resolution
from consultation.errors import N_, Message
from web.api.core import Schema, array, boolean, enum, integer, iso, nullable, string, timestamp
from web.i18n import gettext, translate

FORMER_RESIDENT = N_("Former resident")  # the pages' wording (deliberation/_macros.html author_name)

AreaRef = Schema("AreaRef", {"id": integer(), "name": string()}, required=("id", "name"))
Person = Schema("Person", {"name": string("Public name: masked (王*明) unless the person chose otherwise.")},
                required=("name",), description="A person as others see them; never contact details or ids.")
TopicRef = Schema("TopicRef", {"id": integer(), "title": string(), "url": string()}, required=("id", "title", "url"))

TopicSummary = Schema("TopicSummary", {
    "id": integer(),
    "url": string("The topic's page."),
    "title": string(),
    "state": enum([s.value for s in TopicState]),
    "state_label": string("The state in the request's language."),
    "category": enum([c.value for c in Category]),
    "category_label": string(),
    "community": AreaRef.ref,
    "area": {**AreaRef.ref, "description": "The community itself or a compound (院落) in it."},
    "place": nullable(string("Where within the area, as the proposer wrote it.")),
    "cosign_count": integer(minimum=0),
    "created_at": timestamp(),
    "updated_at": timestamp(),
}, required=("id", "url", "title", "state", "state_label", "category", "category_label", "community", "area",
             "place", "cosign_count", "created_at", "updated_at"))

TimelineStep = Schema("TimelineStep", {
    "state": enum([s.value for s in TopicState], "The state entered."),
    "state_label": string(),
    "from_state": nullable(enum([s.value for s in TopicState])),
    "by_role": enum([r.value for r in ActorRole], "Who took the step, as a role (never the person)."),
    "by_role_label": string(),
    "reason": nullable(string()),
    "referred_to": nullable(string()),
    "target_topic_id": nullable(integer("The topic it was merged into.")),
    "at": timestamp(),
}, required=("state", "state_label", "from_state", "by_role", "by_role_label", "reason", "referred_to",
             "target_topic_id", "at"))

ViewerState = Schema("ViewerState", {
    "signed_in": boolean(),
    "cosigned": boolean(),
    "following": boolean(),
    "can_cosign": boolean(),
    "cosign_problem": nullable(string("Why the viewer cannot co-sign (when signed in and not co-signed).")),
}, required=("signed_in", "cosigned", "following", "can_cosign", "cosign_problem"))

PhotoCopy = Schema("PhotoCopy", {
    "url": string("The image file (public, cacheable)."),
    "content_type": string(),
    "width": integer(minimum=1),
    "height": integer(minimum=1),
}, required=("url", "content_type", "width", "height"))

TopicPhoto = Schema("TopicPhoto", {
    "id": integer(),
    "thumb": {**PhotoCopy.ref, "description": "A small copy for lists and grids."},
    "display": {**PhotoCopy.ref, "description": "The copy to show full size (EXIF removed)."},
}, required=("id", "thumb", "display"), description="A photo of the topic, in the order the proposer chose.")

UnitRef = Schema("UnitRef", {"id": integer(), "name": string()}, required=("id", "name"),
                  description="A responsible unit (an office, utility or committee), never a person.")

AgreedActionItem = Schema("AgreedActionItem", {
    "id": integer("Stable: the governance-task pipeline refers to it."),
    "position": integer(minimum=1),
    "description": string(),
    "unit": {**UnitRef.ref, "description": "The proposed responsible unit (承办单位)."},
    "target_date": string("A calendar day in China (YYYY-MM-DD).", format="date"),
    "status": enum([s.value for s in ActionStatus]),
    "status_label": string(),
}, required=("id", "position", "description", "unit", "target_date", "status", "status_label"))

MinutesLink = Schema("MinutesLink", {
    "meeting_id": integer(),
    "agenda_item_id": integer(),
    "title": string("The agenda item."),
    "url": string("The minutes on the session's page."),
    "api_url": string("The session, with its published minutes, in this API."),
}, required=("meeting_id", "agenda_item_id", "title", "url", "api_url"))

PollOption = Schema("PollOption", {"label": string(), "ballots": integer(minimum=0)}, required=("label", "ballots"))

PollResult = Schema("PollResult", {
    "reference": string("The poll's public reference."),
    "eligible": integer("Residents on the roll when the poll opened.", minimum=0),
    "ballots_cast": integer(minimum=0),
    "turnout_percent": nullable(integer(minimum=0, maximum=100)),
    "passed": boolean(),
    "options": array(PollOption, "Ballots per option, in the poll's order."),
    "explanation": nullable(string("The rule and the measured values in plain words.")),
}, required=("reference", "eligible", "ballots_cast", "turnout_percent", "passed", "options", "explanation"))

ResolutionDetail = Schema("ResolutionDetail", {
    "topic_id": integer(),
    "outcome": enum([o.value for o in Outcome]),
    "outcome_label": string(),
    "method": enum([m.value for m in Method]),
    "method_label": string(),
    "summary": string(),
    "decided_on": string("A calendar day in China (YYYY-MM-DD).", format="date"),
    "recorded_at": timestamp(),
    "recorded_by_role": enum([r.value for r in ActorRole], "Who recorded it, as a role (never the person)."),
    "recorded_by_role_label": string(),
    "minutes": nullable(MinutesLink),
    "minutes_reference": nullable(string("Where minutes taken outside the platform are kept.")),
    "poll": nullable(PollResult),
    "actions": array(AgreedActionItem, "Empty when not agreed."),
}, required=("topic_id", "outcome", "outcome_label", "method", "method_label", "summary", "decided_on",
             "recorded_at", "recorded_by_role", "recorded_by_role_label", "minutes", "minutes_reference", "poll",
             "actions"), description="The decision (决议) on a topic and the actions agreed.")

TopicDetail = Schema("TopicDetail", {
    **TopicSummary.properties,
    "description": string(),
    "author": Person.ref,
    "publicity_ends_at": nullable(timestamp()),
    "merged_into": nullable(TopicRef),
    "cosign_threshold": integer("Co-signs that send the topic to the community workers.", minimum=1),
    "timeline": array(TimelineStep),
    "photos": array(TopicPhoto),
    "resolution": nullable(ResolutionDetail),
    "viewer": ViewerState.ref,
}, required=(*TopicSummary.required, "description", "author", "publicity_ends_at", "merged_into",
             "cosign_threshold", "timeline", "photos", "resolution", "viewer"))

CosignStatus = Schema("CosignStatus", {
    "topic_id": integer(),
    "count": integer(minimum=0),
    "threshold": integer(minimum=1),
    "collecting": boolean("Whether the topic still collects co-signs."),
    "cosigned": boolean("Whether the viewer co-signed (false when not signed in)."),
    "state": enum([s.value for s in TopicState]),
}, required=("topic_id", "count", "threshold", "collecting", "cosigned", "state"),
   description="The count only: the list of co-signers is never published.")

FollowStatus = Schema("FollowStatus", {"topic_id": integer(), "following": boolean()},
                      required=("topic_id", "following"))


def area_ref(area: Area) -> dict[str, Any]:
    return {"id": area.id, "name": area.name}


def person(user: User | None) -> dict[str, Any]:
    return {"name": public_name(user) if user is not None else gettext(FORMER_RESIDENT)}


def topic_summary(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.id,
        "url": f"/topics/{topic.id}",
        "title": topic.title,
        "state": topic.state.value,
        "state_label": gettext(topic.state.label),
        "category": topic.category.value,
        "category_label": gettext(topic.category.label),
        "community": area_ref(topic.community),
        "area": area_ref(topic.area),
        "place": topic.place,
        "cosign_count": topic.cosign_count,
        "created_at": iso(topic.created_at),
        "updated_at": iso(topic.updated_at),
    }


def timeline_step(step: TopicTransition) -> dict[str, Any]:
    return {
        "state": step.to_state.value,
        "state_label": gettext(step.to_state.label),
        "from_state": step.from_state.value if step.from_state else None,
        "by_role": step.actor_role.value,
        "by_role_label": gettext(step.actor_role.label),
        "reason": step.reason,
        "referred_to": step.referred_to,
        "target_topic_id": step.target_topic_id,
        "at": iso(step.created_at),
    }


def photo_copy(photo_id: int, info: VariantInfo) -> dict[str, Any]:
    return {"url": f"/media/photos/{photo_id}/{info.name}", "content_type": info.content_type,
            "width": info.width, "height": info.height}


def topic_photo(photo: PhotoView) -> dict[str, Any]:
    """A photo's public copies (its uploaded file name is not shown: it may carry a name or a date)."""
    return {"id": photo.id, "thumb": photo_copy(photo.id, photo.thumb),
            "display": photo_copy(photo.id, photo.display)}


def resolution_detail(resolution: Resolution) -> dict[str, Any]:
    """Needs ``resolutions.resolution_of`` (actions with their units, the minutes' agenda item)."""
    item = resolution.meeting_agenda_item
    poll = None
    if resolution.method is Method.poll:
        poll = {
            "reference": resolution.poll_reference or "",
            "eligible": resolution.poll_eligible or 0,
            "ballots_cast": resolution.poll_ballots_cast or 0,
            "turnout_percent": resolution.turnout_percent,
            "passed": bool(resolution.poll_passed),
            "options": [{"label": label, "ballots": n} for label, n in resolution.poll_options],
            "explanation": resolution.poll_explanation or None,
        }
    return {
        "topic_id": resolution.topic_id,
        "outcome": resolution.outcome.value,
        "outcome_label": gettext(resolution.outcome.label),
        "method": resolution.method.value,
        "method_label": gettext(resolution.method.label),
        "summary": resolution.summary,
        "decided_on": resolution.decided_on.isoformat(),
        "recorded_at": iso(resolution.recorded_at),
        "recorded_by_role": resolution.recorded_by_role.value,
        "recorded_by_role_label": gettext(resolution.recorded_by_role.label),
        "minutes": {
            "meeting_id": item.meeting_id, "agenda_item_id": item.id, "title": item.title,
            "url": f"/meetings/{item.meeting_id}#item-{item.id}", "api_url": f"/api/v1/meetings/{item.meeting_id}",
        } if item is not None else None,
        "minutes_reference": resolution.minutes_reference,
        "poll": poll,
        "actions": [{
            "id": action.id, "position": action.position, "description": action.description,
            "unit": {"id": action.unit.id, "name": action.unit.name},
            "target_date": action.target_date.isoformat(),
            "status": action.status.value, "status_label": gettext(action.status.label),
        } for action in resolution.actions],
    }


def topic_detail(topic: Topic, *, timeline: list[TopicTransition], viewer: Viewer, signed_in: bool,
                 cosign_problem: Message | None, threshold: int, photos: list[PhotoView] | None = None,
                 resolution: Resolution | None = None) -> dict[str, Any]:
    merged = topic.merged_into
    return {
        **topic_summary(topic),
        "description": topic.description,
        "author": person(topic.author),
        "publicity_ends_at": iso(topic.publicity_ends_at),
        "merged_into": {"id": merged.id, "title": merged.title, "url": f"/topics/{merged.id}"} if merged else None,
        "cosign_threshold": threshold,
        "timeline": [timeline_step(step) for step in timeline],
        "photos": [topic_photo(photo) for photo in photos or []],
        "resolution": resolution_detail(resolution) if resolution is not None else None,
        "viewer": {
            "signed_in": signed_in,
            "cosigned": viewer.cosigned,
            "following": viewer.following,
            "can_cosign": signed_in and not viewer.cosigned and cosign_problem is None,
            "cosign_problem": translate(cosign_problem) if signed_in and cosign_problem and not viewer.cosigned
            else None,
        },
    }


def cosign_status(topic: Topic, *, cosigned: bool, threshold: int) -> dict[str, Any]:
    return {"topic_id": topic.id, "count": topic.cosign_count, "threshold": threshold,
            "collecting": topic.state is TopicState.collecting, "cosigned": cosigned, "state": topic.state.value}
