"""The poll pages end to end through the app: a worker creates and opens a poll, residents vote on
the page, the worker closes it, everyone reads the results, checks the published ballot list and a
receipt, and downloads the exports. Every bad ballot is refused beside the choices with the tally
unchanged; paper ballots need two workers; the workers' pages answer only their own workers."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import timedelta
from typing import Any
from xml.etree import ElementTree

from sqlalchemy import func, select, update

from consultation.accounts.models import Role, User
from consultation.db import utcnow
from consultation.deliberation.models import Topic, TopicState
from consultation.deliberation.resolution_models import Method, Resolution
from consultation.voting import seal
from consultation.voting.models import (
    Ballot,
    PaperBatch,
    PaperBatchState,
    Poll,
    PollChainEntry,
    PollOption,
    PollState,
    PollVoter,
)
from tests.areas.helpers import section
from tests.conftest import WebClient, text_of
from tests.deliberation.helpers import World, make_world
from tests.factories import make_user
from tests.meetings.helpers import log_in
from tests.resolutions.helpers import deciding, units
from web.i18n import TIMEZONE


def local(delta: timedelta) -> str:
    return (utcnow() + delta).astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")


def poll_form(**overrides: str) -> dict[str, str]:
    form = {"title": "北院是否安装电动自行车充电桩？", "description": "充电桩安装在北院车棚。", "kind": "single",
            "option_0": "安装在北院", "option_1": "安装在南院", "option_2": "暂不安装", "rows": "4",
            "eligibility": "verified_residents", "rule": "simple_majority", "secret": "1",
            "results_hidden_until_close": "1", "min_choices": "1", "max_choices": "1",
            "opens_at": "", "closes_at": local(timedelta(days=3))}
    return form | overrides


APP_KEY = b"test-secret-key-that-is-long-enough-000"  # tests/conftest.py settings.secret_key


async def ballots(db: Any, poll_id: int) -> int:
    """Ballots stored: the rows while open; after close a secret poll's rows are gone and its ballots
    are the published chain entries."""
    rows = await db.scalar(select(func.count(Ballot.id)).where(Ballot.poll_id == poll_id)) or 0
    published = await db.scalar(select(func.count(PollChainEntry.id)).where(PollChainEntry.poll_id == poll_id)) or 0
    return int(max(rows, published))


async def stored_choices(db: Any, poll_id: int) -> list[int]:
    """The one ballot of an open secret poll, unsealed with the app's key."""
    sealed = await db.scalar(select(Ballot.sealed).where(Ballot.poll_id == poll_id))
    return list(seal.unseal(APP_KEY, poll_id, sealed).choices)


async def create_and_open(db: Any, worker: WebClient, world: World, **overrides: str) -> Poll:
    community = world.city.community_a
    response = await worker.submit(f"/worker/areas/{community.id}/polls/new", poll_form(**overrides))
    assert response.status_code == 303, text_of(response.text)
    poll_id = int(response.headers["location"].rsplit("/", 1)[1])
    opened = await worker.submit(f"/worker/polls/{poll_id}/open")
    assert opened.status_code == 303, text_of(opened.text)
    poll = await db.scalar(select(Poll).where(Poll.id == poll_id).execution_options(populate_existing=True))
    assert poll is not None and poll.state is PollState.open
    return poll


async def option_ids(db: Any, poll: Poll) -> list[int]:
    return list((await db.scalars(select(PollOption.id).where(PollOption.poll_id == poll.id)
                                  .order_by(PollOption.position))).all())


