"""The ``comment`` search document: a shown comment on a topic, found by its text.

Only shown comments are indexed; a comment held for review, hidden, hidden by reports or deleted
builds no document, which removes it from Meilisearch and the fallback table. A comment carries its
topic's area chain (the area and district facets), category and state (the ``category`` and
``state`` facets, shared with topics) and its own stance. Its URL is the comment's permalink,
which opens the right page of the topic's thread at the comment.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation.comments.models import STANCE_LABELS, Comment, CommentStatus, Stance
from consultation.deliberation.models import Topic
from consultation.errors import N_
from search.catalog import _areas_by_id, _district_of, id_chunks, topic_badges
from search.documents import DocumentType, SearchDoc


async def build_comments(session: AsyncSession, ids: Sequence[int]) -> list[SearchDoc]:
    rows = (await session.execute(
        select(Comment, Topic).join(Topic, Topic.id == Comment.topic_id)
        .where(Comment.id.in_(ids), Comment.status == CommentStatus.visible))).all()
    places = await _areas_by_id(session, {topic.area_id for _, topic in rows})
    known = await _areas_by_id(session, {i for area in places.values() for i in area.ancestor_ids})
    documents = []
    for comment, topic in rows:
        chain = places[topic.area_id].ancestor_ids if topic.area_id in places else []
        attributes: dict[str, Any] = {"state": topic.state.value, "category": topic.category.value,
                                      "topic_id": topic.id}
        if comment.stance is not None:
            attributes["stance"] = comment.stance.value
        documents.append(SearchDoc(
            doc_type="comment", object_id=comment.id, title=topic.title, body=comment.body,
            url=f"/comments/{comment.id}", area_ids=chain, district_id=_district_of(chain, known),
            attributes=attributes, created_at=comment.created_at,
        ))
    return documents


async def comment_ids(session: AsyncSession, size: int) -> AsyncIterator[list[int]]:
    async for chunk in id_chunks(session, Comment.id, Comment.status == CommentStatus.visible, size=size):
        yield chunk


def comment_badges(attributes: dict[str, Any]) -> list[str]:
    stance = str(attributes.get("stance", ""))
    badges = [STANCE_LABELS[Stance(stance)]] if stance in Stance.__members__ else []
    return badges + topic_badges(attributes)


COMMENTS = DocumentType(name="comment", label=N_("Comments"), build=build_comments, all_ids=comment_ids,
                        facets=("state", "category", "stance", "topic_id"), badges=comment_badges)
