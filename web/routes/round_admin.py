"""The legislative staff's work on a comment round and its feedback report.

- The queue: one row per group of comments (a campaign of copied comments is one row with its true
  count), filtered by article, theme, answer status, outcome and representatives, biggest groups first.
- One comment with its group: answer it (the answer applies to the whole group and may link the article
  of a later version it changed), tag its group with themes, take it out of its group or put it into
  another. After an answer the next pending group of the same filter opens, so staff who answer
  thousands of comments move on with one click.
- The feedback report (征求意见情况说明), public and printable; and for staff the export of every comment
  with its answer as CSV or XLSX, written in batches and streamed.

Staff pages show commenters' names; the public report never does.

Performance (issue 6: 80,000 comments in a round): the queue's rows are read fresh from the partial
indexes of ``consultation.rounds.models``, its counts (the header's figures and the filter's total) and
the built report are kept until a table they read changes (``web.routes.rounds.round_cached``, in this process
or another).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from consultation.accounts.models import User
from consultation.clock import TIMEZONE
from consultation.drafts import queries as drafts
from consultation.drafts.model import Kind, cite
from consultation.drafts.models import Provision
from consultation.errors import InvalidState, NotFound, ValidationFailed, msg
from consultation.policy import can, require
from consultation.rounds import queries, report, services
from consultation.rounds.models import OUTCOME_LABELS, REASON_MAX, THEME_MAX, CommentRound, DraftComment, Outcome
from consultation.rounds.queries import WHOLE_DRAFT, QueueFilter, QueueStatus
from web import exports
from web.auth import require_permission
from web.context import Ctx
from web.forms import form_fields, int_or_none, redirect
from web.i18n import N_, ngettext, translate
from web.i18n import gettext as _
from web.routes.drafts import CHANGE_LABELS
from web.routes.rounds import kept_until_the_window_turns, round_cached
from web.routing import RouteTable
from web.templating import field_errors, render, render_for_anyone

routes = RouteTable()

ROUND = "/rounds/{round_id:int}"
COMMENT = ROUND + "/comments/{comment_id:int}"
CAMPAIGN_SIZE = 5  # a group this large is marked as a campaign in the queue
SNIPPET = 160  # characters of a comment shown in the queue
MEMBERS_SHOWN = 50
THEME_SPLIT = re.compile(r"[,，、;；\s]+")
STATUS_LABELS = {
    QueueStatus.pending: N_("Not answered yet"),
    QueueStatus.answered: N_("Answered"),
    QueueStatus.all: N_("All"),
}

# The export is a fixed format for the legislative office's own work (the same columns whatever the
# language of the page it was downloaded from): Chinese headers and outcome names.
EXPORT_HEADERS = {
    "comment": "意见编号", "submitted_at": "提交时间（北京时间）", "provision": "条款", "chapter": "章",
    "commenter": "提交人编号", "representative": "人大代表", "held": "待审核（不公开）",
    "comment_text": "意见内容",
    "proposed_wording": "建议修改为", "group_of": "所属意见组（组首意见编号）", "group_size": "本组意见数",
    "supports": "赞同数", "themes": "主题", "outcome": "采纳情况", "reason": "理由说明",
    "new_provision": "对应新版本条款",
}
EXPORT_OUTCOMES = {
    Outcome.adopted.value: "采纳", Outcome.partly.value: "部分采纳", Outcome.not_adopted.value: "未采纳",
    Outcome.already_provided.value: "已有规定", Outcome.out_of_scope.value: "不属于本法规调整范围",
}
assert tuple(EXPORT_HEADERS) == report.EXPORT_COLUMNS, "every export column needs its header"


# --- loading and checking --------------------------------------------------------------------------

async def _managed_round(request: Request, ctx: Ctx) -> CommentRound:
    """The round of the path, for legislative staff whose grant covers the draft's area (and admins)."""
    require_permission(ctx, "drafts.create")  # signed in and staff at all, before anything is looked up
    round_ = await queries.get_round(ctx.db, request.path_params["round_id"])
    require(ctx.actor, "rounds.manage", round_.draft)
    return round_


def _is_staff(ctx: Ctx, round_: CommentRound) -> bool:
    return ctx.actor.authenticated and can(ctx.actor, "rounds.manage", round_.draft)


