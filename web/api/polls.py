"""Polls (表决) as JSON: the polls of an area, one poll with the caller's standing, casting a ballot,
the results (after close, or while open when the poll shows them), the published ballot list (a hash
chain, paged) and looking up one entry by its receipt code.

Drafts look missing to everybody but their managers. Who voted is never published: a ballot appears
only in the published list, found by its receipt code.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.areas.models import Area
from consultation.deliberation import queries as topic_queries
from consultation.errors import NotFound, ValidationFailed, msg
from consultation.validation import parse_id
from consultation.voting import ballots as casting
from consultation.voting import queries as polls
from consultation.voting.models import Eligibility, Poll, PollChainEntry, PollKind, PollState, RuleKind
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
    string,
    timestamp,
)
from web.api.serializers import AreaRef, TopicRef, area_ref
from web.auth import require_user
from web.context import Ctx
from web.i18n import gettext, translate
from web.routes.polls import (
    chain_page,
    check_chain,
    closed_poll,
    explain,
    poll_to_vote_in,
    receipt_key,
    result_view,
    visible_result,
)

routes = ApiTable()
TAG = "Polls"
POLL = "/api/v1/polls/{poll_id:int}"
CHOICES_FIELD = "choices"

OptionSchema = Schema("PollChoice", {"id": integer(), "position": integer(minimum=1), "label": string()},
                      required=("id", "position", "label"))

PollSummary = Schema("PollSummary", {
    "id": integer(), "url": string("The poll's page."), "title": string(),
    "state": enum([s.value for s in PollState]), "state_label": string(),
    "kind": enum([k.value for k in PollKind]), "area": AreaRef.ref,
    "opens_at": nullable(timestamp("Voting starts; null: when the poll was opened.")), "closes_at": timestamp(),
}, required=("id", "url", "title", "state", "state_label", "kind", "area", "opens_at", "closes_at"))

PollDetail = Schema("PollDetail", {
    **PollSummary.properties,
    "description": string(), "topic": nullable(TopicRef),
    "eligibility": enum([e.value for e in Eligibility]), "rule": enum([r.value for r in RuleKind]),
    "explained": {"type": "object", "description": "Eligibility, rule, ballot and secrecy in plain words.",
                  "properties": {k: string() for k in ("eligibility", "rule", "ballot", "secrecy")},
                  "required": ["eligibility", "rule", "ballot", "secrecy"]},
    "min_choices": integer(), "max_choices": integer(), "secret": boolean(),
    "results_hidden_until_close": boolean(), "allow_change": boolean(),
    "eligible_count": nullable(integer("Size of the roll frozen when the poll opened.")),
    "eligible_area": nullable(string("Total exclusive floor area on an owners' roll (m²).")),
    "options": array(OptionSchema),
    "viewer": {"type": "object", "properties": {
        "signed_in": boolean(), "on_roll": boolean(), "voted": boolean(), "may_vote": boolean(),
        "receipt": nullable(string("The caller's receipt code, once they voted.")),
        "problem": nullable(string("Why the caller cannot vote now.")),
    }, "required": ["signed_in", "on_roll", "voted", "may_vote", "receipt", "problem"]},
}, required=(*PollSummary.required, "description", "topic", "eligibility", "rule", "explained", "min_choices",
             "max_choices", "secret", "results_hidden_until_close", "allow_change", "eligible_count",
             "eligible_area", "options", "viewer"))

CastBallot = Schema("CastBallot", {
    CHOICES_FIELD: {"type": "array", "items": {"type": "integer"},
                    "description": "Option ids; for a ranked poll in order of preference."},
}, required=(CHOICES_FIELD,))

Receipt = Schema("BallotReceipt", {
    "poll_id": integer(), "receipt": string("Keep it: it finds the ballot in the published list after close."),
    "changed": boolean("True when an earlier ballot was replaced."),
}, required=("poll_id", "receipt", "changed"))

Measure = Schema("PollMeasure", {
    "label": string(), "value": string("Measured, as a percentage."), "required": string("A fraction, e.g. 2/3."),
    "op": enum([">=", ">"]), "passed": boolean(), "explanation": string(),
}, required=("label", "value", "required", "op", "passed", "explanation"))

ResultSchema = Schema("PollResults", {
    "poll_id": integer(), "final": boolean("False while the poll is still open (a count so far)."),
    "passed": boolean(), "reason": string(),
    "ballots": integer(), "eligible": integer(), "offline": integer("Paper ballots."),
    "cast_area": string(), "eligible_area": string(),
    "options": array({"type": "object", "properties": {
        "id": integer(), "label": string(), "ballots": integer(), "weight": string()},
        "required": ["id", "label", "ballots", "weight"]}),
    "winner": nullable(integer()),
    "rounds": nullable(array({"type": "object"}, "Ranked polls: every round of the instant run-off.")),
    "measures": array(Measure),
    "chain_head": nullable(string("The final hash of the published ballot list.")),
}, required=("poll_id", "final", "passed", "reason", "ballots", "eligible", "offline", "cast_area",
             "eligible_area", "options", "winner", "rounds", "measures", "chain_head"))

ChainEntrySchema = Schema("BallotChainEntry", {
    "seq": integer(minimum=1), "receipt_hash": string("SHA-256 of the receipt code."),
    "choices": array(integer()), "weight": string(), "prev_hash": string(), "hash": string(),
}, required=("seq", "receipt_hash", "choices", "weight", "prev_hash", "hash"))

BallotList = Schema("BallotList", {
    **page_of(ChainEntrySchema).properties,
    "chain_head": string(), "chain_intact": boolean("Every entry links to the one before and to the head."),
    "recount_matches": boolean("Recounting the list gives the announced result."),
}, required=("items", "page", "per_page", "total", "chain_head", "chain_intact", "recount_matches"))


def poll_summary(poll: Poll) -> dict[str, Any]:
    return {"id": poll.id, "url": f"/polls/{poll.id}", "title": poll.title, "state": poll.state.value,
            "state_label": gettext(poll.state.label), "kind": poll.kind.value, "area": area_ref(poll.area),
            "opens_at": iso(poll.opens_at), "closes_at": iso(poll.closes_at)}


def chain_entry(entry: PollChainEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "receipt_hash": entry.receipt_hash, "choices": list(entry.choices),
            "weight": entry.weight, "prev_hash": entry.prev_hash, "hash": entry.hash}


async def _poll(request: Request, ctx: Ctx) -> Poll:
    return await polls.visible_poll(ctx.db, ctx.actor, request.path_params["poll_id"])


@routes.endpoint("/api/v1/polls", summary="Polls of an area", tag=TAG, query=(
    Param("area", integer(minimum=1), "An area id: polls of it and of the areas inside it.", required=True),
    *PAGE_PARAMS,
), responses={200: ("Open polls first, then closed and cancelled ones", page_of(PollSummary))})
async def api_polls(request: Request, ctx: Ctx) -> Response:
    page = page_request(request)
    area_id = parse_id(request.query_params.get("area"))
    area = await ctx.db.get(Area, area_id) if area_id else None
    if area is None:
        raise ValidationFailed({"area": msg("There is no such area.")})
    found = await polls.polls_in_area(ctx.db, area, ctx.actor, limit=page.offset + page.per_page + 1)
    total = len(found) if len(found) <= page.offset + page.per_page else page.offset + page.per_page + 1
    items = found[page.offset:page.offset + page.per_page]
    return ok(page_body([poll_summary(p) for p in items], page, total))


@routes.endpoint(POLL, summary="A poll with its options, rules and the caller's standing", tag=TAG,
                 responses={200: ("The poll", PollDetail)})
async def api_poll(request: Request, ctx: Ctx) -> Response:
    poll = await _poll(request, ctx)
    explained = explain(poll)
    standing = (await polls.voter_status(ctx.db, ctx.actor, poll, receipt_key=receipt_key(ctx))
                if ctx.user is not None and poll.state is not PollState.draft else None)
    topic = None
    if poll.topic_id is not None:
        found = await topic_queries.topic_or_none(ctx.db, poll.topic_id)
        topic = {"id": found.id, "title": found.title, "url": f"/topics/{found.id}"} if found else None
    return ok({
        **poll_summary(poll), "description": poll.description or "", "topic": topic,
        "eligibility": poll.eligibility.value, "rule": poll.rule.value,
        "explained": {"eligibility": explained.eligibility, "rule": explained.rule, "ballot": explained.ballot,
                      "secrecy": explained.secrecy},
        "min_choices": poll.min_choices, "max_choices": poll.max_choices, "secret": poll.secret,
        "results_hidden_until_close": poll.results_hidden_until_close, "allow_change": poll.allow_change,
        "eligible_count": poll.eligible_count,
        "eligible_area": str(poll.eligible_area) if poll.eligible_area is not None else None,
        "options": [{"id": o.id, "position": o.position, "label": o.label} for o in poll.options],
        "viewer": {
            "signed_in": ctx.user is not None, "on_roll": bool(standing and standing.on_roll),
            "voted": bool(standing and standing.voted_at is not None), "may_vote": bool(standing and standing.may_vote),
            "receipt": standing.receipt if standing else None,
            "problem": translate(standing.problem) if standing and standing.problem is not None else None,
        },
    })


@routes.endpoint(f"{POLL}/ballots", "POST", summary="Cast (or change) one's ballot", name="api_poll_cast", tag=TAG,
                 request=CastBallot, signed_in=True, autocommit=True,  # each write of casting is one statement
                 responses={201: ("Cast: keep the receipt code", Receipt),
                            200: ("Changed (polls that allow changing a vote): the earlier ballot was replaced",
                                  Receipt)})
async def api_cast(request: Request, ctx: Ctx) -> Response:
    """Refused with 409 before opening, after closing and for a second ballot (unless the poll allows
    changing one's vote), 403 when not on the roll, 422 for invalid choices (a forged option id, too many,
    too few, repeated). A refusal changes nothing."""
    require_user(ctx)
    read = await poll_to_vote_in(ctx, request.path_params["poll_id"])
    poll = read.poll
    body = await json_body(request, CastBallot)
    raw = body.get(CHOICES_FIELD)
    if not isinstance(raw, list) or not all(isinstance(c, int) and not isinstance(c, bool) for c in raw) \
            or len(raw) > len(poll.options) + 1:
        raise ValidationFailed({CHOICES_FIELD: msg("Send the chosen option ids as a list of whole numbers.")})
    result = await casting.cast_ballot(ctx.db, ctx.actor, poll, [int(c) for c in raw], receipt_key=receipt_key(ctx),
                                      own=read.own)
    return ok({"poll_id": poll.id, "receipt": result.receipt, "changed": result.changed},
              200 if result.changed else 201)


@routes.endpoint(f"{POLL}/results", summary="The results (after close, or so far when the poll shows them)",
                 tag=TAG, responses={200: ("The count and every threshold", ResultSchema)})
async def api_results(request: Request, ctx: Ctx) -> Response:
    """409 while the poll hides its results until close (and for cancelled polls)."""
    poll = await _poll(request, ctx)
    result = await visible_result(ctx, poll)
    view = result_view(poll, result)
    return ok({
        "poll_id": poll.id, "final": poll.state is PollState.closed, "passed": view.passed, "reason": view.reason,
        "ballots": view.cast, "eligible": view.eligible, "offline": view.offline,
        "cast_area": result["cast_area"], "eligible_area": result["eligible_area"],
        "options": [{"id": o["id"], "label": o["label"], "ballots": o["ballots"], "weight": o["weight"]}
                    for o in result["options"]],
        "winner": result.get("winner"), "rounds": result.get("rounds"),
        "measures": [{"label": m.label, "value": m.value, "required": m.required,
                      "op": ">=" if m.op == "≥" else ">", "passed": m.passed, "explanation": m.explanation}
                     for m in view.measures],
        "chain_head": poll.chain_head if poll.state is PollState.closed else None,
    })


async def _closed(request: Request, ctx: Ctx) -> Poll:
    return await closed_poll(ctx, request.path_params["poll_id"])


@routes.endpoint(f"{POLL}/ballots", summary="The published ballot list (a hash chain), paged", tag=TAG,
                 query=PAGE_PARAMS, responses={200: ("Entries in order, with the chain check", BallotList)})
async def api_ballots(request: Request, ctx: Ctx) -> Response:
    """Published when the poll closes (409 before). Each entry's ``hash`` is SHA-256 over the canonical
    JSON ``{"choices","prev","receipt","seq","weight"}`` (sorted keys, no spaces); the first ``prev`` is 64
    zeros and the last ``hash`` is ``chain_head``."""
    page = page_request(request)
    poll = await _closed(request, ctx)
    check = await check_chain(ctx, poll)
    entries = await chain_page(ctx, poll, after_seq=page.offset, limit=page.per_page)
    return ok({**page_body([chain_entry(e) for e in entries], page, check.entries),
               "chain_head": poll.chain_head, "chain_intact": check.intact, "recount_matches": check.recount_matches})


ReceiptQuery = Schema("ReceiptQuery", {
    "code": {"type": "string", "maxLength": 40, "description": "The receipt code; dashes and case do not matter."},
}, required=("code",))


@routes.endpoint(f"{POLL}/receipts", "POST", summary="Find a ballot in the published list by its receipt code",
                 tag=TAG, request=ReceiptQuery, responses={200: ("The ballot's entry", ChainEntrySchema)})
async def api_receipt(request: Request, ctx: Ctx) -> Response:
    """POST so that the code is never in a URL (access logs keep URLs beside the caller's IP). Changes
    nothing; anyone may ask, with the CSRF header like every unsafe request."""
    poll = await _closed(request, ctx)
    body = await json_body(request, ReceiptQuery)
    code = body.get("code")
    if not isinstance(code, str) or not code.strip():
        raise ValidationFailed({"code": msg("Enter the receipt code.")})
    entry = await polls.find_receipt(ctx.db, poll, code[:40])
    if entry is None:
        raise NotFound(msg("No ballot in this poll's list has this receipt code. Check the code for typos."))
    return ok(chain_entry(entry))
