"""Poll pages for residents (表决): the poll with its ballot form, the results with a chart and every
threshold explained, the published ballot list with its chain check, the receipt check, the printable
result notice (公示) and the CSV / XLSX downloads. Also the polls of an area (area page) and of a
topic (topic page section).

Everything works without JavaScript: a ranked ballot is one select per rank; a failing ballot comes
back with the message beside the choices and the choices kept.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from consultation.areas.models import Area
from consultation.db import utcnow
from consultation.deliberation import queries as topic_queries
from consultation.deliberation.models import Topic, TopicState
from consultation.errors import N_, Conflict, Forbidden, InvalidState, NotFound, ValidationFailed, msg
from consultation.policy import Actor, can
from consultation.validation import parse_id
from consultation.voting import ballots as casting
from consultation.voting import policy, rules
from consultation.voting import queries as polls
from consultation.voting.models import Eligibility, Poll, PollChainEntry, PollKind, PollState, RuleKind
from web import exports
from web.auth import require_user
from web.context import Ctx
from web.forms import form_fields, redirect
from web.i18n import current_locale, translate
from web.i18n import gettext as _
from web.ratelimit import pending, settle
from web.routing import RouteTable
from web.templating import render
from web.topic_sections import topic_section

routes = RouteTable()
POLL = "/polls/{poll_id:int}"
BALLOTS_PER_PAGE = 50
EXPORT_BATCH = 1000
# Casting (and changing) ballots, per person across all polls (pages and API together). Generous: a
# whole compound voting in the same minutes is the point, and each person votes once per poll anyway.
VOTE_LIMIT = 60
VOTE_WINDOW_SECONDS = 3600
STATUS_OF = {Forbidden: 403, Conflict: 409, InvalidState: 409}


async def poll_to_vote_in(ctx: Ctx, poll_id: int) -> polls.BallotRead:
    """The poll someone is about to vote in, with their roll entry, counting the attempt: one hit per ballot
    attempt of the signed-in person (in the same statement on PostgreSQL), HTTP 429 past ``VOTE_LIMIT`` an
    hour."""
    hit = pending(ctx, f"poll-vote:user:{ctx.actor.user_id}", per_seconds=VOTE_WINDOW_SECONDS)
    read = await polls.poll_for_ballot(ctx.db, ctx.actor, poll_id, hit=hit)
    await settle(ctx, hit, read.counted, max_hits=VOTE_LIMIT)
    return read


# --- plain words ---------------------------------------------------------------------------------

ELIGIBILITY_TEXT = {
    Eligibility.verified_residents: N_("Residents of {area} whose residence the community has verified, one "
                                       "ballot each."),
    Eligibility.all_residents: N_("Every registered resident of {area}, verified or not, one ballot each."),
    Eligibility.households: N_("One ballot per household of {area}: the first verified resident of the "
                               "household to vote casts it for the household."),
    Eligibility.owners: N_("Owners of {area} (业主共同决定): one ballot per home with a recorded floor area, "
                           "weighted by the floor area of its exclusive part, cast by a verified resident of "
                           "the home."),
}
RULE_TEXT = {
    RuleKind.simple_majority: N_("Passes if more ballots say yes than no; abstentions count for neither side."),
    RuleKind.majority_of_eligible: N_("Passes if more than half of everyone on the roll votes yes, so not "
                                      "voting counts like voting no."),
    RuleKind.two_thirds: N_("Passes if at least two-thirds of the ballots cast say yes; abstentions count as "
                            "ballots cast."),
    RuleKind.custom: N_("Turnout must reach at least {quorum} of the roll, and at least {threshold} of the "
                        "ballots cast must say yes."),
    RuleKind.art278_ordinary: N_("Civil Code article 278: owners holding at least 2/3 of the exclusive floor "
                                 "area, and at least 2/3 of the owners, must take part; then owners holding more "
                                 "than half of the participating area, and more than half of the participating "
                                 "owners, must vote yes."),
    RuleKind.art278_major: N_("Civil Code article 278, matters (6)–(8) (raising maintenance funds, rebuilding or "
                              "renovating, changing the use of common parts or running a business on them): owners "
                              "holding at least 2/3 of the exclusive floor area, and at least 2/3 of the owners, "
                              "must take part; then owners holding at least 3/4 of the participating area, and at "
                              "least 3/4 of the participating owners, must vote yes."),
}
LEADING_OPTION = N_("For this poll “yes” means the option with the most ballots (in a ranked poll, the winner "
                    "of the last round).")
BALLOT_TEXT = {
    PollKind.yes_no: N_("Choose yes, no or abstain."),
    PollKind.single: N_("Choose one option."),
    PollKind.ranked: N_("Rank the options in your order of preference; counted by instant run-off, round by "
                        "round."),
}
MULTIPLE_TEXT = N_("Choose from {low} to {high} options.")
SECRET_TEXT = N_("Secret ballot: what you choose is stored apart from who voted, with no link between them. "
                 "You get a receipt code to find your ballot in the published ballot list.")
OPEN_TEXT = N_("Open ballot: each ballot is recorded with the voter, and the ballot list is published after "
               "the poll closes.")
SIGNED_TEXT = N_("Signed ballot: as the law expects for owners' joint decisions, each ballot is recorded with "
                 "the home it was cast for.")
HIDDEN_TEXT = N_("Results are shown when the poll closes.")
SHOWN_TEXT = N_("The ballots so far can be seen while the poll is open.")
CHANGE_TEXT = N_("You may change your vote until the poll closes.")
NO_CHANGE_TEXT = N_("A ballot cannot be changed once cast.")


@dataclass(frozen=True)
class Explained:
    eligibility: str
    rule: str
    ballot: str
    secrecy: str


def fraction_text(num: int | None, den: int | None) -> str:
    return rules.as_fraction(Fraction(num, den)) if num is not None and den else "?"


def sentences(*parts: str) -> str:
    """Join translated sentences: Chinese runs them together, English puts a space between."""
    return ("" if current_locale.get().startswith("zh") else " ").join(part.strip() for part in parts if part)


def explain(poll: Poll) -> Explained:
    """Who may vote, how it is decided, how to fill in the ballot and who sees what, in plain words."""
    rule = _(RULE_TEXT[poll.rule], quorum=fraction_text(poll.quorum_num, poll.quorum_den),
             threshold=fraction_text(poll.threshold_num, poll.threshold_den))
    if poll.kind is not PollKind.yes_no:
        rule = sentences(rule, _(LEADING_OPTION))
    if poll.kind is PollKind.multiple:
        ballot = _(MULTIPLE_TEXT, low=poll.min_choices, high=poll.max_choices)
    else:
        ballot = _(BALLOT_TEXT[poll.kind])
    secrecy = _(SIGNED_TEXT if poll.eligibility is Eligibility.owners else SECRET_TEXT if poll.secret else OPEN_TEXT)
    secrecy = sentences(secrecy, _(HIDDEN_TEXT if poll.results_hidden_until_close else SHOWN_TEXT),
                        _(CHANGE_TEXT if poll.allow_change else NO_CHANGE_TEXT))
    return Explained(_(ELIGIBILITY_TEXT[poll.eligibility], area=poll.area.name), rule, ballot, secrecy)


def roll_text(poll: Poll) -> str:
    """The frozen roll as a count (and the total floor area for owners' polls)."""
    count = poll.eligible_count or 0
    if poll.eligibility is Eligibility.owners:
        return _("{n} owners holding {area} m² of exclusive floor area", n=count, area=poll.eligible_area or 0)
    if poll.by_household:
        return _("{n} households", n=count)
    return _("{n} people", n=count)


# --- reading a ballot from a form ----------------------------------------------------------------

async def ballot_choices(request: Request, poll: Poll, prefix: str = "") -> tuple[list[int], dict[str, Any]]:
    """The option ids a form chose (in rank order for a ranked poll) and what to show again on a failed
    submit. Unreadable values become ``0`` (no option has that id), so the service calls them forged."""
    form = await request.form()
    if poll.kind is PollKind.ranked:
        ranks = {rank: value for rank in range(1, len(poll.options) + 1)
                 if isinstance(value := form.get(f"{prefix}rank_{rank}"), str) and value.strip()}
        return [parse_id(v) or 0 for _, v in sorted(ranks.items())], {"ranks": ranks, "chosen": set()}
    values = [v for v in form.getlist(f"{prefix}choice") if isinstance(v, str) and v.strip()]
    return [parse_id(v) or 0 for v in values], {"ranks": {}, "chosen": set(values)}


def choose_hint(poll: Poll) -> str | None:
    if poll.kind is PollKind.multiple:
        return _(MULTIPLE_TEXT, low=poll.min_choices, high=poll.max_choices)
    if poll.kind is PollKind.ranked:
        return _("Choose at least your first choice. Leave later ranks empty if you have no further preference; "
                 "choose each option once.")
    return None


# --- the poll page -------------------------------------------------------------------------------

async def viewable_poll(ctx: Ctx, poll_id: int) -> Poll:
    """The poll with its options and area; a draft only for those who manage it (404 for others)."""
    return await polls.visible_poll(ctx.db, ctx.actor, poll_id)


async def _topic_of(ctx: Ctx, poll: Poll) -> Topic | None:
    return await topic_queries.get_topic(ctx.db, poll.topic_id) if poll.topic_id else None


async def _page_context(ctx: Ctx, poll: Poll, chosen: dict[str, Any] | None = None) -> dict[str, Any]:
    """The poll page, with the visitor's status: not signed in, refused (why), ready to vote, or voted
    (with the receipt code, recomputed: the database only has its hash)."""
    window = policy.window_problem(poll)
    status, message, receipt, channel, show_form = "refused", None, None, None, False
    if ctx.user is None:
        status = "sign_in" if window is None else "refused"
        message = translate(window) if window is not None else None
    elif poll.state is not PollState.draft:
        standing = await polls.voter_status(ctx.db, ctx.actor, poll, receipt_key=receipt_key(ctx))
        show_form = standing.may_vote
        if standing.voted_at is not None:
            status, receipt = "voted", standing.receipt
            channel = standing.channel.value if standing.channel else None
        elif standing.may_vote:
            status = "ready"
        else:
            message = translate(standing.problem) if standing.problem is not None else None
    else:
        message = translate(window) if window is not None else None
    return {
        "poll": poll, "options": poll.options, "topic": await _topic_of(ctx, poll), "explained": explain(poll),
        "roll_text": roll_text(poll), "status": status, "status_message": message, "receipt": receipt,
        "channel": channel, "show_form": show_form, "choose_hint": choose_hint(poll),
        "results_visible": can(ctx.actor, "voting.see_results", poll),
        "can_manage": can(ctx.actor, "voting.manage", poll),
        "chosen": set(), "ranks": {}, **(chosen or {}),
    }


def receipt_key(ctx: Ctx) -> bytes:
    return ctx.settings.secret_key.encode("utf-8")


@routes.get(POLL, name="poll_page")
async def poll_page(request: Request, ctx: Ctx) -> Response:
    poll = await viewable_poll(ctx, request.path_params["poll_id"])
    return render(request, "polls/poll.html", await _page_context(ctx, poll))


@routes.post(f"{POLL}/vote", name="poll_vote")
async def vote(request: Request, ctx: Ctx) -> Response:
    require_user(ctx)
    read = await poll_to_vote_in(ctx, request.path_params["poll_id"])
    poll = read.poll
    choices, shown = await ballot_choices(request, poll)
    try:
        async with ctx.db.begin_nested():  # a refusal undoes the attempt, not the rate-limit hit
            result = await casting.cast_ballot(ctx.db, ctx.actor, poll, choices, receipt_key=receipt_key(ctx),
                                                own=read.own)
    except (ValidationFailed, Forbidden, Conflict, InvalidState) as exc:
        if isinstance(exc, ValidationFailed):
            errors = {"choices": translate(next(iter(exc.errors.values())))}
        else:
            errors = {"choices": translate(exc.message)}
        # the page from the poll as this request reads it: ``read.poll`` may be shared between requests
        context = await _page_context(ctx, await polls.visible_poll(ctx.db, ctx.actor, poll.id), shown)
        return render(request, "polls/poll.html", {**context, "errors": errors},
                      status_code=STATUS_OF.get(type(exc), 422))
    if result.changed:
        ctx.flash(_("Your vote was changed. Only your last ballot counts."))
    else:
        ctx.flash(_("Thank you: your ballot is counted. Keep your receipt code: {code}", code=result.receipt))
    return redirect(f"/polls/{poll.id}#vote")


# --- results -------------------------------------------------------------------------------------

@dataclass
class Row:
    label: str
    count: int
    area: str
    percent: str
    bar: str
    lead: bool = False

    @property
    def value_text(self) -> str:
        return f"{self.count} · {self.percent}"


@dataclass
class RoundView:
    exhausted: int
    note: str


@dataclass
class MeasureView:
    label: str
    value: str
    required: str
    op: str
    passed: bool
    explanation: str


@dataclass
class ResultView:
    """What the results page, the notice and the exports show, from a stored result (``Poll.result``
    or an interim count): all numbers already formatted in words and percentages."""

    cast: int
    eligible: int
    turnout_percent: str
    weighted: bool
    cast_area: str
    eligible_area: str
    area_percent: str
    offline: int
    ranked: bool
    passed: bool
    reason: str
    rows: list[Row] = field(default_factory=list)
    chart: list[Row] = field(default_factory=list)
    rounds: list[RoundView] = field(default_factory=list)
    round_rows: list[tuple[str, list[str]]] = field(default_factory=list)
    measures: list[MeasureView] = field(default_factory=list)
    pending_batches: int = 0


def _share(part: Fraction | int, whole: Fraction | int) -> Fraction:
    return Fraction(part) / Fraction(whole) if whole else Fraction(0)


def _bar(value: Fraction) -> str:
    return rules.as_decimal(value * 100, 2)


def result_view(poll: Poll, result: dict[str, Any]) -> ResultView:
    options = result["options"]
    labels = {int(o["id"]): o["label"] for o in options}
    cast, eligible = int(result["ballots"]), int(result["eligible"])
    cast_area, eligible_area = Fraction(Decimal(result["cast_area"])), Fraction(Decimal(result["eligible_area"]))
    winner = result.get("winner")
    ranked = poll.kind is PollKind.ranked
    rows = []
    for option in options:
        count = int(option["ballots"])
        share = _share(count, cast)
        lead = (option["id"] == winner) if poll.kind is not PollKind.yes_no else False
        rows.append(Row(option["label"], count, option["weight"], rules.as_percent(share), _bar(share), lead))
    chart = rows
    rounds: list[RoundView] = []
    round_rows: list[tuple[str, list[str]]] = []
    if ranked and result.get("rounds"):
        stored = result["rounds"]
        cells: dict[int, list[str]] = {int(o["id"]): [] for o in options}
        out: set[int] = set()
        for data in stored:
            counts = _round_counts(data)
            for option_id, column in cells.items():
                column.append(str(counts[option_id]) if option_id in counts else "—")
            eliminated = [labels[int(o)] for o in data["eliminated"]]
            out.update(int(o) for o in data["eliminated"])
            if data.get("winner") is not None:
                note = _("{option} has more than half of the continuing ballots and wins.",
                         option=labels[int(data["winner"])])
            elif eliminated:
                note = _("Nobody has more than half: {options} has the fewest ballots, is eliminated, and its "
                         "ballots pass to their next choice.", options="、".join(eliminated))
            else:
                note = _("No option can win: the count ends here.")
            rounds.append(RoundView(int(data["exhausted"]), note))
        round_rows = [(labels[option_id], column) for option_id, column in cells.items()]
        final = _round_counts(stored[-1])
        continuing = sum(final.values())
        chart = [Row(labels[o], n, "", rules.as_percent(_share(n, continuing)), _bar(_share(n, continuing)),
                     o == winner) for o, n in final.items()]
    measures = [MeasureView(_(m["label"]), _measured(m), m["required"], "≥" if m["op"] == ">=" else ">",
                            bool(m["passed"]), translate(rules.message_from_json(m["explanation"])))
                for m in result.get("measures", [])]
    return ResultView(
        cast=cast, eligible=eligible, turnout_percent=rules.as_percent(_share(cast, eligible)),
        weighted=poll.eligibility is Eligibility.owners, cast_area=result["cast_area"],
        eligible_area=result["eligible_area"], area_percent=rules.as_percent(_share(cast_area, eligible_area)),
        offline=int(result.get("offline", 0)), ranked=ranked, passed=bool(result["passed"]),
        reason=translate(rules.message_from_json(result["reason"])), rows=rows, chart=chart, rounds=rounds,
        round_rows=round_rows, measures=measures, pending_batches=int(result.get("pending_paper_batches", 0)))


def _round_counts(data: dict[str, Any]) -> dict[int, int]:
    """A stored round's counts: ``[[option, n], ...]`` (``tally.Round.to_json``) or ``{option: n}``."""
    pairs = data["counts"].items() if isinstance(data["counts"], dict) else data["counts"]
    return {int(option): int(n) for option, n in pairs}


def _measured(measure: dict[str, Any]) -> str:
    if not measure.get("measurable", True):
        return _("cannot be measured")
    value, required = Fraction(measure["value"]), Fraction(measure["required"])
    return rules.distinct(rules.as_percent, value, required, 2)


async def visible_result(ctx: Ctx, poll: Poll) -> dict[str, Any]:
    """The stored result after close; the count so far while open if the poll shows it (else 409/403)."""
    if (problem := policy.results_problem(ctx.actor, poll)) is not None:
        raise InvalidState(problem)  # hidden until close, or cancelled: a matter of the poll's state
    result = await polls.interim_results(ctx.db, ctx.actor, poll)
    if result is None:
        raise NotFound()
    return result


@routes.get(f"{POLL}/results", name="poll_results")
async def results_page(request: Request, ctx: Ctx) -> Response:
    poll = await viewable_poll(ctx, request.path_params["poll_id"])
    view = result_view(poll, await visible_result(ctx, poll))
    topic = await _topic_of(ctx, poll)
    return render(request, "polls/results.html", {
        "poll": poll, "view": view, "explained": explain(poll), "topic": topic,
        "can_record_resolution": may_record_from(ctx.actor, poll, topic),
    })


def may_record_from(actor: Actor, poll: Poll, topic: Topic | None) -> bool:
    """The worker's "record the decision from the poll result": a closed poll of a topic being decided."""
    return (topic is not None and poll.state is PollState.closed and topic.state is TopicState.deciding
            and can(actor, "deliberation.record_resolution", topic))


@routes.get(f"{POLL}/notice", name="poll_notice")
async def notice(request: Request, ctx: Ctx) -> Response:
    poll = await closed_poll(ctx, request.path_params["poll_id"])
    assert poll.result is not None
    base = ctx.settings.base_url.rstrip("/")
    return render(request, "polls/notice.html", {
        "poll": poll, "view": result_view(poll, poll.result), "explained": explain(poll), "now": utcnow(),
        "ballots_url": f"{base}/polls/{poll.id}/ballots", "receipt_url": f"{base}/polls/{poll.id}/receipt",
    })


async def closed_poll(ctx: Ctx, poll_id: int) -> Poll:
    poll = await viewable_poll(ctx, poll_id)
    if poll.state is not PollState.closed:
        raise InvalidState(msg(N_("The ballot list and the result are published when the poll closes.")))
    return poll


# --- the published ballot list -------------------------------------------------------------------

def choices_text(poll: Poll, choices: Sequence[int]) -> str:
    labels = {option.id: option.label for option in poll.options}
    names = [labels.get(c, "?") for c in choices]
    if poll.kind is PollKind.ranked:
        return " > ".join(names) if names else _("(no choice)")
    return "、".join(names) if names else _("(no choice)")


@dataclass(frozen=True)
class EntryView:
    seq: int
    receipt_hash: str
    choices_text: str
    weight: str
    prev_hash: str
    hash: str


def entry_view(poll: Poll, entry: Any) -> EntryView:
    return EntryView(entry.seq, entry.receipt_hash, choices_text(poll, entry.choices), entry.weight,
                     entry.prev_hash, entry.hash)


@dataclass(frozen=True)
class PageInfo:
    number: int
    pages: int

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


async def chain_page(ctx: Ctx, poll: Poll, *, after_seq: int, limit: int) -> list[PollChainEntry]:
    """Entries with ``seq`` after ``after_seq``, in order (empty before close)."""
    return await polls.chain_page(ctx.db, poll, after_seq=after_seq, limit=limit)


async def all_entries(ctx: Ctx, poll: Poll) -> AsyncIterator[PollChainEntry]:
    """The whole published chain, read ``EXPORT_BATCH`` entries at a time."""
    after = 0
    while True:
        batch = await chain_page(ctx, poll, after_seq=after, limit=EXPORT_BATCH)
        for entry in batch:
            yield entry
        if len(batch) < EXPORT_BATCH:
            return
        after = batch[-1].seq


ChainCheck = polls.ChainCheck


async def check_chain(ctx: Ctx, poll: Poll) -> ChainCheck:
    """The check of the published chain (links against the head announced at close, and the recount),
    computed once at close and stored on the poll; workers can recompute it ("verify again")."""
    return await polls.chain_check(ctx.db, poll)


@routes.get(f"{POLL}/ballots", name="poll_ballots")
async def ballots_page(request: Request, ctx: Ctx) -> Response:
    poll = await closed_poll(ctx, request.path_params["poll_id"])
    check = await check_chain(ctx, poll)
    pages = max(1, -(-check.entries // BALLOTS_PER_PAGE))
    number = min(pages, max(1, parse_id(request.query_params.get("page")) or 1))
    entries = await chain_page(ctx, poll, after_seq=(number - 1) * BALLOTS_PER_PAGE, limit=BALLOTS_PER_PAGE)
    problem = None if check.intact else _("Chain check FAILED at entry {n}: the list was changed after it was "
                                         "published. Tell the community workers.", n=check.first_bad)
    return render(request, "polls/ballots.html", {
        "poll": poll, "entries": [entry_view(poll, e) for e in entries], "total": check.entries,
        "page": PageInfo(number, pages), "chain_intact": check.intact, "chain_problem": problem,
        "recount_matches": check.recount_matches, "weighted": poll.eligibility is Eligibility.owners,
        "checked_at": check.checked_at, "can_manage": can(ctx.actor, "voting.manage", poll),
        "highlight": parse_id(request.query_params.get("entry")),
    })


@routes.get(f"{POLL}/receipt", name="poll_receipt")
async def receipt_page(request: Request, ctx: Ctx) -> Response:
    return await _receipt(request, ctx, "")


@routes.post(f"{POLL}/receipt", name="poll_receipt_check")
async def receipt_check(request: Request, ctx: Ctx) -> Response:
    """The code travels in the body, never in the URL: addresses end up in access logs beside the
    visitor's IP, which would tie a person to the receipt and so, after close, to the choice."""
    return await _receipt(request, ctx, (await form_fields(request)).get("code", "")[:40])


async def _receipt(request: Request, ctx: Ctx, code: str) -> Response:
    poll = await viewable_poll(ctx, request.path_params["poll_id"])
    if poll.state in (PollState.draft, PollState.cancelled):
        raise NotFound()
    errors: dict[str, str] = {}
    entry = None
    if code.strip() and poll.state is PollState.closed:
        found = await polls.find_receipt(ctx.db, poll, code)
        if found is None:
            errors["code"] = _("No ballot in this poll's list has this receipt code. Check the code for typos.")
        else:
            entry = entry_view(poll, found)
    status = 422 if errors else 200
    return render(request, "polls/receipt.html", {
        "poll": poll, "form": {"code": code}, "errors": errors, "entry": entry,
        "entry_page": ((entry.seq - 1) // BALLOTS_PER_PAGE + 1) if entry else 1,
        "weighted": poll.eligibility is Eligibility.owners}, status_code=status)


# --- downloads -----------------------------------------------------------------------------------

def _results_header() -> list[str]:
    return [_("Option"), _("Ballots"), _("Floor area (m²)"), _("Share")]


async def _result_rows(poll: Poll, view: ResultView) -> AsyncIterator[Sequence[exports.Cell]]:
    for row in view.rows:
        yield [row.label, row.count, Decimal(row.area), row.percent]
    yield []
    yield [_("Ballots cast"), view.cast, Decimal(view.cast_area), view.turnout_percent]
    yield [_("Eligible"), view.eligible, Decimal(view.eligible_area), ""]
    yield [_("Paper ballots"), view.offline, None, ""]
    for index, (label, cells) in enumerate(view.round_rows):
        if index == 0:
            yield []
            yield [_("Round by round"), *[_("Round {n}", n=i) for i in range(1, len(cells) + 1)]]
        yield [label, *cells]
    if view.measures:
        yield []
        yield [_("Threshold"), _("Measured"), _("Required"), _("Met")]
        for measure in view.measures:
            yield [measure.label, measure.value, f"{measure.op} {measure.required}",
                   _("Yes") if measure.passed else _("No")]
    yield []
    yield [_("Result"), _("Passed") if view.passed else _("Not passed"), view.reason]
    yield [_("Final fingerprint of the ballot list"), poll.chain_head or ""]


def _ballot_header(poll: Poll) -> list[str]:
    return [_("No."), _("Choices"), _("Option ids"), _("Floor area (m²)") if poll.eligibility is Eligibility.owners
            else _("Weight"), _("Receipt fingerprint"), _("Previous fingerprint"), _("Entry fingerprint")]


async def _ballot_rows(ctx: Ctx, poll: Poll) -> AsyncIterator[Sequence[exports.Cell]]:
    async for e in all_entries(ctx, poll):
        yield [e.seq, choices_text(poll, e.choices), " ".join(str(c) for c in e.choices), Decimal(e.weight),
               e.receipt_hash, e.prev_hash, e.hash]


async def _export(ctx: Ctx, poll_id: int, what: str, fmt: str) -> Response:
    poll = await closed_poll(ctx, poll_id)
    assert poll.result is not None
    if what == "results":
        header = _results_header()
        rows = _result_rows(poll, result_view(poll, poll.result))
        sheet = _("Results")
    else:
        header = _ballot_header(poll)
        rows = _ballot_rows(ctx, poll)
        sheet = _("Ballot list")
    name = f"poll-{poll.id}-{what}.{fmt}"
    if fmt == "csv":
        return exports.download(await exports.write_csv(header, rows), name, exports.CSV_TYPE)
    return exports.download(await exports.write_xlsx(sheet, header, rows), name, exports.XLSX_TYPE)


@routes.get(f"{POLL}/results.csv", name="poll_results_csv")
async def results_csv(request: Request, ctx: Ctx) -> Response:
    return await _export(ctx, request.path_params["poll_id"], "results", "csv")


@routes.get(f"{POLL}/results.xlsx", name="poll_results_xlsx")
async def results_xlsx(request: Request, ctx: Ctx) -> Response:
    return await _export(ctx, request.path_params["poll_id"], "results", "xlsx")


@routes.get(f"{POLL}/ballots.csv", name="poll_ballots_csv")
async def ballots_csv(request: Request, ctx: Ctx) -> Response:
    return await _export(ctx, request.path_params["poll_id"], "ballots", "csv")


@routes.get(f"{POLL}/ballots.xlsx", name="poll_ballots_xlsx")
async def ballots_xlsx(request: Request, ctx: Ctx) -> Response:
    return await _export(ctx, request.path_params["poll_id"], "ballots", "xlsx")


# --- sections of other pages ---------------------------------------------------------------------

async def area_polls(ctx: Ctx, area: Area) -> list[Poll]:
    """For the area page (``area_polls`` context key): open and recently closed polls in and below it."""
    return await polls.polls_in_area(ctx.db, area, ctx.actor)


@topic_section("polls/_topic_polls.html", order=35, slot="end")
async def topic_polls(ctx: Ctx, topic: Topic) -> dict[str, Any]:
    found = await polls.polls_for_topic(ctx.db, topic.id, ctx.actor)
    may_create = (topic.state in (TopicState.deliberating, TopicState.deciding)
                  and can(ctx.actor, "voting.manage", topic.community))
    return {"topic_polls": found, "may_create_topic_poll": may_create}

