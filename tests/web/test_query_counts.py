"""SQL statements per main page (issue 6, item 4): each page runs a fixed number of statements however
much data it shows, so an N+1 cannot come back unnoticed.

Each test renders the page, adds more of what the page lists, renders it again, and asserts that the
count did not grow and stays within the page's budget. A budget is what the page needs today plus a
small margin: a feature that adds a section may raise it, knowingly, in this file.

The area page and the anonymous topic page keep their data in a short-lived cache (``web.page_cache``):
their budgets are for a cold page (the cache emptied first), and a warm anonymous visit must run no
statement at all.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.applications import Starlette

from consultation import table_cache
from consultation.accounts.models import Role
from consultation.areas import services as areas
from consultation.areas.models import AreaLevel, Unit
from consultation.comments import services as comment_services
from consultation.deliberation import resolutions, services
from consultation.deliberation.models import DEFAULT_COSIGN_THRESHOLD, CommunitySettings, Topic, TopicState
from consultation.deliberation.resolution_models import Method
from consultation.drafts import services as draft_services
from consultation.policy import Actor, Grant
from tests.conftest import WebClient
from tests.deliberation.helpers import World, actor_of, in_triage, make_world, raise_topic
from tests.drafts.helpers import text
from tests.factories import PASSWORD, identifier, make_user
from tests.meetings.helpers import agenda_topic, schedule
from tests.resolutions.helpers import deciding, in_days, today, units
from web import page_cache
from web.page_cache import cache_of

# Statements per page: measured when this test was written (in brackets) plus a margin of two. The
# signed-in pages include the one statement of loading who is asking (session with its user, grants with
# the home area's path, and the unread notifications, all in one).
BUDGET = {
    "home": 3,  # (1) districts
    "home_signed_in": 5,  # (3) + the person's home area
    "area_home": 8,  # (6) cold: the whole area tree with the household counts (two), topics, sessions,
    #                     resolutions, polls; 4 while the process keeps the tree, 0 when the page is kept
    "compound_page": 8,  # (6) the topic list of one compound, cold, as the community's; 4 with the tree kept
    "topic_page": 10,  # (8) anonymous: topic with its threshold, photos, resolution, sessions, polls, comment
    #                     counts, the comment page (replies, authors, reactions), timeline
    "topic_page_signed_in": 11,  # (9) + who is asking; co-sign, follow and own reactions ride along
    "topic_page_staff": 11,  # (9)
    "topic_page_decided": 11,  # (9) anonymous, decided: + the agreed actions with their units
    "topic_list_api": 4,  # (2) /api/v1/topics?area=: the area, the page with its total
    "search_page": 13,  # (11) database fallback search: hits, total and one count per facet
    "my_topics": 6,  # (4)
    "worker_console": 9,  # (7)
    "triage_queue": 8,  # (6) as an administrator, who covers every community
    "draft_page": 7,  # (5) anonymous, with the comment rounds' part
}
_NOT_COUNTED = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def statements(connection: AsyncConnection) -> Iterator[list[str]]:
    """Every SQL statement the app sends on the test's connection (savepoints of the harness excluded)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if not statement.lstrip().upper().startswith(_NOT_COUNTED):
            seen.append(statement)

    event.listen(connection.sync_connection, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(connection.sync_connection, "before_cursor_execute", record)


_last: dict[str, list[str]] = {}  # the statements of the latest count per path, shown when a check fails


async def count(app: Starlette, connection: AsyncConnection, client: WebClient, path: str, *,
                cold: bool = True) -> int:
    """Statements of one visit to ``path`` after a first one (cookies set); ``cold`` empties the page
    caches and the tables' caches first, so the count is that of loading the page, not of reading a cache."""
    await client.get(path)
    if cold:
        page_cache.clear_all(app)
        table_cache.clear_all()
    with statements(connection) as seen:
        response = await client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    _last[path] = seen
    return len(seen)


def check(page: str, path: str, before: int, after: int) -> None:
    print(f"{page}: {after} statements ({path})")  # shown with pytest -s
    listing = "\n".join(" ".join(statement.split())[:160] for statement in _last.get(path, []))
    assert after == before, f"{page}: {before} statements with less data, {after} with more (an N+1?):\n{listing}"
    assert after <= BUDGET[page], f"{page}: {after} statements, budget {BUDGET[page]}:\n{listing}"


async def more_topics(db: AsyncSession, world: World, n: int, *, tag: str) -> list[Topic]:
    """``n`` topics in community A in different groups, co-signed and followed by several people."""
    worker = actor_of(world.worker_a, world)
    topics = []
    for i in range(n):
        author = world.neighbours[i % len(world.neighbours)]
        topic = await raise_topic(db, world, title=f"{tag}楼道灯{i}", author=author)
        for neighbour in world.neighbours:
            if neighbour is not author:
                await services.cosign(db, actor_of(neighbour, world), topic)
        await services.follow(db, actor_of(world.author, world), topic)
        if i % 3 == 1 and topic.state is TopicState.triage:
            await services.accept(db, worker, topic, "纳入议事")
        elif i % 3 == 2 and topic.state is TopicState.triage:
            await services.decline(db, worker, topic, "不属于本社区事务")
        topics.append(topic)
    await db.flush()
    return topics


async def add_comments(db: AsyncSession, world: World, topic: Topic, n: int) -> None:
    """``n`` top-level comments on ``topic``, every third with a reply, and reactions on some, from the
    world's residents (and an official answer by the worker)."""
    people = [world.author, *world.neighbours]
    worker = actor_of(world.worker_a, world)
    for i in range(n):
        author = people[i % len(people)]
        comment = await comment_services.post_comment(db, actor_of(author, world), topic, stance="support",
                                                      body=f"同意，第{i}条意见，{topic.id}号议题。")
        if i % 3 == 0:
            replier = people[(i + 1) % len(people)]
            await comment_services.reply(db, actor_of(replier, world), comment, body=f"补充第{i}条。")
        if i % 4 == 0:
            for kind in ("agree", "thanks"):
                await comment_services.set_reaction(db, actor_of(world.author, world), comment, kind, True)
            await comment_services.set_reaction(db, actor_of(people[(i + 2) % len(people)], world), comment,
                                                "question", True)
        if i % 10 == 0:
            await comment_services.reply(db, worker, comment, body=f"社区已收到第{i}条意见。")
    await db.flush()


async def test_home_page(app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=1)
    before = await count(app, connection, client, "/")
    admin = actor_of(world.admin, world)
    for i in range(3):
        district = await areas.create_area(db, admin, name=f"新区{i}", code=f"QD{i}", level=AreaLevel.district,
                                           parent=world.city.city)
        await areas.create_area(db, admin, name=f"新街道{i}", code=f"QS{i}", level=AreaLevel.street, parent=district)
    check("home", "/", before, await count(app, connection, client, "/"))
    await client.login(identifier(world.author), PASSWORD)
    signed_in = await count(app, connection, client, "/")
    await areas.create_area(db, admin, name="又一区", code="QD9", level=AreaLevel.district, parent=world.city.city)
    check("home_signed_in", "/", signed_in, await count(app, connection, client, "/"))


async def decided_and_scheduled(db: AsyncSession, world: World, units: Sequence[Unit], n: int, *, tag: str) -> None:
    """``n`` topics of community A decided by consensus with two agreed actions each (every other one
    placed in compound A, so the compound lists it too), and a coming session with ``n`` agenda items."""
    worker = actor_of(world.worker_a, world)
    for i in range(n):
        topic = await deciding(db, world, title=f"{tag}议定事项{i}")
        rows = [resolutions.ActionDraft(f"{tag}行动{i}-{k}", str(unit.id), in_days(30)) for k, unit in enumerate(units)]
        await resolutions.record_resolution(db, worker, topic, method=Method.consensus, outcome="agreed",
                                            summary=f"{tag}同意。", decided_on=today().isoformat(),
                                            minutes_reference="居委会议事记录本", actions=rows)
        if i % 2 == 0:
            await db.execute(update(Topic).where(Topic.id == topic.id).values(area_id=world.city.compound_a.id))
    await schedule(db, world, [await agenda_topic(db, world, title=f"{tag}待议{i}") for i in range(n)],
                   title=f"{tag}居民议事会")
    # the helpers lowered the co-sign threshold to one: restore it for ``more_topics``' co-signs
    await db.merge(CommunitySettings(community_id=world.city.community_a.id, cosign_threshold=DEFAULT_COSIGN_THRESHOLD))
    await db.flush()


async def test_area_home_and_compound_page(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                                           client: WebClient) -> None:
    """With the sections that follow a decision filled: recent resolutions (with their topics, areas and
    actions) and coming sessions (with their communities)."""
    world = await make_world(db, neighbours=6)
    serving = (await units(db, world))[:2]
    await more_topics(db, world, 1, tag="一")
    await decided_and_scheduled(db, world, serving, 1, tag="一")
    community, compound = world.city.community_a.id, world.city.compound_a.id
    before = await count(app, connection, client, f"/areas/{community}")
    compound_before = await count(app, connection, client, f"/areas/{compound}")
    for page in (f"/areas/{community}", f"/areas/{compound}"):
        html = (await client.get(page)).text
        assert "一议定事项0" in html and "一居民议事会" in html, page
    await more_topics(db, world, 6, tag="二")
    await decided_and_scheduled(db, world, serving, 4, tag="二")
    check("area_home", f"/areas/{community}", before, await count(app, connection, client, f"/areas/{community}"))
    check("compound_page", f"/areas/{compound}", compound_before,
          await count(app, connection, client, f"/areas/{compound}"))
    # warm: an anonymous visitor's page comes from the cache, without a statement
    assert await count(app, connection, client, f"/areas/{community}", cold=False) == 0, _last
    assert await count(app, connection, client, f"/areas/{compound}", cold=False) == 0, _last
    # a page's first visit while the process keeps the area tree: its own sections only
    for page in (f"/areas/{community}", f"/areas/{compound}"):
        cache_of(app, "area_page").clear()
        with statements(connection) as seen:
            await client.get(page)
        assert len(seen) == 4 and not any("household" in statement for statement in seen), seen


async def test_area_home_above_community_level(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                                               client: WebClient) -> None:
    world = await make_world(db, neighbours=1)
    street = world.city.street.id
    before = await count(app, connection, client, f"/areas/{street}")
    admin = actor_of(world.admin, world)
    for i in range(3):
        await areas.create_area(db, admin, name=f"新社区{i}", code=f"QC{i}", level=AreaLevel.community,
                                parent=world.city.street)
    assert await count(app, connection, client, f"/areas/{street}") == before <= BUDGET["area_home"], _last


async def test_topic_page(app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient,
                          make_client: Any) -> None:
    """Anonymous, a signed-in resident and a worker (who sees the moderation tools): each count is the
    same with 5 comments as with 60 (and their replies and reactions), on the first and a later page."""
    world = await make_world(db, neighbours=6)
    topic = await raise_topic(db, world)
    await add_comments(db, world, topic, 5)
    path, later = f"/topics/{topic.id}", f"/topics/{topic.id}?comments_page=2"
    resident, worker = make_client(), make_client()
    await resident.login(identifier(world.author), PASSWORD)
    await worker.login(identifier(world.worker_a), PASSWORD)
    anonymous = await count(app, connection, client, path)
    signed_in = await count(app, connection, resident, path)
    staff = await count(app, connection, worker, path)
    for neighbour in world.neighbours[:4]:  # the fifth would send it to triage
        await services.cosign(db, actor_of(neighbour, world), topic)
    await add_comments(db, world, topic, 55)
    check("topic_page", path, anonymous, await count(app, connection, client, path))
    check("topic_page_signed_in", path, signed_in, await count(app, connection, resident, path))
    check("topic_page_staff", path, staff, await count(app, connection, worker, path))
    page = (await client.get(later)).text
    assert "comment-card" in page  # the second page of the 60 has comments too
    check("topic_page", later, anonymous, await count(app, connection, client, later))
    check("topic_page_signed_in", later, signed_in, await count(app, connection, resident, later))
    # warm: an anonymous visitor's page comes from the cache; a signed-in person's never does
    assert await count(app, connection, client, path, cold=False) == 0, _last
    assert await count(app, connection, resident, path, cold=False) == signed_in


async def test_topic_page_of_a_decided_topic(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                                             client: WebClient) -> None:
    """A decided topic's page shows its resolution with the agreed actions and their units: the same
    count with one action and few comments as with five actions and many."""
    world = await make_world(db, neighbours=6)
    serving = await units(db, world)
    pages = []
    for n, actions in ((2, 1), (30, 5)):
        topic = await deciding(db, world, title=f"议定事项{n}")
        await add_comments(db, world, topic, n)  # a decided topic is closed for comments
        rows = [resolutions.ActionDraft(f"行动{k}", str(serving[k % 2].id), in_days(30 + k)) for k in range(actions)]
        await resolutions.record_resolution(db, actor_of(world.worker_a, world), topic, method=Method.consensus,
                                            outcome="agreed", summary="同意。", decided_on=today().isoformat(),
                                            minutes_reference="居委会议事记录本", actions=rows)
        pages.append(f"/topics/{topic.id}")
    html = (await client.get(pages[1])).text
    assert "行动4" in html and serving[0].name in html
    check("topic_page_decided", pages[1], await count(app, connection, client, pages[0]),
          await count(app, connection, client, pages[1]))


async def test_topic_list_api(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                              client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await more_topics(db, world, 1, tag="甲")
    path = f"/api/v1/topics?area={world.city.community_a.id}&per_page=50"
    before = await count(app, connection, client, path)
    await more_topics(db, world, 6, tag="乙")
    check("topic_list_api", path, before, await count(app, connection, client, path))


async def test_search_page(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                           client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await more_topics(db, world, 1, tag="甲")
    await db.commit()
    await app.state.services.worker.drain()
    before = await count(app, connection, client, "/search?q=楼道灯")
    await more_topics(db, world, 6, tag="乙")
    await db.commit()
    await app.state.services.worker.drain()
    found = (await client.get("/api/v1/search?q=楼道灯")).json()
    assert found["total"] >= 7  # the later topics are found too, so the second count covers more hits
    check("search_page", "/search?q=楼道灯", before, await count(app, connection, client, "/search?q=楼道灯"))


async def test_my_topics(app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await raise_topic(db, world, title="我的第一个议题")
    await more_topics(db, world, 1, tag="丙")
    await client.login(identifier(world.author), PASSWORD)
    before = await count(app, connection, client, "/my/topics")
    for i in range(4):
        await raise_topic(db, world, title=f"我的议题{i}")
    await more_topics(db, world, 4, tag="丁")
    check("my_topics", "/my/topics", before, await count(app, connection, client, "/my/topics"))


async def test_worker_console(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                              client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await client.login(identifier(world.worker_a), PASSWORD)
    before = await count(app, connection, client, "/worker")
    for i in range(8):
        await make_user(db, name=f"待认证{i}", area=world.city.community_a)
    await more_topics(db, world, 3, tag="戊")
    check("worker_console", "/worker", before, await count(app, connection, client, "/worker"))


async def test_triage_queue(app: Starlette, db: AsyncSession, connection: AsyncConnection,
                            client: WebClient) -> None:
    world = await make_world(db, neighbours=6)
    await in_triage(db, world, title="待审议题一")
    await client.login(identifier(world.admin), PASSWORD)
    before = await count(app, connection, client, "/worker/triage")
    admin = actor_of(world.admin, world)
    for i in range(4):  # more communities, each with its own threshold row, and more topics waiting
        community = await areas.create_area(db, admin, name=f"新建{i}社区", code=f"QC{i}", level=AreaLevel.community,
                                            parent=world.city.street)
        await services.set_cosign_threshold(db, admin, community, str(3 + i))
    await in_triage(db, world, title="待审议题二")
    await in_triage(db, world, title="待审议题三", community_b=True)
    check("triage_queue", "/worker/triage", before, await count(app, connection, client, "/worker/triage"))


async def test_draft_page(app: Starlette, db: AsyncSession, connection: AsyncConnection, client: WebClient) -> None:
    """A short draft (3 articles) and a whole law (74 articles): the same statements."""
    world = await make_world(db, neighbours=1)
    drafter = await make_user(db, name="起草人", role=Role.drafter, area=world.city.city)
    actor = Actor(user_id=drafter.id, grants=(Grant(Role.drafter, world.city.city.path),))
    short = await draft_services.create_draft(db, actor, world.city.city, "某市养犬管理条例", (
        "某市养犬管理条例\n第一条 为了加强养犬管理，制定本条例。\n第二条 养犬人应当依法办理养犬登记。\n"
        "第三条 本条例自公布之日起施行。\n"))
    long = await draft_services.create_draft(db, actor, world.city.city, "",
                                             text("personal_information_protection_law"))
    await db.flush()
    before = await count(app, connection, client, f"/drafts/{short.id}")
    check("draft_page", f"/drafts/{long.id}", before, await count(app, connection, client, f"/drafts/{long.id}"))
