"""Search documents of draft regulations: ``provision`` (an article of a draft's latest version) and
``draft_comment`` (a shown comment of a comment round, anonymised).

Which provisions: the articles of each draft's *latest* version only. An article usually keeps its
text from one version to the next, so indexing every version would return the same article once per
version and push other results off the page; the comparison page is where earlier wordings are read.
When a version is added, the previous version's articles build no document any more (they leave the
index) and the new version's take their place (``consultation.drafts.services`` queues both).

A provision carries its draft, its chapter, its version number and the comment round on that version
if there is one (a version has at most one round). Whether the round is open is not indexed, because
it changes with the clock and not with any write: the round's window is, and the badges are worked out
from it when a hit is shown. A provision under a round links to the round's article page (where it can
be commented on); otherwise to its anchor on the draft page.

Which comments: group leads that are not held for review. A comment that repeats an earlier one on the
same article joins that comment's group and is not shown on its own on the public pages, so it is not
a hit of its own either (a campaign of 10,000 identical comments is one hit, not 10,000). No commenter
is named, as on the public pages. The ``adoption`` attribute is the answer's outcome, or ``pending``;
answering, grouping and tagging queue the comment's group lead for reindexing
(``consultation.rounds.services``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from consultation.db import utcnow
from consultation.drafts.model import HEADING_KINDS, Kind, cite
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import N_
from consultation.rounds.models import OUTCOME_LABELS, CommentRound, DraftComment, Outcome
from search.catalog import _areas_by_id, _district_of, id_chunks
from search.documents import DocumentType, SearchDoc

PROVISION = "provision"
DRAFT_COMMENT = "draft_comment"
PENDING = "pending"  # the ``adoption`` value of a comment not answered yet
WORDING_PREFIX = "建议修改为："  # content language, like the rest of the indexed text

ROUND_OPEN = N_("Open for comments")
ROUND_UPCOMING = N_("Comment round not open yet")
ROUND_CLOSED = N_("Comment round closed")
NOT_ANSWERED = N_("Not answered yet")
FROM_REPRESENTATIVE = N_("From a representative")

# Values and labels (message ids) of the ``adoption`` facet, in display order.
ADOPTION_LABELS: dict[str, str] = {**{o.value: label for o, label in OUTCOME_LABELS.items()}, PENDING: NOT_ANSWERED}


def anchor(key: str) -> str:
    """The provision's anchor on the draft page (templates/drafts/_macros.html ``anchor``)."""
    return key.split("/")[-1].replace("~", "-")


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _latest_number() -> Any:
    """The number of the newest version of the draft of ``DraftVersion`` (a correlated subquery)."""
    newer = aliased(DraftVersion)
    return select(func.max(newer.number)).where(newer.draft_id == DraftVersion.draft_id).scalar_subquery()


async def _headings(session: AsyncSession, version_ids: set[int]) -> dict[int, Provision]:
    if not version_ids:
        return {}
    return {p.id: p for p in await session.scalars(
        select(Provision).where(Provision.version_id.in_(version_ids), Provision.kind.in_(HEADING_KINDS)))}


def _chapter_of(provision: Provision, headings: dict[int, Provision]) -> tuple[Provision | None, list[Provision]]:
    """The chapter an article is in (None outside chapters) and every heading above it, outermost first."""
    above: list[Provision] = []
    parent_id = provision.parent_id
    while parent_id is not None and parent_id in headings:
        above.append(headings[parent_id])
        parent_id = headings[parent_id].parent_id
    above.reverse()
    return next((h for h in above if h.kind is Kind.CHAPTER), None), above


def heading_label(provision: Provision) -> str:
    return " ".join(filter(None, [provision.label, provision.title]))


# --- provisions --------------------------------------------------------------------------------------

async def build_provisions(session: AsyncSession, ids: Sequence[int]) -> list[SearchDoc]:
    rows = (await session.execute(
        select(Provision, DraftVersion, Draft)
        .join(DraftVersion, DraftVersion.id == Provision.version_id).join(Draft, Draft.id == DraftVersion.draft_id)
        .where(Provision.id.in_(ids), Provision.kind == Kind.ARTICLE, DraftVersion.number == _latest_number())
    )).all()
    version_ids = {version.id for _, version, _ in rows}
    headings = await _headings(session, version_ids)
    rounds = {r.version_id: r for r in await session.scalars(
        select(CommentRound).where(CommentRound.version_id.in_(version_ids)))} if version_ids else {}
    places = await _areas_by_id(session, {draft.area_id for _, _, draft in rows})
    known = await _areas_by_id(session, {i for area in places.values() for i in area.ancestor_ids})
    documents = []
    for provision, version, draft in rows:
        chain = places[draft.area_id].ancestor_ids if draft.area_id in places else []
        chapter, above = _chapter_of(provision, headings)
        round_ = rounds.get(version.id)
        attributes: dict[str, Any] = {"draft": str(draft.id), "draft_title": draft.title, "version": version.number,
                                      "article": provision.label}
        if chapter is not None:
            attributes |= {"chapter": str(chapter.id), "chapter_label": heading_label(chapter)}
        if round_ is not None:
            attributes |= {"round": str(round_.id), "round_opens": _epoch(round_.opens_at),
                           "round_closes": _epoch(round_.closes_at)}
        url = (f"/rounds/{round_.id}/articles/{provision.id}" if round_ is not None
               else f"/drafts/{draft.id}#{anchor(provision.key)}")
        documents.append(SearchDoc(
            doc_type=PROVISION, object_id=provision.id, title=f"{draft.title} {provision.label}",
            body=provision.body, url=url, area_ids=chain, district_id=_district_of(chain, known),
            keywords=" ".join(heading_label(h) for h in above), attributes=attributes,
            created_at=version.created_at,
        ))
    return documents