async def test_create_open_vote_close_results_and_receipt(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=3)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    form_page = await worker.get(f"/worker/areas/{world.city.community_a.id}/polls/new")
    assert form_page.status_code == 200 and 'name="option_3"' in form_page.text
    more = await worker.submit(f"/worker/areas/{world.city.community_a.id}/polls/new", poll_form(more_rows="1"))
    assert more.status_code == 200 and 'name="option_7"' in more.text and "安装在南院" in more.text
    assert await db.scalar(select(func.count(Poll.id))) == 0  # "add more rows" saves nothing

    poll = await create_and_open(db, worker, world)
    assert poll.eligible_count == 4  # the author and three neighbours are verified residents of A
    manage = text_of((await worker.get(f"/worker/polls/{poll.id}")).text)
    assert "4 people" in manage
    north, south, _none = await option_ids(db, poll)

    voter = await log_in(make_client(), world.author)
    page = await voter.get(f"/polls/{poll.id}")
    assert page.status_code == 200
    assert f'value="{north}"' in section(page.text, "form", 'class="ballot-form"')
    assert "whose residence the community has verified" in text_of(page.text)
    cast = await voter.submit(f"/polls/{poll.id}/vote", {"choice": str(north)})
    assert cast.status_code == 303
    after = await voter.get(f"/polls/{poll.id}")
    receipt = re.search(r'class="receipt-code">([0-9A-Z-]+)<', after.text)
    assert receipt is not None and "Your ballot is counted." in text_of(after.text)
    assert 'class="ballot-form"' not in after.text  # no change allowed in this poll

    for neighbour, choice in zip(world.neighbours, (north, south, north), strict=True):
        client = await log_in(make_client(), neighbour)
        assert (await client.submit(f"/polls/{poll.id}/vote", {"choice": str(choice)})).status_code == 303
    assert await ballots(db, poll.id) == 4
    assert (await voter.get(f"/polls/{poll.id}/results")).status_code == 409  # hidden until close

    closed = await worker.submit(f"/worker/polls/{poll.id}/close")
    assert closed.status_code == 303 and closed.headers["location"] == f"/polls/{poll.id}/results"
    results = await voter.get(f"/polls/{poll.id}/results")
    shown = text_of(results.text)
    assert results.status_code == 200
    assert "Passed" in shown and "4 of 4 voted (100.00%)" in shown
    assert re.search(r"安装在北院\S* (Most votes )?3 ", shown)
    assert 'class="chart-bar"' in results.text and 'width="75.00"' in results.text  # 3 of 4 ballots
    assert "Yes votes among yes and no votes" in shown and "Met" in shown

    listing = await voter.get(f"/polls/{poll.id}/ballots")
    assert "all 4 entries link up" in text_of(listing.text)
    assert "it matches the announced result" in text_of(listing.text)
    found = await voter.submit(f"/polls/{poll.id}/receipt", {"code": receipt.group(1).lower()})
    assert found.status_code == 200 and "Your ballot is in the list" in text_of(found.text)
    assert "安装在北院" in section(found.text, "section", 'class="card found-ballot"')
    wrong = await voter.submit(f"/polls/{poll.id}/receipt", {"code": "0000-0000-0000"})
    ignored = await voter.get(f"/polls/{poll.id}/receipt", params={"code": receipt.group(1)})  # never from a URL
    assert ignored.status_code == 200 and "Your ballot is in the list" not in text_of(ignored.text)
    assert wrong.status_code == 422 and "No ballot in this poll" in wrong.text

    late = await voter.submit(f"/polls/{poll.id}/vote", {"choice": str(south)})
    assert late.status_code == 409 and "This poll has closed" in text_of(late.text)
    assert await ballots(db, poll.id) == 4

    printable = await voter.get(f"/polls/{poll.id}/notice")
    assert printable.status_code == 200 and "Result: passed" in text_of(printable.text)
    head = await db.scalar(select(Poll.chain_head).where(Poll.id == poll.id))
    assert head in printable.text


