"""The legislative staff's pages of a comment round: the queue of comment groups and its filters, a
campaign of copied comments as one row with its true count, answering a whole group (and moving on to the
next pending group), refused answers with nothing saved, themes, taking comments out of a group and
putting them into another, and everyone else refused."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from consultation.accounts.models import Role, User
from consultation.accounts.queries import actor_for
from consultation.audit import AuditEvent
from consultation.comments import words
from consultation.db import utcnow
from consultation.drafts import services as drafts
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.policy import Actor, Grant
from consultation.rounds import services
from consultation.rounds.models import CommentRound, DraftComment, DraftCommentTheme, Outcome, RoundTheme
from consultation.rounds.queries import get_round
from tests.conftest import WebClient, text_of
from tests.factories import PASSWORD, City, identifier, make_city, make_user

V1 = """某市养老服务条例（草案）
第一章 总则
第一条 为了发展养老服务，满足老年人的养老服务需求，制定本条例。
第二条 本条例适用于本市行政区域内的养老服务及其监督管理。
第二章 居家和社区养老服务
第三条 区人民政府应当按照每百户不少于二十平方米的标准配建社区养老服务设施。
社区养老服务设施应当无偿提供给养老服务机构使用。
第四条 街道办事处应当组织开展老年人助餐服务。
第三章 附则
第五条 本条例自2026年1月1日起施行。"""
# Version 2: article 3 changed, a new article 5 added, the old article 5 renumbered to 6.
V2 = """某市养老服务条例（草案）
第一章 总则
第一条 为了发展养老服务，满足老年人的养老服务需求，制定本条例。
第二条 本条例适用于本市行政区域内的养老服务及其监督管理。
第二章 居家和社区养老服务
第三条 区人民政府应当按照每百户不少于三十平方米的标准配建社区养老服务设施，并负责验收和移交。
社区养老服务设施应当无偿提供给养老服务机构使用。
第四条 街道办事处应当组织开展老年人助餐服务。
第五条 鼓励志愿者为居家老年人提供探访和关爱服务。
第三章 附则
第六条 本条例自2026年1月1日起施行。"""
CAMPAIGN = ("建议将第三条规定的配建标准提高到每百户不少于三十平方米，并明确由区人民政府负责验收和移交，"
            "保证社区养老服务设施真正用于老年人。")
NEAR = ["我是社区居民，" + CAMPAIGN, CAMPAIGN + "谢谢！", CAMPAIGN.replace("三十", "四十"),
        CAMPAIGN.replace("建议", "我建议"), CAMPAIGN.replace("保证", "确保")]


@dataclass
class World:
    city: City
    drafter: User
    drafter_actor: Actor
    draft: Draft
    round: CommentRound
    articles: dict[str, Provision]  # by label
    users: list[User] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"/rounds/{self.round.id}"


async def count(db: Any, model: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


async def articles_of(db: Any, version_id: int) -> dict[str, Provision]:
    rows = await db.scalars(select(Provision).where(Provision.version_id == version_id, Provision.kind == Kind.ARTICLE))
    return {p.label: p for p in rows}


async def world(db: Any, title: str = "某市养老服务条例（草案）", city: City | None = None) -> World:
    city = city or await make_city(db)
    drafter = await make_user(db, name="周立法", role=Role.drafter, area=city.city)
    actor = await actor_for(db, drafter, None)
    draft = await drafts.create_draft(db, actor, city.city, title, V1)
    draft = await db.scalar(select(Draft).where(Draft.id == draft.id))
    await db.refresh(draft, ["area"])
    version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    opened = await services.open_round(db, actor, draft, version, opens_at=utcnow() - timedelta(hours=1),
                                       closes_at=utcnow() + timedelta(days=30), audience="everyone", area_ids=(),
                                       instructions="")
    round_ = await get_round(db, opened.id)
    return World(city, drafter, actor, draft, round_, await articles_of(db, version.id))


async def commenter(db: Any, w: World, name: str | None = None, role: Role = Role.resident) -> Actor:
    user = await make_user(db, name=name or f"居民{len(w.users) + 1}号",
                           role=role, area=w.city.district if role is Role.representative else w.city.community_a)
    w.users.append(user)
    return await actor_for(db, user, None)


async def post(db: Any, w: World, actor: Actor, body: str, on: str | None = "第三条",
               wording: str = "") -> DraftComment:
    provision_id = w.articles[on].id if on is not None else None
    return await services.post_comment(db, actor, w.round, provision_id=provision_id, body=body,
                                       proposed_wording=wording, client_token=secrets.token_hex(8))


async def campaign(db: Any, w: World) -> DraftComment:
    """10 identical and 5 near-identical comments on article 3 from 15 people: one group."""
    lead = None
    for i in range(10):
        wording = "每百户不少于三十平方米" if i == 0 else ""
        comment = await post(db, w, await commenter(db, w), CAMPAIGN, wording=wording)
        lead = lead or comment
    for text in NEAR:
        await post(db, w, await commenter(db, w), text)
    assert lead is not None
    await db.refresh(lead)
    return lead


async def staff_client(db: Any, client: WebClient, w: World) -> WebClient:
    await db.commit()
    await client.login(identifier(w.drafter), PASSWORD)
    client.cookies.set("lang", "en")
    return client


def row_ids(html: str, w: World) -> list[int]:
    """Comment ids of the queue's rows, in order."""
    return [int(n) for n in re.findall(rf'<h2><a href="/rounds/{w.round.id}/comments/(\d+)', html)]


