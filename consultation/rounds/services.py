"""Write use cases of comment rounds: open and edit a round; comment and support; and the staff's work
on every comment: group, tag with themes, answer.

Like the other services, each function takes the session, the acting ``Actor``, objects loaded through
``queries`` and plain values, checks the policy, validates (``ValidationFailed`` with field errors),
writes an audit event, queues search reindexing and only flushes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Integer, String, Table, bindparam, case, delete, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit, direct, search_index
from consultation.areas.models import Area
from consultation.clock import local_minute
from consultation.comments import words
from consultation.db import UTCDateTime, dialect_insert, insert_ignore, utcnow
from consultation.drafts import queries as draft_queries
from consultation.drafts import services as drafts
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import N_, Conflict, Forbidden, InvalidState, Message, NotFound, ValidationFailed, msg
from consultation.notifications.models import Notification
from consultation.policy import Actor, require
from consultation.rounds import policy
from consultation.rounds.models import (
    BODY_MAX,
    CLIENT_TOKEN_MAX,
    INSTRUCTIONS_MAX,
    REASON_MAX,
    SHOWN_LEAD,
    THEME_MAX,
    WORDING_MAX,
    Audience,
    CommentRound,
    DraftComment,
    DraftCommentSupport,
    DraftCommentTheme,
    Outcome,
    RoundArea,
    RoundTheme,
)
from consultation.rounds.queries import round_areas
from consultation.rounds.similarity import BANDS, Fingerprint
from consultation.validation import check_length, strip_control

SEARCH_TYPE = "draft_comment"
DUPLICATE_WINDOW = timedelta(seconds=60)
NEAR_CANDIDATES = 40  # leads sharing an LSH band that are compared by text
COMMENTABLE = frozenset({Kind.ARTICLE, Kind.PARAGRAPH, Kind.ITEM})
MAX_THEMES = 5
ANSWERED_KIND = "draft_comment.answered"
ANSWERED_TITLE = N_("Your comment on a draft regulation has been answered")
MY_COMMENTS_URL = "/my/draft-comments"


# --- rounds ----------------------------------------------------------------------------------------

async def open_round(session: AsyncSession, actor: Actor, draft: Draft, version: DraftVersion, *,
                     opens_at: datetime | None, closes_at: datetime | None, audience: str,
                     area_ids: Iterable[int], instructions: str) -> CommentRound:
    """A comment round on ``version`` of ``draft`` (with ``draft.area`` loaded)."""
    require(actor, "rounds.manage", draft)
    if version.draft_id != draft.id:
        raise NotFound()
    values = await _round_values(session, draft, opens_at, closes_at, audience, area_ids, instructions,
                                 new=True)
    round_ = CommentRound(draft_id=draft.id, version_id=version.id, created_by_id=actor.user_id,
                          opens_at=values.opens_at, closes_at=values.closes_at, audience=values.audience,
                          instructions=values.instructions)
    try:
        async with session.begin_nested():
            session.add(round_)
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(msg("Version {n} already has a comment round.", n=version.number)) from exc
    await _set_areas(session, round_, values.areas)
    await drafts.articles_changed(session, [version.id])  # search: the articles now link to the round
    await audit.record(session, "round.open", "comment_round", round_.id, actor_id=actor.user_id, ip=actor.ip,
                       after=values.audit() | {"draft_id": draft.id, "version": version.number})
    return round_


async def update_round(session: AsyncSession, actor: Actor, draft: Draft, round_: CommentRound, *,
                       opens_at: datetime | None, closes_at: datetime | None, audience: str,
                       area_ids: Iterable[int], instructions: str) -> CommentRound:
    """Change a round's window, audience or instructions (a closed round can be reopened by a new
    closing time; comments already sent are kept whatever the new audience)."""
    require(actor, "rounds.manage", draft)
    if round_.draft_id != draft.id:
        raise NotFound()
    values = await _round_values(session, draft, opens_at, closes_at, audience, area_ids, instructions,
                                 new=False)
    before = {"opens_at": round_.opens_at.isoformat(), "closes_at": round_.closes_at.isoformat(),
              "audience": round_.audience.value, "instructions": round_.instructions,
              "areas": [a for a, _ in await round_areas(session, round_)]}
    round_.opens_at, round_.closes_at = values.opens_at, values.closes_at
    round_.audience, round_.instructions = values.audience, values.instructions
    await session.execute(delete(RoundArea).where(RoundArea.round_id == round_.id))
    await _set_areas(session, round_, values.areas)
    await drafts.articles_changed(session, [round_.version_id])  # search: the round's window is on them
    await audit.record(session, "round.update", "comment_round", round_.id, actor_id=actor.user_id,
                       ip=actor.ip, before=before, after=values.audit())
    return round_


class _RoundValues:
    def __init__(self, opens_at: datetime, closes_at: datetime, audience: Audience, areas: list[Area],
                 instructions: str) -> None:
        self.opens_at, self.closes_at, self.audience = opens_at, closes_at, audience
        self.areas, self.instructions = areas, instructions

    def audit(self) -> dict[str, object]:
        return {"opens_at": self.opens_at.isoformat(), "closes_at": self.closes_at.isoformat(),
                "audience": self.audience.value, "instructions": self.instructions,
                "areas": [a.path for a in self.areas]}


async def _round_values(session: AsyncSession, draft: Draft, opens_at: datetime | None,
                        closes_at: datetime | None, audience: str, area_ids: Iterable[int], instructions: str,
                        *, new: bool) -> _RoundValues:
    errors: dict[str, Message | str] = {}
    if opens_at is None:
        errors["opens_at"] = msg("Enter when the round opens.")
    if closes_at is None:
        errors["closes_at"] = msg("Enter when the round closes.")
    elif opens_at is not None and closes_at <= opens_at:
        errors["closes_at"] = msg("The round must close after it opens.")
    elif closes_at <= utcnow():
        errors["closes_at"] = msg("The closing time has already passed.")
    if audience not in Audience.__members__:
        errors["audience"] = msg("Choose who may comment.")
    instructions = strip_control(instructions).strip()
    if problem := check_length(instructions, maximum=INSTRUCTIONS_MAX):
        errors["instructions"] = problem
    ids = sorted({int(i) for i in area_ids})
    areas = list(await session.scalars(select(Area).where(Area.id.in_(ids)))) if ids else []
    if audience == Audience.residents.value:
        if not areas:
            errors["area_ids"] = msg("Choose the areas whose residents may comment.")
        elif any(not a.path.startswith(draft.area.path) for a in areas) or len(areas) != len(ids):
            errors["area_ids"] = msg("Choose areas within {area}.", area=draft.area.name)
    if errors:
        raise ValidationFailed(errors)
    assert opens_at is not None and closes_at is not None
    return _RoundValues(opens_at, closes_at, Audience(audience),
                        areas if audience == Audience.residents.value else [], instructions)


async def _set_areas(session: AsyncSession, round_: CommentRound, areas: list[Area]) -> None:
    for area in areas:
        await insert_ignore(session, RoundArea, {"round_id": round_.id, "area_id": area.id},
                            ["round_id", "area_id"])


# --- taking part -----------------------------------------------------------------------------------

async def check_may_take_part(session: AsyncSession, actor: Actor, round_: CommentRound,
                              now: datetime | None = None) -> None:
    """Raises ``Forbidden`` (not in the audience) or ``InvalidState`` (outside the window)."""
    if problem := await participation_problem(session, actor, round_, now):
        raise InvalidState(problem) if actor.authenticated and _is_window(problem) else Forbidden(problem)


def _is_window(problem: Message) -> bool:
    return problem.msgid in (policy.NOT_YET_OPEN, policy.CLOSED)


async def participation_problem(session: AsyncSession, actor: Actor, round_: CommentRound,
                                now: datetime | None = None, *,
                                areas: list[tuple[str, str]] | None = None) -> Message | None:
    """Why ``actor`` cannot comment or support now (None when they can); for the pages to explain.
    ``areas``: the round's ``round_areas`` when the caller has them already."""
    if areas is None:
        areas = await round_areas(session, round_) if round_.audience is Audience.residents else []
    names = "、".join(name for _, name in areas)
    if problem := policy.audience_problem(actor, round_, [path for path, _ in areas], names):
        return problem
    return policy.window_problem(round_, now or utcnow(), local_minute(round_.opens_at),
                                 local_minute(round_.closes_at))