async def test_every_bad_ballot_is_refused_beside_the_choices_and_counts_nothing(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    poll = await create_and_open(db, worker, world)
    north, south, _none = await option_ids(db, poll)
    voter = await log_in(make_client(), world.author)
    url = f"/polls/{poll.id}/vote"

    too_many = await voter.submit(url, {"choice": [str(north), str(south)]})
    assert too_many.status_code == 422 and "Choose only one option." in text_of(too_many.text)
    assert 'id="ballot-error"' in too_many.text and 'checked' in too_many.text  # kept, error beside it
    none = await voter.submit(url, {})
    assert none.status_code == 422 and "Choose an option." in text_of(none.text)
    forged = await voter.submit(url, {"choice": "987654"})
    assert forged.status_code == 422 and "This option is not part of the poll." in text_of(forged.text)
    junk = await voter.submit(url, {"choice": "north; drop table"})
    assert junk.status_code == 422 and "This option is not part of the poll." in text_of(junk.text)
    assert await ballots(db, poll.id) == 0

    assert (await voter.submit(url, {"choice": str(north)})).status_code == 303
    twice = await voter.submit(url, {"choice": str(south)})
    assert twice.status_code == 409 and "You have already voted in this poll." in text_of(twice.text)
    assert await ballots(db, poll.id) == 1
    assert await stored_choices(db, poll.id) == [north]

    unverified = await log_in(make_client(), world.unverified)
    refused = await unverified.submit(url, {"choice": str(north)})
    assert refused.status_code == 403 and "Only verified residents can vote" in text_of(refused.text)
    page = await unverified.get(f"/polls/{poll.id}")
    assert "Only verified residents can vote" in text_of(page.text) and 'class="ballot-form"' not in page.text
    outsider = await log_in(make_client(), world.outsider)
    assert (await outsider.submit(url, {"choice": str(north)})).status_code == 403
    assert await ballots(db, poll.id) == 1

    anonymous = make_client()
    assert (await anonymous.submit(url, {"choice": str(north)})).status_code == 303  # to log in
    assert await ballots(db, poll.id) == 1


async def test_before_opening_nobody_votes_and_a_draft_is_hidden(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    draft = await worker.submit(f"/worker/areas/{world.city.community_a.id}/polls/new", poll_form())
    poll_id = int(draft.headers["location"].rsplit("/", 1)[1])
    voter = await log_in(make_client(), world.author)
    assert (await voter.get(f"/polls/{poll_id}")).status_code == 404  # drafts are the workers'
    assert (await voter.submit(f"/polls/{poll_id}/vote", {"choice": "1"})).status_code == 404
    assert (await worker.get(f"/polls/{poll_id}")).status_code == 200

    later = await create_and_open(db, worker, world, opens_at=local(timedelta(days=1)), title="明天开始的投票")
    north = (await option_ids(db, later))[0]
    early = await voter.submit(f"/polls/{later.id}/vote", {"choice": str(north)})
    assert early.status_code == 409 and "Voting opens at" in text_of(early.text)
    assert await ballots(db, later.id) == 0


async def test_changing_a_vote_where_allowed_and_ranked_ballots_without_script(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    poll = await create_and_open(db, worker, world, kind="ranked", allow_change="1", results_hidden_until_close="",
                                 min_choices="1", max_choices="3")
    a, b, c = await option_ids(db, poll)
    voter = await log_in(make_client(), world.author)
    page = await voter.get(f"/polls/{poll.id}")
    assert 'name="rank_1"' in page.text and 'name="rank_3"' in page.text
    repeated = await voter.submit(f"/polls/{poll.id}/vote", {"rank_1": str(a), "rank_2": str(a)})
    assert repeated.status_code == 422 and "Each option can be chosen only once." in text_of(repeated.text)
    assert (await voter.submit(f"/polls/{poll.id}/vote", {"rank_1": str(a), "rank_2": str(b)})).status_code == 303
    changed = await voter.submit(f"/polls/{poll.id}/vote", {"rank_1": str(c), "rank_2": str(b)})
    assert changed.status_code == 303
    assert await ballots(db, poll.id) == 1
    assert await stored_choices(db, poll.id) == [c, b]
    for neighbour in world.neighbours:
        client = await log_in(make_client(), neighbour)
        await client.submit(f"/polls/{poll.id}/vote", {"rank_1": str(a), "rank_2": str(b)})
    interim = await voter.get(f"/polls/{poll.id}/results")  # secret: sealed, so never a count while open
    assert interim.status_code != 200 and "not the result" not in text_of(interim.text)
    await worker.submit(f"/worker/polls/{poll.id}/close")
    results = text_of((await voter.get(f"/polls/{poll.id}/results")).text)
    assert "Round 1" in results and "wins" in results


async def test_paper_ballots_need_a_second_worker(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    second = await make_user(db, name="多福社工二", role=Role.worker, area=world.city.community_a)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    poll = await create_and_open(db, worker, world)
    north, south, _none = await option_ids(db, poll)
    online = await log_in(make_client(), world.author)
    await online.submit(f"/polls/{poll.id}/vote", {"choice": str(north)})

    search = await worker.get(f"/worker/polls/{poll.id}/paper", params={"q": "李邻居0"})
    assert search.status_code == 200 and "李邻居0" in search.text
    roll_entry = await db.scalar(select(PollVoter.id).where(PollVoter.poll_id == poll.id,
                                                            PollVoter.user_id == world.neighbours[0].id))
    author_entry = await db.scalar(select(PollVoter.id).where(PollVoter.poll_id == poll.id,
                                                              PollVoter.user_id == world.author.id))
    added = await worker.submit(f"/worker/polls/{poll.id}/paper", {"q": "李邻居0", "add": str(roll_entry)})
    assert added.status_code == 200 and f'name="v{roll_entry}_choice"' in added.text
    voted_online = await worker.submit(f"/worker/polls/{poll.id}/paper", {
        "voter": [str(roll_entry), str(author_entry)], f"v{roll_entry}_choice": str(south),
        f"v{author_entry}_choice": str(south), "action": "record"})
    assert voted_online.status_code == 422
    assert "This voter has already voted (online or on paper)." in text_of(voted_online.text)
    assert await db.scalar(select(func.count(PaperBatch.id))) == 0

    recorded = await worker.submit(f"/worker/polls/{poll.id}/paper", {
        "voter": str(roll_entry), f"v{roll_entry}_choice": str(south), "action": "record", "note": "第1箱"})
    assert recorded.status_code == 303
    batch = await db.scalar(select(PaperBatch).where(PaperBatch.poll_id == poll.id))
    assert batch is not None and batch.state is PaperBatchState.pending
    assert await ballots(db, poll.id) == 1  # nothing counts before the second worker confirms
    own = await worker.submit(f"/worker/polls/{poll.id}/paper/{batch.id}/confirm")
    assert own.status_code == 403
    other = await log_in(make_client(), second)
    page = await other.get(f"/worker/polls/{poll.id}")
    assert "Confirm: the entries match the paper ballots" in page.text
    assert (await other.submit(f"/worker/polls/{poll.id}/paper/{batch.id}/confirm")).status_code == 303
    assert await ballots(db, poll.id) == 2
    again = await other.submit(f"/worker/polls/{poll.id}/paper/{batch.id}/confirm")
    assert again.status_code == 409 and await ballots(db, poll.id) == 2
    paper_voter = await log_in(make_client(), world.neighbours[0])
    shown = text_of((await paper_voter.get(f"/polls/{poll.id}")).text)
    assert "It was recorded from a paper ballot." in shown
    assert (await paper_voter.submit(f"/polls/{poll.id}/vote", {"choice": str(north)})).status_code == 409
    await worker.submit(f"/worker/polls/{poll.id}/close")
    results = text_of((await online.get(f"/polls/{poll.id}/results")).text)
    assert "1 ballot was cast on paper (offline)" in results


async def test_exports_carry_the_result_and_the_whole_ballot_list(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    poll = await create_and_open(db, worker, world, kind="yes_no", rule="two_thirds")
    yes, no, _abstain = await option_ids(db, poll)
    for person, choice in ((world.author, yes), (world.neighbours[0], yes), (world.neighbours[1], no)):
        client = await log_in(make_client(), person)
        await client.submit(f"/polls/{poll.id}/vote", {"choice": str(choice)})
    assert (await worker.get(f"/polls/{poll.id}/results.csv")).status_code == 409  # published at close
    await worker.submit(f"/worker/polls/{poll.id}/close")
    reader = make_client()
    reader.cookies.set("lang", "en")

    results_csv = await reader.get(f"/polls/{poll.id}/results.csv")
    assert results_csv.status_code == 200 and results_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(results_csv.content.decode("utf-8-sig"))))
    assert rows[0] == ["Option", "Ballots", "Floor area (m²)", "Share"]
    assert ["赞成", "2", "2.00", "66.67%"] in rows and ["反对", "1", "1.00", "33.33%"] in rows
    assert any(r[:2] == ["Result", "Passed"] for r in rows)

    chain_rows = (await db.scalars(select(PollChainEntry).where(PollChainEntry.poll_id == poll.id)
                                   .order_by(PollChainEntry.seq))).all()
    ballots_csv = await reader.get(f"/polls/{poll.id}/ballots.csv")
    listed = list(csv.reader(io.StringIO(ballots_csv.content.decode("utf-8-sig"))))
    assert len(listed) == 1 + 3
    assert [row[-1] for row in listed[1:]] == [e.hash for e in chain_rows]
    assert listed[1][4] == chain_rows[0].receipt_hash

    xlsx = await reader.get(f"/polls/{poll.id}/ballots.xlsx")
    assert xlsx.status_code == 200 and "spreadsheetml" in xlsx.headers["content-type"]
    with zipfile.ZipFile(io.BytesIO(xlsx.content)) as package:
        assert "xl/workbook.xml" in package.namelist()
        sheet = ElementTree.fromstring(package.read("xl/worksheets/sheet1.xml"))  # noqa: S314 (our own file)
    ns = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    texts = [t.text for t in sheet.iterfind(".//x:t", ns)]
    assert "Choices" in texts and chain_rows[-1].hash in texts
    assert len(sheet.findall(".//x:row", ns)) == 4
    results_xlsx = await reader.get(f"/polls/{poll.id}/results.xlsx")
    with zipfile.ZipFile(io.BytesIO(results_xlsx.content)) as package:
        assert "赞成" in package.read("xl/worksheets/sheet1.xml").decode()


async def test_the_workers_pages_answer_only_the_areas_workers(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    draft = await worker.submit(f"/worker/areas/{world.city.community_a.id}/polls/new", poll_form())
    poll_id = int(draft.headers["location"].rsplit("/", 1)[1])
    pages = [f"/worker/polls/{poll_id}", f"/worker/polls/{poll_id}/edit", f"/worker/polls/{poll_id}/paper",
             f"/worker/areas/{world.city.community_a.id}/polls/new"]
    posts = [f"/worker/polls/{poll_id}/open", f"/worker/polls/{poll_id}/cancel"]
    expectations: list[tuple[User | None, int, int]] = [
        (world.worker_b, 404, 404), (world.author, 403, 403), (None, 303, 303), (world.admin, 200, 303)]
    for person, page_status, post_status in expectations:
        client = make_client() if person is None else await log_in(make_client(), person)
        for url in pages:
            assert (await client.get(url)).status_code == page_status, (person, url)
        if person is not world.admin:
            for url in posts:
                assert (await client.submit(url, {"reason": "x"})).status_code == post_status, (person, url)
    assert await db.scalar(select(Poll.state).where(Poll.id == poll_id)) is PollState.draft
    listing = await worker.get("/worker/polls")
    assert "北院是否安装电动自行车充电桩" in listing.text
    assert 'href="/worker/polls"' in (await worker.get("/worker")).text


async def test_a_worker_edits_a_draft_with_errors_beside_fields(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    bad = await worker.submit(f"/worker/areas/{world.city.community_a.id}/polls/new", poll_form(
        title="", option_1="", option_2="", rule="art278_major", closes_at="not a time", opens_at="tomorrow"))
    assert bad.status_code == 422
    page = text_of(bad.text)
    assert "Give at least two options." in page and "This decision rule needs a yes/no poll" in page
    assert "Enter when the poll closes." in page and "leave it empty to start voting" in page
    assert await db.scalar(select(func.count(Poll.id))) == 0
    custom = await worker.submit(f"/worker/areas/{world.city.community_a.id}/polls/new",
                                 poll_form(rule="custom", quorum="1/2", threshold="2/3"))
    poll_id = int(custom.headers["location"].rsplit("/", 1)[1])
    poll = await db.scalar(select(Poll).where(Poll.id == poll_id))
    assert (poll.quorum_num, poll.quorum_den, poll.threshold_num, poll.threshold_den) == (1, 2, 2, 3)
    edit = await worker.get(f"/worker/polls/{poll_id}/edit")
    assert 'value="2/3"' in edit.text and "安装在南院" in edit.text
    saved = await worker.submit(f"/worker/polls/{poll_id}/edit", poll_form(title="改过的标题", rule="custom",
                                                                          quorum="50%", threshold="0.75"))
    assert saved.status_code == 303
    await db.refresh(poll)
    assert poll.title == "改过的标题" and (poll.threshold_num, poll.threshold_den) == (3, 4)
    cancelled = await worker.submit(f"/worker/polls/{poll_id}/cancel", {"reason": ""})
    assert cancelled.status_code == 422
    assert (await worker.submit(f"/worker/polls/{poll_id}/cancel", {"reason": "重复创建"})).status_code == 303
    assert await db.scalar(select(Poll.state).where(Poll.id == poll_id)) is PollState.cancelled


async def test_a_topics_poll_hands_its_result_to_the_resolution(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=2)
    topic = await deciding(db, world, title="北院加装充电桩")
    _street, office, _other = await units(db, world)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    form = await worker.get(f"/worker/areas/{world.city.community_a.id}/polls/new", params={"topic": topic.id})
    assert f'<option value="{topic.id}" selected' in form.text
    poll = await create_and_open(db, worker, world, kind="yes_no", topic_id=str(topic.id))
    topic_page = await worker.get(f"/topics/{topic.id}")
    assert f'href="/polls/{poll.id}"' in section(topic_page.text, "section", 'aria-labelledby="topic-polls"')
    yes = (await option_ids(db, poll))[0]
    for person in (world.author, *world.neighbours):
        client = await log_in(make_client(), person)
        await client.submit(f"/polls/{poll.id}/vote", {"choice": str(yes)})
    await worker.submit(f"/worker/polls/{poll.id}/close")
    results = await worker.get(f"/polls/{poll.id}/results")
    assert f'href="/worker/polls/{poll.id}/resolution"' in results.text
    hand_off = await worker.get(f"/worker/polls/{poll.id}/resolution")
    assert hand_off.status_code == 200 and "Passed" in text_of(hand_off.text)
    recorded = await worker.submit(f"/worker/polls/{poll.id}/resolution", {
        "summary": "全体投票赞成在北院加装充电桩。", "rows": "3", "action_0_description": "安装充电桩",
        "action_0_unit_id": str(office.id), "action_0_target_date": (utcnow() + timedelta(days=30))
        .astimezone(TIMEZONE).date().isoformat()})
    assert recorded.status_code == 303, text_of(recorded.text)
    resolution = await db.scalar(select(Resolution).where(Resolution.topic_id == topic.id))
    assert resolution is not None and resolution.method is Method.poll
    assert resolution.poll_reference == f"poll:{poll.id}" and resolution.poll_ballots_cast == 3
    assert await db.scalar(select(Topic.state).where(Topic.id == topic.id)) is TopicState.decided_agreed


async def test_the_area_page_lists_open_polls(make_client: Any, db: Any) -> None:
    world = await make_world(db, neighbours=1)
    await db.commit()
    worker = await log_in(make_client(), world.worker_a)
    poll = await create_and_open(db, worker, world)
    visitor = make_client()
    area_page = await visitor.get(f"/areas/{world.city.community_a.id}")
    assert f'href="/polls/{poll.id}"' in section(area_page.text, "section", 'aria-labelledby="area-polls"')
    other = await visitor.get(f"/areas/{world.city.community_b.id}")
    assert f'href="/polls/{poll.id}"' not in other.text
    await db.execute(update(Poll).where(Poll.id == poll.id).values(closes_at=utcnow() - timedelta(minutes=1)))
    await db.commit()
    voter = await log_in(make_client(), world.author)
    late = await voter.submit(f"/polls/{poll.id}/vote", {"choice": "1"})
    assert late.status_code == 409 and await ballots(db, poll.id) == 0
