"""The demo's draft regulations: a real text in an open round with comments in every state (a campaign
answered together, supports, themes, a held comment), and a closed round whose adopted answers link the
articles version 2 changed; loading twice adds nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from consultation.accounts.models import User
from consultation.comments.words import SAMPLE_WORDS
from consultation.db import utcnow
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.rounds import report
from consultation.rounds.models import Audience, CommentRound, DraftComment, DraftCommentSupport, Outcome
from consultation.rounds.queries import get_round, my_comments, themes_by_comment
from web import demo_drafts
from web.demo import build_demo

TESTS_TEXTS = Path(__file__).resolve().parent.parent / "drafts" / "texts"


def test_the_demo_texts_are_the_published_texts_and_version_1_differs_only_where_answers_point() -> None:
    for name in ("shanghai_smoking_control.txt", "personal_information_protection_law.txt"):
        assert (demo_drafts.TEXTS / name).read_text(encoding="utf-8") == (TESTS_TEXTS / name).read_text(
            encoding="utf-8")
    law = (demo_drafts.TEXTS / "personal_information_protection_law.txt").read_text(encoding="utf-8")
    assert law.count(demo_drafts.PASSED) == 1
    for final, _ in demo_drafts.PRIVACY_V1:
        assert law.count(final) == 1, final


async def rounds_by_title(db: Any) -> dict[str, CommentRound]:
    rows = await db.execute(select(Draft.title, CommentRound.id).join(CommentRound, CommentRound.draft_id == Draft.id))
    return {title: await get_round(db, round_id) for title, round_id in rows.all()}


async def comments_of(db: Any, round_id: int) -> list[DraftComment]:
    return list(await db.scalars(select(DraftComment).where(DraftComment.round_id == round_id)
                                 .order_by(DraftComment.id)))


async def test_demo_drafts_show_a_round_in_every_state(db: Any) -> None:
    await build_demo(db)
    await db.flush()
    rounds = await rounds_by_title(db)
    assert set(rounds) == {demo_drafts.SMOKING_TITLE, demo_drafts.PRIVACY_TITLE}
    now = utcnow()

    # 1. The open round on the complete published text.
    smoking = rounds[demo_drafts.SMOKING_TITLE]
    assert smoking.is_open(now) and smoking.audience is Audience.everyone and "征求意见" in smoking.instructions
    assert timedelta(days=3) < now - smoking.opens_at < timedelta(days=5)
    assert timedelta(days=20) < smoking.closes_at - now < timedelta(days=23)
    assert smoking.version.number == 1 and smoking.version.counts["articles"] == 23
    comments = await comments_of(db, smoking.id)
    leads = [c for c in comments if c.lead_id is None and not c.held]
    assert {c.outcome for c in leads} == {*Outcome, None}  # every answer, and some still pending
    assert all(c.reason for c in comments if c.outcome is not None)
    assert all(c.created_at <= now and c.created_at >= smoking.opens_at for c in comments)
    kinds = {c.provision.kind.value if c.provision_id else "whole" for c in await db.scalars(
        select(DraftComment).where(DraftComment.round_id == smoking.id)
        .options(selectinload(DraftComment.provision)))}
    assert kinds == {"article", "paragraph", "item", "whole"}
    assert sum(1 for c in comments if c.proposed_wording) >= 5
    assert any(c.by_representative for c in comments)

    campaign = max(leads, key=lambda c: c.group_size)
    members = [c for c in comments if c.lead_id == campaign.id]
    assert campaign.group_size == 10 and len(members) == 9
    assert {c.outcome for c in [campaign, *members]} == {Outcome.adopted}
    assert len({c.norm_hash for c in [campaign, *members]}) > 1  # identical and near-identical texts
    assert len({c.author_id for c in [campaign, *members]}) == 10
    assert await db.scalar(select(func.count()).select_from(DraftCommentSupport)
                           .join(DraftComment, DraftComment.id == DraftCommentSupport.comment_id)
                           .where(DraftComment.round_id == smoking.id)) >= 30
    themes = await themes_by_comment(db, [c.id for c in leads])
    assert themes[campaign.id] == ["电子烟"] and len({t for names in themes.values() for t in names}) >= 6
    held = [c for c in comments if c.held]
    assert len(held) == 1 and any(word in held[0].body for word in SAMPLE_WORDS) and held[0].outcome is None

    # 2. The closed round: version 2 changed four articles, and the adopted answers link them.
    privacy = rounds[demo_drafts.PRIVACY_TITLE]
    assert not privacy.is_open(now) and privacy.closes_at < now - timedelta(days=30)
    closed = await comments_of(db, privacy.id)
    assert all(privacy.opens_at <= c.created_at <= privacy.closes_at for c in closed)
    assert all(c.answered_at is not None and c.answered_at > privacy.closes_at for c in closed if c.outcome)
    built = await report.build(db, privacy)
    assert built.next_version is not None and built.next_version.number == 2
    changed = {c.change.new.label: c for c in built.changed if c.change.new is not None}
    assert set(changed) == {"第十五条", "第二十四条", "第二十六条", "第三十一条"}
    assert changed["第二十四条"].count == 5 and changed["第二十六条"].count == 2
    assert all(c.comments for c in changed.values())
    linked = {c.changed_provision_id for c in closed if c.changed_provision_id}
    labels = set(await db.scalars(select(Provision.label).where(Provision.id.in_(linked))))
    assert labels == set(changed)
    version_2 = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == privacy.draft_id,
                                                           DraftVersion.number == 2))
    law = (demo_drafts.TEXTS / "personal_information_protection_law.txt").read_text(encoding="utf-8")
    assert version_2 is not None and version_2.text.split("\n")[0] == law.split("\n")[0]

    # 3. What happened to the first demo resident's comments (13800000005).
    resident = await db.scalar(select(User).where(User.phone == "13800000005"))
    mine = (await my_comments(db, resident.id)).items
    assert {m.draft_title for m in mine} == {demo_drafts.SMOKING_TITLE, demo_drafts.PRIVACY_TITLE}
    face = next(m for m in mine if m.draft_title == demo_drafts.PRIVACY_TITLE)
    assert face.comment.outcome is Outcome.adopted and face.new_version == 2
    assert face.new_provision is not None and face.new_provision.label == "第二十六条"

    # 4. Loading again adds nothing.
    before = await db.scalar(select(func.count(DraftComment.id)))
    assert await demo_drafts.load_drafts(db) is False
    assert await db.scalar(select(func.count(DraftComment.id))) == before
    assert await db.scalar(select(func.count(Draft.id))) == 2