async def _comment_in(ctx: Ctx, round_: CommentRound, comment_id: int) -> DraftComment:
    comment = await queries.get_comment(ctx.db, comment_id)
    if comment.round_id != round_.id:
        raise NotFound()
    return comment


# --- the queue filter ------------------------------------------------------------------------------

def _filter(params: Mapping[str, str]) -> QueueFilter:
    """The queue filter of a query string (unknown values fall back to the defaults)."""
    raw_article = params.get("article", "")
    article = WHOLE_DRAFT if raw_article == str(WHOLE_DRAFT) else int_or_none(raw_article)
    status = QueueStatus(params["status"]) if params.get("status") in QueueStatus.__members__ else QueueStatus.pending
    outcome = Outcome(params["outcome"]) if params.get("outcome") in Outcome.__members__ else None
    if outcome is not None and status is QueueStatus.pending:  # an outcome is only found among answers
        status = QueueStatus.answered
    return QueueFilter(article_id=article, theme_id=int_or_none(params.get("theme")), status=status,
                       outcome=outcome, representatives=params.get("rep") == "1")


def _filter_values(wanted: QueueFilter) -> dict[str, str]:
    """The filter as form values and query parameters (defaults left out)."""
    values = {}
    if wanted.article_id is not None:
        values["article"] = str(wanted.article_id)
    if wanted.theme_id is not None:
        values["theme"] = str(wanted.theme_id)
    if wanted.status is not QueueStatus.pending:
        values["status"] = wanted.status.value
    if wanted.outcome is not None:
        values["outcome"] = wanted.outcome.value
    if wanted.representatives:
        values["rep"] = "1"
    return values


def _query(wanted: QueueFilter) -> str:
    return urlencode(_filter_values(wanted))


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


def _posted_filter(form: Mapping[str, str]) -> QueueFilter:
    """The queue filter the comment page was opened with (kept in a hidden field of its forms)."""
    return _filter(dict(parse_qsl(form.get("filter", "")[:500])))


# --- what a comment is on ----------------------------------------------------------------------------

def _target(comment: DraftComment, provisions: Mapping[int, Provision]) -> str:
    """"第十二条第二款", or "Whole draft"."""
    if comment.provision_id is None:
        return _("Whole draft")
    target = provisions.get(comment.provision_id)
    if target is None:
        return ""
    article = provisions.get(comment.article_id) if comment.article_id is not None else None
    return cite(target.kind, target.label, target.number, article.label if article else "")


def _heading(provision: Provision | None) -> str:
    if provision is None:
        return ""
    return f"{provision.label} {provision.title}".strip()


def _snippet(text: str, size: int = SNIPPET) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[:size].rstrip() + "…"


@dataclass
class Row:
    comment: DraftComment
    target: str
    chapter: str
    author: str
    themes: list[str]

    @property
    def campaign(self) -> bool:
        return self.comment.group_size >= CAMPAIGN_SIZE


async def _rows(ctx: Ctx, comments: Sequence[DraftComment]) -> list[Row]:
    provisions = await queries.provisions_by_id(ctx.db, {c.provision_id for c in comments}
                                                | {c.article_id for c in comments}
                                                | {c.chapter_id for c in comments})
    authors = await queries.authors_by_id(ctx.db, {c.author_id for c in comments})
    themes = await queries.themes_by_comment(ctx.db, [c.lead_id or c.id for c in comments])
    return [Row(c, _target(c, provisions), _heading(provisions.get(c.chapter_id or 0)),
                _author(authors.get(c.author_id or 0)), themes.get(c.lead_id or c.id, []))
            for c in comments]


def _author(user: User | None) -> str:
    return user.display_name if user is not None else _("Deleted account")


def _outcome_options() -> list[tuple[str, str]]:
    return [(outcome.value, _(label)) for outcome, label in OUTCOME_LABELS.items()]


def _filter_key(wanted: QueueFilter) -> tuple[object, ...]:
    return (wanted.article_id, wanted.theme_id, wanted.status, wanted.outcome, wanted.representatives)


# --- the queue -------------------------------------------------------------------------------------

