"""Resolutions (决议): the workers' "record the decision" form and the resolution on the topic page.

The form works without JavaScript: it starts with a few empty action rows, and "add more rows"
submits it to come back with more, everything typed kept."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel import Locale, dates
from starlette.requests import Request
from starlette.responses import Response

from consultation.clock import local_today
from consultation.deliberation import queries as topics
from consultation.deliberation import resolutions
from consultation.deliberation.models import Topic
from consultation.deliberation.resolution_models import (
    ACTION_DESCRIPTION_MAX,
    MAX_ACTIONS,
    MINUTES_REFERENCE_MAX,
    OUTCOME_LABELS,
    SUMMARY_MAX,
    Method,
)
from consultation.errors import ValidationFailed
from consultation.policy import can
from web.auth import require_user
from web.context import Ctx
from web.forms import form_fields, int_or_none, invalid_form, redirect
from web.i18n import TIMEZONE, current_locale
from web.i18n import gettext as _
from web.routing import RouteTable
from web.templating import render
from web.topic_sections import topic_section

routes = RouteTable()
INITIAL_ROWS = 5
MORE_ROWS = 5
LIMITS = {"summary_max": SUMMARY_MAX, "minutes_reference_max": MINUTES_REFERENCE_MAX,
          "action_description_max": ACTION_DESCRIPTION_MAX, "max_actions": MAX_ACTIONS}


def day_label(value: date | None) -> str:
    """A calendar day in the visitor's language (``date`` values, which the datetime filters do not take)."""
    return "" if value is None else dates.format_date(value, format="long", locale=Locale.parse(current_locale.get()))


# --- the resolution on the topic page ------------------------------------------------------------

@topic_section("deliberation/_topic_resolution.html", order=20, slot="after_topic")
async def resolution_section(ctx: Ctx, topic: Topic) -> dict[str, Any]:
    return {"topic_resolution": await resolutions.resolution_of(ctx.db, topic.id),
            "may_record_resolution": can(ctx.actor, "deliberation.record_resolution", topic),
            "day_label": day_label}


# --- the form ------------------------------------------------------------------------------------

async def _topic_being_decided(request: Request, ctx: Ctx) -> Topic:
    """The topic, if the actor is staff of its community and it waits for its decision."""
    require_user(ctx)
    topic = await topics.get_topic(ctx.db, request.path_params["topic_id"])
    resolutions.require_may_record(ctx.actor, topic)
    return topic


def _rows(form: dict[str, str]) -> int:
    """How many action rows the form shows: what it showed before, never fewer than are filled in."""
    shown = int_or_none(form.get("rows")) or INITIAL_ROWS
    filled = [i + 1 for i in range(MAX_ACTIONS) if any(form.get(resolutions.action_field(i, name), "").strip()
                                                       for name in ("description", "unit_id", "target_date"))]
    return max(INITIAL_ROWS, min(MAX_ACTIONS, max([shown, *filled])))


async def _form_context(ctx: Ctx, topic: Topic, rows: int) -> dict[str, Any]:
    units = await resolutions.unit_choices(ctx.db, topic.community)
    minutes = await resolutions.published_minutes_for(ctx.db, topic)
    return {
        "topic": topic,
        "rows": rows,
        "can_add_rows": rows < MAX_ACTIONS,
        "action_field": resolutions.action_field,
        "outcome_options": [(value.value, _(label)) for value, label in OUTCOME_LABELS.items()],
        "unit_options": [(unit.id, unit.name) for unit in units],
        "minutes_options": [(item.id, _("{meeting} ({day}): {item}", meeting=item.meeting.title,
                                        day=day_label(item.meeting.starts_at.astimezone(TIMEZONE).date()),
                                        item=item.title)) for item in minutes],
        "today": local_today().isoformat(),
        **LIMITS,
    }


@routes.get("/topics/{topic_id:int}/resolution", name="resolution_form")
async def resolution_form(request: Request, ctx: Ctx) -> Response:
    topic = await _topic_being_decided(request, ctx)
    context = await _form_context(ctx, topic, INITIAL_ROWS)
    return render(request, "deliberation/resolution_form.html",
                  {**context, "form": {"decided_on": context["today"]}, "errors": {}})


@routes.post("/topics/{topic_id:int}/resolution", name="resolution_submit")
async def resolution_submit(request: Request, ctx: Ctx) -> Response:
    topic = await _topic_being_decided(request, ctx)
    form = await form_fields(request)
    rows = _rows(form)
    if "more_rows" in form:  # the no-JS "add more rows": same form, more rows, nothing saved
        context = await _form_context(ctx, topic, min(MAX_ACTIONS, rows + MORE_ROWS))
        return render(request, "deliberation/resolution_form.html", {**context, "form": form, "errors": {}})
    drafts = [resolutions.ActionDraft(*(form.get(resolutions.action_field(i, name), "")
                                        for name in ("description", "unit_id", "target_date")))
              for i in range(rows)]
    try:
        resolution = await resolutions.record_resolution(
            ctx.db, ctx.actor, topic, method=Method.consensus, summary=form.get("summary", ""),
            outcome=form.get("outcome", ""), decided_on=form.get("decided_on", ""),
            minutes_reference=form.get("minutes_reference", ""),
            meeting_agenda_item_id=int_or_none(form.get("meeting_agenda_item_id")), actions=drafts,
            today=local_today())
    except ValidationFailed as exc:
        return invalid_form(request, "deliberation/resolution_form.html", form, exc,
                            await _form_context(ctx, topic, rows))
    ctx.flash(_("The decision was recorded: {outcome}. Followers have been notified.",
                outcome=_(resolution.outcome.label)))
    return redirect(f"/topics/{topic.id}")