async def provision_ids(session: AsyncSession, size: int) -> AsyncIterator[list[int]]:
    latest = select(DraftVersion.id).where(DraftVersion.number == _latest_number())
    async for chunk in id_chunks(session, Provision.id, Provision.kind == Kind.ARTICLE,
                                 Provision.version_id.in_(latest), size=size):
        yield chunk


def provision_badges(attributes: dict[str, Any]) -> list[str]:
    opens, closes = attributes.get("round_opens"), attributes.get("round_closes")
    if not isinstance(opens, int) or not isinstance(closes, int):
        return []
    now = _epoch(utcnow())
    if now < opens:
        return [ROUND_UPCOMING]
    return [ROUND_OPEN] if now < closes else [ROUND_CLOSED]


# --- comments ----------------------------------------------------------------------------------------

def comment_url(comment: DraftComment) -> str:
    """The comment on its article's page, or on the round's page when it is on the whole draft."""
    if comment.article_id is None:
        return f"/rounds/{comment.round_id}#comment-{comment.id}"
    return f"/rounds/{comment.round_id}/articles/{comment.article_id}#comment-{comment.id}"


async def build_draft_comments(session: AsyncSession, ids: Sequence[int]) -> list[SearchDoc]:
    rows = (await session.execute(
        select(DraftComment, CommentRound, DraftVersion, Draft)
        .join(CommentRound, CommentRound.id == DraftComment.round_id)
        .join(DraftVersion, DraftVersion.id == CommentRound.version_id)
        .join(Draft, Draft.id == CommentRound.draft_id)
        .where(DraftComment.id.in_(ids), DraftComment.held.is_(False), DraftComment.lead_id.is_(None))
    )).all()
    wanted = {i for comment, *_ in rows for i in (comment.provision_id, comment.article_id, comment.chapter_id)
              if i is not None}
    provisions = {p.id: p for p in await session.scalars(
        select(Provision).where(Provision.id.in_(wanted)))} if wanted else {}
    places = await _areas_by_id(session, {draft.area_id for *_, draft in rows})
    known = await _areas_by_id(session, {i for area in places.values() for i in area.ancestor_ids})
    documents = []
    for comment, round_, version, draft in rows:
        chain = places[draft.area_id].ancestor_ids if draft.area_id in places else []
        target = provisions.get(comment.provision_id) if comment.provision_id is not None else None
        article = provisions.get(comment.article_id) if comment.article_id is not None else None
        chapter = provisions.get(comment.chapter_id) if comment.chapter_id is not None else None
        cited = cite(target.kind, target.label, target.number, article.label if article else "") if target else ""
        attributes: dict[str, Any] = {
            "draft": str(draft.id), "draft_title": draft.title, "round": str(round_.id), "version": version.number,
            "adoption": comment.outcome.value if comment.outcome is not None else PENDING,
            "by_representative": comment.by_representative,
        }
        if article is not None:
            attributes["article"] = article.label
        if chapter is not None:
            attributes |= {"chapter": str(chapter.id), "chapter_label": heading_label(chapter)}
        body = comment.body
        if comment.proposed_wording:
            body = f"{body}\n{WORDING_PREFIX}{comment.proposed_wording}"
        documents.append(SearchDoc(
            doc_type=DRAFT_COMMENT, object_id=comment.id, title=" ".join(filter(None, [draft.title, cited])),
            body=body, url=comment_url(comment), area_ids=chain, district_id=_district_of(chain, known),
            attributes=attributes, created_at=comment.created_at,
        ))
    return documents


async def draft_comment_ids(session: AsyncSession, size: int) -> AsyncIterator[list[int]]:
    async for chunk in id_chunks(session, DraftComment.id, DraftComment.held.is_(False),
                                 DraftComment.lead_id.is_(None), size=size):
        yield chunk


def draft_comment_badges(attributes: dict[str, Any]) -> list[str]:
    adoption = str(attributes.get("adoption", ""))
    badges = [ADOPTION_LABELS[adoption]] if adoption in ADOPTION_LABELS else []
    if attributes.get("by_representative"):
        badges.append(FROM_REPRESENTATIVE)
    return badges


PROVISIONS = DocumentType(name=PROVISION, label=N_("Draft articles"), build=build_provisions,
                          all_ids=provision_ids, facets=("draft", "chapter", "round"), badges=provision_badges)
DRAFT_COMMENTS = DocumentType(name=DRAFT_COMMENT, label=N_("Comments on drafts"), build=build_draft_comments,
                              all_ids=draft_comment_ids, facets=("draft", "chapter", "round", "adoption"),
                              badges=draft_comment_badges)

assert set(ADOPTION_LABELS) == {o.value for o in Outcome} | {PENDING}
