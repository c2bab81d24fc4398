"""Public area pages: breadcrumb, sub-areas with counts, households counted but never listed."""

from __future__ import annotations

import time

from consultation import changes
from consultation.accounts.models import Role
from consultation.areas.models import AreaLevel
from consultation.areas.services import create_area, create_household
from tests.areas.helpers import breadcrumb, log_in_as, section
from tests.conftest import WebClient, text_of
from tests.factories import make_city


async def test_community_page_shows_breadcrumb_compounds_and_household_count(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    response = await client.get(f"/areas/{city.community_a.id}")
    assert response.status_code == 200
    assert breadcrumb(response.text) == f"{city.city.name} 东城区 东华门街道 多福巷社区"
    page = text_of(response.text)
    assert "社区（村）" in page
    assert "3 户已登记" in page
    compounds = section(response.text, "table", "")
    assert "1号院" in compounds and "<td>3</td>" in compounds
    # addresses are personal data: not on the public page, and no link to the household list
    assert "101室" not in page
    assert "/households" not in response.text


async def test_compound_page_shows_its_households_and_no_sub_areas(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    response = await client.get(f"/areas/{city.compound_a.id}")
    assert response.status_code == 200
    assert breadcrumb(response.text) == f"{city.city.name} 东城区 东华门街道 多福巷社区 1号院"
    page = text_of(response.text)
    assert "3 户已登记" in page
    assert "<table>" not in response.text  # a compound has no sub-areas, and says nothing about them
    empty = await create_area(db, None, name="2号院", level=AreaLevel.compound, code="EMPTY2",
                              parent=city.community_b)
    await db.flush()
    assert "0 户已登记" in text_of((await client.get(f"/areas/{empty.id}")).text)


async def test_street_page_lists_communities_with_counts(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    response = await client.get(f"/areas/{city.street.id}")
    assert response.status_code == 200
    html = response.text
    rows = {text_of(row).split(" ")[0]: row for row in html.split("<tr>")[2:]}
    assert f'href="/areas/{city.community_a.id}"' in rows["多福巷社区"]
    assert "<td>1</td>" in rows["多福巷社区"] and "<td>3</td>" in rows["多福巷社区"]  # one compound, three households
    assert "<td>0</td>" in rows["韶九社区"] and "<td>2</td>" in rows["韶九社区"]


async def test_the_community_worker_gets_a_link_to_the_households(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    city = await make_city(db)
    await log_in_as(client, db, Role.worker, city.community_a, name="赵社工")
    page = await client.get(f"/areas/{city.community_a.id}")
    assert f'href="/worker/communities/{city.community_a.id}/households"' in page.text
    other = await client.get(f"/areas/{city.community_b.id}")
    assert "/households" not in other.text


async def test_unknown_area_is_404(client: WebClient) -> None:
    response = await client.get("/areas/987654")
    assert response.status_code == 404


async def test_counts_follow_new_households_and_areas_at_once(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    """The process keeps the whole tree with its household counts (``area_tree``); a household or an area
    added drops it, so every level shows the new counts on the next visit."""
    city = await make_city(db)
    pages = {level: f"/areas/{area.id}" for level, area in
             (("street", city.street), ("community", city.community_a), ("compound", city.compound_a))}
    for path in pages.values():
        await client.get(path)  # the tree and the pages are kept now
    await create_household(db, None, community=city.community_a, compound=city.compound_a, address="1号院901室",
                           floor_area="66")
    assert "4 户已登记" in text_of((await client.get(pages["compound"])).text)
    assert "4 户已登记" in text_of((await client.get(pages["community"])).text)
    street = (await client.get(pages["street"])).text
    assert "<td>4</td>" in street.split("多福巷社区", 1)[1].split("</tr>", 1)[0]
    await create_area(db, None, name="3号院", level=AreaLevel.compound, code="NEW3", parent=city.community_a)
    compounds = section((await client.get(pages["community"])).text, "table", "")
    assert "3号院" in compounds and "1号院" in compounds


async def test_an_area_another_process_made_is_found_before_it_is_told(client: WebClient, db) -> None:  # type: ignore[no-untyped-def]
    """The tree this process keeps may not have an area made elsewhere yet: the page looks in the database
    before answering 404, and loads the tree again."""
    from consultation.areas import queries

    city = await make_city(db)
    await client.get(f"/areas/{city.community_a.id}")  # the tree is kept
    stale = await queries.area_tree(db)
    made = await create_area(db, None, name="4号院", level=AreaLevel.compound, code="ELSE4", parent=city.community_a)
    queries._TREE._entries[next(iter(queries._TREE._entries))] = (changes.now(), time.monotonic(), stale)
    assert made.id not in (await queries.area_tree(db)).areas  # as if the change feed had not told of it yet
    response = await client.get(f"/areas/{made.id}")
    assert response.status_code == 200 and "4号院" in response.text
    assert (await client.get("/areas/999999")).status_code == 404
