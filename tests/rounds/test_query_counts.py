"""SQL statements of the comment round pages and of sending a comment (issue 6: a round of 80,000
comments). Each page runs a fixed number of statements however many comments the round holds: the
counts are taken with a few comments, then again with many more (groups, paragraphs, the whole draft,
supports, answers, themes), and must not grow and must stay within the page's budget.

The pages keep their public part a few seconds (``web.routes.rounds.round_cache``): budgets are for a
cold page (the caches emptied first), and a warm visit of an anonymous reader runs no statement at all.
A budget is what the page needs today plus a small margin; the signed-in ones include the statements of
loading who is asking (one statement: session with its user, grants, unread notifications).
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.applications import Starlette

from consultation import table_cache
from consultation.accounts.models import Role
from consultation.drafts.model import Kind
from consultation.drafts.models import Provision
from consultation.errors import NotFound
from consultation.rounds import services
from consultation.rounds.models import DraftComment
from consultation.rounds.similarity import Fingerprint
from tests.conftest import WebClient
from tests.factories import PASSWORD, identifier
from tests.rounds.test_staff import CAMPAIGN, NEAR, World, commenter, post, world
from tests.web.test_query_counts import statements
from web.page_cache import clear_all
from web.routes.rounds import round_cached

BUDGET = {
    "round_page": 5,  # (5) round with draft, area and version; outline; per-article counts; the whole
    #                   draft's counts; its page of comments
    "article_page": 4,  # (4) round; the article with its headings, paragraphs, items and neighbours; its
    #                     two counts; its page of comments
    "article_page_signed_in": 8,  # (6) + who is asking (1), and which of the comments they support
    "report": 6,  # (6) round; counts per article and outcome; outline; next version; commenters; themes
    "queue": 12,  # (10) as the drafter: who is asking (1), round, filter count, totals, rows, themes,
    #               articles, rows' provisions, authors, themes of the rows
    "api_round": 3,  # (3) round, per-article counts, article labels
    "api_comments": 6,  # (6) round, the article, its counts, the page, its provisions and themes
    "post_comment": 8,  # (6; 10, and 11 with its own NOTIFY before) a copy joining a group through the JSON
    #                      API, cold: who is asking (1), the round counting the rate-limit hit (1), the provision
    #                      with its article and chapter, sensitive words, the group's lead, then one statement
    #                      that stores the comment with its audit event and search outbox message (whose
    #                      trigger notifies the workers) and raises the group's size. Warm (the same process
    #                      read the provision and the word list in the last seconds): two fewer.
    "post_comment_new": 8,  # (6; 9 before) a comment leading a new group: the same, no group to count it in
}
# SQLite has no data-modifying WITH: the rate-limit hit is a statement of its own, and the comment, its event,
# its outbox message and the group's size are four (10 and 9).
SQLITE_POST_BUDGET = {"post_comment": 12, "post_comment_new": 11}
def clear_caches(app: Starlette) -> None:
    clear_all(app)


async def count(app: Starlette, connection: AsyncConnection, client: WebClient, path: str, *,
                cold: bool = True) -> int:
    """Statements of one visit to ``path`` after a first one (cookies set); ``cold`` empties the round
    pages' caches first."""
    assert (await client.get(path)).status_code == 200, path
    if cold:
        clear_caches(app)
    with statements(connection) as seen:
        response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    print(f"{path}: {len(seen)} statements")  # shown with pytest -s
    for statement in seen:
        print("   ", " ".join(statement.split())[:150])
    return len(seen)


async def paragraphs_of(db: AsyncSession, article: Provision) -> list[Provision]:
    return list(await db.scalars(select(Provision).where(Provision.parent_id == article.id,
                                                         Provision.kind == Kind.PARAGRAPH)
                                 .order_by(Provision.position)))


async def many_more(db: AsyncSession, w: World, n: int) -> None:
    """``n`` more comments: copies, new points on articles and paragraphs and on the whole draft, some
    supported, answered and tagged."""
    paragraph = (await paragraphs_of(db, w.articles["第三条"]))[1]
    staff = w.drafter_actor
    supporter = await commenter(db, w)
    for i in range(n):
        author = await commenter(db, w, role=Role.representative if i % 9 == 0 else Role.resident)
        if i % 4 == 0:
            comment = await post(db, w, author, NEAR[i % len(NEAR)])
        elif i % 4 == 1:
            comment = await services.post_comment(db, author, w.round, provision_id=paragraph.id,
                                                  body=f"第二款应当写明设施移交的期限，第{i}号意见。",
                                                  client_token=secrets.token_hex(8))
        elif i % 4 == 2:
            comment = await post(db, w, author, f"建议第四条增加对农村老年人助餐的补贴（{i}）。", on="第四条")
        else:
            comment = await post(db, w, author, f"建议总体上加快立法进度（{i}）。", on=None)
        if comment.lead_id is None and i % 3 == 0:
            await services.set_support(db, supporter, w.round, comment, True)
        if comment.lead_id is None and i % 5 == 0:
            await services.answer(db, staff, w.draft, w.round, comment, outcome="partly", reason="部分采纳。")
            await services.set_themes(db, staff, w.draft, w.round, comment, ["设施", f"主题{i % 3}"])


async def small_world(db: AsyncSession) -> World:
    w = await world(db)
    for _ in range(3):
        await post(db, w, await commenter(db, w), CAMPAIGN)
    await post(db, w, await commenter(db, w), "第四条应当覆盖农村地区。", on="第四条")
    await post(db, w, await commenter(db, w), "整体赞成。", on=None)
    paragraph = (await paragraphs_of(db, w.articles["第三条"]))[0]
    await services.post_comment(db, await commenter(db, w), w.round, provision_id=paragraph.id,
                                body="第一款的标准应当提高。", client_token=secrets.token_hex(8))
    return w