async def post_comment(session: AsyncSession, actor: Actor, round_: CommentRound, *, provision_id: int | None,
                       body: str, proposed_wording: str = "", client_token: str | None = None,
                       provisions: dict[int, Provision] | None = None) -> DraftComment:
    """A comment on a provision (article, paragraph or item) of the round's version, or on the whole draft
    (``provision_id`` None). A repeat of the same submission returns the first comment. A copy of an
    earlier comment on the same article joins that comment's group (and inherits its answer).

    Under a surge (issue 6: hundreds of comments a second, a third of them copies of a few campaigns) the
    statements are few: the provision with its article and chapter in one (none when this process read them
    in the last seconds, as the sensitive words), the group's lead in one, and on PostgreSQL the comment,
    its audit event and its search outbox message in one, with the lead's ``group_size`` raised last, so its row
    lock is held only while the transaction commits. That is the only write there (with the session's activity
    time, at most every 5 minutes): the JSON API runs it in autocommit. ``provisions``, when given, receives
    the provision commented on and those it is in (to cite it without another statement)."""
    await check_may_take_part(session, actor, round_)
    assert actor.user_id is not None
    body = strip_control(body).strip()
    wording = strip_control(proposed_wording).strip()
    errors: dict[str, Message | str] = {}
    if problem := check_length(body, minimum=1, maximum=BODY_MAX):
        errors["body"] = problem
    if problem := check_length(wording, maximum=WORDING_MAX):
        errors["proposed_wording"] = problem
    chain = await _target(session, round_, provision_id) if provision_id is not None else []
    if errors:
        raise ValidationFailed(errors)
    article_id, chapter_id = _article_and_chapter(chain)
    if provisions is not None:
        provisions.update((p.id, p) for p in chain)
    token = (client_token or "").strip()[:CLIENT_TOKEN_MAX] or None
    # With a token a repeat is found by the INSERT's conflict below; without one, by the same text just sent.
    if token is None and (earlier := await _same_submission(session, actor.user_id, round_, provision_id, body,
                                                            None)) is not None:
        return earlier
    held = bool(await words.matches(session, f"{body}\n{wording}"))
    fingerprint = Fingerprint(body)
    # A representative's comment always stands on its own (marked, with its own wording), and so does one
    # held for review; the others join the group of an identical or near-identical earlier comment.
    representative = policy.is_representative(actor)
    lead = None if held or representative else await _lead_for(session, round_.id, article_id, fingerprint)
    now = utcnow()
    values: dict[str, object] = {
        "round_id": round_.id, "provision_id": provision_id, "article_id": article_id, "chapter_id": chapter_id,
        "author_id": actor.user_id, "by_representative": representative, "body": body,
        "proposed_wording": wording, "held": held, "client_token": token, "created_at": now,
        "norm_hash": fingerprint.hash, **band_columns(fingerprint), "lead_id": lead.id if lead else None,
        "group_size": 1, "support_count": 0, **_UNANSWERED,
    }
    if lead is not None and lead.outcome is not None:  # joins a group that was answered already
        values |= {"outcome": lead.outcome, "reason": lead.reason, "answered_by_id": lead.answered_by_id,
                   "answered_at": lead.answered_at, "changed_provision_id": lead.changed_provision_id}
    after = {"round_id": round_.id, "provision_id": provision_id, "lead_id": lead.id if lead else None, "held": held}
    together = session.get_bind().dialect.name == "postgresql"
    if together:  # the comment, its event and its indexing in one statement
        parameters = {**{f"c_{key}": value for key, value in values.items()}, "index": not held, "o_now": now,
                      "grown_lead": lead.id if lead is not None else None,
                      **audit.event_values(EVENT, "draft_comment", actor_id=actor.user_id, ip=actor.ip, after=after,
                                           created_at=now)}
        row = await direct.first(session, _insert_all(), parameters)
        comment = direct.loaded(session, DraftComment, row) if row is not None else None
    else:
        comment = (await session.scalars(_insert_comment(session), [values])).one_or_none()
    if comment is None:  # this form was sent before (or twice at once: the other request saved it)
        earlier = await _same_submission(session, actor.user_id, round_, provision_id, body, token)
        assert earlier is not None
        return earlier
    if together:
        return comment
    await audit.record(session, EVENT, "draft_comment", comment.id, actor_id=actor.user_id, ip=actor.ip, after=after)
    if not held:
        search_index.search_changed(session, SEARCH_TYPE, [comment.id])
    if lead is not None:
        # Last: everything else of this transaction is sent first, so the lead's row (which every copy of a
        # campaign updates) stays locked only until the commit that follows.
        await session.flush()
        await session.execute(update(DraftComment).where(DraftComment.id == lead.id)
                              .values(group_size=DraftComment.group_size + 1)
                              .execution_options(synchronize_session=False))
    return comment