@routes.get(ROUND + "/queue", name="round_queue")
async def queue_page(request: Request, ctx: Ctx) -> Response:
    round_ = await _managed_round(request, ctx)
    wanted = _filter(request.query_params)
    number = int_or_none(request.query_params.get("page")) or 1
    total = await round_cached(request.app, "round_queue_counts", (round_.id, _filter_key(wanted)),
                               lambda: queries.queue_count(ctx.db, round_.id, wanted))
    totals = await round_cached(request.app, "round_queue_counts", (round_.id, "totals"),
                                lambda: queries.queue_totals(ctx.db, round_.id))
    page = await queries.queue(ctx.db, round_.id, wanted, number, total=total)
    themes = await queries.themes_of(ctx.db, round_.id)
    articles = await drafts.article_labels(ctx.db, round_.version_id)
    query = _query(wanted)
    return render(request, "rounds/queue.html", {
        "round": round_, "draft": round_.draft, "version": round_.version,
        "totals": totals, "page": page,
        "rows": await _rows(ctx, page.items), "form": _filter_values(wanted), "filter_query": query,
        "article_options": [(str(WHOLE_DRAFT), _("Whole draft"))] + [(str(pid), label) for pid, label in articles],
        "theme_options": [(str(t.id), t.name) for t in themes],
        "status_options": [(s.value, _(label)) for s, label in STATUS_LABELS.items()],
        "outcome_options": _outcome_options(), "outcome_labels": OUTCOME_LABELS,
        "page_base": _with_query(f"/rounds/{round_.id}/queue", query) + ("&" if query else "?"),
        "campaign_size": CAMPAIGN_SIZE})


# --- one comment -----------------------------------------------------------------------------------

async def _later_articles(ctx: Ctx, round_: CommentRound) -> list[tuple[int, list[tuple[str, str]]]]:
    """Articles of the draft's later versions, for linking an answer to the new wording: (version, options)."""
    found = []
    for version in await drafts.versions_of(ctx.db, round_.draft):
        if version.number <= round_.version.number:
            continue
        options = [(str(p.id), f"{p.label} {_snippet(p.body, 30)}")
                   for p in await drafts.outline_of(ctx.db, version) if p.kind is Kind.ARTICLE]
        found.append((version.number, options))
    return found


async def _comment_context(ctx: Ctx, round_: CommentRound, comment: DraftComment) -> dict[str, Any]:
    lead = comment if comment.lead_id is None else await queries.get_comment(ctx.db, comment.lead_id)
    members = await queries.group_members(ctx.db, lead, MEMBERS_SHOWN)
    group = [lead, *members]
    wanted_provisions = {c.provision_id for c in group} | {c.article_id for c in group}
    wanted_provisions |= {comment.provision_id, comment.article_id, comment.chapter_id, comment.changed_provision_id}
    provisions = await queries.provisions_by_id(ctx.db, wanted_provisions)
    authors = await queries.authors_by_id(ctx.db, {c.author_id for c in group}
                                          | {comment.author_id, comment.answered_by_id})
    lead_themes = (await queries.themes_by_comment(ctx.db, [lead.id])).get(lead.id, [])
    later = await _later_articles(ctx, round_)
    changed = provisions.get(comment.changed_provision_id or 0)
    changed_number = next((number for number, options in later
                           if any(value == str(changed.id) for value, _label in options)), None) if changed else None
    return {
        "round": round_, "draft": round_.draft, "version": round_.version, "comment": comment, "lead": lead,
        "members": members, "group_rows": {c.id: (_target(c, provisions), _author(authors.get(c.author_id or 0)))
                                           for c in group},
        "target": _target(comment, provisions), "provision": provisions.get(comment.provision_id or 0),
        "chapter": _heading(provisions.get(comment.chapter_id or 0)),
        "author": _author(authors.get(comment.author_id or 0)),
        "answered_by": _author(authors.get(comment.answered_by_id or 0)) if comment.answered_by_id else "",
        "changed": changed, "changed_number": changed_number,
        "lead_themes": lead_themes, "round_themes": [t.name for t in await queries.themes_of(ctx.db, round_.id)],
        "later_articles": later, "outcome_options": _outcome_options(), "outcome_labels": OUTCOME_LABELS,
        "campaign_size": CAMPAIGN_SIZE, "reason_max": REASON_MAX, "theme_max": THEME_MAX,
        "max_themes": services.MAX_THEMES,
    }


