"""The community workers' poll pages: their polls, creating and editing a draft, opening (which
freezes the roll), closing early, cancelling, paper ballots (one worker records a batch, another
confirms it) and handing a closed poll's result to its topic as the resolution.

Every page needs the worker console first (403 for everybody else), then reaches the area or poll
through ``voting.manage``: a worker of another community gets the same 404 as for a missing poll.
All forms work without JavaScript ("add more rows", the voter search and the batch are plain submits).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts.models import User
from consultation.areas import queries as area_queries
from consultation.areas.models import Area, AreaLevel
from consultation.clock import local_today
from consultation.deliberation import queries as topic_queries
from consultation.deliberation import resolutions
from consultation.deliberation.models import Topic
from consultation.deliberation.resolution_models import ACTION_DESCRIPTION_MAX, MAX_ACTIONS, SUMMARY_MAX, Method
from consultation.errors import N_, Message, NotFound, ValidationFailed, msg
from consultation.meetings import queries as meeting_queries
from consultation.policy import can
from consultation.validation import parse_id
from consultation.voting import paper, services
from consultation.voting import queries as polls
from consultation.voting.models import (
    DESCRIPTION_MAX,
    MAX_OPTIONS,
    OPTION_LABEL_MAX,
    REASON_MAX,
    TITLE_MAX,
    Channel,
    Eligibility,
    PaperBatch,
    PaperBatchState,
    Poll,
    PollKind,
    PollState,
    RuleKind,
)
from consultation.voting.queries import RollRow
from web.context import Ctx
from web.forms import form_fields, id_list, int_or_none, invalid_form, redirect
from web.i18n import gettext as _
from web.i18n import translate
from web.routes.meetings import local_input, parse_local
from web.routes.polls import (
    BALLOTS_PER_PAGE,
    PageInfo,
    ballot_choices,
    choices_text,
    explain,
    may_record_from,
    receipt_key,
    roll_text,
)
from web.routes.worker import require_console
from web.routing import RouteTable
from web.templating import render

routes = RouteTable()
INITIAL_ROWS = 4
MORE_ROWS = 4
ACTION_ROWS = 3
LIMITS = {"title_max": TITLE_MAX, "description_max": DESCRIPTION_MAX, "option_max": OPTION_LABEL_MAX,
          "max_options": MAX_OPTIONS, "reason_max": REASON_MAX}
TOGGLES = (
    ("secret", N_("Secret ballot"),
     N_("Who voted is kept apart from what was chosen. Owners' joint decisions are always signed (open) ballots.")),
    ("results_hidden_until_close", N_("Hide results until the poll closes"),
     N_("Nobody, workers included, sees counts while voting runs. Secret polls always hide their results until "
        "close: their ballots stay sealed until then.")),
    ("allow_change", N_("Voters may change their vote until the poll closes"), N_("Only the last ballot counts.")),
)


async def _managed_area(request: Request, ctx: Ctx) -> Area:
    require_console(ctx)
    area = await area_queries.get_area(ctx.db, request.path_params["area_id"])
    if not can(ctx.actor, "voting.manage", area):
        raise NotFound()
    return area


async def managed_poll(request: Request, ctx: Ctx) -> Poll:
    """The poll, for workers who manage it (404 for others, as for a missing poll)."""
    require_console(ctx)
    poll = await polls.get_poll(ctx.db, request.path_params["poll_id"])
    if not can(ctx.actor, "voting.manage", poll):
        raise NotFound()
    return poll


# --- the worker's list ---------------------------------------------------------------------------

@routes.get("/worker/polls", name="worker_polls")
async def worker_polls(request: Request, ctx: Ctx) -> Response:
    require_console(ctx)
    scopes = await area_queries.worker_communities(ctx.db, ctx.actor)
    found: dict[int, Poll] = {}
    for scope in scopes:
        for poll in await polls.polls_in_area(ctx.db, scope.community, ctx.actor):
            found.setdefault(poll.id, poll)
    lists = {state: [p for p in found.values() if p.state is state] for state in PollState}
    groups = [(PollState.open.value, _("Open")), (PollState.draft.value, _("Drafts")),
              (PollState.closed.value, _("Closed")), (PollState.cancelled.value, _("Cancelled"))]
    return render(request, "polls/admin_list.html", {
        "scopes": scopes, "lists": {state.value: items for state, items in lists.items()}, "groups": groups})


# --- creating and editing a draft ----------------------------------------------------------------

async def _community_of(ctx: Ctx, area: Area) -> Area | None:
    if area.level is AreaLevel.community:
        return area
    return next((a for a in await area_queries.ancestors(ctx.db, area) if a.level is AreaLevel.community), None)


def _option_lists() -> dict[str, Any]:
    return {
        "kind_options": [(k.value, _(k.label)) for k in PollKind],
        "eligibility_options": [(e.value, _(e.label)) for e in Eligibility],
        "rule_options": [(r.value, _(r.label)) for r in RuleKind],
        "toggles": [(name, _(label), _(hint)) for name, label, hint in TOGGLES],
    }


async def _form_context(ctx: Ctx, area: Area, poll: Poll | None, rows: int) -> dict[str, Any]:
    community = await _community_of(ctx, area)
    topics = await meeting_queries.eligible_topics(ctx.db, community) if community else []
    return {"area": area, "poll": poll, "rows": rows, "topic_options": [(t.id, t.title) for t in topics],
            **_option_lists(), **LIMITS}


def _rows(form: dict[str, str]) -> int:
    shown = int_or_none(form.get("rows")) or INITIAL_ROWS
    filled = [i + 1 for i in range(MAX_OPTIONS) if form.get(f"option_{i}", "").strip()]
    return max(INITIAL_ROWS, min(MAX_OPTIONS, max([shown, *filled])))


def _whole(text: str) -> int:
    """A count typed in the form; 0 (refused by the service with its range) when it is not a number."""
    return int(text) if text.strip().isdigit() and len(text.strip()) < 4 else 0


def _draft(form: dict[str, str], rows: int) -> tuple[services.PollDraft, dict[str, Any]]:
    """The draft as typed, and the problems only the form can see (an unreadable opening time)."""
    problems: dict[str, Any] = {}
    opens_text = form.get("opens_at", "").strip()
    opens_at = parse_local(opens_text) if opens_text else None
    if opens_text and opens_at is None:
        problems["opens_at"] = msg("Enter a date and time, or leave it empty to start voting when you open the poll.")
    quorum, threshold = form.get("quorum", "").strip(), form.get("threshold", "").strip()
    draft = services.PollDraft(
        title=form.get("title", ""), description=form.get("description", ""), kind=form.get("kind", ""),
        eligibility=form.get("eligibility", ""), rule=form.get("rule", ""),
        options=[form.get(f"option_{i}", "") for i in range(rows)],
        min_choices=_whole(form.get("min_choices", "1")), max_choices=_whole(form.get("max_choices", "1")),
        secret=bool(form.get("secret")), results_hidden_until_close=bool(form.get("results_hidden_until_close")),
        allow_change=bool(form.get("allow_change")), opens_at=opens_at,
        closes_at=parse_local(form.get("closes_at", "")),
        quorum=services.parse_fraction(quorum) if quorum else None,
        threshold=services.parse_fraction(threshold) if threshold else None)
    return draft, problems


def _poll_form(poll: Poll) -> dict[str, str]:
    values = {"title": poll.title, "description": poll.description or "", "kind": poll.kind.value,
              "eligibility": poll.eligibility.value, "rule": poll.rule.value,
              "min_choices": str(poll.min_choices), "max_choices": str(poll.max_choices),
              "opens_at": local_input(poll.opens_at) if poll.opens_at else "",
              "closes_at": local_input(poll.closes_at), "topic_id": str(poll.topic_id or ""),
              "quorum": f"{poll.quorum_num}/{poll.quorum_den}" if poll.quorum_num is not None else "",
              "threshold": f"{poll.threshold_num}/{poll.threshold_den}" if poll.threshold_num is not None else ""}
    for name in ("secret", "results_hidden_until_close", "allow_change"):
        if getattr(poll, name):
            values[name] = "1"
    if poll.kind is not PollKind.yes_no:
        values.update({f"option_{i}": option.label for i, option in enumerate(poll.options)})
    return values


async def _chosen_topic(ctx: Ctx, form: dict[str, str]) -> Topic | None:
    topic_id = parse_id(form.get("topic_id"))
    if topic_id is None:
        return None
    topic = await topic_queries.topic_or_none(ctx.db, topic_id)
    if topic is None or topic.community_id is None:
        raise ValidationFailed({"topic_id": msg("Choose a topic from the list.")})
    return topic


@routes.get("/worker/areas/{area_id:int}/polls/new", name="poll_new")
async def new_form(request: Request, ctx: Ctx) -> Response:
    area = await _managed_area(request, ctx)
    form = {"kind": PollKind.yes_no.value, "eligibility": Eligibility.verified_residents.value,
            "rule": RuleKind.simple_majority.value, "secret": "1", "results_hidden_until_close": "1",
            "min_choices": "1", "max_choices": "1", "topic_id": request.query_params.get("topic", "")[:9]}
    return render(request, "polls/admin_form.html", await _form_context(ctx, area, None, INITIAL_ROWS)
                  | {"form": form})


@routes.post("/worker/areas/{area_id:int}/polls/new", name="poll_new_submit")
async def new_submit(request: Request, ctx: Ctx) -> Response:
    area = await _managed_area(request, ctx)
    form = await form_fields(request)
    rows = _rows(form)
    if "more_rows" in form:  # the no-JS "add more rows": same form, more rows, nothing saved
        context = await _form_context(ctx, area, None, min(MAX_OPTIONS, rows + MORE_ROWS))
        return render(request, "polls/admin_form.html", {**context, "form": form})
    draft, problems = _draft(form, rows)
    try:
        async with ctx.db.begin_nested():
            topic = await _chosen_topic(ctx, form)
            poll = await services.create_poll(ctx.db, ctx.actor, area, draft, topic)
            if problems:
                raise ValidationFailed(problems)
    except ValidationFailed as exc:
        return invalid_form(request, "polls/admin_form.html", form, ValidationFailed({**exc.errors, **problems}),
                            await _form_context(ctx, area, None, rows))
    ctx.flash(_("The poll is saved as a draft. Check it, then open it for voting."))
    return redirect(f"/worker/polls/{poll.id}")


@routes.get("/worker/polls/{poll_id:int}/edit", name="poll_edit")
async def edit_form(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    if poll.state is not PollState.draft:
        ctx.flash(_("Only a draft poll can be changed."), "info")
        return redirect(f"/worker/polls/{poll.id}")
    rows = max(INITIAL_ROWS, len(poll.options) if poll.kind is not PollKind.yes_no else 0)
    return render(request, "polls/admin_form.html", await _form_context(ctx, poll.area, poll, rows)
                  | {"form": _poll_form(poll)})


@routes.post("/worker/polls/{poll_id:int}/edit", name="poll_edit_submit")
async def edit_submit(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    form = await form_fields(request)
    rows = _rows(form)
    if "more_rows" in form:
        context = await _form_context(ctx, poll.area, poll, min(MAX_OPTIONS, rows + MORE_ROWS))
        return render(request, "polls/admin_form.html", {**context, "form": form})
    draft, problems = _draft(form, rows)
    try:
        async with ctx.db.begin_nested():
            await services.update_poll(ctx.db, ctx.actor, poll, draft)
            if problems:
                raise ValidationFailed(problems)
    except ValidationFailed as exc:
        return invalid_form(request, "polls/admin_form.html", form, ValidationFailed({**exc.errors, **problems}),
                            await _form_context(ctx, poll.area, poll, rows))
    ctx.flash(_("The draft was saved."))
    return redirect(f"/worker/polls/{poll.id}")


# --- the poll's management page ------------------------------------------------------------------

async def _manage_context(ctx: Ctx, poll: Poll) -> dict[str, Any]:
    topic = await topic_queries.get_topic(ctx.db, poll.topic_id) if poll.topic_id else None
    turnout = await polls.turnout(ctx.db, poll)
    batches = await polls.paper_batches(ctx.db, poll)
    voters = {row.voter_id: row for row in await roll_rows(
        ctx, poll, [entry.voter_id for batch in batches for entry in batch.entries])}
    people = await _names(ctx, {i for batch in batches for i in (batch.recorded_by_id, batch.confirmed_by_id) if i})
    missing_area = (await services.households_without_area(ctx.db, poll.area)
                    if poll.state is PollState.draft and poll.eligibility is Eligibility.owners else 0)
    return {
        "pending_batches": sum(1 for b in batches if b.state is PaperBatchState.pending),
        "missing_area": missing_area,
        "households_url": _households_url(poll.area),
        "poll": poll, "options": poll.options, "topic": topic, "explained": explain(poll),
        "roll_text": roll_text(poll),
        "voted_text": _("{voted} of {eligible} ({offline} on paper)", voted=turnout.voted,
                        eligible=turnout.eligible, offline=turnout.offline),
        "batches": [_batch_view(poll, batch, voters, people, ctx.actor.user_id) for batch in batches],
        "may_hand_off": may_record_from(ctx.actor, poll, topic), **LIMITS,
    }


def _households_url(area: Area) -> str | None:
    """The households page of the poll's community (where floor areas are entered), if it has one."""
    community = (area.id if area.level is AreaLevel.community
                 else area.parent_id if area.level is AreaLevel.compound else None)
    return f"/worker/communities/{community}/households" if community else None