_INSERTS: dict[str, Any] = {}
EVENT = "draft_comment.posted"
_UNANSWERED = {"outcome": None, "reason": "", "answered_by_id": None, "answered_at": None, "changed_provision_id": None}


@cache
def _insert_all() -> Any:
    """PostgreSQL: ``_insert_comment`` (its ``:c_…`` values: every column but the id), the comment's audit event
    (``:e_…``), if ``:index`` its search outbox message, and the ``group_size`` of the group's lead
    ``:grown_lead`` (NULL: none) raised, in one ``WITH`` statement that returns the new comment's columns (no row,
    and nothing written, when the form was sent before); run on the driver (``consultation.direct``). The
    statement is the transaction's last, so the lead's row (which every copy of a campaign updates) stays locked
    only until the commit that follows."""
    table = cast(Table, DraftComment.__table__)
    names = [column.name for column in table.c if column.name != "id"]
    new = (pg_insert(table).values({name: bindparam(f"c_{name}", type_=table.c[name].type) for name in names})
           .on_conflict_do_nothing(index_elements=["author_id", "client_token"]).returning(*table.c)
           .cte("new_comment"))
    grown = (update(table).where(table.c.id == bindparam("grown_lead", type_=Integer),
                                 select(new.c.id).exists())
             .values(group_size=table.c.group_size + 1).cte("grown"))
    return select(*direct.columns_of(DraftComment, new)).add_cte(
        audit.event_cte(new, object_id=new.c.id), search_index.changed_cte(new, SEARCH_TYPE, new.c.id), grown)