def _answer_values(comment: DraftComment) -> dict[str, str]:
    return {"outcome": comment.outcome.value if comment.outcome else "", "reason": comment.reason,
            "changed_provision_id": str(comment.changed_provision_id or "")}


async def _render_comment(request: Request, ctx: Ctx, round_: CommentRound, comment: DraftComment, *,
                          wanted: QueueFilter, form: dict[str, str] | None = None,
                          errors: dict[str, str] | None = None, checked: list[str] | None = None) -> Response:
    context = await _comment_context(ctx, round_, comment)
    query = _query(wanted)
    values = _answer_values(comment) | (form or {})
    context.update({
        "form": values, "errors": errors or {}, "filter_query": query,
        "queue_url": _with_query(f"/rounds/{round_.id}/queue", query),
        "checked_themes": context["lead_themes"] if checked is None else checked,
    })
    return render(request, "rounds/comment_staff.html", context, status_code=422 if errors else 200)


@routes.get(COMMENT, name="round_comment_staff")
async def comment_page(request: Request, ctx: Ctx) -> Response:
    round_ = await _managed_round(request, ctx)
    comment = await _comment_in(ctx, round_, request.path_params["comment_id"])
    return await _render_comment(request, ctx, round_, comment, wanted=_filter(request.query_params))


async def _posted(request: Request, ctx: Ctx) -> tuple[CommentRound, DraftComment, dict[str, str]]:
    """The round (checked), the comment of the path (its round is checked by the services, which refuse
    a comment of another round with a message) and the submitted fields."""
    round_ = await _managed_round(request, ctx)
    comment = await queries.get_comment(ctx.db, request.path_params["comment_id"])
    return round_, comment, await form_fields(request)


def _refused(exc: ValidationFailed, round_: CommentRound, comment: DraftComment) -> dict[str, str]:
    """Field errors to show beside the form; a comment of another round is refused on an error page of its
    own (this round's page cannot show it), with the services' message."""
    if comment.round_id != round_.id:
        raise exc
    return field_errors(exc.errors)


def _comment_url(round_: CommentRound, comment_id: int, wanted: QueueFilter) -> str:
    return _with_query(f"/rounds/{round_.id}/comments/{comment_id}", _query(wanted))


@routes.post(COMMENT + "/answer", name="round_comment_answer")
async def answer(request: Request, ctx: Ctx) -> Response:
    round_, comment, form = await _posted(request, ctx)
    wanted = _posted_filter(form)
    raw_link = form.get("changed_provision_id", "").strip()
    try:
        linked = int_or_none(raw_link)
        if raw_link and linked is None:
            raise ValidationFailed({"changed_provision_id": msg("Link an article of a later version of this draft.")})
        async with ctx.db.begin_nested():
            count = await services.answer(ctx.db, ctx.actor, round_.draft, round_, comment,
                                          outcome=form.get("outcome", ""), reason=form.get("reason", ""),
                                          changed_provision_id=linked)
    except ValidationFailed as exc:
        errors = _refused(exc, round_, comment)
        return await _render_comment(request, ctx, round_, comment, wanted=wanted, form=form, errors=errors)
    ctx.flash(ngettext("The answer was saved for {n} comment.", "The answer was saved for {n} comments.", count))
    return redirect(await _next_pending(ctx, round_, wanted))


async def _next_pending(ctx: Ctx, round_: CommentRound, wanted: QueueFilter) -> str:
    """The next group that waits for an answer in the queue's filter (its outcome choice aside), or the
    queue when none is left."""
    pending = QueueFilter(article_id=wanted.article_id, theme_id=wanted.theme_id, status=QueueStatus.pending,
                          representatives=wanted.representatives)
    found = await queries.queue(ctx.db, round_.id, pending, 1, per_page=1, total=1)  # the first row: no count
    if found.items:
        return _comment_url(round_, found.items[0].id, wanted)
    ctx.flash(_("No group in this view waits for an answer any more."), "info")
    return _with_query(f"/rounds/{round_.id}/queue", _query(wanted))