async def fresh(db: Any, comment_id: int) -> DraftComment:
    """The comment as the database has it now (the pages changed it through their own session)."""
    found = await db.scalar(select(DraftComment).where(DraftComment.id == comment_id)
                            .execution_options(populate_existing=True))
    assert found is not None
    return found


# --- the queue -------------------------------------------------------------------------------------

async def test_a_campaign_is_one_row_with_its_true_count(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    single = await post(db, w, await commenter(db, w), "第四条的助餐服务应当覆盖农村地区。", on="第四条")
    other = await post(db, w, await commenter(db, w), "建议增加对养老护理员的培训补贴规定。", on=None)
    assert lead.group_size == 15
    await staff_client(db, client, w)
    page = await client.get(f"{w.base}/queue")
    assert page.status_code == 200
    assert row_ids(page.text, w) == [lead.id, single.id, other.id]  # the biggest group first
    text = text_of(page.text)
    assert "17 comments" in text and "3 groups" in text and "3 groups not answered" in text
    first = page.text.split('class="card round-queue-item')[1]
    assert "campaign" in first.split(">")[0] and "15 identical or near-identical comments" in first
    assert "Campaign" in first and "第三条" in first and "第二章 居家和社区养老服务" in first
    assert "每百户不少于三十平方米" in first  # the proposed wording
    assert "居民1号" in first  # staff see who wrote it
    second = page.text.split('class="card round-queue-item')[2]
    assert "Campaign" not in second and "Single comment" in second
    assert "Whole draft" in page.text.split('class="card round-queue-item')[3]


async def test_queue_filters(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    rep = await post(db, w, await commenter(db, w, "代表张三", Role.representative), "助餐服务应当明确财政补贴标准。",
                     on="第四条")
    whole = await post(db, w, await commenter(db, w), "建议增加对养老护理员的培训补贴规定。", on=None)
    await services.set_themes(db, w.drafter_actor, w.draft, w.round, rep, ["助餐"])
    await services.answer(db, w.drafter_actor, w.draft, w.round, whole, outcome="adopted", reason="已增加培训条款。")
    theme_id = await db.scalar(select(RoundTheme.id).where(RoundTheme.round_id == w.round.id))
    await staff_client(db, client, w)

    async def ids(query: str) -> list[int]:
        page = await client.get(f"{w.base}/queue?{query}")
        assert page.status_code == 200
        return row_ids(page.text, w)

    assert await ids("") == [lead.id, rep.id]  # pending groups by default
    assert await ids("status=all") == [lead.id, rep.id, whole.id]
    assert await ids("status=answered") == [whole.id]
    assert await ids(f"article={w.articles['第四条'].id}") == [rep.id]
    assert await ids("article=0&status=all") == [whole.id]  # the whole draft
    assert await ids(f"theme={theme_id}") == [rep.id]
    assert await ids("outcome=adopted") == [whole.id]  # an outcome looks among the answered
    assert await ids("outcome=not_adopted") == []
    assert await ids("rep=1") == [rep.id]
    assert await ids("status=nonsense&article=x&theme=&outcome=maybe") == [lead.id, rep.id]  # defaults
    page = await client.get(f"{w.base}/queue?rep=1&article={w.articles['第四条'].id}")
    assert re.search(rf'<option value="{w.articles["第四条"].id}"\s+selected>第四条', page.text)
    assert 'name="rep" value="1" checked' in page.text
    # The row's link keeps the filter, so answering moves on within it.
    assert f"/comments/{rep.id}?article={w.articles['第四条'].id}&amp;rep=1" in page.text


async def test_queue_pages(db: Any, client: WebClient) -> None:
    w = await world(db)
    for i in range(33):
        await post(db, w, await commenter(db, w), f"第{i}号意见：{i * 7919}")
    await staff_client(db, client, w)
    first = await client.get(f"{w.base}/queue?rep=")
    second = await client.get(f"{w.base}/queue?page=2")
    assert len(row_ids(first.text, w)) == 30 and len(row_ids(second.text, w)) == 3
    assert f'href="/rounds/{w.round.id}/queue?page=2"' in first.text
    assert set(row_ids(first.text, w)).isdisjoint(row_ids(second.text, w))


# --- answering -------------------------------------------------------------------------------------

async def test_answer_applies_to_the_whole_group_and_opens_the_next_pending_group(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    member = await db.scalar(select(DraftComment).where(DraftComment.lead_id == lead.id).order_by(DraftComment.id))
    small = await post(db, w, await commenter(db, w), "第三条的面积标准应当区分新建和已建成小区。")
    await post(db, w, await commenter(db, w), "第四条应当规定助餐点的服务时间。", on="第四条")
    await staff_client(db, client, w)
    article = w.articles["第三条"].id
    page = await client.get(f"{w.base}/comments/{member.id}?article={article}")
    assert page.status_code == 200
    assert "The answer applies to the whole group: 15 comments." in page.text
    before = await count(db, AuditEvent)
    answered = await client.submit(f"{w.base}/comments/{member.id}/answer", {
        "outcome": "adopted", "reason": "已在第二稿中提高配建标准。", "changed_provision_id": "",
        "filter": f"article={article}"})
    assert answered.status_code == 303
    # The next pending group within the same filter (article 3), the filter kept.
    assert answered.headers["location"] == f"{w.base}/comments/{small.id}?article={article}"
    outcomes = (await db.execute(select(DraftComment.outcome, DraftComment.reason, func.count())
                                 .where(DraftComment.round_id == w.round.id, DraftComment.article_id == article)
                                 .group_by(DraftComment.outcome, DraftComment.reason))).all()
    wanted = [(Outcome.adopted, "已在第二稿中提高配建标准。", 15), (None, "", 1)]
    assert sorted(outcomes, key=str) == sorted(wanted, key=str)
    assert await count(db, AuditEvent) == before + 1
    shown = await client.get(answered.headers["location"])
    assert "The answer was saved for 15 comments." in shown.text
    # The last pending group of the filter: back to the queue with a note.
    last = await client.submit(f"{w.base}/comments/{small.id}/answer", {
        "outcome": "not_adopted", "reason": "已建成小区另有规定。", "filter": f"article={article}"})
    assert last.headers["location"] == f"{w.base}/queue?article={article}"
    queue = await client.get(last.headers["location"])
    assert "No group in this view waits for an answer any more." in queue.text
    # Answering again (a double submit) changes nothing but the answer.
    again = await client.submit(f"{w.base}/comments/{small.id}/answer", {
        "outcome": "not_adopted", "reason": "已建成小区另有规定。", "filter": f"article={article}"})
    assert again.status_code == 303 and (await fresh(db, small.id)).outcome is Outcome.not_adopted


async def test_answer_links_an_article_of_a_later_version(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    version2 = await drafts.add_version(db, w.drafter_actor, w.draft, V2)
    new3 = (await articles_of(db, version2.id))["第三条"]
    await staff_client(db, client, w)
    page = await client.get(f"{w.base}/comments/{lead.id}")
    assert f'<option value="{new3.id}"' in page.text and 'label="Version 2"' in page.text
    done = await client.submit(f"{w.base}/comments/{lead.id}/answer", {
        "outcome": "partly", "reason": "部分采纳：标准提高到三十平方米。", "changed_provision_id": str(new3.id)})
    assert done.status_code == 303
    linked = set(await db.scalars(select(DraftComment.changed_provision_id)
                                  .where(DraftComment.round_id == w.round.id)))
    assert linked == {new3.id}
    page = await client.get(f"{w.base}/comments/{lead.id}")
    assert "Linked to 第三条 of version 2" in page.text
    assert re.search(rf'<option value="{new3.id}" selected>', page.text)


async def test_answers_are_refused_clearly_and_nothing_is_saved(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    other = await world(db, title="某市物业管理条例（草案）", city=w.city)
    foreign = await post(db, other, await commenter(db, other), "物业费应当公开。", on="第一条")
    await staff_client(db, client, w)
    url = f"{w.base}/comments/{lead.id}/answer"
    before = await count(db, AuditEvent)

    no_outcome = await client.submit(url, {"outcome": "", "reason": "理由写好了。"})
    assert no_outcome.status_code == 422
    assert "Choose the outcome." in no_outcome.text and "理由写好了。</textarea>" in no_outcome.text
    no_reason = await client.submit(url, {"outcome": "adopted", "reason": "  "})
    assert no_reason.status_code == 422 and 'id="f-reason-error"' in no_reason.text
    assert re.search(r'value="adopted" checked', no_reason.text)
    elsewhere = other.articles["第一条"].id  # an article of another draft
    wrong_link = await client.submit(url, {"outcome": "adopted", "reason": "采纳。",
                                           "changed_provision_id": str(elsewhere)})
    assert wrong_link.status_code == 422 and "Link an article of a later version of this draft." in wrong_link.text
    same_version = await client.submit(url, {"outcome": "adopted", "reason": "采纳。",
                                             "changed_provision_id": str(w.articles["第三条"].id)})
    assert same_version.status_code == 422 and "Link an article of a later version of this draft." in same_version.text
    garbage = await client.submit(url, {"outcome": "adopted", "reason": "采纳。", "changed_provision_id": "abc"})
    assert garbage.status_code == 422
    foreign_answer = await client.submit(f"{w.base}/comments/{foreign.id}/answer",
                                         {"outcome": "adopted", "reason": "采纳。"})
    assert foreign_answer.status_code == 422
    assert "This comment belongs to another comment round." in foreign_answer.text
    assert (await client.get(f"{w.base}/comments/{foreign.id}")).status_code == 404

    assert await db.scalar(select(func.count()).select_from(DraftComment)
                           .where(DraftComment.outcome.is_not(None))) == 0
    assert await count(db, AuditEvent) == before


# --- themes and grouping ---------------------------------------------------------------------------

async def test_themes_are_set_shown_and_filtered(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    member = await db.scalar(select(DraftComment).where(DraftComment.lead_id == lead.id).limit(1))
    single = await post(db, w, await commenter(db, w), "助餐服务应当向失能老人送餐上门。", on="第四条")
    await staff_client(db, client, w)
    saved = await client.submit(f"{w.base}/comments/{member.id}/themes", {"themes": "设施标准，验收、 设施标准 移交"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{w.base}/comments/{member.id}"
    names = set(await db.scalars(select(RoundTheme.name).join(DraftCommentTheme,
                                                               DraftCommentTheme.theme_id == RoundTheme.id)
                                 .where(DraftCommentTheme.comment_id == lead.id)))  # themes live on the lead
    assert names == {"设施标准", "验收", "移交"}
    page = await client.get(f"{w.base}/comments/{single.id}")
    assert re.search(r'name="theme" value="验收"\s*>', page.text)  # offered, not checked
    kept = await client.submit(f"{w.base}/comments/{single.id}/themes", {"theme": "验收", "themes": "助餐"})
    assert kept.status_code == 303
    theme = await db.scalar(select(RoundTheme.id).where(RoundTheme.round_id == w.round.id, RoundTheme.name == "验收"))
    listed = await client.get(f"{w.base}/queue?theme={theme}")
    assert row_ids(listed.text, w) == [lead.id, single.id]
    assert "<li>助餐</li>" in listed.text and "<li>移交</li>" in listed.text
    page = await client.get(f"{w.base}/comments/{single.id}")
    assert 'name="theme" value="验收" checked' in page.text
    too_many = await client.submit(f"{w.base}/comments/{single.id}/themes", {"themes": "一 二 三 四 五 六"})
    assert too_many.status_code == 422 and "Give at most 5 themes." in too_many.text
    assert 'value="一 二 三 四 五 六"' in too_many.text
    removed = await client.submit(f"{w.base}/comments/{single.id}/themes", {"themes": ""})
    assert removed.status_code == 303
    assert await db.scalar(select(func.count()).select_from(DraftCommentTheme)
                           .where(DraftCommentTheme.comment_id == single.id)) == 0


async def test_detach_and_attach_adjust_the_counts(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    members = list(await db.scalars(select(DraftComment).where(DraftComment.lead_id == lead.id)
                                    .order_by(DraftComment.id)))
    single = await post(db, w, await commenter(db, w), "第三条的面积标准应当区分新建和已建成小区。")
    other = await world(db, title="某市物业管理条例（草案）", city=w.city)
    foreign = await post(db, other, await commenter(db, other), "物业费应当公开。", on="第一条")
    await staff_client(db, client, w)

    page = await client.get(f"{w.base}/comments/{lead.id}")
    assert page.text.count("Take out of the group") == 14  # a button beside each member
    out = await client.submit(f"{w.base}/comments/{members[-1].id}/detach", {"back": str(lead.id), "filter": "rep="})
    assert out.status_code == 303 and out.headers["location"] == f"{w.base}/comments/{lead.id}"
    assert (await fresh(db, lead.id)).group_size == 14 and (await fresh(db, members[-1].id)).lead_id is None
    queue = await client.get(f"{w.base}/queue")
    assert "14 identical or near-identical comments" in queue.text and members[-1].id in row_ids(queue.text, w)
    twice = await client.submit(f"{w.base}/comments/{members[-1].id}/detach", {})
    assert twice.status_code == 422 and "This comment is not in another comment&#39;s group." in twice.text

    back = await client.submit(f"{w.base}/comments/{members[-1].id}/attach", {"lead_id": str(members[0].id)})
    assert back.status_code == 303 and back.headers["location"] == f"{w.base}/comments/{lead.id}"
    assert (await fresh(db, lead.id)).group_size == 15
    joined = await client.submit(f"{w.base}/comments/{single.id}/attach", {"lead_id": f"#{lead.id}"})
    assert joined.status_code == 303 and (await fresh(db, lead.id)).group_size == 16
    assert (await fresh(db, single.id)).lead_id == lead.id

    before = await count(db, AuditEvent)
    for value, message in [("", "Enter the number of the comment whose group this comment should join."),
                           ("99999999", "No comment has the number 99999999."),
                           (str(foreign.id), "This comment belongs to another comment round."),
                           (str(members[3].id), "These comments are already in one group.")]:
        refused = await client.submit(f"{w.base}/comments/{members[2].id}/attach", {"lead_id": value})
        assert refused.status_code == 422, value
        assert 'id="f-lead_id-error"' in refused.text and message in refused.text
    assert (await fresh(db, lead.id)).group_size == 16 and await count(db, AuditEvent) == before


# --- who may ---------------------------------------------------------------------------------------

async def test_everyone_but_the_round_staff_is_refused(db: Any, make_client: Any) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    elsewhere = await make_city(db)
    outsider = await make_user(db, name="外市立法", role=Role.drafter, area=elsewhere.city)
    resident = w.users[0]
    admin = await make_user(db, name="管理员", role=Role.admin)
    await db.commit()
    urls = [f"{w.base}/queue", f"{w.base}/comments/{lead.id}", f"{w.base}/report.csv", f"{w.base}/report.xlsx"]
    posts = {f"{w.base}/comments/{lead.id}/answer": {"outcome": "adopted", "reason": "x"},
             f"{w.base}/comments/{lead.id}/themes": {"themes": "x"},
             f"{w.base}/comments/{lead.id}/detach": {},
             f"{w.base}/comments/{lead.id}/attach": {"lead_id": str(lead.id)}}
    anonymous = make_client()
    for url in urls:
        assert (await anonymous.get(url)).status_code == 303
    for who in (resident, outsider):
        visitor: WebClient = make_client()
        await visitor.login(identifier(who), PASSWORD)
        for url in urls:
            assert (await visitor.get(url)).status_code == 403, (who.display_name, url)
        for url, data in posts.items():
            assert (await visitor.submit(url, data)).status_code == 403, (who.display_name, url)
        report = await visitor.get(f"{w.base}/report")
        assert report.status_code == 200 and "/report.csv" not in report.text
    assert (await fresh(db, lead.id)).outcome is None
    assert await db.scalar(select(func.count()).select_from(RoundTheme)) == 0
    boss: WebClient = make_client()
    await boss.login(identifier(admin), PASSWORD)
    for url in urls:
        assert (await boss.get(url)).status_code == 200, url


async def test_comment_page_shows_the_comment_its_author_and_its_group(db: Any, client: WebClient) -> None:
    w = await world(db)
    lead = await campaign(db, w)
    rep = await post(db, w, await commenter(db, w, "代表张三", Role.representative),
                     "第三条第二款的“无偿”应当明确期限。",
                     wording="社区养老服务设施应当在十年内无偿提供给养老服务机构使用。")
    paragraph = await db.scalar(select(Provision).where(Provision.parent_id == w.articles["第三条"].id,
                                                        Provision.number == 2))
    on_paragraph = await services.post_comment(db, await commenter(db, w, "居民乙"), w.round, provision_id=paragraph.id,
                                               body="第二款应当写明由谁监督。")
    await staff_client(db, client, w)
    page = await client.get(f"{w.base}/comments/{rep.id}")
    text = text_of(page.text)
    assert "代表张三" in text and "Representative" in text and "第三条第二款的“无偿”应当明确期限。" in text
    assert "社区养老服务设施应当在十年内无偿提供给养老服务机构使用。" in text
    assert "区人民政府应当按照每百户不少于二十平方米的标准配建社区养老服务设施。" in text  # the article's text
    assert "No other comment is grouped with this one." in text
    page = await client.get(f"{w.base}/comments/{on_paragraph.id}")
    assert "第三条第二款" in page.text and "居民乙" in page.text
    page = await client.get(f"{w.base}/comments/{lead.id}")
    text = text_of(page.text)
    assert "15 identical or near-identical comments" in text and "居民15号" in text and "居民1号" in text
    assert page.text.count('class="round-member-text"') == 15


async def test_staff_release_a_held_comment_and_take_one_off_public_view(db: Any, client: WebClient) -> None:
    w = await world(db)
    await words.add_word(db, Actor(user_id=None, grants=(Grant(Role.admin),)), "代开发票")
    held = await post(db, w, await commenter(db, w), "代开发票的广告不应出现。第三条应当写明服务标准。")
    shown = await post(db, w, await commenter(db, w), "第三条的服务标准应当公开，并定期评估。")
    await staff_client(db, client, w)
    page = await client.get(f"/rounds/{w.round.id}/comments/{held.id}")
    assert "Held for review" in page.text and "Release: show it publicly" in page.text
    released = await client.submit(f"/rounds/{w.round.id}/comments/{held.id}/visibility", {"held": "0"})
    assert released.status_code == 303
    assert not (await fresh(db, held.id)).held
    hidden = await client.submit(f"/rounds/{w.round.id}/comments/{shown.id}/visibility", {"held": "1"})
    assert hidden.status_code == 303 and (await fresh(db, shown.id)).held
    public = await client.get(f"/rounds/{w.round.id}/articles/{w.articles['第三条'].id}")
    assert "服务标准应当公开" not in public.text and "代开发票的广告" in public.text