def _insert_comment(session: AsyncSession) -> Any:
    """``INSERT … ON CONFLICT (author_id, client_token) DO NOTHING RETURNING`` the comment, built once per
    backend (the values are parameters)."""
    dialect = session.get_bind().dialect.name
    statement = _INSERTS.get(dialect)
    if statement is None:
        statement = _INSERTS[dialect] = (dialect_insert(session, DraftComment)
                                         .on_conflict_do_nothing(index_elements=["author_id", "client_token"])
                                         .returning(DraftComment))
    return statement


def band_columns(fingerprint: Fingerprint) -> dict[str, int]:
    """The ``sim0``… column values of a comment's text."""
    return {f"sim{i}": value for i, value in enumerate(fingerprint.bands)}


async def _target(session: AsyncSession, round_: CommentRound, provision_id: int) -> list[Provision]:
    """The provision commented on and the provisions it is in, innermost first (one statement, or none when
    this process read them in the last few seconds)."""
    chain = await draft_queries.shared_chain(session, provision_id)
    provision = chain[0] if chain else None
    if provision is None or provision.version_id != round_.version_id:
        raise ValidationFailed({"provision_id": msg("This provision is not part of the draft under comment.")})
    if provision.kind not in COMMENTABLE:
        raise ValidationFailed({"provision_id": msg("Comment on an article or a paragraph, or on the whole draft.")})
    return chain