async def _names(ctx: Ctx, user_ids: set[int]) -> dict[int, str]:
    """Full names of workers (shown to workers only)."""
    if not user_ids:
        return {}
    return dict((await ctx.db.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))).all())


def _batch_view(poll: Poll, batch: PaperBatch, voters: dict[int, RollRow], people: dict[int, str],
                user_id: int | None) -> dict[str, Any]:
    def voter(voter_id: int) -> str:
        row = voters.get(voter_id)
        return _roll_label(row) if row else "?"

    return {"batch": batch, "recorded_by": people.get(batch.recorded_by_id or 0, "?"),
            "confirmed_by": people.get(batch.confirmed_by_id or 0) if batch.confirmed_by_id else None,
            "mine": batch.recorded_by_id == user_id,
            "lines": [{"voter": voter(entry.voter_id), "choices": choices_text(poll, entry.choices)
                       if entry.choices is not None else _("(not shown: secret ballot)")}
                      for entry in batch.entries]}


@routes.get("/worker/polls/{poll_id:int}", name="poll_manage")
async def manage(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    return render(request, "polls/admin_poll.html", await _manage_context(ctx, poll))


@routes.post("/worker/polls/{poll_id:int}/open", name="poll_open")
async def open_poll(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    await services.open_poll(ctx.db, ctx.actor, poll)
    ctx.flash(_("The poll is open. The roll is frozen: {roll}.", roll=roll_text(poll)))
    return redirect(f"/worker/polls/{poll.id}")


@routes.post("/worker/polls/{poll_id:int}/close", name="poll_close")
async def close_poll(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    form = await form_fields(request)
    if poll.state is PollState.open and form.get("confirm_pending") != "1" and await polls.pending_batch_count(
            ctx.db, poll):
        ctx.flash(_("Paper batches are still waiting for confirmation. Confirm or reject them first, or tick "
                    "the box to close anyway (they will be rejected and not counted)."), "error")
        return redirect(f"/worker/polls/{poll.id}")
    await services.close_poll(ctx.db, ctx.actor, poll, receipt_key=receipt_key(ctx))
    ctx.flash(_("The poll is closed; the result and the ballot list are published."))
    return redirect(f"/polls/{poll.id}/results")


@routes.post("/worker/polls/{poll_id:int}/verify", name="poll_verify")
async def verify_chain(request: Request, ctx: Ctx) -> Response:
    """Recompute the check of the published ballot list now (links, final fingerprint, recount)."""
    poll = await managed_poll(request, ctx)
    if poll.state is not PollState.closed:
        raise NotFound()
    check = await polls.verify_again(ctx.db, poll)
    if check.intact and check.recount_matches:
        ctx.flash(_("Checked again just now: the ballot list is intact and the recount matches the result."))
    else:
        ctx.flash(_("Checked again just now: the ballot list does NOT match what was published. Tell the "
                    "district office."), "error")
    return redirect(f"/polls/{poll.id}/ballots")


@routes.post("/worker/polls/{poll_id:int}/cancel", name="poll_cancel")
async def cancel_poll(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    form = await form_fields(request)
    try:
        await services.cancel_poll(ctx.db, ctx.actor, poll, form.get("reason", ""))
    except ValidationFailed as exc:
        return invalid_form(request, "polls/admin_poll.html", form, exc, await _manage_context(ctx, poll))
    ctx.flash(_("The poll is cancelled."), "info")
    return redirect(f"/worker/polls/{poll.id}")


# --- paper ballots -------------------------------------------------------------------------------

async def roll_rows(ctx: Ctx, poll: Poll, voter_ids: list[int]) -> list[RollRow]:
    return await polls.roll_entries(ctx.db, poll, voter_ids)


def _roll_label(row: RollRow) -> str:
    return row.name or row.address or _("Roll entry {n}", n=row.voter_id)


def _roll_detail(poll: Poll, row: RollRow) -> str:
    parts = [row.address or ""] if row.name else []
    if poll.eligibility is Eligibility.owners:
        parts.append(_("{area} m²", area=row.weight))
    return " · ".join(p for p in parts if p)


def _roll_problem(row: RollRow) -> str | None:
    if row.voted_at is not None:
        return _("Already voted on paper.") if row.channel is Channel.paper else _("Already voted online.")
    if row.pending:
        return _("In a batch waiting for confirmation.")
    return None


async def _paper_context(ctx: Ctx, poll: Poll, form: dict[str, str], voter_ids: list[int],
                         marks: dict[int, dict[str, Any]], query: str | None) -> dict[str, Any]:
    described = {row.voter_id: row for row in await roll_rows(ctx, poll, voter_ids)}
    entries = [{"id": i, "name": _roll_label(described[i]), "detail": _roll_detail(poll, described[i]),
                "chosen": marks.get(i, {}).get("chosen", set()), "ranks": marks.get(i, {}).get("ranks", {})}
               for i in voter_ids if i in described]
    found = None
    if query is not None and query.strip():
        found = [{"id": row.voter_id, "name": _roll_label(row), "detail": _roll_detail(poll, row),
                  "problem": _roll_problem(row) or (_("Already in this batch.") if row.voter_id in voter_ids
                                                    else None)}
                 for row in await polls.roll_for_paper(ctx.db, poll, query)]
    return {"poll": poll, "options": poll.options, "entries": entries, "found": found, "form": form}


@routes.get("/worker/polls/{poll_id:int}/signed", name="poll_signed")
async def signed_ballots(request: Request, ctx: Ctx) -> Response:
    """Who chose what, for open (signed) polls such as owners' joint decisions: staff only, because it
    names people and homes. A secret poll has no such list (404)."""
    poll = await managed_poll(request, ctx)
    if poll.secret:
        raise NotFound()
    number = parse_id(request.query_params.get("page")) or 1
    rows, total = await polls.signed_ballots(ctx.db, poll, offset=(number - 1) * BALLOTS_PER_PAGE,
                                             limit=BALLOTS_PER_PAGE)
    pages = max(1, -(-total // BALLOTS_PER_PAGE))
    return render(request, "polls/admin_signed.html", {
        "poll": poll, "total": total, "page": PageInfo(number, pages), "weighted": poll.weighted,
        "rows": [{"address": row.address, "voter": row.voter, "choices": choices_text(poll, row.choices),
                  "weight": row.weight, "channel": row.channel} for row in rows]})


@routes.get("/worker/polls/{poll_id:int}/paper", name="poll_paper")
async def paper_form(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    query = request.query_params.get("q", "")[:40]
    return render(request, "polls/admin_paper.html", await _paper_context(ctx, poll, {"q": query}, [], {}, query))


@routes.post("/worker/polls/{poll_id:int}/paper", name="poll_paper_submit")
async def paper_submit(request: Request, ctx: Ctx) -> Response:
    poll = await managed_poll(request, ctx)
    form = await form_fields(request)
    voter_ids = list(dict.fromkeys(await id_list(request, "voter")))
    if (added := parse_id(form.get("add"))) is not None and added not in voter_ids:
        voter_ids.append(added)
    if (removed := parse_id(form.get("remove"))) is not None:
        voter_ids = [i for i in voter_ids if i != removed]
    marks: dict[int, dict[str, Any]] = {}
    drafts = []
    for voter_id in voter_ids:
        choices, shown = await ballot_choices(request, poll, prefix=f"v{voter_id}_")
        marks[voter_id] = shown
        drafts.append(paper.PaperDraft(voter_id, choices))
    query = form.get("q", "")[:40]
    if form.get("action") != "record" or "add" in form or "remove" in form:
        return render(request, "polls/admin_paper.html",
                      await _paper_context(ctx, poll, form, voter_ids, marks, query))
    try:
        batch = await paper.record_paper_batch(ctx.db, ctx.actor, poll, drafts, note=form.get("note", ""))
    except ValidationFailed as exc:
        errors: dict[str, Message | str] = {_paper_error_key(key, voter_ids): message
                                            for key, message in exc.errors.items()}
        return invalid_form(request, "polls/admin_paper.html", form, ValidationFailed(errors),
                            await _paper_context(ctx, poll, form, voter_ids, marks, None))
    ctx.flash(_("Batch {n} is recorded. A second worker must now check it against the paper ballots and "
                "confirm it.", n=batch.id))
    return redirect(f"/worker/polls/{poll.id}")


def _paper_error_key(key: str, voter_ids: list[int]) -> str:
    """The service names entries by position (``entry_0``); the page by roll entry (``entry_<voter id>``)."""
    if key.startswith("entry_"):
        return f"entry_{voter_ids[int(key.removeprefix('entry_'))]}"
    return "entries" if key == "" else key


async def _batch(request: Request, ctx: Ctx) -> PaperBatch:
    poll = await managed_poll(request, ctx)
    return await polls.get_paper_batch(ctx.db, poll, request.path_params["batch_id"])


@routes.post("/worker/polls/{poll_id:int}/paper/{batch_id:int}/confirm", name="poll_paper_confirm")
async def paper_confirm(request: Request, ctx: Ctx) -> Response:
    batch = await _batch(request, ctx)
    await paper.confirm_paper_batch(ctx.db, ctx.actor, batch, receipt_key=receipt_key(ctx))
    ctx.flash(_("Batch {n} is confirmed; its ballots are counted as paper (offline) ballots.", n=batch.id))
    return redirect(f"/worker/polls/{batch.poll_id}")


@routes.post("/worker/polls/{poll_id:int}/paper/{batch_id:int}/reject", name="poll_paper_reject")
async def paper_reject(request: Request, ctx: Ctx) -> Response:
    batch = await _batch(request, ctx)
    form = await form_fields(request)
    field = f"reason_{batch.id}"
    try:
        await paper.reject_paper_batch(ctx.db, ctx.actor, batch, form.get(field, ""))
    except ValidationFailed as exc:
        return invalid_form(request, "polls/admin_poll.html", form,
                            ValidationFailed({field: next(iter(exc.errors.values()))}),
                            await _manage_context(ctx, batch.poll))
    ctx.flash(_("Batch {n} is rejected; nothing in it was counted.", n=batch.id), "info")
    return redirect(f"/worker/polls/{batch.poll_id}")


# --- the topic hand-off --------------------------------------------------------------------------

async def _hand_off(request: Request, ctx: Ctx) -> tuple[Poll, Topic]:
    poll = await managed_poll(request, ctx)
    topic = await topic_queries.get_topic(ctx.db, poll.topic_id) if poll.topic_id else None
    if topic is None or poll.state is not PollState.closed:
        raise NotFound()
    resolutions.require_may_record(ctx.actor, topic)
    return poll, topic


def _action_rows(form: dict[str, str]) -> int:
    shown = int_or_none(form.get("rows")) or ACTION_ROWS
    filled = [i + 1 for i in range(MAX_ACTIONS) if any(form.get(resolutions.action_field(i, name), "").strip()
                                                       for name in ("description", "unit_id", "target_date"))]
    return max(ACTION_ROWS, min(MAX_ACTIONS, max([shown, *filled])))


async def _hand_off_context(ctx: Ctx, poll: Poll, topic: Topic, rows: int) -> dict[str, Any]:
    community = await area_queries.get_area(ctx.db, topic.community_id)
    units = await resolutions.unit_choices(ctx.db, community)
    return {"poll": poll, "topic": topic, "outcome": services.decision_for_topic(poll, translate), "rows": rows,
            "can_add_rows": rows < MAX_ACTIONS, "action_field": resolutions.action_field,
            "unit_options": [(u.id, u.name) for u in units], "summary_max": SUMMARY_MAX,
            "action_description_max": ACTION_DESCRIPTION_MAX, "max_actions": MAX_ACTIONS}


@routes.get("/worker/polls/{poll_id:int}/resolution", name="poll_resolution")
async def resolution_form(request: Request, ctx: Ctx) -> Response:
    poll, topic = await _hand_off(request, ctx)
    outcome = services.decision_for_topic(poll, translate)
    summary = _("Decided by the poll “{title}”: {result}. {explanation}", title=poll.title,
                result=_("passed") if outcome.passed else _("not passed"), explanation=outcome.explanation)
    return render(request, "polls/admin_resolution.html", await _hand_off_context(ctx, poll, topic, ACTION_ROWS)
                  | {"form": {"summary": summary[:SUMMARY_MAX]}})


@routes.post("/worker/polls/{poll_id:int}/resolution", name="poll_resolution_submit")
async def resolution_submit(request: Request, ctx: Ctx) -> Response:
    poll, topic = await _hand_off(request, ctx)
    form = await form_fields(request)
    rows = _action_rows(form)
    if "more_rows" in form:
        context = await _hand_off_context(ctx, poll, topic, min(MAX_ACTIONS, rows + ACTION_ROWS))
        return render(request, "polls/admin_resolution.html", {**context, "form": form})
    drafts = [resolutions.ActionDraft(*(form.get(resolutions.action_field(i, name), "")
                                        for name in ("description", "unit_id", "target_date")))
              for i in range(rows)]
    try:
        resolution = await resolutions.record_resolution(
            ctx.db, ctx.actor, topic, method=Method.poll, summary=form.get("summary", ""), actions=drafts,
            poll_result=services.decision_for_topic(poll, translate), today=local_today())
    except ValidationFailed as exc:
        return invalid_form(request, "polls/admin_resolution.html", form, exc,
                            await _hand_off_context(ctx, poll, topic, rows))
    ctx.flash(_("The decision was recorded: {outcome}. Followers have been notified.",
                outcome=_(resolution.outcome.label)))
    return redirect(f"/topics/{topic.id}")
