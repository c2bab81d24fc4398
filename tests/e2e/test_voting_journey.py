"""The voting journey in a real browser, one phone per person, in the demo's 多福巷社区:
a community worker creates a secret single-choice poll through the form (a first submit comes back
with the messages beside the fields, nothing typed lost), opens it (the roll is frozen and counted) →
three verified residents vote on their phones (an empty ballot and a second ballot are refused with a
clear message and the tally does not move); each gets a receipt code → the worker closes the poll
early → a resident reads the result (turnout, chart, thresholds met or not, in words), the published
ballot list with its chain check, and finds their own ballot with the receipt code. Then the demo's
closed owners' joint decision (Civil Code art. 278) shows its thresholds, and its printable notice.
Every page on the way gets an axe-core scan and a screenshot in test-artifacts/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from consultation.voting.rules import as_percent
from tests.e2e.conftest import LiveServer
from tests.e2e.test_deliberation_journey import (
    COMMUNITY,
    ZH,
    labelled,
    main_text,
    scan,
    submit,
    zh,
)
from web.i18n import TIMEZONE

pytestmark = pytest.mark.browser

TITLE = "北院电动自行车充电桩安装位置"
OPTIONS = ["北院自行车棚东侧", "北门保安亭旁", "暂不安装"]
ART278_TITLE = "使用住宅专项维修资金维修2号院屋顶"  # the demo's closed owners' joint decision
RECEIPT = re.compile(r"^[0-9A-Z]{4}(-[0-9A-Z]{4})+$")


def local(moment: datetime) -> str:
    """A datetime-local input value, Beijing time."""
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")


def chain_intact(n: int) -> str:
    """The ballot list's chain check message for n entries, in Chinese."""
    return str(ZH.ngettext("Chain check: all {n} entry links up, ending in the fingerprint announced at close.",
                           "Chain check: all {n} entries link up, ending in the fingerprint announced at close.",
                           n).format(n=n))


def facts(page: Any, term: str) -> str:
    """The text of the <dd> after the <dt> with this text (the first such list on the page)."""
    return str(page.locator(f"dl.facts dt:text-is('{term}') + dd").first.inner_text()).strip()


def voted_so_far(worker: Any, manage_url: str) -> str:
    worker.goto(manage_url)
    return facts(worker, zh("Voted so far"))