def _article_and_chapter(chain: list[Provision]) -> tuple[int | None, int | None]:
    """The article a provision is (or is in), and the chapter that article is in (``chain``: the provision
    and its ancestors, innermost first)."""
    article_id = chapter_id = None
    for node in chain:
        if node.kind is Kind.ARTICLE:
            article_id = node.id
        elif node.kind is Kind.CHAPTER and chapter_id is None:
            chapter_id = node.id
    return article_id, chapter_id


async def _same_submission(session: AsyncSession, user_id: int, round_: CommentRound, provision_id: int | None,
                           body: str, token: str | None) -> DraftComment | None:
    if token is not None:
        found = (await session.execute(select(DraftComment.id, DraftComment.round_id, DraftComment.provision_id)
                                       .where(DraftComment.author_id == user_id,
                                              DraftComment.client_token == token))).one_or_none()
        if found is None:
            return None
        if (found.round_id, found.provision_id) != (round_.id, provision_id):
            raise Conflict(msg("This form was already used for another comment. Reload the page and write "
                               "your comment again."))
        return await session.get(DraftComment, found.id)
    target = (DraftComment.provision_id.is_(None) if provision_id is None
              else DraftComment.provision_id == provision_id)
    return await session.scalar(
        select(DraftComment).where(DraftComment.author_id == user_id, DraftComment.round_id == round_.id, target,
                                   DraftComment.body == body,
                                   DraftComment.created_at >= utcnow() - DUPLICATE_WINDOW)
        .order_by(DraftComment.id).limit(1))


_LEAD_COLUMNS = (DraftComment.id, DraftComment.norm_hash, DraftComment.body, DraftComment.outcome,
                 DraftComment.reason, DraftComment.answered_by_id, DraftComment.answered_at,
                 DraftComment.changed_provision_id)


async def _lead_for(session: AsyncSession, round_id: int, article_id: int | None,
                    fingerprint: Fingerprint) -> Any:
    """The lead (the columns a new member takes from it) of the group an identical or near-identical
    comment on the same article belongs to: the first identical one, else the nearest of the first
    ``NEAR_CANDIDATES`` leads sharing an LSH band. One statement over the partial hash and band indexes."""
    parameters: dict[str, object] = {"round_id": round_id, "norm_hash": fingerprint.hash}
    if article_id is not None:
        parameters["article_id"] = article_id
    if fingerprint.can_be_near:
        parameters |= band_columns(fingerprint)
    rows = await direct.rows(session, _lead_statement(article_id is None, fingerprint.can_be_near), parameters)
    if rows and rows[0].norm_hash == fingerprint.hash:
        return rows[0]
    best, best_score = None, 0.0
    for candidate in rows:
        score = fingerprint.near(candidate.body)
        if score is not None and score > best_score:
            best, best_score = candidate, score
    return best


@cache
def _lead_statement(whole_draft: bool, near: bool) -> Any:
    """``_lead_for``'s statement, built once per variant (under a surge, building it cost more than running it):
    on the whole draft or on ``:article_id``; by ``:norm_hash`` alone or also by the bands ``:sim0``…"""
    same_article = (DraftComment.article_id.is_(None) if whole_draft
                    else DraftComment.article_id == bindparam("article_id", type_=Integer))
    identical = DraftComment.norm_hash == bindparam("norm_hash", type_=String)
    alike = [identical]
    if near:
        alike += [getattr(DraftComment, f"sim{i}") == bindparam(f"sim{i}", type_=Integer) for i in range(BANDS)]
    return (select(*_LEAD_COLUMNS)
            .where(DraftComment.round_id == bindparam("round_id", type_=Integer), SHOWN_LEAD, same_article,
                   or_(*alike))
            .order_by(case((identical, 0), else_=1), DraftComment.id).limit(NEAR_CANDIDATES))


