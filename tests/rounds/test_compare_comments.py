"""The comparison of a version with the one that had a comment round shows, under each change, the
comments that led to it (adopted on the old article, or linked to the new one by the answer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from consultation.drafts import services as drafts
from consultation.drafts.models import Provision
from consultation.rounds import services
from tests.conftest import WebClient, text_of
from tests.drafts.test_services import V2
from tests.rounds.test_services import CAMPAIGN, articles, resident, world


async def test_compare_shows_the_comments_behind_each_change(client: WebClient, db: Any) -> None:
    w = await world(db)
    _, second, third = await articles(db, w.round.version_id)
    people = [await resident(db, w, f"居民{i}") for i in range(3)]
    lead = None
    for person in people:
        comment = await services.post_comment(db, person, w.round, provision_id=second.id, body=CAMPAIGN)
        lead = lead or comment
    on_date = await services.post_comment(db, people[0], w.round, provision_id=third.id,
                                          body="施行日期应当推迟一年，给养犬人留出登记时间。")
    v2 = await drafts.add_version(db, w.drafter, w.draft, V2)
    added = await db.scalar(select(Provision).where(Provision.version_id == v2.id, Provision.label == "第二条"))
    assert lead is not None
    await services.answer(db, w.drafter, w.draft, w.round, lead, outcome="adopted", reason="增加收容场所。",
                          changed_provision_id=added.id)
    await services.answer(db, w.drafter, w.draft, w.round, on_date, outcome="partly", reason="推迟至2025年。")
    await db.commit()
    page = await client.get(f"/drafts/{w.draft.id}/compare?from=1&to=2")
    assert page.status_code == 200
    sections = page.text.split('class="card draft-change')
    added_section = next(s for s in sections if 'data-change="added"' in s)
    changed_section = next(s for s in sections if 'data-change="renumbered_changed"' in s
                           or 'data-change="changed"' in s)
    assert f"#comment-{lead.id}" in added_section and "3" in text_of(added_section.split("change-comments")[1])
    assert f"/rounds/{w.round.id}/articles/{third.id}#comment-{on_date.id}" in changed_section
    plain = await client.get(f"/drafts/{w.draft.id}/compare?from=2&to=1")  # backwards: no round behind it
    assert plain.status_code == 200 and "change-comments" not in plain.text