@routes.post(COMMENT + "/themes", name="round_comment_themes")
async def set_themes(request: Request, ctx: Ctx) -> Response:
    round_, comment, form = await _posted(request, ctx)
    wanted = _posted_filter(form)
    checked = [name for name in (await request.form()).getlist("theme") if isinstance(name, str)]
    typed = [name for name in THEME_SPLIT.split(form.get("themes", "")) if name]
    try:
        async with ctx.db.begin_nested():
            names = await services.set_themes(ctx.db, ctx.actor, round_.draft, round_, comment, [*checked, *typed])
    except ValidationFailed as exc:
        errors = _refused(exc, round_, comment)
        return await _render_comment(request, ctx, round_, comment, wanted=wanted, form=form, errors=errors,
                                     checked=checked)
    ctx.flash(_("Themes saved: {names}.", names="、".join(names)) if names else _("The themes were removed."))
    return redirect(_comment_url(round_, comment.id, wanted))


@routes.post(COMMENT + "/detach", name="round_comment_detach")
async def detach(request: Request, ctx: Ctx) -> Response:
    round_, comment, form = await _posted(request, ctx)
    wanted = _posted_filter(form)
    back = int_or_none(form.get("back")) or comment.id  # the page the button was on (a lead lists its members)
    lead_id = comment.lead_id
    try:
        async with ctx.db.begin_nested():
            await services.detach(ctx.db, ctx.actor, round_.draft, round_, comment)
    except ValidationFailed as exc:
        errors = _refused(exc, round_, comment)
        return await _render_comment(request, ctx, round_, comment, wanted=wanted, errors=errors)
    except InvalidState as exc:
        return await _render_comment(request, ctx, round_, comment, wanted=wanted,
                                     errors={"detach": _translate(exc)})
    ctx.flash(_("Comment {id} was taken out of the group of comment {lead}; it now forms a group of its own.",
                id=comment.id, lead=lead_id))
    return redirect(_comment_url(round_, back if back in (comment.id, lead_id) else comment.id, wanted))


@routes.post(COMMENT + "/attach", name="round_comment_attach")
async def attach(request: Request, ctx: Ctx) -> Response:
    round_, comment, form = await _posted(request, ctx)
    wanted = _posted_filter(form)
    lead_id = int_or_none(form.get("lead_id", "").strip().lstrip("#＃"))
    try:
        if lead_id is None:
            raise ValidationFailed({"lead_id": msg("Enter the number of the comment whose group this comment "
                                                   "should join.")})
        try:
            lead = await queries.get_comment(ctx.db, lead_id)
        except NotFound as exc:
            raise ValidationFailed({"lead_id": msg("No comment has the number {n}.", n=lead_id)}) from exc
        async with ctx.db.begin_nested():
            size = await services.attach(ctx.db, ctx.actor, round_.draft, round_, comment, lead)
    except ValidationFailed as exc:
        errors = _refused(exc, round_, comment)
        if "comment" in errors:  # the comment is in this round, so the other one is not
            errors = {"lead_id": errors.pop("comment"), **errors}
        return await _render_comment(request, ctx, round_, comment, wanted=wanted, form=form, errors=errors)
    except InvalidState as exc:
        return await _render_comment(request, ctx, round_, comment, wanted=wanted, form=form,
                                     errors={"lead_id": _translate(exc)})
    target = lead.lead_id or lead.id
    ctx.flash(ngettext("The group of comment {lead} now holds {n} comment.",
                       "The group of comment {lead} now holds {n} comments.", size, lead=target))
    return redirect(_comment_url(round_, target, wanted))


@routes.post(COMMENT + "/visibility", name="round_comment_visibility")
async def visibility(request: Request, ctx: Ctx) -> Response:
    """Release a comment held for review, or take a shown comment off public view (field ``held`` 0 or 1)."""
    round_, comment, form = await _posted(request, ctx)
    wanted = _posted_filter(form)
    held = form.get("held") == "1"
    try:
        async with ctx.db.begin_nested():
            await services.set_held(ctx.db, ctx.actor, round_.draft, round_, comment, held)
    except ValidationFailed as exc:
        return await _render_comment(request, ctx, round_, comment, wanted=wanted,
                                     errors=_refused(exc, round_, comment))
    except InvalidState as exc:
        return await _render_comment(request, ctx, round_, comment, wanted=wanted,
                                     errors={"visibility": _translate(exc)})
    ctx.flash(_("The comment is no longer shown publicly.") if held else _("The comment is now shown publicly."))
    return redirect(_comment_url(round_, comment.id, wanted))