async def test_round_pages_do_not_grow_with_the_comments(db: AsyncSession, app: Starlette,
                                                         connection: AsyncConnection, client: WebClient,
                                                         make_client: Any) -> None:
    w = await small_world(db)
    await db.commit()
    article = w.articles["第三条"]
    pages = {"round_page": w.base, "article_page": f"{w.base}/articles/{article.id}",
             "report": f"{w.base}/report", "api_round": f"/api/v1/rounds/{w.round.id}",
             "api_comments": f"/api/v1/rounds/{w.round.id}/comments?article={article.id}"}
    resident = await commenter(db, w)
    await db.commit()
    signed_in = make_client()
    resident_user = w.users[-1]
    await signed_in.login(identifier(resident_user), PASSWORD)
    staff = make_client()
    await staff.login(identifier(w.drafter), PASSWORD)
    assert resident.user_id == resident_user.id

    async def counts() -> dict[str, int]:
        found = {name: await count(app, connection, client, path) for name, path in pages.items()}
        found["article_page_signed_in"] = await count(app, connection, signed_in, pages["article_page"])
        found["queue"] = await count(app, connection, staff, f"{w.base}/queue")
        return found

    before = await counts()
    await many_more(db, w, 60)
    await db.commit()
    after = await counts()
    assert after == before, (before, after)
    for name, n in after.items():
        assert n <= BUDGET[name], f"{name}: {n} statements, budget {BUDGET[name]}"
    # Warm: an anonymous reader's article and round pages come from the cache.
    for path in (pages["article_page"], pages["round_page"], pages["report"]):
        assert await count(app, connection, client, path, cold=False) == 0, path


async def test_sending_a_comment_has_a_bounded_number_of_statements(db: AsyncSession, app: Starlette,
                                                                      connection: AsyncConnection,
                                                                      make_client: Any) -> None:
    w = await small_world(db)
    authors = [await commenter(db, w) for _ in range(4)]
    await db.commit()
    clients = []
    for user in w.users[-4:]:
        web = make_client()
        await web.login(identifier(user), PASSWORD)
        clients.append(web)
    article = w.articles["第三条"]

    last: list[str] = []

    async def send(web: WebClient, body: str, provision_id: int | None, *, warm: bool = False
                   ) -> tuple[int, dict[str, Any]]:
        csrf = await web.csrf()
        if not warm:
            table_cache.clear_all()
        with statements(connection) as seen:
            response = await web.post(f"/api/v1/rounds/{w.round.id}/comments",
                                      json={"provision_id": provision_id, "body": body,
                                            "client_token": secrets.token_hex(8)},
                                      headers={"x-csrf-token": csrf})
        assert response.status_code == 201, response.text
        last[:] = [" ".join(s.split()) for s in seen]
        return len(seen), response.json()

    copy_few, view = await send(clients[0], CAMPAIGN, article.id)
    assert view["target"]["cite"] == "第三条"
    # The group's row, which every copy of a campaign updates, is locked by the transaction's last
    # statement only (then it commits): on PostgreSQL the one that stores the comment.
    grows = "UPDATE draft_comment SET group_size"
    assert (grows in last[-1] and "INSERT INTO draft_comment" in last[-1]) if connection.dialect.name == "postgresql" \
        else last[-1].startswith(grows), last
    new_few, _ = await send(clients[1], "建议增加社区食堂的规定。", article.id)
    await many_more(db, w, 40)
    await db.commit()
    lead = await db.scalar(select(DraftComment).where(DraftComment.round_id == w.round.id,
                                                      DraftComment.norm_hash == Fingerprint(CAMPAIGN).hash,
                                                      DraftComment.lead_id.is_(None)))
    assert lead is not None
    size = lead.group_size
    copy_many, view = await send(clients[2], CAMPAIGN, article.id)
    assert view["group_size"] == 1 and not view["supported"] and view["themes"] == []
    await db.refresh(lead)
    assert lead.group_size == size + 1  # the copy joined the group, which counts it
    new_many, _ = await send(clients[3], "建议明确养老服务设施的产权归属。", article.id)
    print("post_comment:", copy_many, "post_comment_new:", new_many)  # shown with pytest -s
    assert (copy_many, new_many) == (copy_few, new_few)
    budget = SQLITE_POST_BUDGET if connection.dialect.name == "sqlite" else BUDGET
    assert copy_many <= budget["post_comment"] and new_many <= budget["post_comment_new"], (copy_many, new_many)
    warm, _ = await send(clients[0], "建议增加无障碍设施的规定。", article.id, warm=True)
    # the provision and the word list come from the process's cache
    assert warm == new_many - 2, "\n".join(s[:100] for s in last)
    assert authors  # signed in above


async def test_readers_missing_the_cache_at_once_load_it_once() -> None:
    """When a cached part expires under load, the report's aggregates run once, not once per reader."""
    app = Starlette()
    calls = 0

    async def load() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return calls

    assert await asyncio.gather(*(round_cached(app, "round_report", 1, load) for _ in range(10))) == [1] * 10
    assert calls == 1

    async def missing() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise NotFound()

    found = await asyncio.gather(*(round_cached(app, "round_report", 2, missing) for _ in range(5)),
                                 return_exceptions=True)
    assert all(isinstance(f, NotFound) for f in found) and calls == 2
    assert await round_cached(app, "round_report", 1, load) == 1  # kept