async def set_support(session: AsyncSession, actor: Actor, round_: CommentRound, comment: DraftComment,
                      on: bool) -> bool:
    """Support (or withdraw support from) a comment of this round; True if something changed."""
    _same_round(round_, comment)
    await check_may_take_part(session, actor, round_)
    assert actor.user_id is not None
    if comment.author_id == actor.user_id:
        raise InvalidState(msg("You cannot support your own comment."))
    if comment.held or (on and comment.lead_id is not None):  # only what the public sees can be supported
        raise NotFound()
    if on:
        changed = await insert_ignore(session, DraftCommentSupport,
                                      {"comment_id": comment.id, "user_id": actor.user_id, "created_at": utcnow()},
                                      ["comment_id", "user_id"])
    else:
        result = await session.execute(delete(DraftCommentSupport).where(
            DraftCommentSupport.comment_id == comment.id, DraftCommentSupport.user_id == actor.user_id))
        changed = getattr(result, "rowcount", 0) == 1
    if changed:
        await session.execute(update(DraftComment).where(DraftComment.id == comment.id)
                              .values(support_count=DraftComment.support_count + (1 if on else -1)))
        await session.refresh(comment, ["support_count"])
    return changed


def _same_round(round_: CommentRound, comment: DraftComment) -> None:
    if comment.round_id != round_.id:
        raise ValidationFailed({"comment": msg("This comment belongs to another comment round.")})


# --- processing ------------------------------------------------------------------------------------

async def answer(session: AsyncSession, actor: Actor, draft: Draft, round_: CommentRound, comment: DraftComment,
                 *, outcome: str, reason: str, changed_provision_id: int | None = None) -> int:
    """Answer a comment and every comment of its group; returns how many comments were answered.
    ``changed_provision_id`` links the answer to the provision of a later version it changed."""
    require(actor, "rounds.manage", draft)
    if round_.draft_id != draft.id:
        raise NotFound()
    _same_round(round_, comment)
    reason = strip_control(reason).strip()
    errors: dict[str, Message | str] = {}
    if outcome not in Outcome.__members__:
        errors["outcome"] = msg("Choose the outcome.")
    if problem := check_length(reason, minimum=1, maximum=REASON_MAX):
        errors["reason"] = problem
    if changed_provision_id is not None:
        if problem := await _later_provision_problem(session, round_, changed_provision_id):
            errors["changed_provision_id"] = problem
    if errors:
        raise ValidationFailed(errors)
    lead_id = comment.lead_id or comment.id
    now = utcnow()
    before = {"outcome": comment.outcome.value if comment.outcome else None, "reason": comment.reason,
              "changed_provision_id": comment.changed_provision_id}
    result = await session.execute(
        update(DraftComment).where(DraftComment.round_id == round_.id,
                                   or_(DraftComment.id == lead_id, DraftComment.lead_id == lead_id))
        .values(outcome=Outcome(outcome), reason=reason, answered_by_id=actor.user_id, answered_at=now,
                changed_provision_id=changed_provision_id)
        .execution_options(synchronize_session=False))
    count = int(getattr(result, "rowcount", 0) or 0)
    await _tell_commenters(session, round_.id, lead_id, now)
    await audit.record(session, "draft_comment.answer", "draft_comment", lead_id, actor_id=actor.user_id,
                       ip=actor.ip, before=before,
                       after={"outcome": outcome, "reason": reason, "changed_provision_id": changed_provision_id,
                              "comments": count})
    await session.refresh(comment)
    search_index.search_changed(session, SEARCH_TYPE, [lead_id])
    return count


