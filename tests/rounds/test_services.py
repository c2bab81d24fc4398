"""Comment-round services: opening a round, who may comment when, targets, grouping of identical and
near-identical comments, supports, answers for a group, themes, manual grouping, and the report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from consultation.accounts.models import Role
from consultation.audit import AuditEvent
from consultation.comments import words
from consultation.db import utcnow
from consultation.drafts import services as drafts
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.errors import Conflict, Forbidden, InvalidState, NotFound, ValidationFailed
from consultation.notifications.models import Notification
from consultation.outbox import OutboxMessage
from consultation.policy import Actor, Grant
from consultation.rounds import report, services
from consultation.rounds.models import CommentRound, DraftComment, DraftCommentSupport, Outcome
from consultation.rounds.queries import QueueFilter, QueueStatus, get_round, queue, queue_totals
from consultation.rounds.similarity import Fingerprint, jaccard
from consultation.search_index import SEARCH_INDEX_TOPIC
from tests.drafts.test_services import V1, V2
from tests.factories import City, make_city, make_user

CAMPAIGN = "坚决反对第二条的登记规定，养犬登记应当免费办理，并且可以在网上完成全部手续。"


async def count(db: Any, model: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def articles(db: Any, version_id: int) -> list[Provision]:
    return list(await db.scalars(select(Provision).where(Provision.version_id == version_id,
                                                         Provision.kind == Kind.ARTICLE)
                                 .order_by(Provision.position)))


class World:
    def __init__(self, city: City, drafter: Actor, draft: Draft, round_: CommentRound) -> None:
        self.city, self.drafter, self.draft, self.round = city, drafter, draft, round_


async def world(db: Any, audience: str = "everyone", area_ids: tuple[int, ...] = (),
                opens_in: timedelta = timedelta(hours=-1)) -> World:
    city = await make_city(db)
    drafter = Actor(user_id=None, grants=(Grant(Role.drafter, city.city.path),))
    draft = await drafts.create_draft(db, drafter, city.city, "养犬管理条例（草案）", V1)
    draft = await db.scalar(select(Draft).where(Draft.id == draft.id))
    await db.refresh(draft, ["area"])
    version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    round_ = await services.open_round(
        db, drafter, draft, version, opens_at=utcnow() + opens_in, closes_at=utcnow() + timedelta(days=20),
        audience=audience, area_ids=area_ids, instructions="请就条文提出意见。")
    return World(city, drafter, draft, await get_round(db, round_.id))


async def resident(db: Any, w: World, name: str = "王小明") -> Actor:
    user = await make_user(db, name=name, area=w.city.community_a)
    return Actor(user_id=user.id, home_area_path=w.city.community_a.path,
                 grants=(Grant(Role.resident, w.city.community_a.path),))


async def test_open_round_validates_and_refuses_a_second_round_on_the_version(db: Any) -> None:
    w = await world(db)
    assert w.round.is_open(utcnow()) and w.round.instructions == "请就条文提出意见。"
    with pytest.raises(Conflict):
        await services.open_round(db, w.drafter, w.draft, w.round.version, opens_at=utcnow(),
                                  closes_at=utcnow() + timedelta(days=1), audience="everyone", area_ids=(),
                                  instructions="")
    with pytest.raises(ValidationFailed) as caught:
        await services.open_round(db, w.drafter, w.draft, w.round.version, opens_at=utcnow(),
                                  closes_at=utcnow() - timedelta(days=1), audience="residents", area_ids=(),
                                  instructions="")
    assert {"closes_at", "area_ids"} <= set(caught.value.errors)
    resident_actor = await resident(db, w)
    with pytest.raises(Forbidden):
        await services.open_round(db, resident_actor, w.draft, w.round.version, opens_at=utcnow(),
                                  closes_at=utcnow() + timedelta(days=1), audience="everyone", area_ids=(),
                                  instructions="")
    assert await count(db, CommentRound) == 1


async def test_comment_on_article_paragraph_and_whole_draft(db: Any) -> None:
    w = await world(db)
    person = await resident(db, w)
    _, second, _ = await articles(db, w.round.version_id)
    on_article = await services.post_comment(db, person, w.round, provision_id=second.id, body="建议写明登记费用。",
                                             proposed_wording="养犬人应当依法免费办理养犬登记。")
    whole = await services.post_comment(db, person, w.round, provision_id=None, body="整体很好。")
    assert on_article.article_id == second.id and on_article.proposed_wording.startswith("养犬人")
    assert whole.article_id is None and whole.provision_id is None
    assert not on_article.by_representative


async def test_outside_the_window_and_outside_the_audience_is_refused(db: Any) -> None:
    w = await world(db, opens_in=timedelta(days=1))
    person = await resident(db, w)
    with pytest.raises(InvalidState) as caught:
        await services.post_comment(db, person, w.round, provision_id=None, body="太早了")
    assert "opens" in caught.value.message.msgid
    w.round.opens_at, w.round.closes_at = utcnow() - timedelta(days=3), utcnow() - timedelta(days=1)
    with pytest.raises(InvalidState) as caught:
        await services.post_comment(db, person, w.round, provision_id=None, body="太晚了")
    assert "closed" in caught.value.message.msgid
    with pytest.raises(Forbidden):
        await services.post_comment(db, Actor(), w.round, provision_id=None, body="匿名")
    assert await count(db, DraftComment) == 0


async def test_residents_round_needs_a_verified_home_in_the_chosen_areas(db: Any) -> None:
    city = await make_city(db)
    drafter = Actor(user_id=None, grants=(Grant(Role.drafter, city.city.path),))
    draft = await drafts.create_draft(db, drafter, city.city, "草案甲", V1)
    await db.refresh(draft, ["area"])
    version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    round_ = await get_round(db, (await services.open_round(
        db, drafter, draft, version, opens_at=utcnow() - timedelta(hours=1), closes_at=utcnow() + timedelta(days=3),
        audience="residents", area_ids=[city.community_a.id], instructions="")).id)
    user = await make_user(db, area=city.community_a)
    unverified = Actor(user_id=user.id, home_area_path=city.community_a.path)
    other = Actor(user_id=user.id, verified=True, home_area_path=city.community_b.path)
    verified = Actor(user_id=user.id, verified=True, home_area_path=city.community_a.path)
    for refused in (unverified, other):
        with pytest.raises(Forbidden) as caught:
            await services.post_comment(db, refused, round_, provision_id=None, body="意见")
        assert "多福巷社区" in caught.value.message.params["areas"]
    await services.post_comment(db, verified, round_, provision_id=None, body="意见")
    representative = Actor(user_id=user.id, grants=(Grant(Role.representative, city.district.path),))
    marked = await services.post_comment(db, representative, round_, provision_id=None, body="代表意见")
    assert marked.by_representative


async def test_representatives_round(db: Any) -> None:
    w = await world(db, audience="representatives")
    with pytest.raises(Forbidden):
        await services.post_comment(db, await resident(db, w), w.round, provision_id=None, body="居民")
    user = await make_user(db, role=Role.representative, area=w.city.district)
    rep = Actor(user_id=user.id, grants=(Grant(Role.representative, w.city.district.path),))
    assert (await services.post_comment(db, rep, w.round, provision_id=None, body="代表")).by_representative


async def test_provision_of_another_draft_or_a_chapter_is_refused(db: Any) -> None:
    w = await world(db)
    other = await drafts.create_draft(db, w.drafter, w.city.city, "另一草案", V2)
    foreign = await db.scalar(select(Provision).join(DraftVersion).where(DraftVersion.draft_id == other.id,
                                                                         Provision.kind == Kind.ARTICLE).limit(1))
    person = await resident(db, w)
    with pytest.raises(ValidationFailed) as caught:
        await services.post_comment(db, person, w.round, provision_id=foreign.id, body="意见")
    assert "provision_id" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        await services.post_comment(db, person, w.round, provision_id=None, body=" ", proposed_wording="x" * 3001)
    assert {"body", "proposed_wording"} <= set(caught.value.errors)
    assert await count(db, DraftComment) == 0


async def test_double_submit_makes_one_comment(db: Any) -> None:
    w = await world(db)
    person = await resident(db, w)
    a = await services.post_comment(db, person, w.round, provision_id=None, body="同一条意见", client_token="t1")
    b = await services.post_comment(db, person, w.round, provision_id=None, body="同一条意见", client_token="t1")
    c = await services.post_comment(db, person, w.round, provision_id=None, body="同一条意见")
    assert a.id == b.id == c.id and await count(db, DraftComment) == 1
    with pytest.raises(Conflict):
        article = (await articles(db, w.round.version_id))[0]
        await services.post_comment(db, person, w.round, provision_id=article.id, body="别的", client_token="t1")


async def test_identical_and_near_identical_comments_are_grouped_with_the_true_count(db: Any) -> None:
    w = await world(db)
    second = (await articles(db, w.round.version_id))[1]
    variants = [CAMPAIGN, CAMPAIGN.replace("，", ",  "), CAMPAIGN + "！", CAMPAIGN.replace("坚决", "")]
    assert jaccard(Fingerprint(variants[0]).grams, Fingerprint(variants[3]).grams) > 0.7
    posted = []
    for i in range(12):
        person = await resident(db, w, name=f"居民{i}")
        posted.append(await services.post_comment(db, person, w.round, provision_id=second.id,
                                                  body=variants[i % len(variants)]))
    other = await services.post_comment(db, await resident(db, w, "张三"), w.round, provision_id=second.id,
                                        body="希望增加犬只收容场所的规定，解决流浪犬问题。")
    lead = posted[0]
    await db.refresh(lead)
    grouped = [c for c in posted[1:] if c.lead_id == lead.id]
    assert lead.lead_id is None and other.lead_id is None
    assert len(grouped) >= 9  # identical and punctuation variants always; near ones by the SimHash bands
    assert lead.group_size == 1 + len(grouped)
    totals = await queue_totals(db, w.round.id)
    assert totals["comments"] == 13 and totals["groups"] == 13 - len(grouped)
    page = await queue(db, w.round.id, QueueFilter(status=QueueStatus.all))
    assert page.items[0].id == lead.id and page.items[0].group_size == lead.group_size
    # the same text on another article is a different matter: not grouped
    elsewhere = await services.post_comment(db, await resident(db, w, "李四"), w.round, provision_id=None,
                                            body=CAMPAIGN)
    assert elsewhere.lead_id is None


async def test_answer_applies_to_the_group_and_links_the_next_version(db: Any) -> None:
    w = await world(db)
    second = (await articles(db, w.round.version_id))[1]
    people = [await resident(db, w, f"居民{i}") for i in range(3)]
    comments = [await services.post_comment(db, p, w.round, provision_id=second.id, body=CAMPAIGN) for p in people]
    v2 = await drafts.add_version(db, w.drafter, w.draft, V2)
    new_article = await db.scalar(select(Provision).where(Provision.version_id == v2.id,
                                                          Provision.label == "第三条"))
    with pytest.raises(ValidationFailed) as caught:
        await services.answer(db, w.drafter, w.draft, w.round, comments[1], outcome="maybe", reason="")
    assert {"outcome", "reason"} <= set(caught.value.errors)
    with pytest.raises(ValidationFailed) as caught:  # an article of the version under comment is not "later"
        await services.answer(db, w.drafter, w.draft, w.round, comments[1], outcome="adopted", reason="采纳",
                              changed_provision_id=second.id)
    assert "changed_provision_id" in caught.value.errors
    assert await db.scalar(select(func.count()).where(DraftComment.outcome.is_not(None))) == 0
    answered = await services.answer(db, w.drafter, w.draft, w.round, comments[1], outcome="adopted",
                                     reason="已在第三条中写明。", changed_provision_id=new_article.id)
    assert answered == 3
    told = (await db.scalars(select(Notification.user_id).where(Notification.kind == "draft_comment.answered"))).all()
    assert sorted(told) == sorted(p.user_id for p in people)
    for comment in comments:
        await db.refresh(comment)
        assert comment.outcome is Outcome.adopted and comment.changed_provision_id == new_article.id
    late = await services.post_comment(db, await resident(db, w, "后来者"), w.round, provision_id=second.id,
                                       body=CAMPAIGN)
    assert late.outcome is Outcome.adopted and late.reason == "已在第三条中写明。"
    with pytest.raises(Forbidden):
        await services.answer(db, people[0], w.draft, w.round, comments[0], outcome="adopted", reason="x")


async def test_answer_to_a_comment_of_another_round_is_refused(db: Any) -> None:
    w = await world(db)
    v2 = await drafts.add_version(db, w.drafter, w.draft, V2)
    second_round = await get_round(db, (await services.open_round(
        db, w.drafter, w.draft, v2, opens_at=utcnow() - timedelta(hours=1), closes_at=utcnow() + timedelta(days=2),
        audience="everyone", area_ids=(), instructions="")).id)
    comment = await services.post_comment(db, await resident(db, w), w.round, provision_id=None, body="意见")
    with pytest.raises(ValidationFailed) as caught:
        await services.answer(db, w.drafter, w.draft, second_round, comment, outcome="adopted", reason="好")
    assert "comment" in caught.value.errors
    await db.refresh(comment)
    assert comment.outcome is None


async def test_support_once_per_person_and_not_for_own(db: Any) -> None:
    w = await world(db)
    author, fan = await resident(db, w, "作者"), await resident(db, w, "支持者")
    comment = await services.post_comment(db, author, w.round, provision_id=None, body="意见")
    assert await services.set_support(db, fan, w.round, comment, True)
    assert not await services.set_support(db, fan, w.round, comment, True)
    assert comment.support_count == 1 and await count(db, DraftCommentSupport) == 1
    with pytest.raises(InvalidState):
        await services.set_support(db, author, w.round, comment, True)
    assert await services.set_support(db, fan, w.round, comment, False)
    assert comment.support_count == 0


async def test_themes_detach_attach_and_held(db: Any) -> None:
    w = await world(db)
    a = await services.post_comment(db, await resident(db, w, "甲"), w.round, provision_id=None, body=CAMPAIGN)
    b = await services.post_comment(db, await resident(db, w, "乙"), w.round, provision_id=None, body=CAMPAIGN)
    c = await services.post_comment(db, await resident(db, w, "丙"), w.round, provision_id=None,
                                    body="费用应当公开透明，登记收费标准需要听证。")
    assert b.lead_id == a.id
    themes = await services.set_themes(db, w.drafter, w.draft, w.round, b, ["登记", "收费", "登记", " "])
    assert themes == ["登记", "收费"]
    assert sorted(await report.top_themes(db, w.round.id)) == [("收费", 2), ("登记", 2)]
    await services.detach(db, w.drafter, w.draft, w.round, b)
    await db.refresh(a)
    assert b.lead_id is None and a.group_size == 1
    assert await services.attach(db, w.drafter, w.draft, w.round, c, a) == 2
    await db.refresh(c)
    assert c.lead_id == a.id
    with pytest.raises(InvalidState):
        await services.attach(db, w.drafter, w.draft, w.round, c, a)
    await words.add_word(db, Actor(user_id=None, grants=(Grant(Role.admin),)), "代开发票")
    held = await services.post_comment(db, await resident(db, w, "丁"), w.round, provision_id=None,
                                       body="可以帮忙代开发票")
    assert held.held and held.lead_id is None


async def test_report_figures(db: Any) -> None:
    w = await world(db)
    _, second, third = await articles(db, w.round.version_id)
    rep_user = await make_user(db, role=Role.representative, area=w.city.district)
    rep = Actor(user_id=rep_user.id, grants=(Grant(Role.representative, w.city.district.path),))
    people = [await resident(db, w, f"居民{i}") for i in range(4)]
    for p in people:
        await services.post_comment(db, p, w.round, provision_id=second.id, body=CAMPAIGN)
    await services.post_comment(db, rep, w.round, provision_id=third.id, body="施行日期应当推迟。")
    await services.post_comment(db, people[0], w.round, provision_id=None, body="总体赞成。")
    lead = await db.scalar(select(DraftComment).where(DraftComment.article_id == second.id,
                                                      DraftComment.lead_id.is_(None)))
    v2 = await drafts.add_version(db, w.drafter, w.draft, V2)
    added = await db.scalar(select(Provision).where(Provision.version_id == v2.id, Provision.label == "第二条"))
    await services.answer(db, w.drafter, w.draft, w.round, lead, outcome="partly", reason="部分采纳",
                          changed_provision_id=added.id)
    totals = await report.totals(db, w.round.id)
    assert (totals.comments, totals.commenters, totals.representative_comments, totals.representatives) == (6, 5, 1, 1)
    assert totals.groups == 3 and totals.answered == 4
    chapters, whole = await report.heat(db, w.round)
    counts = {a.provision.label: (a.count, a.level) for ch in chapters for a in ch.articles}
    assert counts == {"第一条": (0, 0), "第二条": (4, 5), "第三条": (1, 1)} and whole == 1
    outcomes = await report.outcomes(db, w.round.id)
    assert outcomes[Outcome.partly] == 4 and outcomes[None] == 2
    built = await report.build(db, w.round)
    assert built.next_version is not None and built.next_version.number == 2
    changed = {(c.change.new.label if c.change.new else None): c for c in built.changed}
    assert changed["第二条"].change.old is None  # the added article, which the answer links
    assert changed["第二条"].count == 4 and changed["第二条"].comments[0].id == lead.id
    assert changed["第四条"].count == 0  # changed (the date) without a comment asking for it
    rows = [row async for row in report.export_rows(db, w.round)]
    assert len(rows) == 6 and len(rows[0]) == len(report.EXPORT_COLUMNS)
    assert {row[4] for row in rows} == {"1", "2", "3", "4", "5"}  # commenters as numbers, never names


async def test_review_fixes_representatives_held_and_answers_keep_their_place(db: Any) -> None:
    w = await world(db)
    second = (await articles(db, w.round.version_id))[1]
    a = await services.post_comment(db, await resident(db, w, "甲"), w.round, provision_id=second.id, body=CAMPAIGN)
    b = await services.post_comment(db, await resident(db, w, "乙"), w.round, provision_id=second.id, body=CAMPAIGN)
    assert b.lead_id == a.id
    rep_user = await make_user(db, role=Role.representative, area=w.city.district)
    rep = Actor(user_id=rep_user.id, grants=(Grant(Role.representative, w.city.district.path),))
    r = await services.post_comment(db, rep, w.round, provision_id=second.id, body=CAMPAIGN,
                                    proposed_wording="养犬登记免费。")
    assert r.lead_id is None and r.by_representative  # a representative's comment stays on its own, marked
    with pytest.raises(InvalidState):
        await services.attach(db, w.drafter, w.draft, w.round, r, a)
    # support goes to what the public sees: not to a comment folded into a group
    with pytest.raises(NotFound):
        await services.set_support(db, await resident(db, w, "丙"), w.round, b, True)
    # an answered comment does not silently lose its answer by joining an unanswered group
    c = await services.post_comment(db, await resident(db, w, "丁"), w.round, provision_id=None,
                                    body="建议增加遛狗必须牵绳的规定，并明确处罚标准。")
    await services.answer(db, w.drafter, w.draft, w.round, c, outcome="adopted", reason="采纳")
    with pytest.raises(InvalidState):
        await services.attach(db, w.drafter, w.draft, w.round, c, a)
    # the answer links an article only (not a chapter or a paragraph of the later version)
    v2 = await drafts.add_version(db, w.drafter, w.draft, V2)
    paragraph = await db.scalar(select(Provision).where(Provision.version_id == v2.id,
                                                        Provision.kind != Kind.ARTICLE).limit(1))
    with pytest.raises(ValidationFailed) as caught:
        await services.answer(db, w.drafter, w.draft, w.round, a, outcome="adopted", reason="采纳",
                              changed_provision_id=paragraph.id)
    assert "changed_provision_id" in caught.value.errors


async def test_held_comments_are_released_or_taken_off_view_and_never_counted_while_held(db: Any) -> None:
    w = await world(db)
    await words.add_word(db, Actor(user_id=None, grants=(Grant(Role.admin),)), "代开发票")
    second = (await articles(db, w.round.version_id))[1]
    held = await services.post_comment(db, await resident(db, w, "甲"), w.round, provision_id=second.id,
                                       body="代开发票，第二条应当删除。")
    v2 = await drafts.add_version(db, w.drafter, w.draft, V2)
    added = await db.scalar(select(Provision).where(Provision.version_id == v2.id, Provision.label == "第二条"))
    await services.answer(db, w.drafter, w.draft, w.round, held, outcome="adopted", reason="采纳",
                          changed_provision_id=added.id)
    built = await report.build(db, await get_round(db, w.round.id))
    assert all(c.count == 0 for c in built.changed) and built.totals.comments == 0
    with pytest.raises(InvalidState):  # a held comment cannot be put into a public group
        other = await services.post_comment(db, await resident(db, w, "乙"), w.round, provision_id=second.id,
                                            body="第二条写得很好，支持。")
        await services.attach(db, w.drafter, w.draft, w.round, held, other)
    with pytest.raises(Forbidden):
        await services.set_held(db, await resident(db, w, "丙"), w.draft, w.round, held, False)
    await services.set_held(db, w.drafter, w.draft, w.round, held, False)
    assert not held.held
    assert (await report.totals(db, w.round.id)).comments == 2
    # taking a comment off view: a member leaves its group, a lead with others must be split first
    a = await services.post_comment(db, await resident(db, w, "丁"), w.round, provision_id=None, body=CAMPAIGN)
    b = await services.post_comment(db, await resident(db, w, "戊"), w.round, provision_id=None, body=CAMPAIGN)
    with pytest.raises(InvalidState):
        await services.set_held(db, w.drafter, w.draft, w.round, a, True)
    await services.set_held(db, w.drafter, w.draft, w.round, b, True)
    await db.refresh(a)
    assert b.held and b.lead_id is None and a.group_size == 1


async def test_a_comment_is_stored_with_its_event_and_its_search_update(db: Any) -> None:
    """On PostgreSQL one statement writes all three: each must be there, with the new comment's id, and a
    comment held for review must not be indexed (nor a repeat of the same form stored twice)."""
    w = await world(db)
    _, second, _ = await articles(db, w.round.version_id)
    await words.add_word(db, Actor(user_id=None, grants=(Grant(Role.admin),)), "代开发票")
    author = await resident(db, w)
    shown = await services.post_comment(db, author, w.round, provision_id=second.id, body="第二条写得很清楚。",
                                        client_token="form-1")
    again = await services.post_comment(db, author, w.round, provision_id=second.id, body="第二条写得很清楚。",
                                        client_token="form-1")
    held = await services.post_comment(db, author, w.round, provision_id=None, body="可以帮忙代开发票")
    assert again.id == shown.id and held.held and not shown.held
    assert (shown.article_id, shown.author_id, shown.group_size, shown.reason) == (second.id, author.user_id, 1, "")
    events = (await db.execute(select(AuditEvent.object_id, AuditEvent.actor_id, AuditEvent.after)
                               .where(AuditEvent.action == "draft_comment.posted").order_by(AuditEvent.id))).all()
    assert [(e.object_id, e.actor_id) for e in events] == [(str(shown.id), author.user_id),
                                                           (str(held.id), author.user_id)]
    assert events[0].after == {"round_id": w.round.id, "provision_id": second.id, "lead_id": None, "held": False}
    messages = await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == SEARCH_INDEX_TOPIC))
    indexed = [m.payload for m in messages if m.payload["type"] == services.SEARCH_TYPE]
    assert indexed == [{"type": services.SEARCH_TYPE, "ids": [shown.id]}]
