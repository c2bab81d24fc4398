"""Draft articles and comments on drafts in search, answered by the database fallback and by the real
Meilisearch alike: indexing through the outbox, links, the draft / chapter / round / adoption facets,
held and grouped comments left out, an answer that moves a comment to another adoption value, and a new
version that replaces the previous version's articles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from starlette.applications import Starlette

from consultation.accounts.models import Role
from consultation.comments.models import SensitiveWord
from consultation.db import utcnow
from consultation.drafts import services as drafts
from consultation.drafts.model import Kind
from consultation.drafts.models import Draft, DraftVersion, Provision
from consultation.policy import Actor, Grant
from consultation.rounds import services as rounds
from consultation.rounds.models import CommentRound, DraftComment
from consultation.rounds.queries import get_round
from consultation.search_index import SearchDocument
from tests.api.test_drafts_api import CAMPAIGN, V1, V2
from tests.conftest import WebClient
from tests.factories import City, make_city, make_user
from tests.search.conftest import drain, indexer_of, visible

OTHER = ("某市电动自行车管理条例\n第一条 为了加强电动自行车管理，制定本条例。\n"
         "第二条 电动自行车应当依法办理登记，登记免费。\n第三条 本条例自2025年1月1日起施行。")


class World:
    def __init__(self, city: City, drafter: Actor, draft: Draft, other: Draft, round_: CommentRound,
                 articles: list[Provision], comments: dict[str, DraftComment]) -> None:
        self.city, self.drafter, self.draft, self.other, self.round = city, drafter, draft, other, round_
        self.articles, self.comments = articles, comments
        self.other_articles: list[Provision] = []


async def _articles(db: Any, draft: Draft) -> list[Provision]:
    return list(await db.scalars(
        select(Provision).join(DraftVersion, DraftVersion.id == Provision.version_id)
        .where(DraftVersion.draft_id == draft.id, Provision.kind == Kind.ARTICLE)
        .order_by(DraftVersion.number, Provision.position)))


async def _world(db: Any) -> World:
    city = await make_city(db)
    drafter = Actor(user_id=None, grants=(Grant(Role.drafter, city.city.path),))
    draft = await drafts.create_draft(db, drafter, city.city, "某市文明养犬条例（草案）", V1)
    other = await drafts.create_draft(db, drafter, city.district, "某市电动自行车管理条例（草案）", OTHER)
    await db.refresh(draft, ["area"])
    version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    opened = await rounds.open_round(db, drafter, draft, version, opens_at=utcnow() - timedelta(hours=1),
                                     closes_at=utcnow() + timedelta(days=20), audience="everyone", area_ids=(),
                                     instructions="")
    round_ = await get_round(db, opened.id)
    articles = await _articles(db, draft)
    people = []
    for name in ("王小明", "李秀英", "张伟强", "赵丽华"):
        user = await make_user(db, name=name, area=city.community_a)
        people.append(Actor(user_id=user.id, grants=(Grant(Role.resident, city.community_a.path),)))
    second, third = articles[1], articles[2]
    comments = {
        "lead": await rounds.post_comment(db, people[0], round_, provision_id=second.id, body=CAMPAIGN,
                                          proposed_wording="养犬人应当依法免费办理养犬登记。"),
        "copy": await rounds.post_comment(db, people[1], round_, provision_id=second.id, body=CAMPAIGN),
        "vaccine": await rounds.post_comment(db, people[2], round_, provision_id=third.id,
                                             body="疫苗接种点太少，建议增加社区接种点，方便登记后及时接种。"),
        "whole": await rounds.post_comment(db, people[2], round_, provision_id=None, body="整体赞成，登记流程要简化。"),
    }
    db.add(SensitiveWord(word="违禁词"))
    await db.flush()
    comments["held"] = await rounds.post_comment(db, people[3], round_, provision_id=second.id,
                                                 body="登记收费是违禁词的温床。")
    assert comments["held"].held and comments["copy"].lead_id == comments["lead"].id
    world = World(city, drafter, draft, other, round_, articles, comments)
    world.other_articles = await _articles(db, other)
    return world


def _facets(body: dict[str, Any], name: str) -> dict[str, int]:
    return {f["value"]: f["count"] for f in body["facets"].get(name, [])}


async def _english(client: Any, params: dict[str, str]) -> Any:
    """The JSON search in English (the language cookie, as the language switch sets it)."""
    client.cookies.set("lang", "en")
    try:
        return (await client.get("/api/v1/search", params=params)).json()
    finally:
        client.cookies.delete("lang")


async def _search(client: WebClient, **params: Any) -> dict[str, Any]:
    response = await client.get("/api/v1/search", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _check(client: WebClient, w: World) -> None:
    second, third = w.articles[1], w.articles[2]
    c = w.comments

    # articles: the latest version's, linked to the round's article page while a round is on that version
    found = await _search(client, q="登记", type="provision")
    urls = {hit["id"]: hit["url"] for hit in found["hits"]}
    assert urls[second.id] == f"/rounds/{w.round.id}/articles/{second.id}"
    other_second = w.other_articles[1].id
    assert urls[other_second] == f"/drafts/{w.other.id}#a2"
    hit = next(h for h in found["hits"] if h["id"] == second.id)
    assert "某市文明养犬条例(草案) 第二条" in hit["title_html"].replace("<mark>", "").replace("</mark>", "")
    assert _facets(found, "type") == {"provision": 2}  # 第二条 of each draft
    assert _facets(found, "draft") == {str(w.draft.id): 1, str(w.other.id): 1}
    assert _facets(found, "round") == {str(w.round.id): 1}
    english = await _english(client, {"q": "登记", "type": "provision"})
    assert next(h for h in english["hits"] if h["id"] == second.id)["badges"] == ["Open for comments"]
    assert next(h for h in english["hits"] if h["id"] == other_second)["badges"] == []

    # comments: leads that are not held; anonymised; facets by draft, chapter, round and adoption
    comments = await _search(client, q="登记", type="draft_comment")
    ids = {hit["id"] for hit in comments["hits"]}
    assert ids == {c["lead"].id, c["vaccine"].id, c["whole"].id}  # not the held one, not the grouped copy
    assert "违禁词" not in str(comments) and "王小明" not in str(comments)
    urls = {hit["id"]: hit["url"] for hit in comments["hits"]}
    assert urls[c["lead"].id] == f"/rounds/{w.round.id}/articles/{second.id}#comment-{c['lead'].id}"
    assert urls[c["whole"].id] == f"/rounds/{w.round.id}#comment-{c['whole'].id}"
    assert _facets(comments, "adoption") == {"pending": 3}
    assert _facets(comments, "round") == {str(w.round.id): 3}
    assert _facets(comments, "draft") == {str(w.draft.id): 3}
    chapters = _facets(comments, "chapter")
    assert chapters == {str(second.parent_id): 1, str(third.parent_id): 1}
    labels = {f["value"]: f["label"] for f in comments["facets"]["chapter"]}
    assert labels == {str(second.parent_id): "第一章 总则", str(third.parent_id): "第二章 养犬管理"}
    assert [f["label"] for f in comments["facets"]["draft"]] == ["某市文明养犬条例（草案）"]
    proposed = await _search(client, q="免费办理养犬登记", type="draft_comment")
    assert proposed["hits"][0]["id"] == c["lead"].id  # the proposed wording is searchable

    # filters, alone and together; on both types at once
    only = await _search(client, q="登记", chapter=str(third.parent_id))
    assert {(h["type"], h["id"]) for h in only["hits"]} == {("draft_comment", c["vaccine"].id)}
    in_draft = await _search(client, q="登记", draft=str(w.draft.id))
    assert _facets(in_draft, "type") == {"provision": 1, "draft_comment": 3}
    in_round = await _search(client, round=str(w.round.id))  # a facet alone is a search
    assert _facets(in_round, "type")["draft_comment"] == 3 and _facets(in_round, "type")["provision"] == 4
    assert (await _search(client, q="登记", adoption="adopted"))["total"] == 0
    ignored = await _search(client, q="登记", adoption="maybe", draft="x")
    assert ignored["total"] == (await _search(client, q="登记"))["total"]

    # the page shows the facets with names and keeps the query in their links
    page = await client.get("/search", params={"q": "登记", "type": "draft_comment", "draft": str(w.draft.id)})
    text = visible(page.text)
    assert "某市文明养犬条例（草案） (3)" in text and "第一章 总则 (1)" in text
    assert f'href="/search?q=%E7%99%BB%E8%AE%B0&amp;type=draft_comment&amp;draft={w.draft.id}&amp;adoption=pending"' \
        in page.text
    assert f'href="/rounds/{w.round.id}/articles/{second.id}#comment-{c["lead"].id}"' in page.text


async def _answer_and_new_version(app: Starlette, client: WebClient, db: Any, w: World) -> None:
    lead = w.comments["lead"]
    await rounds.answer(db, w.drafter, w.draft, w.round, lead, outcome="adopted", reason="改为免费。")
    await drain(app, db)
    comments = await _search(client, q="登记", type="draft_comment")
    assert _facets(comments, "adoption") == {"pending": 2, "adopted": 1}
    adopted = await _search(client, q="登记", adoption="adopted")
    assert [(h["type"], h["id"]) for h in adopted["hits"]] == [("draft_comment", lead.id)]
    english = await _english(client, {"q": "登记", "adoption": "adopted"})
    assert english["hits"][0]["badges"] == ["Adopted"]

    draft = await db.scalar(select(Draft).where(Draft.id == w.draft.id))
    await drafts.add_version(db, w.drafter, draft, V2)
    await drain(app, db)
    new_articles = [p for p in await _articles(db, draft) if p.id not in {a.id for a in w.articles}]
    provisions = await _search(client, draft=str(w.draft.id), type="provision")
    assert {h["id"] for h in provisions["hits"]} == {p.id for p in new_articles}  # the old version's are gone
    assert all(h["url"].startswith(f"/drafts/{w.draft.id}#a") for h in provisions["hits"])  # no round on v2
    assert _facets(provisions, "round") == {}
    rows = await db.scalars(select(SearchDocument.object_id).where(SearchDocument.doc_type == "provision",
                                                                   SearchDocument.object_id.in_(
                                                                       [a.id for a in w.articles])))
    assert list(rows) == []


async def test_draft_search_from_the_fallback(app: Starlette, client: WebClient, db: Any) -> None:
    w = await _world(db)
    await drain(app, db)
    held = await db.scalar(select(SearchDocument).where(SearchDocument.doc_type == "draft_comment",
                                                        SearchDocument.object_id == w.comments["held"].id))
    assert held is None
    await _check(client, w)
    await _answer_and_new_version(app, client, db, w)
    # a full rebuild lists the same documents: the latest version's articles, the shown group leads
    await db.commit()
    await indexer_of(app).rebuild_fallback()
    rows = (await db.execute(select(SearchDocument.doc_type, SearchDocument.object_id)
                             .where(SearchDocument.doc_type.in_(["provision", "draft_comment"]))
                             .execution_options(populate_existing=True))).all()
    latest = {p.id for p in await _articles(db, w.draft)} - {a.id for a in w.articles}
    assert {i for t, i in rows if t == "provision"} == latest | {p.id for p in w.other_articles}
    c = w.comments
    assert {i for t, i in rows if t == "draft_comment"} == {c["lead"].id, c["vaccine"].id, c["whole"].id}


@pytest.mark.meili
async def test_draft_search_from_meilisearch(meili_app: Starlette, meili_client: WebClient, db: Any) -> None:
    w = await _world(db)
    await drain(meili_app, db)
    assert (await _search(meili_client, q="登记"))["from_fallback"] is False
    await _check(meili_client, w)
    await _answer_and_new_version(meili_app, meili_client, db, w)


async def test_a_round_opened_later_links_the_articles_to_it(app: Starlette, client: WebClient, db: Any) -> None:
    city = await make_city(db)
    drafter_user = await make_user(db, name="立法", role=Role.drafter, area=city.city)
    drafter = Actor(user_id=drafter_user.id, grants=(Grant(Role.drafter, city.city.path),))
    draft = await drafts.create_draft(db, drafter, city.city, "某市物业管理条例（草案）", OTHER)
    await drain(app, db)
    before = await _search(client, draft=str(draft.id))
    assert {h["url"] for h in before["hits"]} == {f"/drafts/{draft.id}#a{n}" for n in (1, 2, 3)}
    await db.refresh(draft, ["area"])
    version = await db.scalar(select(DraftVersion).where(DraftVersion.draft_id == draft.id))
    opened = await rounds.open_round(db, drafter, draft, version, opens_at=utcnow() + timedelta(days=1),
                                     closes_at=utcnow() + timedelta(days=20), audience="everyone", area_ids=(),
                                     instructions="")
    await drain(app, db)
    after = await _english(client, {"draft": str(draft.id)})
    assert all(h["url"].startswith(f"/rounds/{opened.id}/articles/") for h in after["hits"])
    assert {b for h in after["hits"] for b in h["badges"]} == {"Comment round not open yet"}
    assert _facets(after, "round") == {str(opened.id): 3}
    [label] = after["facets"]["round"]
    assert label["label"] == "某市物业管理条例（草案）"
