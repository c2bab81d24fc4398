"""Comment-round pages end to end through the app: staff open and change a round (bad input refilled with
errors beside the fields, others refused); residents comment on an article, a paragraph or the whole
draft with a proposed wording; double submits, the window, the audience, supports, identical comments
shown once with their count, anonymity, and each person's own comments with the answer and new wording."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.applications import Starlette

from consultation.accounts.models import Role, User
from consultation.comments import words
from consultation.db import utcnow
from consultation.drafts import services as drafts
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.policy import Actor, Grant
from consultation.rounds import services
from consultation.rounds.models import CommentRound, DraftComment, DraftCommentSupport, RoundArea
from consultation.rounds.queries import get_round
from tests.conftest import WebClient, text_of
from tests.drafts.helpers import text
from tests.drafts.test_services import V1, V2
from tests.factories import PASSWORD, City, identifier, make_city, make_user, verified_resident
from web.page_cache import cache_of

SMOKING = text("shanghai_smoking_control")


async def count(db: Any, model: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(model)) or 0)


class World:
    def __init__(self, city: City, drafter: User, draft: Draft, version: DraftVersion) -> None:
        self.city, self.drafter, self.draft, self.version = city, drafter, draft, version
        self.round: CommentRound | None = None

    @property
    def staff(self) -> Actor:
        return Actor(user_id=self.drafter.id, grants=(Grant(Role.drafter, self.city.city.path),))

    @property
    def round_id(self) -> int:
        assert self.round is not None
        return self.round.id


async def world(db: Any, source: str = SMOKING, *, audience: str | None = "everyone", area_ids: tuple[int, ...] = (),
                opens_in: timedelta = timedelta(hours=-1), closes_in: timedelta = timedelta(days=20)) -> World:
    """A city, a drafter, a draft (version 1) and, unless ``audience`` is None, a round on it."""
    city = await make_city(db)
    drafter = await make_user(db, name="起草人", role=Role.drafter, area=city.city)
    w = World(city, drafter, None, None)  # type: ignore[arg-type]
    created = await drafts.create_draft(db, w.staff, city.city, "上海市公共场所控制吸烟条例（草案）", source)
    w.draft = await db.scalar(select(Draft).where(Draft.id == created.id))
    await db.refresh(w.draft, ["area"])
    w.version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == created.id))
    if audience is not None:
        round_ = await services.open_round(db, w.staff, w.draft, w.version, opens_at=utcnow() + opens_in,
                                           closes_at=utcnow() + closes_in, audience=audience, area_ids=area_ids,
                                           instructions="请重点就禁烟场所提出意见。")
        w.round = round_
    await db.commit()
    return w


async def article(db: Any, w: World, label: str) -> Provision:
    found = await db.scalar(select(Provision).where(Provision.version_id == w.version.id,
                                                    Provision.kind == Kind.ARTICLE, Provision.label == label))
    assert found is not None
    return found


async def children(db: Any, parent: Provision) -> list[Provision]:
    return list(await db.scalars(select(Provision).where(Provision.parent_id == parent.id)
                                 .order_by(Provision.position)))


async def signed_in(db: Any, client: WebClient, user: User) -> WebClient:
    await db.commit()
    client.cookies.set("lang", "en")  # assertions on English messages, whatever the Chinese catalogue says
    await client.login(identifier(user), PASSWORD)
    return client


async def comment(client: WebClient, w: World, provision_id: int | str | None, body: str, wording: str = "",
                  token: str = "") -> Any:
    return await client.submit(f"/rounds/{w.round_id}/comments", {
        "provision_id": "" if provision_id is None else str(provision_id), "body": body,
        "proposed_wording": wording, "client_token": token})


# --- opening a round ---------------------------------------------------------------------------------

async def test_staff_open_a_round_with_errors_beside_the_fields_then_change_it(client: WebClient, db: Any) -> None:
    w = await world(db, audience=None)
    await signed_in(db, client, w.drafter)
    draft_page = await client.get(f"/drafts/{w.draft.id}")
    assert f'href="/drafts/{w.draft.id}/rounds/new"' in draft_page.text
    form = await client.get(f"/drafts/{w.draft.id}/rounds/new")
    assert form.status_code == 200 and 'type="datetime-local"' in form.text
    for area in (w.city.city, w.city.district, w.city.street, w.city.community_a, w.city.community_b):
        assert f'name="area_ids" value="{area.id}"' in form.text
    assert f'value="{w.city.compound_a.id}"' not in form.text  # down to communities only
    bad = await client.submit(f"/drafts/{w.draft.id}/rounds/new", {
        "opens_at": "2030-05-10T09:00", "closes_at": "2030-05-01T09:00", "audience": "residents",
        "instructions": "请就第七条提出意见。"})
    assert bad.status_code == 422
    assert 'id="f-closes_at-error"' in bad.text and 'id="f-area_ids-error"' in bad.text
    assert 'value="2030-05-10T09:00"' in bad.text and "请就第七条提出意见。</textarea>" in bad.text
    assert re.search(r'value="residents"\s+checked', bad.text)
    unreadable = await client.submit(f"/drafts/{w.draft.id}/rounds/new", {
        "opens_at": "tomorrow", "closes_at": "2030-05-01T09:00", "audience": "everyone"})
    assert unreadable.status_code == 422 and "Enter the date and time as" in unreadable.text
    assert await count(db, CommentRound) == 0

    saved = await client.submit(f"/drafts/{w.draft.id}/rounds/new", {
        "opens_at": "2030-05-01T09:00", "closes_at": "2030-06-01T18:00", "audience": "residents",
        "area_ids": [str(w.city.community_a.id)], "instructions": "请就第七条提出意见。"})
    assert saved.status_code == 303, saved.text
    round_ = await db.scalar(select(CommentRound))
    assert saved.headers["location"] == f"/rounds/{round_.id}"
    assert round_.opens_at == datetime(2030, 5, 1, 1, 0, tzinfo=UTC)  # 09:00 Beijing time
    assert round_.closes_at == datetime(2030, 6, 1, 10, 0, tzinfo=UTC)
    assert [a for (a,) in (await db.execute(select(RoundArea.area_id))).all()] == [w.city.community_a.id]
    page = await client.get(f"/rounds/{round_.id}")
    assert page.status_code == 200
    assert "2030-05-01 09:00 to 2030-06-01 18:00" in text_of(page.text) and "多福巷社区" in page.text
    assert "Not open yet" in page.text and f'href="/rounds/{round_.id}/queue"' in page.text
    again = await client.get(f"/drafts/{w.draft.id}/rounds/new")
    assert "already has a comment round" in again.text and 'name="opens_at"' not in again.text
    draft_page = await client.get(f"/drafts/{w.draft.id}")
    assert f'href="/rounds/{round_.id}"' in draft_page.text
    assert f'href="/drafts/{w.draft.id}/rounds/new"' not in draft_page.text

    edit = await client.get(f"/rounds/{round_.id}/edit")
    assert 'value="2030-05-01T09:00"' in edit.text and 'value="2030-06-01T18:00"' in edit.text
    assert re.search(rf'value="{w.city.community_a.id}"\s+checked', edit.text)
    changed = await client.submit(f"/rounds/{round_.id}/edit", {
        "opens_at": "2030-05-01T09:00", "closes_at": "2030-06-15T18:00", "audience": "everyone",
        "instructions": "延长征求意见期限。"})
    assert changed.status_code == 303
    await db.refresh(round_)
    assert round_.closes_at == datetime(2030, 6, 15, 10, 0, tzinfo=UTC) and round_.instructions == "延长征求意见期限。"
    assert await count(db, CommentRound) == 1


async def test_only_the_drafts_staff_open_or_change_rounds(client: WebClient, db: Any) -> None:
    w = await world(db)
    resident = await make_user(db, area=w.city.community_a)
    other_city = await make_city(db)
    other_drafter = await make_user(db, role=Role.drafter, area=other_city.city)
    fields = {"opens_at": "2030-05-01T09:00", "closes_at": "2030-06-01T09:00", "audience": "everyone"}
    anonymous = await client.get(f"/drafts/{w.draft.id}/rounds/new")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    await signed_in(db, client, resident)
    assert (await client.get(f"/drafts/{w.draft.id}/rounds/new")).status_code == 403
    assert (await client.submit(f"/drafts/{w.draft.id}/rounds/new", fields)).status_code == 403
    assert (await client.get(f"/rounds/{w.round_id}/edit")).status_code == 403
    assert (await client.submit(f"/rounds/{w.round_id}/edit", fields)).status_code == 403
    page = await client.get(f"/rounds/{w.round_id}")
    assert "/queue" not in page.text and f"/rounds/{w.round_id}/edit" not in page.text
    await client.submit("/logout")
    await signed_in(db, client, other_drafter)
    assert (await client.get(f"/rounds/{w.round_id}/edit")).status_code == 403
    assert (await client.submit(f"/rounds/{w.round_id}/edit", fields)).status_code == 403
    round_ = await db.get(CommentRound, w.round_id)
    await db.refresh(round_)
    assert round_.audience.value == "everyone" and await count(db, CommentRound) == 1


# --- commenting ----------------------------------------------------------------------------------------

async def test_comment_on_an_article_a_paragraph_and_the_whole_draft(client: WebClient, db: Any) -> None:
    w = await world(db)
    second = await article(db, w, "第二条")
    first_paragraph, second_paragraph = await children(db, second)
    resident = await make_user(db, name="张三丰", area=w.city.community_a)
    await signed_in(db, client, resident)

    round_page = await client.get(f"/rounds/{w.round_id}")
    assert round_page.status_code == 200 and "请重点就禁烟场所提出意见。" in round_page.text
    assert f'href="/rounds/{w.round_id}/articles/{second.id}"' in round_page.text
    page = await client.get(f"/rounds/{w.round_id}/articles/{second.id}")
    assert page.status_code == 200
    assert "第一款" in page.text and "第二款" in page.text and "前款所称控烟工作" in page.text
    assert f'<option value="{second_paragraph.id}" >第二条第二款</option>' in page.text
    assert re.search(r'name="client_token" value="[\w-]{16,}"', page.text)
    assert f'href="/rounds/{w.round_id}/articles/{(await article(db, w, "第三条")).id}"' in page.text  # next

    on_article = await comment(client, w, second.id, "建议明确“控烟工作”的范围。",
                               "本市公共场所和工作场所的控制吸烟工作适用本条例。", token="t-article")
    assert on_article.status_code == 303
    saved = await db.scalar(select(DraftComment).where(DraftComment.client_token == "t-article"))
    assert on_article.headers["location"] == f"/rounds/{w.round_id}/articles/{second.id}#comment-{saved.id}"
    on_paragraph = await comment(client, w, second_paragraph.id, "第二款的“禁烟场所”应当列举。", token="t-paragraph")
    assert on_paragraph.status_code == 303
    whole = await comment(client, w, None, "建议增加电子烟的规定。", token="t-whole")
    assert whole.status_code == 303 and whole.headers["location"].startswith(f"/rounds/{w.round_id}#comment-")

    page = await client.get(f"/rounds/{w.round_id}/articles/{second.id}")
    shown = text_of(page.text)
    assert "建议明确“控烟工作”的范围。" in shown and "本市公共场所和工作场所的控制吸烟工作适用本条例。" in shown
    assert "Proposed wording" in shown and "第二条第二款 " in shown and "第二款的“禁烟场所”应当列举。" in shown
    assert "电子烟" not in shown  # the whole-draft comment is on the round page
    round_page = await client.get(f"/rounds/{w.round_id}")
    assert "建议增加电子烟的规定。" in round_page.text and "2 comments" in text_of(round_page.text)
    targets = {(c.provision_id, c.article_id) for c in await db.scalars(select(DraftComment))}
    assert targets == {(second.id, second.id), (second_paragraph.id, second.id), (None, None)}
    assert first_paragraph.number == 1


async def test_bad_comment_is_shown_again_with_the_error_and_nothing_is_saved(client: WebClient, db: Any) -> None:
    w = await world(db)
    second = await article(db, w, "第二条")
    await signed_in(db, client, await make_user(db, area=w.city.community_a))
    empty = await comment(client, w, second.id, "   ", "我建议的条文", token="t1")
    assert empty.status_code == 422 and 'id="f-body-error"' in empty.text
    assert "我建议的条文</textarea>" in empty.text and 'value="t1"' in empty.text
    too_long = await comment(client, w, None, "长" * 3001)
    assert too_long.status_code == 422 and 'id="f-body-error"' in too_long.text and "电子烟" not in too_long.text
    assert await count(db, DraftComment) == 0


async def test_a_provision_of_another_draft_is_refused_with_nothing_saved(client: WebClient, db: Any) -> None:
    w = await world(db)
    other = await world(db, V1, audience=None)
    foreign = await article(db, other, "第二条")
    await signed_in(db, client, await make_user(db, area=w.city.community_a))
    refused = await comment(client, w, foreign.id, "这一条应当修改。")
    assert refused.status_code == 422 and 'id="f-provision_id-error"' in refused.text
    assert "not part of the draft under comment" in refused.text and "这一条应当修改。</textarea>" in refused.text
    garbage = await comment(client, w, "abc", "这一条应当修改。")
    assert garbage.status_code == 422 and 'id="f-provision_id-error"' in garbage.text
    assert await count(db, DraftComment) == 0
    assert (await client.get(f"/rounds/{w.round_id}/articles/{foreign.id}")).status_code == 404
    paragraph = (await children(db, await article(db, w, "第二条")))[0]
    assert (await client.get(f"/rounds/{w.round_id}/articles/{paragraph.id}")).status_code == 404  # not an article


async def test_double_submit_makes_one_comment(client: WebClient, db: Any) -> None:
    w = await world(db)
    second = await article(db, w, "第二条")
    await signed_in(db, client, await make_user(db, area=w.city.community_a))
    first = await comment(client, w, second.id, "同一条意见。", token="same-token")
    again = await comment(client, w, second.id, "同一条意见。", token="same-token")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert await count(db, DraftComment) == 1


async def test_comments_before_opening_or_after_closing_are_refused(client: WebClient, db: Any) -> None:
    w = await world(db, opens_in=timedelta(days=2), closes_in=timedelta(days=10))
    second = await article(db, w, "第二条")
    await signed_in(db, client, await make_user(db, area=w.city.community_a))
    page = await client.get(f"/rounds/{w.round_id}/articles/{second.id}")
    assert "This comment round opens on" in page.text and 'name="body"' not in page.text
    early = await comment(client, w, second.id, "太早了。")
    assert early.status_code == 409 and "This comment round opens on" in early.text
    round_ = await db.get(CommentRound, w.round_id)
    round_.opens_at, round_.closes_at = utcnow() - timedelta(days=5), utcnow() - timedelta(minutes=1)
    await db.commit()
    late = await comment(client, w, None, "太晚了。")
    assert late.status_code == 409 and "Comments are no longer accepted" in late.text
    assert 'id="kept-body"' in late.text and "太晚了。" in late.text  # what was typed is not lost
    page = await client.get(f"/rounds/{w.round_id}")
    assert "round-closed" in page.text and "Comments are no longer accepted" in page.text
    assert 'name="body"' not in page.text
    assert await count(db, DraftComment) == 0


async def test_residents_round_takes_verified_residents_of_its_areas_only(make_client: Any, db: Any) -> None:
    w0 = await world(db, audience=None)
    round_ = await services.open_round(db, w0.staff, w0.draft, w0.version, opens_at=utcnow() - timedelta(hours=1),
                                       closes_at=utcnow() + timedelta(days=3), audience="residents",
                                       area_ids=(w0.city.community_a.id,), instructions="")
    w0.round = round_
    unverified = await make_user(db, area=w0.city.community_a)
    elsewhere = await verified_resident(db, w0.city.households_b[0], w0.city.community_b, name="赵六")
    verified = await verified_resident(db, w0.city.households_a[0], w0.city.community_a)
    for person in (unverified, elsewhere):
        client = await signed_in(db, make_client(), person)
        page = await client.get(f"/rounds/{w0.round_id}")
        assert "verified residents of 多福巷社区" in page.text and 'name="body"' not in page.text
        refused = await comment(client, w0, None, "我想提意见。")
        assert refused.status_code == 403 and "Verify your home to take part" in refused.text
    assert await count(db, DraftComment) == 0
    client = await signed_in(db, make_client(), verified)
    assert (await comment(client, w0, None, "我想提意见。")).status_code == 303
    assert await count(db, DraftComment) == 1


async def test_representatives_round_and_the_representative_mark(make_client: Any, db: Any) -> None:
    w = await world(db, audience="representatives")
    second = await article(db, w, "第二条")
    resident = await signed_in(db, make_client(), await make_user(db, area=w.city.community_a))
    refused = await comment(resident, w, second.id, "居民意见。")
    assert refused.status_code == 403 and "representatives only" in refused.text
    representative = await make_user(db, name="刘代表", role=Role.representative, area=w.city.district)
    rep = await signed_in(db, make_client(), representative)
    assert (await comment(rep, w, second.id, "代表意见：建议细化。")).status_code == 303
    saved = await db.scalar(select(DraftComment))
    assert saved.by_representative
    page = await resident.get(f"/rounds/{w.round_id}/articles/{second.id}")
    item = page.text.split(f'id="comment-{saved.id}"')[1].split("</li>")[0]
    assert "People&#39;s congress representative" in item and "刘代表" not in page.text


async def test_support_and_withdraw(make_client: Any, db: Any) -> None:
    w = await world(db)
    second = await article(db, w, "第二条")
    author = await signed_in(db, make_client(), await make_user(db, area=w.city.community_a))
    await comment(author, w, second.id, "建议明确范围。")
    saved = await db.scalar(select(DraftComment))
    own = await author.get(f"/rounds/{w.round_id}/articles/{second.id}")
    assert f"/comments/{saved.id}/support" not in own.text  # not on one's own comment
    supporter = await signed_in(db, make_client(), await make_user(db, name="李四", area=w.city.community_b))
    url = f"/rounds/{w.round_id}/comments/{saved.id}/support"
    on = await supporter.submit(url, {"on": "1"})
    assert on.status_code == 303 and on.headers["location"].endswith(f"/articles/{second.id}#comment-{saved.id}")
    again = await supporter.submit(url, {"on": "1"})  # a second click counts once
    assert again.status_code == 303
    await db.refresh(saved)
    assert saved.support_count == 1 and await count(db, DraftCommentSupport) == 1
    page = await supporter.get(f"/rounds/{w.round_id}/articles/{second.id}")
    item = page.text.split(f'id="comment-{saved.id}"')[1].split("</li>")[0]
    assert 'aria-pressed="true"' in item and "Supported by 1" in item and "Withdraw my support" in item
    off = await supporter.submit(url, {"on": "0"})
    assert off.status_code == 303
    await db.refresh(saved)
    assert saved.support_count == 0 and await count(db, DraftCommentSupport) == 0
    round_ = await db.get(CommentRound, w.round_id)
    round_.opens_at, round_.closes_at = utcnow() - timedelta(days=5), utcnow() - timedelta(minutes=1)
    await db.commit()
    late = await supporter.submit(url, {"on": "1"})
    assert late.status_code == 409 and "Comments are no longer accepted" in late.text
    await db.refresh(saved)
    assert saved.support_count == 0


async def test_identical_comments_are_shown_once_with_their_count_and_without_names(make_client: Any,
                                                                                   db: Any) -> None:
    w = await world(db)
    seventh = await article(db, w, "第七条")
    names = ["张三丰", "李四光", "王五岳"]
    for name in names:
        client = await signed_in(db, make_client(), await make_user(db, name=name, area=w.city.community_a))
        assert (await comment(client, w, seventh.id, "建议把公园也列入室外禁烟区域。")).status_code == 303
    assert await count(db, DraftComment) == 3
    visitor = make_client()
    visitor.cookies.set("lang", "en")
    page = await visitor.get(f"/rounds/{w.round_id}/articles/{seventh.id}")
    assert page.text.count("建议把公园也列入室外禁烟区域。") == 1 and "3 people said the same" in page.text
    assert "Log in" in page.text and 'name="body"' not in page.text  # anonymous: the sign-in link instead
    round_page = await visitor.get(f"/rounds/{w.round_id}")
    for shown in (page.text, round_page.text):
        assert not any(name in shown for name in names)
    assert "3 comments" in text_of(round_page.text)


async def test_my_comments_show_the_answer_and_the_new_wording(client: WebClient, db: Any) -> None:
    w = await world(db, V1)
    second = await article(db, w, "第二条")
    resident = await make_user(db, area=w.city.community_a)
    await signed_in(db, client, resident)
    posted = await comment(client, w, second.id, "登记应当免费。", "养犬人应当依法免费办理养犬登记。")
    assert posted.status_code == 303
    assert (await comment(client, w, None, "总体赞成。")).status_code == 303
    waiting = await client.get("/my/draft-comments")
    assert waiting.status_code == 200 and waiting.text.count("Waiting for an answer") == 2
    assert "上海市公共场所控制吸烟条例（草案）" in waiting.text and "The whole draft" in waiting.text

    version2 = await drafts.add_version(db, w.staff, w.draft, V2)
    new_article = await db.scalar(select(Provision).where(Provision.version_id == version2.id,
                                                          Provision.label == "第三条"))
    round_ = await get_round(db, w.round_id)
    saved = await db.scalar(select(DraftComment).where(DraftComment.article_id == second.id))
    await services.answer(db, w.staff, round_.draft, round_, saved, outcome="adopted",
                          reason="已在第二版第三条中采纳。", changed_provision_id=new_article.id)
    await db.commit()
    answered = await client.get("/my/draft-comments")
    shown = text_of(answered.text)
    assert "Adopted" in shown and "已在第二版第三条中采纳。" in shown
    assert "New wording: version 2, 第三条" in shown and "养犬人应当依法办理养犬登记。" in shown
    assert f'href="/drafts/{w.draft.id}/compare?from=1&amp;to=2"' in answered.text
    assert answered.text.count("Waiting for an answer") == 1
    public = await client.get(f"/rounds/{w.round_id}/articles/{second.id}")
    assert "Adopted" in public.text and "已在第二版第三条中采纳。" in public.text
    assert 'href="/my/draft-comments"' in public.text  # in the navigation


async def test_drafts_list_shows_open_rounds(client: WebClient, db: Any) -> None:
    w = await world(db)
    later = await world(db, V1, opens_in=timedelta(days=3))
    client.cookies.set("lang", "en")
    listing = await client.get("/drafts")
    assert listing.status_code == 200 and "Open for public comment" in listing.text
    assert f'href="/rounds/{w.round_id}"' in listing.text and f'href="/rounds/{later.round_id}"' not in listing.text
    draft_page = await client.get(f"/drafts/{w.draft.id}")
    assert f'href="/rounds/{w.round_id}"' in draft_page.text and "Read and comment" in draft_page.text


async def test_a_held_comment_is_not_public_but_its_author_follows_it(client: WebClient, db: Any) -> None:
    w = await world(db)
    second = await article(db, w, "第二条")
    await words.add_word(db, Actor(user_id=None, grants=(Grant(Role.admin),)), "代开发票")
    await signed_in(db, client, await make_user(db, area=w.city.community_a))
    posted = await comment(client, w, second.id, "代开发票，联系我。")
    assert posted.status_code == 303 and posted.headers["location"].endswith(f"/articles/{second.id}#comments")
    page = await client.get(posted.headers["location"])
    assert "checked before it is shown publicly" in page.text and "代开发票，联系我。" not in page.text
    mine = await client.get("/my/draft-comments")
    assert "代开发票，联系我。" in mine.text and "Being checked before it is shown publicly" in mine.text


async def test_a_closed_round_says_so_rather_than_asking_to_sign_in(client: WebClient, db: Any) -> None:
    w = await world(db, opens_in=timedelta(days=-9), closes_in=timedelta(days=20))
    round_ = await db.get(CommentRound, w.round_id)
    round_.closes_at = utcnow() - timedelta(days=1)
    await db.commit()
    client.cookies.set("lang", "en")
    page = await client.get(f"/rounds/{w.round_id}")
    assert "Comments are no longer accepted" in page.text and "Sign in to comment" not in page.text
    open_round = await world(db)
    page = await client.get(f"/rounds/{open_round.round_id}")
    assert "Sign in to comment" in page.text and f"/login?next=/rounds/{open_round.round_id}" in page.text


async def test_anonymous_visitors_share_a_rounds_pages_until_it_closes(
        db: Any, client: WebClient, app: Starlette) -> None:
    w = await world(db, closes_in=timedelta(seconds=2))
    second = await article(db, w, "第二条")
    paths = [f"/rounds/{w.round_id}", f"/rounds/{w.round_id}/articles/{second.id}"]
    await db.commit()
    kept = cache_of(app, "round_pages")
    first = [await client.get(path) for path in paths]
    for page in first:
        assert page.status_code == 200 and "最后一天" in text_of(page.text) and "/login?next=" in page.text
    again = [await client.get(path) for path in paths]
    assert (kept.hits, kept.misses) == (2, 2) and [p.text for p in again] == [p.text for p in first]
    await asyncio.sleep(2.2)  # the round has closed: its pages are not kept past that
    for path in paths:
        closed = text_of((await client.get(path)).text)
        assert "最后一天" not in closed and "已结束" in closed
    assert kept.misses == 4
    report = [await client.get(f"/rounds/{w.round_id}/report") for _ in range(2)]
    assert report[0].status_code == 200 and report[1].text == report[0].text and kept.misses == 5
