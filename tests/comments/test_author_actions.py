"""The author's own changes (edit within the window, soft delete) and reactions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from consultation.audit import AuditEvent
from consultation.comments import policy, services
from consultation.comments.models import Comment, CommentReaction, CommentRevision, CommentStatus
from consultation.errors import Forbidden, InvalidState
from tests.areas.helpers import section
from tests.comments.helpers import comment, count, english, open_topic, reply
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import actor_of, make_world


async def test_the_author_edits_within_the_window_and_edited_shows(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "建议装灯")
    await english(client, world.neighbours[0])
    html = (await client.get(f"/topics/{topic.id}")).text
    assert f'action="/comments/{posted.id}/edit"' in html and "edited" not in text_of(html)
    response = await client.submit(f"/comments/{posted.id}/edit", {"body": "建议装声控灯"})
    assert response.status_code == 303
    page = (await client.get(f"/topics/{topic.id}")).text
    item = text_of(section(page, "article", f'aria-labelledby="comment-{posted.id}-by"'))
    assert "建议装声控灯" in item and "edited" in item
    revisions = (await db.scalars(select(CommentRevision).where(CommentRevision.comment_id == posted.id))).all()
    assert [r.body for r in revisions] == ["建议装灯"]  # kept for moderators
    assert await count(db, AuditEvent, AuditEvent.action == "comment.edited",
                       AuditEvent.object_id == str(posted.id)) == 1
    # an empty edit comes back with the error and changes nothing
    bad = await client.submit(f"/comments/{posted.id}/edit", {"body": ""})
    assert bad.status_code == 422 and "This field is required." in text_of(bad.text)


async def test_editing_after_the_window_or_by_someone_else_is_refused(db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "原文")
    author = actor_of(world.neighbours[0], world)
    later = posted.created_at + policy.EDIT_WINDOW + timedelta(seconds=1)
    with pytest.raises(InvalidState) as refused:
        await services.edit_comment(db, author, posted, body="改了", now=later)
    assert refused.value.message.msgid == "Comments can be edited for {minutes} minutes after posting."
    with pytest.raises(Forbidden):
        await services.edit_comment(db, actor_of(world.neighbours[1], world), posted, body="改别人的")
    just_in_time = posted.created_at + policy.EDIT_WINDOW - timedelta(seconds=1)
    await services.edit_comment(db, author, posted, body="改了", now=just_in_time)
    assert posted.body == "改了" and posted.edited_at == just_in_time
    assert policy.edit_problem(author, posted, later) is not None


async def test_a_deleted_comment_leaves_a_tombstone_and_its_replies(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0], "要删掉的话")
    answer = await reply(db, world, posted, world.author, "回复还在")
    await english(client, world.neighbours[1])
    refused = await client.submit(f"/comments/{posted.id}/delete")
    assert refused.status_code == 403  # only the author deletes
    await english(client, world.neighbours[0])
    assert (await client.submit(f"/comments/{posted.id}/delete")).status_code == 303
    html = (await client.get(f"/topics/{topic.id}")).text
    text = text_of(section(html, "section", 'id="comments"'))
    assert "This comment was deleted by its author." in text and "要删掉的话" not in text
    assert "回复还在" in text and f'id="comment-{answer.id}"' in html
    assert "In favour 0" in text
    stored = await db.get(Comment, posted.id, populate_existing=True)
    assert stored.status is CommentStatus.deleted and stored.deleted_at is not None and stored.body == "要删掉的话"


async def test_reactions_are_one_per_person_and_kind_and_toggle(client: WebClient, db: Any) -> None:
    world = await make_world(db)
    topic = await open_topic(db, world)
    posted = await comment(db, world, topic, world.neighbours[0])
    await english(client, world.neighbours[1])
    for _ in range(2):  # a double click adds one
        response = await client.submit(f"/comments/{posted.id}/react", {"kind": "agree", "on": "1"})
        assert response.status_code == 303
    await client.submit(f"/comments/{posted.id}/react", {"kind": "thanks", "on": "1"})
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id) == 2
    html = (await client.get(f"/topics/{topic.id}")).text
    assert 'aria-pressed="true">Agree <span class="count">1</span>' in html
    await client.submit(f"/comments/{posted.id}/react", {"kind": "agree", "on": "0"})
    assert await count(db, CommentReaction, CommentReaction.comment_id == posted.id,
                       CommentReaction.kind == "agree") == 0
    assert (await client.submit(f"/comments/{posted.id}/react", {"kind": "love", "on": "1"})).status_code == 422
    await english(client, world.outsider)
    assert (await client.submit(f"/comments/{posted.id}/react", {"kind": "agree", "on": "1"})).status_code == 403