async def _tell_commenters(session: AsyncSession, round_id: int, lead_id: int, now: datetime) -> None:
    """One notification to each author in the answered group: a single INSERT … SELECT, whatever its size."""
    authors = (select(DraftComment.author_id).where(
        DraftComment.round_id == round_id, DraftComment.author_id.is_not(None),
        or_(DraftComment.id == lead_id, DraftComment.lead_id == lead_id)).distinct().subquery())
    await session.execute(insert(Notification).from_select(
        ["user_id", "kind", "title", "body", "url", "created_at"],
        select(authors.c.author_id, literal(ANSWERED_KIND), literal(ANSWERED_TITLE), literal(""),
               literal(MY_COMMENTS_URL), literal(now, UTCDateTime()))))


async def _later_provision_problem(session: AsyncSession, round_: CommentRound, provision_id: int) -> Message | None:
    row = (await session.execute(
        select(DraftVersion.draft_id, DraftVersion.number, Provision.kind)
        .join(Provision, Provision.version_id == DraftVersion.id).where(Provision.id == provision_id))).one_or_none()
    commented = await session.get(DraftVersion, round_.version_id)
    assert commented is not None
    if (row is None or row.draft_id != commented.draft_id or row.number <= commented.number
            or row.kind is not Kind.ARTICLE):
        return msg("Link an article of a later version of this draft.")
    return None


async def detach(session: AsyncSession, actor: Actor, draft: Draft, round_: CommentRound,
                 comment: DraftComment) -> None:
    """Take a wrongly grouped comment out of its group (it leads a group of its own, keeping its answer)."""
    require(actor, "rounds.manage", draft)
    _same_round(round_, comment)
    if comment.lead_id is None:
        raise InvalidState(msg("This comment is not in another comment's group."))
    lead_id = comment.lead_id
    comment.lead_id = None
    await session.execute(update(DraftComment).where(DraftComment.id == lead_id)
                          .values(group_size=DraftComment.group_size - 1))
    await audit.record(session, "draft_comment.detach", "draft_comment", comment.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"lead_id": lead_id}, after={"lead_id": None})
    search_index.search_changed(session, SEARCH_TYPE, [comment.id, lead_id])


async def attach(session: AsyncSession, actor: Actor, draft: Draft, round_: CommentRound, comment: DraftComment,
                 lead: DraftComment) -> int:
    """Put ``comment`` (and the group it leads) into ``lead``'s group: staff group what the measure missed.
    The moved comments take the group's answer. Returns the group's new size."""
    require(actor, "rounds.manage", draft)
    _same_round(round_, comment)
    _same_round(round_, lead)
    target_id = lead.lead_id or lead.id
    source_id = comment.lead_id or comment.id
    if target_id == source_id:
        raise InvalidState(msg("These comments are already in one group."))
    target = await session.get(DraftComment, target_id)
    source = await session.get(DraftComment, source_id)
    assert target is not None and source is not None
    if comment.held or target.held:
        raise InvalidState(msg("A comment held for review cannot be grouped. Release it first."))
    if comment.by_representative or target.by_representative:
        raise InvalidState(msg("A representative's comment stands on its own and cannot be grouped."))
    if comment.outcome is not None and (comment.outcome, comment.reason) != (target.outcome, target.reason):
        raise InvalidState(msg("This comment has another answer than that group. Give both the same answer "
                               "first, so no answer is lost."))
    moved = source.group_size if source.id == comment.id else 1
    members = (or_(DraftComment.id == source_id, DraftComment.lead_id == source_id) if source.id == comment.id
               else DraftComment.id == comment.id)
    await session.execute(update(DraftComment).where(DraftComment.round_id == round_.id, members)
                          .values(lead_id=target_id, group_size=1, outcome=target.outcome, reason=target.reason,
                                  answered_by_id=target.answered_by_id, answered_at=target.answered_at,
                                  changed_provision_id=target.changed_provision_id)
                          .execution_options(synchronize_session=False))
    if source.id != comment.id:
        await session.execute(update(DraftComment).where(DraftComment.id == source_id)
                              .values(group_size=DraftComment.group_size - 1))
    await session.execute(update(DraftComment).where(DraftComment.id == target_id)
                          .values(group_size=DraftComment.group_size + moved))
    await session.execute(delete(DraftCommentTheme).where(DraftCommentTheme.comment_id == comment.id))
    await audit.record(session, "draft_comment.attach", "draft_comment", comment.id, actor_id=actor.user_id,
                       ip=actor.ip, before={"lead_id": comment.lead_id}, after={"lead_id": target_id,
                                                                                "moved": moved})
    await session.refresh(target)
    search_index.search_changed(session, SEARCH_TYPE, [target_id, source_id, comment.id])
    return target.group_size