def _translate(exc: InvalidState) -> str:
    return translate(exc.message)


# --- the feedback report ---------------------------------------------------------------------------

def _percent(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "0%"


@routes.get(ROUND + "/report", name="round_report")
async def report_page(request: Request, ctx: Ctx) -> Response:
    round_id = request.path_params["round_id"]

    async def load() -> tuple[report.Report, dict[int, Provision]]:
        built = await report.build(ctx.db, await queries.get_round(ctx.db, round_id))
        leads = [c for changed in built.changed for c in changed.comments]
        return built, await queries.provisions_by_id(ctx.db, {c.provision_id for c in leads}
                                                     | {c.article_id for c in leads})

    async def context() -> dict[str, Any]:
        found, provisions = await round_cached(request.app, "round_report_page", round_id, load)
        round_ = found.round
        kept_until_the_window_turns(round_)
        leads = [c for changed in found.changed for c in changed.comments]
        total = sum(found.outcomes.values())
        outcome_rows = [(outcome.value, _(label), found.outcomes.get(outcome, 0),
                         _percent(found.outcomes.get(outcome, 0), total)) for outcome, label in OUTCOME_LABELS.items()]
        pending = found.outcomes.get(None, 0)
        top_theme = max((n for _name, n in found.themes), default=0)
        return {
            "round": round_, "draft": round_.draft, "version": round_.version, "report": found,
            "totals": found.totals, "outcome_rows": outcome_rows, "pending": pending,
            "pending_percent": _percent(pending, total), "outcome_total": total, "top_theme": top_theme,
            "targets": {c.id: _target(c, provisions) for c in leads},
            "change_labels": {change.value: _(label) for change, label in CHANGE_LABELS.items()},
            "staff": _is_staff(ctx, round_)}

    return await render_for_anyone(request, "rounds/report.html", context, cache="round_pages")


# --- exports ---------------------------------------------------------------------------------------

def _local(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%d %H:%M:%S")


async def _export_rows(ctx: Ctx, round_: CommentRound) -> AsyncIterator[Sequence[exports.Cell]]:
    outcome_at = report.EXPORT_COLUMNS.index("outcome")
    async for row in report.export_rows(ctx.db, round_):
        cells: list[exports.Cell] = []
        for index, value in enumerate(row):
            if isinstance(value, datetime):
                cells.append(_local(value))
            elif isinstance(value, bool):
                cells.append("是" if value else "否")
            elif index == outcome_at:
                cells.append(EXPORT_OUTCOMES.get(str(value), "未答复" if not value else str(value)))
            elif value is None or isinstance(value, str | int):
                cells.append(value)
            else:
                cells.append(str(value))
        yield cells


async def _export(request: Request, ctx: Ctx, fmt: str) -> Response:
    round_ = await _managed_round(request, ctx)
    header = [EXPORT_HEADERS[column] for column in report.EXPORT_COLUMNS]
    rows = _export_rows(ctx, round_)
    title = re.sub(r'[\\/:*?"<>|]+', "-", round_.draft.title)
    name = f"{title}-第{round_.version.number}版-意见及答复.{fmt}"
    if fmt == "csv":
        return exports.download(await exports.write_csv(header, rows), name, exports.CSV_TYPE)
    return exports.download(await exports.write_xlsx("意见及答复", header, rows), name, exports.XLSX_TYPE)


@routes.get(ROUND + "/report.csv", name="round_report_csv")
async def report_csv(request: Request, ctx: Ctx) -> Response:
    return await _export(request, ctx, "csv")


@routes.get(ROUND + "/report.xlsx", name="round_report_xlsx")
async def report_xlsx(request: Request, ctx: Ctx) -> Response:
    return await _export(request, ctx, "xlsx")