def test_create_vote_close_results_and_receipt(people: dict[str, Any], live_server: LiveServer) -> None:
    base = live_server.url
    worker, zhu, wang, luo = people["worker"], people["zhu"], people["wang"], people["luo"]
    now = datetime.now(TIMEZONE).replace(second=0, microsecond=0)

    # 1. The worker starts a poll from the community page.
    worker.goto(base + "/")
    worker.get_by_role("link", name=COMMUNITY).first.click()
    worker.wait_for_url(re.compile(r"/areas/\d+$"))
    community_id = int(worker.url.rsplit("/", 1)[1])
    worker.locator("section.area-polls").get_by_role("link", name=zh("Create a poll")).click()
    new_url = f"{base}/worker/areas/{community_id}/polls/new"
    worker.wait_for_url(new_url)
    scan(worker, "voting-01-create-form")

    # A single-choice poll without its options and with the closing time already past, sent with Enter
    # (which saves the draft, not "Add more rows"): the form comes back with both messages beside
    # their fields, everything typed still there.
    labelled(worker, zh("Question or title")).fill(TITLE)
    labelled(worker, zh("Explanation for voters (optional)")).fill(
        "街道将在北院安装一处电动自行车集中充电点，请选择您认为最合适的位置。")
    labelled(worker, zh("Kind of poll")).select_option(label=zh("Single choice"))
    labelled(worker, zh("Voting closes (Beijing time)")).fill(local(now - timedelta(hours=1)))
    with worker.expect_navigation(url=new_url):
        labelled(worker, zh("Question or title")).press("Enter")
    assert worker.locator("#f-options-error").inner_text().strip() == zh("Give at least two options.")
    assert worker.locator("#f-closes_at-error").inner_text().strip() == zh("The closing time must be in the future.")
    assert worker.locator("#f-closes_at").get_attribute("aria-invalid") == "true"
    assert worker.locator("#f-title").input_value() == TITLE
    assert worker.locator("input[id^=f-option_]").count() == 4  # Enter did not press "Add more rows"
    assert labelled(worker, zh("Kind of poll")).locator("option:checked").inner_text() == zh("Single choice")
    assert worker.get_by_role("checkbox", name=re.compile(zh("Secret ballot"))).is_checked()
    scan(worker, "voting-02-create-form-errors")

    # Now with three options, closing in an hour: saved as a draft.
    for number, option in enumerate(OPTIONS, start=1):
        labelled(worker, zh("Option {n}", n=number)).fill(option)
    labelled(worker, zh("Voting closes (Beijing time)")).fill(local(now + timedelta(hours=1)))
    submit(worker, zh("Save the draft"), re.compile(r"/worker/polls/\d+$"))
    manage_url = worker.url
    poll_id = int(manage_url.rsplit("/", 1)[1])
    poll_url = f"{base}/polls/{poll_id}"
    assert worker.locator("h1").inner_text() == TITLE
    assert zh("The poll is saved as a draft. Check it, then open it for voting.") in main_text(worker)
    assert facts(worker, zh("Options")) == " / ".join(OPTIONS)
    scan(worker, "voting-03-manage-draft")
    worker.goto(poll_url)  # the worker's preview of the draft
    assert zh("Draft") in worker.locator(".poll-state").inner_text()
    scan(worker, "voting-04-poll-draft")

    # 2. Opening freezes the roll, shown as a count.
    worker.goto(manage_url)
    submit(worker, zh("Open the poll now"), manage_url)
    roll = facts(worker, zh("Roll (frozen at opening)"))
    match = re.fullmatch(zh("{n} people", n=r"(\d+)"), roll)
    assert match, roll
    eligible = int(match.group(1))
    assert eligible >= 3
    assert voted_so_far(worker, manage_url) == zh("{voted} of {eligible} ({offline} on paper)", voted=0,
                                                  eligible=eligible, offline=0)
    scan(worker, "voting-05-manage-open")

    # 3. Residents vote on their phones. 朱宇航 first.
    receipts: dict[str, str] = {}
    zhu.goto(poll_url)
    assert zh("Open for voting") in zhu.locator(".poll-state").inner_text()
    assert facts(zhu, zh("Eligible")) == roll
    assert zhu.get_by_role("link", name=zh("Results so far")).count() == 0  # hidden until close
    scan(zhu, "voting-06-poll-open")
    ballot = zhu.get_by_role("group", name=TITLE)
    ballot.get_by_role("radio", name=OPTIONS[0]).check()
    submit(zhu, zh("Cast my ballot"), re.compile(rf"/polls/{poll_id}(#vote)?$"))
    receipts["zhu"] = zhu.locator(".receipt-code").inner_text().strip()
    assert RECEIPT.match(receipts["zhu"]), receipts["zhu"]
    assert receipts["zhu"] in zhu.locator(".flash").inner_text()
    assert zh("Your ballot is counted.") in zhu.locator("#vote").inner_text()
    assert zhu.locator("form.ballot-form").count() == 0  # the poll does not allow changing a vote
    scan(zhu, "voting-07-poll-voted")

    # 罗红梅 opens the poll in two tabs; in the first she casts an empty ballot: refused beside the choices.
    luo.goto(poll_url)
    second_tab = luo.context.new_page()
    second_tab.goto(poll_url)
    submit(luo, zh("Cast my ballot"), f"{base}/polls/{poll_id}/vote")
    assert luo.locator("#ballot-error").inner_text().strip() == zh("Choose an option.")
    assert luo.get_by_role("group", name=TITLE).get_attribute("aria-describedby") == "ballot-error"
    scan(luo, "voting-08-poll-ballot-error")
    assert voted_so_far(worker, manage_url) == zh("{voted} of {eligible} ({offline} on paper)", voted=1,
                                                  eligible=eligible, offline=0)
    luo.get_by_role("group", name=TITLE).get_by_role("radio", name=OPTIONS[1]).check()
    submit(luo, zh("Cast my ballot"), re.compile(rf"/polls/{poll_id}(#vote)?$"))
    receipts["luo"] = luo.locator(".receipt-code").inner_text().strip()
    # ... then, in the stale second tab, she votes again: refused, and the tally does not move.
    second_tab.get_by_role("group", name=TITLE).get_by_role("radio", name=OPTIONS[0]).check()
    submit(second_tab, zh("Cast my ballot"), f"{base}/polls/{poll_id}/vote")
    assert second_tab.get_by_role("alert").filter(has_text=zh("You have already voted in this poll.")).count() == 1
    assert second_tab.locator(".receipt-code").inner_text().strip() == receipts["luo"]
    scan(second_tab, "voting-09-poll-voted-twice")
    second_tab.close()
    assert voted_so_far(worker, manage_url) == zh("{voted} of {eligible} ({offline} on paper)", voted=2,
                                                  eligible=eligible, offline=0)

    # 王伟 votes like 朱宇航. Three ballots, three different receipt codes.
    wang.goto(poll_url)
    wang.get_by_role("group", name=TITLE).get_by_role("radio", name=OPTIONS[0]).check()
    submit(wang, zh("Cast my ballot"), re.compile(rf"/polls/{poll_id}(#vote)?$"))
    receipts["wang"] = wang.locator(".receipt-code").inner_text().strip()
    assert len(set(receipts.values())) == 3 and all(RECEIPT.match(code) for code in receipts.values())
    # Before close the receipt page says to come back later.
    wang.goto(f"{poll_url}/receipt")
    assert zh("The ballot list is published when the poll closes. Come back then with your receipt code.") \
        in main_text(wang)
    scan(wang, "voting-10-receipt-before-close")

    # 4. The worker closes the poll early: the result is published.
    assert voted_so_far(worker, manage_url) == zh("{voted} of {eligible} ({offline} on paper)", voted=3,
                                                  eligible=eligible, offline=0)
    submit(worker, zh("Close the poll now"), f"{poll_url}/results")
    assert zh("The poll is closed; the result and the ballot list are published.") in main_text(worker)
    worker.goto(manage_url)
    assert zh("Closed") in worker.locator(".poll-state").inner_text()
    scan(worker, "voting-11-manage-closed")

    # 5. 王伟 reads the result: turnout, the chart, each threshold met or not, in words.
    wang.goto(poll_url)
    assert zh("Closed") in wang.locator(".poll-state").inner_text()
    assert zh("Your ballot is counted.") in wang.locator("#vote").inner_text()
    scan(wang, "voting-12-poll-closed")
    wang.get_by_role("link", name=zh("Results"), exact=True).click()
    wang.wait_for_url(f"{poll_url}/results")
    verdict = wang.locator(".poll-verdict").inner_text()
    assert zh("Passed") in verdict
    assert facts(wang, zh("Turnout")) == zh("{cast} of {eligible} voted ({percent})", cast=3, eligible=eligible,
                                             percent=as_percent(Fraction(3, eligible)))
    chart = wang.locator("figure.poll-chart")
    assert chart.locator(".chart-row").count() == 3
    assert chart.locator(".chart-lead .chart-label").inner_text() == OPTIONS[0]
    assert [v.strip() for v in chart.locator(".chart-value").all_inner_texts()][:2] == ["2 · 66.67%", "1 · 33.33%"]
    table = wang.locator("table.poll-results")
    assert table.locator("tr", has_text=OPTIONS[0]).locator("td").first.inner_text() == "2"
    thresholds = wang.locator("section.poll-thresholds")
    measures = thresholds.locator("li.measure")
    assert measures.count() >= 1
    for index in range(measures.count()):
        measure = measures.nth(index)
        assert measure.locator(".badge").inner_text() in (zh("Met"), zh("Not met"))
        assert measure.locator("p.hint").inner_text().strip(), "each threshold is explained in words"
    assert measures.locator(".badge").first.inner_text() == zh("Met")
    scan(wang, "voting-13-results")

    # ... the published ballot list, its chain intact and the recount matching ...
    wang.get_by_role("link", name=zh("The published ballot list")).click()
    wang.wait_for_url(f"{poll_url}/ballots")
    assert wang.get_by_role("status").filter(has_text=chain_intact(3)).count() == 1
    assert zh("Recount from this list: it matches the announced result.") in main_text(wang)
    rows = wang.locator("table.ballot-chain tbody tr")
    assert rows.count() == 3
    assert sorted(rows.locator("td:nth-child(2)").all_inner_texts()) == sorted([OPTIONS[0], OPTIONS[0], OPTIONS[1]])
    assert "王伟" not in main_text(wang) and "朱宇航" not in main_text(wang)  # secret: no names
    scan(wang, "voting-14-ballot-list")

    # ... and finds his own ballot with his receipt code (typed in lower case, without dashes).
    wang.goto(poll_url)
    wang.get_by_role("link", name=zh("Check a receipt code")).click()
    wang.wait_for_url(f"{poll_url}/receipt")
    scan(wang, "voting-15-receipt-form")
    labelled(wang, zh("Receipt code")).fill(receipts["wang"].replace("-", "").lower())
    submit(wang, zh("Check"), re.compile(rf"/polls/{poll_id}/receipt$"))
    found = wang.locator("section.found-ballot")
    assert found.locator("h2").inner_text() == zh("Your ballot is in the list")
    assert facts(wang, zh("Choices")) == OPTIONS[0]
    scan(wang, "voting-16-receipt-found")
    found.get_by_role("link", name=re.compile(r"\d")).click()
    wang.wait_for_url(re.compile(rf"/polls/{poll_id}/ballots\?page=1&entry=\d#entry-\d$"))
    assert wang.locator("tr.highlight").count() == 1
    assert wang.locator("tr.highlight td").nth(1).inner_text() == OPTIONS[0]
    # A mistyped code is refused beside the field.
    wang.goto(f"{poll_url}/receipt")
    labelled(wang, zh("Receipt code")).fill("AAAA-BBBB-CCCC")
    submit(wang, zh("Check"), re.compile(rf"/polls/{poll_id}/receipt$"))
    assert wang.locator("#f-code-error").inner_text().strip() == zh(
        "No ballot in this poll's list has this receipt code. Check the code for typos.")
    scan(wang, "voting-17-receipt-not-found")

    # 6. The demo's owners' joint decision (art. 278 (6)): every threshold, measured, met or not.
    luo.goto(f"{base}/areas/{community_id}")
    luo.get_by_role("link", name=ART278_TITLE).click()
    luo.wait_for_url(re.compile(r"/polls/\d+$"))
    owners_url = luo.url
    scan(luo, "voting-18-owners-poll-closed")
    luo.get_by_role("link", name=zh("Results"), exact=True).click()
    luo.wait_for_url(owners_url + "/results")
    assert facts(luo, zh("Floor area taking part"))
    # Participation by 2/3 of the area and of the owners, then 3/4 of both voting yes: each one met.
    measures = luo.locator("section.poll-thresholds li.measure")
    assert measures.locator("h3").all_inner_texts() == [
        f"{zh(label)} {zh('Met')}" for label in (
            "Exclusive floor area of the owners taking part", "Owners taking part",
            "Floor area voting yes, of the participating area", "Owners voting yes, of the participating owners")]
    for index, required in enumerate(("2/3", "2/3", "3/4", "3/4")):
        assert f"≥ {required}" in measures.nth(index).locator("p").first.inner_text()
        assert measures.nth(index).locator("p.hint").inner_text().strip()  # the reason, in words
    assert zh("Passed: every threshold was met.") in luo.locator(".poll-verdict").inner_text()
    paper_ballots = re.match(r"\d+", facts(luo, zh("Paper ballots")))
    assert paper_ballots and int(paper_ballots.group()) > 0  # counted as offline ballots
    scan(luo, "voting-19-owners-results")
    luo.get_by_role("link", name=zh("Result notice (公示) for printing")).click()
    luo.wait_for_url(owners_url + "/notice")
    assert luo.locator("h1").inner_text() == zh("Notice of the poll result (公示)")
    assert ART278_TITLE in main_text(luo)
    assert luo.locator("section.poll-thresholds li.measure").count() == 4
    scan(luo, "voting-20-owners-notice")