async def set_themes(session: AsyncSession, actor: Actor, draft: Draft, round_: CommentRound,
                     comment: DraftComment, names: Iterable[str]) -> list[str]:
    """The themes of a comment's group (tags live on the group's lead); new names create themes."""
    require(actor, "rounds.manage", draft)
    _same_round(round_, comment)
    cleaned: list[str] = []
    for raw in names:
        name = " ".join(strip_control(raw).split())
        if name and name not in cleaned:
            cleaned.append(name)
    if any(len(name) > THEME_MAX for name in cleaned):
        raise ValidationFailed({"themes": msg("A theme may be at most {n} characters.", n=THEME_MAX)})
    if len(cleaned) > MAX_THEMES:
        raise ValidationFailed({"themes": msg("Give at most {n} themes.", n=MAX_THEMES)})
    lead_id = comment.lead_id or comment.id
    ids = []
    for name in cleaned:
        await insert_ignore(session, RoundTheme, {"round_id": round_.id, "name": name}, ["round_id", "name"])
        ids.append(await session.scalar(select(RoundTheme.id).where(RoundTheme.round_id == round_.id,
                                                                    RoundTheme.name == name)))
    await session.execute(delete(DraftCommentTheme).where(DraftCommentTheme.comment_id == lead_id))
    for theme_id in ids:
        await insert_ignore(session, DraftCommentTheme, {"comment_id": lead_id, "theme_id": theme_id},
                            ["comment_id", "theme_id"])
    await audit.record(session, "draft_comment.themes", "draft_comment", lead_id, actor_id=actor.user_id,
                       ip=actor.ip, after={"themes": cleaned})
    search_index.search_changed(session, SEARCH_TYPE, [lead_id])
    return cleaned


async def set_held(session: AsyncSession, actor: Actor, draft: Draft, round_: CommentRound, comment: DraftComment,
                   held: bool) -> None:
    """Release a comment held for review (it is shown and counted), or take a shown comment off public view
    (personal data, abuse the word list missed). A comment leading a group is taken out of view only
    after its group is split, so no one else's comment disappears with it."""
    require(actor, "rounds.manage", draft)
    _same_round(round_, comment)
    await session.refresh(comment, ["held", "lead_id", "group_size"])  # counters move by UPDATE statements
    if comment.held == held:
        return
    if held and comment.lead_id is None and comment.group_size > 1:
        raise InvalidState(msg("This comment leads a group of {n}. Take the others out of the group first.",
                               n=comment.group_size))
    lead_id = comment.lead_id
    comment.held = held
    if held and lead_id is not None:  # a member leaves its group when it is taken out of view
        comment.lead_id = None
        await session.execute(update(DraftComment).where(DraftComment.id == lead_id)
                              .values(group_size=DraftComment.group_size - 1))
    await session.flush()
    await audit.record(session, "draft_comment.hold" if held else "draft_comment.release", "draft_comment",
                       comment.id, actor_id=actor.user_id, ip=actor.ip, before={"held": not held, "lead_id": lead_id},
                       after={"held": held, "lead_id": comment.lead_id})
    search_index.search_changed(session, SEARCH_TYPE, [comment.id, *([lead_id] if lead_id else [])])
