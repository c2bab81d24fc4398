"""Draft regulations and comment rounds through the JSON API: the drafts, a draft, a version's provisions
(tree and flat), the comparison, a round, its anonymous comments (held ones and grouped copies left out),
the report, sending a comment with its refusals (nothing saved), 404s for absent ids and the OpenAPI paths."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from consultation.accounts.models import Role, User
from consultation.comments.models import SensitiveWord
from consultation.db import utcnow
from consultation.drafts import services as drafts
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.policy import Actor, Grant
from consultation.rounds import services as rounds
from consultation.rounds.models import CommentRound, DraftComment
from consultation.rounds.queries import get_round
from tests.api.helpers import assert_matches, assert_no_personal_data, log_in, send
from tests.conftest import WebClient
from tests.factories import City, make_city, make_user

V1 = ("某市文明养犬条例\n第一章 总则\n第一条 为了规范养犬行为，保障公民健康和人身安全，制定本条例。\n"
      "第二条 养犬人应当依法办理养犬登记。\n养犬登记应当在犬只满三个月后三十日内办理。\n"
      "第二章 养犬管理\n第三条 养犬人应当遵守下列规定：\n（一）为犬只注射狂犬病疫苗；\n（二）携犬出户时为犬只束犬链。\n"
      "第四条 本条例自2025年1月1日起施行。")
V2 = ("某市文明养犬条例\n第一章 总则\n第一条 为了规范养犬行为，保障公民健康和人身安全，制定本条例。\n"
      "第二条 养犬人应当依法免费办理养犬登记。\n养犬登记应当在犬只满三个月后三十日内办理。\n"
      "第二章 养犬管理\n第三条 市和区人民政府应当建设犬只收容场所。\n第四条 养犬人应当遵守下列规定：\n"
      "（一）为犬只注射狂犬病疫苗；\n（二）携犬出户时为犬只束犬链。\n第五条 本条例自2025年1月1日起施行。")
CAMPAIGN = "养犬登记应当免费办理，并且可以在网上完成全部手续，不要让居民来回跑。"


class World:
    def __init__(self, city: City, drafter: Actor, draft: Draft, round_: CommentRound,
                 articles: list[Provision]) -> None:
        self.city, self.drafter, self.draft, self.round, self.articles = city, drafter, draft, round_, articles


async def articles_of(db: Any, version_id: int) -> list[Provision]:
    return list(await db.scalars(select(Provision).where(Provision.version_id == version_id,
                                                         Provision.kind == Kind.ARTICLE)
                                 .order_by(Provision.position)))


async def make_world(db: Any, audience: str = "everyone", title: str = "某市文明养犬条例（草案）") -> World:
    city = await make_city(db)
    drafter = Actor(user_id=None, grants=(Grant(Role.drafter, city.city.path),))
    draft = await drafts.create_draft(db, drafter, city.city, title, V1)
    await db.refresh(draft, ["area"])
    version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    opened = await rounds.open_round(db, drafter, draft, version, opens_at=utcnow() - timedelta(hours=1),
                                     closes_at=utcnow() + timedelta(days=20), audience=audience, area_ids=(),
                                     instructions="请逐条提出意见。")
    return World(city, drafter, draft, await get_round(db, opened.id), await articles_of(db, version.id))


async def person(db: Any, w: World, name: str) -> tuple[User, Actor]:
    user = await make_user(db, name=name, area=w.city.community_a)
    return user, Actor(user_id=user.id, home_area_path=w.city.community_a.path,
                       grants=(Grant(Role.resident, w.city.community_a.path),))


async def count(db: Any) -> int:
    return int(await db.scalar(select(func.count()).select_from(DraftComment)) or 0)


async def test_drafts_list_draft_and_version_provisions(client: WebClient, db: Any) -> None:
    w = await make_world(db)
    await drafts.add_version(db, w.drafter, w.draft, V2, "第二稿.docx")
    await db.commit()

    listing = await client.get("/api/v1/drafts")
    assert listing.status_code == 200
    body = listing.json()
    assert_matches("DraftSummaryPage", body)
    item = next(i for i in body["items"] if i["id"] == w.draft.id)
    assert item["title"] == "某市文明养犬条例（草案）" and item["version_count"] == 2 and item["latest_version"] == 2
    assert item["area"] == {"id": w.city.city.id, "name": w.city.city.name}
    assert [r["id"] for r in item["open_rounds"]] == [w.round.id] and item["open_rounds"][0]["status"] == "open"
    assert (await client.get("/api/v1/drafts", params={"per_page": 0})).status_code == 422

    detail = (await client.get(f"/api/v1/drafts/{w.draft.id}")).json()
    assert_matches("DraftDetail", detail)
    assert [v["number"] for v in detail["versions"]] == [1, 2]
    assert detail["versions"][1]["source_name"] == "第二稿.docx" and detail["versions"][1]["counts"]["articles"] == 5
    [summary] = detail["rounds"]
    assert summary["version"] == 1 and summary["audience"] == "everyone" and summary["audience_label"]
    english = (await client.get(f"/api/v1/drafts/{w.draft.id}", headers={"accept-language": "en"})).json()
    assert english["rounds"][0]["audience_label"] == "Everyone with an account"
    assert english["rounds"][0]["status_label"] == "Open for comments"

    tree = (await client.get(f"/api/v1/drafts/{w.draft.id}/versions/1")).json()
    assert_matches("DraftVersionDetail", tree)
    assert tree["shape"] == "tree" and tree["round"]["id"] == w.round.id and tree["counts"]["chapters"] == 2
    chapter1, chapter2 = tree["provisions"]
    assert (chapter1["kind"], chapter1["label"], chapter1["title"]) == ("chapter", "第一章", "总则")
    second = chapter1["children"][1]
    assert second["label"] == "第二条" and second["url"] == f"/drafts/{w.draft.id}?v=1#a2"
    assert [p["cite"] for p in second["children"]] == ["第二条第一款", "第二条第二款"]
    items = chapter2["children"][0]["children"][0]["children"]
    assert [(i["kind"], i["cite"]) for i in items] == [("item", "第三条第（一）项"), ("item", "第三条第（二）项")]

    flat = (await client.get(f"/api/v1/drafts/{w.draft.id}/versions/1", params={"shape": "flat"})).json()
    assert_matches("DraftVersionDetail", flat)
    assert all("children" not in p for p in flat["provisions"])
    by_key = {p["key"]: p for p in flat["provisions"]}
    assert by_key["c1/a2/p2"]["parent_key"] == "c1/a2" and by_key["c1"]["parent_key"] is None
    assert len(flat["provisions"]) == 2 + 4 + 5 + 2  # chapters, articles, paragraphs, items
    assert (await client.get(f"/api/v1/drafts/{w.draft.id}/versions/2")).json()["round"] is None
    bad = await client.get(f"/api/v1/drafts/{w.draft.id}/versions/1", params={"shape": "list"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"]["shape"]


async def test_compare_versions(client: WebClient, db: Any) -> None:
    w = await make_world(db)
    await drafts.add_version(db, w.drafter, w.draft, V2)
    await db.commit()
    url = f"/api/v1/drafts/{w.draft.id}/compare"
    body = (await client.get(url, params={"from": 1, "to": 2})).json()
    assert_matches("DraftComparison", body)
    assert (body["from"], body["to"]) == (1, 2)
    kinds = {(c["old_label"], c["new_label"]): c["change"] for c in body["changes"]}
    assert kinds[("第二条", "第二条")] == "changed"
    assert kinds[(None, "第三条")] == "added"
    assert kinds[("第三条", "第四条")] == "renumbered" and kinds[("第一条", "第一条")] == "unchanged"
    changed = next(c for c in body["changes"] if c["change"] == "changed")
    assert 0 < changed["similarity"] < 1 and changed["change_label"] == "修改"
    assert {"op": "insert", "text": "免费"} in changed["segments"]
    assert "".join(s["text"] for s in changed["segments"] if s["op"] != "delete") == changed["new"]["body"]
    assert body["counts"]["added"] == 1 and body["counts"]["renumbered"] == 2
    assert (await client.get(url)).json()["from"] == 1  # defaults: the latest against the one before
    assert (await client.get(url, params={"to": 9})).status_code == 404
    refused = await client.get(url, params={"from": "一"})
    assert refused.status_code == 422 and "from" in refused.json()["error"]["fields"]


async def test_round_comments_are_anonymous_without_held_or_grouped_copies(
        client: WebClient, make_client: Any, db: Any) -> None:
    w = await make_world(db)
    first, second, _, _ = w.articles
    people = [await person(db, w, name) for name in ("王小明", "李秀英", "张伟强", "赵丽华")]
    lead = await rounds.post_comment(db, people[0][1], w.round, provision_id=second.id, body=CAMPAIGN,
                                     proposed_wording="养犬人应当依法免费办理养犬登记。")
    await rounds.post_comment(db, people[1][1], w.round, provision_id=second.id, body=CAMPAIGN)
    paragraph = await db.scalar(select(Provision).where(Provision.parent_id == second.id, Provision.number == 2))
    on_paragraph = await rounds.post_comment(db, people[2][1], w.round, provision_id=paragraph.id,
                                             body="三十日太短，建议改为六十日。")
    whole = await rounds.post_comment(db, people[2][1], w.round, provision_id=None, body="整体赞成。")
    db.add(SensitiveWord(word="违禁词"))
    await db.flush()
    held = await rounds.post_comment(db, people[3][1], w.round, provision_id=second.id, body="这里有违禁词。")
    assert held.held
    await rounds.set_support(db, people[3][1], w.round, lead, True)
    await rounds.set_themes(db, w.drafter, w.draft, w.round, lead, ["登记"])
    later = await drafts.add_version(db, w.drafter, w.draft, V2)
    new_second = await db.scalar(select(Provision).where(Provision.version_id == later.id,
                                                         Provision.key == "c1/a2"))
    await rounds.answer(db, w.drafter, w.draft, w.round, lead, outcome="adopted", reason="改为免费办理。",
                        changed_provision_id=new_second.id)
    await db.commit()

    url = f"/api/v1/rounds/{w.round.id}/comments"
    response = await client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert_matches("DraftCommentPage", body)
    assert_no_personal_data(response, *(user for user, _ in people))
    assert "违禁词" not in response.text and "王小明" not in response.text
    assert body["total"] == 3 and body["items"][0]["id"] == lead.id
    top = body["items"][0]
    assert top["group_size"] == 2 and top["support_count"] == 1 and top["supported"] is False
    assert top["outcome"] == "adopted" and top["outcome_label"] and top["reason"] == "改为免费办理。"
    assert top["proposed_wording"] == "养犬人应当依法免费办理养犬登记。" and top["themes"] == ["登记"]
    assert top["changed_provision"] == {"id": new_second.id, "version": 2, "label": "第二条",
                                        "url": f"/drafts/{w.draft.id}?v=2#a2"}
    assert top["url"] == f"/rounds/{w.round.id}/articles/{second.id}#comment-{lead.id}"
    assert top["target"] == {"whole_draft": False, "provision_id": second.id, "article_id": second.id,
                             "chapter_id": second.parent_id, "cite": "第二条"}
    by_id = {i["id"]: i for i in body["items"]}
    assert by_id[on_paragraph.id]["target"]["cite"] == "第二条第二款"
    assert by_id[on_paragraph.id]["outcome"] is None and by_id[on_paragraph.id]["reason"] is None
    english = (await client.get(url, headers={"accept-language": "en"})).json()["items"]
    assert [i["outcome_label"] for i in english] == ["Adopted", "Not answered yet", "Not answered yet"]
    assert by_id[whole.id]["target"]["whole_draft"] is True and by_id[whole.id]["url"].endswith(f"#comment-{whole.id}")

    on_second = (await client.get(url, params={"article": second.id})).json()
    assert {i["id"] for i in on_second["items"]} == {lead.id, on_paragraph.id}
    assert [i["id"] for i in (await client.get(url, params={"article": 0})).json()["items"]] == [whole.id]
    assert (await client.get(url, params={"article": first.id})).json()["total"] == 0
    for wrong in (paragraph.id, new_second.id, "x"):
        assert (await client.get(url, params={"article": wrong})).status_code == 422
    paged = (await client.get(url, params={"per_page": 2, "page": 2})).json()
    assert paged["total"] == 3 and len(paged["items"]) == 1
    assert (await client.get(url, params={"page": 5})).json()["items"] == []

    supporter = await log_in(make_client(), people[3][0])
    assert (await supporter.get(url)).json()["items"][0]["supported"] is True

    detail = (await client.get(f"/api/v1/rounds/{w.round.id}")).json()
    assert_matches("RoundDetail", detail)
    assert detail["status"] == "open" and detail["instructions"] == "请逐条提出意见。" and detail["version"] == 1
    assert detail["counts"]["comments"] == 4 and detail["counts"]["whole_draft"] == 1  # the held one is not counted
    assert detail["counts"]["articles"] == [{"provision_id": second.id, "label": "第二条", "count": 3,
                                             "url": f"/rounds/{w.round.id}/articles/{second.id}"}]
    assert detail["viewer"]["signed_in"] is False and detail["viewer"]["can_comment"] is False
    assert detail["viewer"]["problem"]
    assert (await supporter.get(f"/api/v1/rounds/{w.round.id}")).json()["viewer"]["can_comment"] is True

    report = await client.get(f"/api/v1/rounds/{w.round.id}/report")
    assert report.status_code == 200
    figures = report.json()
    assert_matches("RoundReport", figures)
    assert_no_personal_data(report, *(user for user, _ in people))
    assert figures["totals"]["comments"] == 4 and figures["totals"]["groups"] == 3
    assert figures["totals"]["supports"] == 1 and figures["whole_draft"] == 1
    assert [c["count"] for c in figures["chapters"]] == [3, 0]
    assert figures["chapters"][0]["chapter"]["title"] == "总则"
    assert figures["chapters"][0]["articles"][1] == {"provision_id": second.id, "label": "第二条", "count": 3,
                                                     "level": 5}
    assert figures["themes"] == [{"name": "登记", "count": 2}]
    outcomes = {o["outcome"]: o["count"] for o in figures["outcomes"]}
    assert outcomes["adopted"] == 2 and outcomes[None] == 2
    assert figures["next_version"]["number"] == 2
    changed = next(c for c in figures["changed"] if c["old_label"] == "第二条")
    assert changed["change"] == "changed" and changed["adopted_count"] == 2
    assert [c["id"] for c in changed["comments"]] == [lead.id]


async def test_posting_a_comment_through_the_api(client: WebClient, db: Any) -> None:
    w = await make_world(db)
    user, _ = await person(db, w, "王小明")
    await db.commit()
    url = f"/api/v1/rounds/{w.round.id}/comments"
    assert (await send(client, "POST", url, {"body": "意见"})).status_code == 401
    await log_in(client, user)
    second = w.articles[1]
    first = await send(client, "POST", url, {"provision_id": second.id, "body": "建议写明登记费用。",
                                             "proposed_wording": "养犬登记免费。", "client_token": "tok-1"})
    assert first.status_code == 201, first.text
    created = first.json()
    assert_matches("DraftComment", created)
    assert created["target"]["cite"] == "第二条" and created["proposed_wording"] == "养犬登记免费。"
    assert created["pending"] is False and created["group_size"] == 1
    assert_no_personal_data(first, user)
    again = await send(client, "POST", url, {"provision_id": second.id, "body": "建议写明登记费用。",
                                             "client_token": "tok-1"})
    assert again.status_code == 200 and again.json()["id"] == created["id"]
    whole = await send(client, "POST", url, {"body": "整体赞成。"}, **{"Idempotency-Key": "k-1"})
    assert whole.status_code == 201 and whole.json()["target"]["whole_draft"] is True
    assert await count(db) == 2

    other = await make_world(db, title="另一部草案")
    await db.commit()
    foreign = await send(client, "POST", url, {"provision_id": other.articles[0].id, "body": "错的条文"})
    assert foreign.status_code == 422 and "provision_id" in foreign.json()["error"]["fields"]
    chapter = await db.scalar(select(Provision).where(Provision.version_id == w.round.version_id,
                                                      Provision.kind == Kind.CHAPTER))
    assert (await send(client, "POST", url, {"provision_id": chapter.id, "body": "章"})).status_code == 422
    empty = await send(client, "POST", url, {"body": "  ", "proposed_wording": "x" * 3001})
    assert empty.status_code == 422 and {"body", "proposed_wording"} <= set(empty.json()["error"]["fields"])
    wrong_type = await send(client, "POST", url, {"provision_id": "二", "body": "意见"})
    assert wrong_type.status_code == 422 and wrong_type.json()["error"]["fields"]["provision_id"]
    not_json = await client.post(url, content=b"body=x", headers={"x-csrf-token": await client.csrf(),
                                                                  "content-type": "application/x-www-form-urlencoded"})
    assert not_json.status_code == 422
    no_csrf = await client.post(url, json={"body": "没有令牌"})
    assert no_csrf.status_code == 403 and no_csrf.json()["error"]["code"] == "csrf_failed"
    assert await count(db) == 2

    await db.execute(update(CommentRound).where(CommentRound.id == w.round.id)
                     .values(opens_at=utcnow() - timedelta(days=5), closes_at=utcnow() - timedelta(days=1)))
    await db.commit()
    closed = await send(client, "POST", url, {"provision_id": second.id, "body": "太晚了"})
    assert closed.status_code == 409 and closed.json()["error"]["code"] == "invalid_state"
    assert closed.json()["error"]["message"]
    assert await count(db) == 2
    status = (await client.get(f"/api/v1/rounds/{w.round.id}")).json()
    assert status["status"] == "closed" and status["viewer"]["can_comment"] is False


async def test_outside_the_audience_is_forbidden(client: WebClient, db: Any) -> None:
    w = await make_world(db, audience="representatives")
    user, _ = await person(db, w, "王小明")
    representative = await make_user(db, name="人大代表", role=Role.representative, area=w.city.district)
    await db.commit()
    url = f"/api/v1/rounds/{w.round.id}/comments"
    await log_in(client, user)
    refused = await send(client, "POST", url, {"body": "居民意见"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert refused.json()["error"]["message"]
    assert await count(db) == 0
    await client.post("/logout", data={"csrf_token": await client.csrf()})
    await log_in(client, representative)
    accepted = await send(client, "POST", url, {"body": "代表意见"})
    assert accepted.status_code == 201 and accepted.json()["by_representative"] is True


async def test_absent_ids_answer_404(client: WebClient, db: Any) -> None:
    w = await make_world(db)
    user, _ = await person(db, w, "王小明")
    await db.commit()
    for url in ("/api/v1/drafts/987654", "/api/v1/drafts/987654/versions/1", f"/api/v1/drafts/{w.draft.id}/versions/7",
                "/api/v1/drafts/987654/compare", f"/api/v1/drafts/{w.draft.id}/compare?from=1&to=3",
                "/api/v1/rounds/987654", "/api/v1/rounds/987654/comments", "/api/v1/rounds/987654/report"):
        response = await client.get(url)
        assert response.status_code == 404, url
        assert response.json()["error"]["code"] == "not_found"
    await log_in(client, user)
    assert (await send(client, "POST", "/api/v1/rounds/987654/comments", {"body": "x"})).status_code == 404
    assert await count(db) == 0


async def test_the_openapi_document_lists_the_draft_endpoints(client: WebClient) -> None:
    document = (await client.get("/api/v1/openapi.json")).json()
    paths = document["paths"]
    for path, method in [("/api/v1/drafts", "get"), ("/api/v1/drafts/{draft_id}", "get"),
                         ("/api/v1/drafts/{draft_id}/versions/{number}", "get"),
                         ("/api/v1/drafts/{draft_id}/compare", "get"), ("/api/v1/rounds/{round_id}", "get"),
                         ("/api/v1/rounds/{round_id}/comments", "get"), ("/api/v1/rounds/{round_id}/comments", "post"),
                         ("/api/v1/rounds/{round_id}/report", "get")]:
        assert method in paths.get(path, {}), (path, method)
    post = paths["/api/v1/rounds/{round_id}/comments"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NewDraftComment"}
    assert {"200", "201", "401", "403", "404", "409", "422"} <= set(post["responses"])
    assert post["security"] == [{"session": [], "csrf": []}]
    listing = paths["/api/v1/rounds/{round_id}/comments"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"round_id", "article", "page", "per_page"}
    schemas = document["components"]["schemas"]
    assert not {"author", "author_id", "user_id"} & set(schemas["DraftComment"]["properties"])
