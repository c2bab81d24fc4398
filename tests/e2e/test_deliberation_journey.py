"""The deliberation journey in a real browser, one phone per person, in the demo's 多福巷社区:
a resident proposes a topic (with a photo) → neighbours co-sign and comment → the community worker
accepts it onto the agenda → schedules a session (议事会) → residents sign up, one on the waitlist
is promoted when another cancels → the worker checks attendance and publishes the minutes → records
the decision with an agreed action and publicises it → residents read the minutes and the decision.
Every page on the way gets an axe-core scan and a screenshot in test-artifacts/."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel import support

from tests.e2e.conftest import COMMUNITY, PHONE, LiveServer, axe_violations, screenshot
from web.i18n import TIMEZONE, TRANSLATIONS_DIR

pytestmark = pytest.mark.browser

# Overlaps the demo topic "3号楼楼道灯坏了", so the similar-topic suggestions have something to offer.
TITLE = "3号楼楼道灯不亮，晚上看不见台阶"
TITLE_START = "3号楼楼道灯"
SIMILAR_DEMO_TITLE = "3号楼楼道灯坏了"
ZH = support.Translations.load(str(TRANSLATIONS_DIR), ["zh_CN"])


def zh(message_id: str, **values: Any) -> str:
    """The Chinese text the UI shows for an English message id (the test reads like the UI does)."""
    return ZH.gettext(message_id).format(**values) if values else ZH.gettext(message_id)


def scan(page: Any, name: str) -> None:
    """axe-core (no serious or critical violations), nothing wider than the phone, and a screenshot."""
    assert axe_violations(page) == [], f"axe found serious or critical violations on {name}"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width}px wide: it scrolls sideways on a phone"
    screenshot(page, name)


def labelled(scope: Any, label: str) -> Any:
    """The control with exactly this label (a required field's label ends in an aria-hidden "*")."""
    return scope.get_by_label(re.compile("^" + re.escape(label) + r"( \*)?$"))


def badge(page: Any) -> str:
    return str(page.locator("h1 + .meta .badge, .meta .badge").first.inner_text()).strip()


def main_text(page: Any) -> str:
    return str(page.locator("main").inner_text())


def small_jpeg(path: Path) -> Path:
    from PIL import Image

    image = Image.new("RGB", (64, 48), (200, 120, 40))
    for x in range(64):
        image.putpixel((x, 24), (20, 20, 20))
    image.save(path, "JPEG", quality=85)
    return path


def submit(page: Any, button: str, url: str | re.Pattern[str]) -> None:
    """Click a submit button and wait for the page it leads to."""
    with page.expect_navigation(url=url):
        page.get_by_role("button", name=button, exact=True).click()


def test_propose_cosign_triage_session_minutes_and_decision(people: dict[str, Any], live_server: LiveServer,
                                                            tmp_path: Path) -> None:
    base = live_server.url
    worker, zhu, wang, luo = people["worker"], people["zhu"], people["wang"], people["luo"]
    photo = small_jpeg(tmp_path / "stairwell.jpg")

    # 1. 朱宇航 raises a topic from his community's page. Typing the title offers similar topics.
    zhu.get_by_role("link", name=COMMUNITY).click()
    zhu.wait_for_url(re.compile(r"/areas/\d+$"))
    community_url = zhu.url
    community_id = int(community_url.rsplit("/", 1)[1])
    zhu.get_by_role("link", name=zh("Raise a topic")).click()
    zhu.wait_for_url(f"{base}/topics/new?area={community_id}")
    scan(zhu, "deliberation-01-propose-form")
    # The suggestions fill a polite live region (present from the start, so screen readers hear them).
    similar = zhu.locator("[aria-live=polite]").filter(has=zhu.locator("#similar-topics"))
    assert similar.count() == 1 and similar.inner_text().strip() == ""
    title = labelled(zhu, zh("Title"))
    title.press_sequentially(TITLE_START, delay=60)
    similar.get_by_role("link", name=SIMILAR_DEMO_TITLE).wait_for()
    assert zh("Similar topics already raised (you can co-sign one instead):") in similar.inner_text()
    scan(zhu, "deliberation-02-propose-similar")
    # Not the same matter (a different stairwell, a different problem): he finishes his own title.
    title.press_sequentially(TITLE.removeprefix(TITLE_START), delay=20)
    assert title.input_value() == TITLE
    labelled(zhu, zh("Category")).select_option(label=zh("Public facilities"))
    zhu.get_by_label(zh("Compound or building (optional)")).select_option(label="3号楼")
    zhu.get_by_label(zh("Place (optional)")).fill("2单元一层到六层")
    zhu.locator("#f-photos").set_input_files(str(photo))
    # The description is missing: the form comes back with the message beside it, nothing typed lost.
    submit(zhu, zh("Publish the topic"), f"{base}/topics/new?area={community_id}")
    assert zhu.locator("#f-description-error").inner_text().strip() == zh("This field is required.")
    assert zhu.locator("#f-description").get_attribute("aria-invalid") == "true"
    assert zhu.locator("#f-title").input_value() == TITLE
    assert zhu.locator(".photo-pending img").count() == 1  # the photo is kept as a pending upload
    scan(zhu, "deliberation-03-propose-errors")
    zhu.locator("#f-description").fill("3号楼2单元的楼道灯坏了一个多月，晚上上下楼看不见台阶，老人已经摔过一次。"
                                       "希望物业尽快更换成声控灯。")
    submit(zhu, zh("Publish the topic"), re.compile(r"/topics/\d+$"))
    topic_url = zhu.url
    assert zhu.locator("h1").inner_text() == TITLE
    assert badge(zhu) == zh("Collecting co-signs")
    assert zhu.locator(".topic-photos img").count() == 1
    scan(zhu, "deliberation-04-topic-collecting")

    # 2. 王伟 comments with a stance while the topic is open, then he and 罗红梅 co-sign: it goes to review.
    wang.goto(topic_url)
    counts = wang.get_by_role("list", name=zh("Stances of the comments"))
    support_count = counts.locator(".stance-support strong")
    assert support_count.inner_text() == "0"
    wang.get_by_role("radio", name=zh("In favour"), exact=True).check()
    labelled(wang, zh("Your comment")).fill("支持！我家老人晚上也不敢下楼。")
    submit(wang, zh("Post the comment"), re.compile(r"/topics/\d+"))
    assert support_count.inner_text() == "1"
    assert "我家老人晚上也不敢下楼" in wang.locator("#comments").inner_text()
    submit(wang, zh("Co-sign"), topic_url)
    assert zh("Thank you: your co-sign was counted.") in main_text(wang)
    assert badge(wang) == zh("Collecting co-signs")
    luo.goto(topic_url)
    submit(luo, zh("Co-sign"), topic_url)
    assert badge(luo) == zh("Awaiting review by community workers")
    scan(luo, "deliberation-05-topic-triage")

    # 3. The worker finds it in the review queue and accepts it onto the agenda.
    worker.goto(base + "/worker/triage")
    scan(worker, "deliberation-06-triage-queue")
    worker.get_by_role("link", name=f"{zh('Review')} {TITLE}").click()
    worker.wait_for_url(re.compile(r"/worker/triage/\d+$"))
    scan(worker, "deliberation-07-triage-topic")
    worker.get_by_label(zh("Note shown on the timeline (optional)")).first.fill("列入本月小院议事会议程。")
    submit(worker, zh("Accept onto the agenda"), base + "/worker/triage")
    worker.goto(topic_url)
    assert badge(worker) == zh("On the agenda, being deliberated")
    scan(worker, "deliberation-08-topic-deliberating")

    # 4. The worker schedules a session for it, starting in 40 minutes (so attendance can be taken
    #    now: it opens an hour before the start), with two seats.
    worker.goto(community_url)
    worker.get_by_role("link", name=zh("Schedule a session")).click()
    worker.wait_for_url(re.compile(r"/worker/communities/\d+/meetings/new"))
    scan(worker, "deliberation-09-schedule-form")
    starts = datetime.now(TIMEZONE).replace(second=0, microsecond=0) + timedelta(minutes=40)
    labelled(worker, zh("Title")).fill("3号楼楼道照明小院议事会")
    worker.get_by_label(zh("Starts (Beijing time)")).fill(starts.strftime("%Y-%m-%dT%H:%M"))
    worker.get_by_label(zh("Ends (Beijing time)")).fill((starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    labelled(worker, zh("Place")).fill("社区居委会二楼会议室")
    labelled(worker, zh("Seats")).fill("2")
    worker.get_by_role("checkbox", name=TITLE, exact=True).check()
    submit(worker, zh("Schedule the session"), re.compile(r"/meetings/\d+$"))
    meeting_url = worker.url
    meeting_id = int(meeting_url.rsplit("/", 1)[1])
    assert worker.locator("h1").inner_text() == "3号楼楼道照明小院议事会"
    assert zh("{left} of {capacity} seats left", left=2, capacity=2) in main_text(worker)
    scan(worker, "deliberation-10-meeting-scheduled")

    # 5. Two residents take the seats, the proposer joins the waitlist; a cancellation promotes him.
    for page in (wang, luo):
        page.goto(meeting_url)
        if page is wang:
            scan(wang, "deliberation-11-meeting-signup")
        submit(page, zh("Sign up"), meeting_url)
        assert zh("You have a seat at this session.") in main_text(page)
    zhu.goto(meeting_url)
    submit(zhu, zh("Join the waitlist"), meeting_url)
    waiting = zh("You are number {n} on the waitlist. You get a seat automatically when one becomes free, "
                 "and we notify you.", n=1)
    assert waiting in main_text(zhu)
    scan(zhu, "deliberation-11-meeting-waitlisted")
    submit(luo, zh("Cancel my seat"), meeting_url)
    assert zh("Your sign-up is cancelled.") in main_text(luo)
    zhu.reload()
    assert zh("You have a seat at this session.") in main_text(zhu)
    assert zh("{left} of {capacity} seats left", left=0, capacity=2) in main_text(zhu)

    # 6. At the session the worker ticks who came, adds walk-ins (罗红梅 came after all, and an
    #    elderly neighbour without an account), then records and publishes the minutes.
    attendance_url = f"{base}/worker/meetings/{meeting_id}/attendance"
    worker.goto(attendance_url)
    scan(worker, "deliberation-12-attendance")
    sheet = worker.locator(".attendance-sheet")
    for name in ("王伟", "朱宇航"):
        sheet.locator("li", has_text=name).get_by_role("checkbox").check()
    submit(worker, zh("Save attendance"), attendance_url)
    assert zh("Attendance saved.") in main_text(worker)
    labelled(worker, zh("Find a registered resident by mobile number or name")).fill("罗红梅")
    with worker.expect_navigation():
        worker.get_by_role("button", name=zh("Find"), exact=True).click()
    scan(worker, "deliberation-13-attendance-find-resident")
    submit(worker, f"{zh('Add as present')} 罗红梅", attendance_url)
    labelled(worker, zh("Or record someone without an account, by name only")).fill("李大爷")
    submit(worker, zh("Add as present"), attendance_url)
    assert zh("The walk-in was added as present.") in main_text(worker)
    stats = worker.get_by_role("list", name=zh("Counts")).locator("strong").all_inner_texts()
    assert stats == ["2", "2", "2", "4"]  # signed up, of them present, walk-ins, present in all
    assert sheet.locator("li", has_text="李大爷").get_by_role("checkbox").is_checked()
    scan(worker, "deliberation-14-attendance-recorded")

    worker.get_by_role("link", name=zh("Go to the minutes")).click()
    worker.wait_for_url(f"{base}/worker/meetings/{meeting_id}/minutes")
    scan(worker, "deliberation-15-minutes-form")
    item = worker.locator("fieldset.minutes-item", has_text=TITLE)
    labelled(item, zh("Summary of the discussion")).fill(
        "到会居民一致认为应尽快更换楼道灯，建议改为声控灯，由物业在两周内完成。")
    labelled(item, zh("Outcome")).select_option(label=zh("Agreed"))
    submit(worker, zh("Publish the minutes"), re.compile(rf"/meetings/{meeting_id}(#minutes)?$"))
    assert zh("Minutes published") in badge(worker)
    scan(worker, "deliberation-16-minutes-published")

    # 7. The worker moves the topic to the decision, records the consensus with the minutes and an
    #    agreed action, and publicises it.
    worker.goto(topic_url)
    labelled(worker, zh("Move the topic to")).select_option(label=zh("Move to the decision"))
    submit(worker, zh("Record the step"), topic_url)
    assert badge(worker) == zh("Being decided")
    scan(worker, "deliberation-17-topic-deciding")
    worker.get_by_role("link", name=zh("Record the decision")).click()
    worker.wait_for_url(topic_url + "/resolution")
    scan(worker, "deliberation-18-resolution-form")
    labelled(worker, zh("Did the residents agree?")).select_option(label=zh("Agreed"))
    labelled(worker, zh("The decision, as residents will read it")).fill(
        "同意将3号楼各单元楼道灯更换为声控灯，费用由物业维修资金列支。")
    minutes_choice = labelled(worker, zh("Published minutes of a session"))
    minutes_choice.select_option(index=1)
    assert TITLE in minutes_choice.locator("option:checked").inner_text()
    first_action = worker.locator("fieldset.action-row").first
    labelled(first_action, zh("What will be done")).fill("更换3号楼1至3单元全部楼道灯为声控灯")
    units = labelled(first_action, zh("Proposed responsible unit"))
    assert units.locator("option").count() > 1, "the demo has no unit serving 多福巷社区"
    units.select_option(index=1)
    target = datetime.now(TIMEZONE).date() + timedelta(days=30)
    labelled(first_action, zh("Target date")).fill(target.isoformat())
    submit(worker, zh("Record the decision"), topic_url)
    assert badge(worker) == zh("Decided: agreed")
    resolution = worker.locator("section.resolution")
    assert "更换3号楼1至3单元全部楼道灯为声控灯" in resolution.inner_text()
    publicity_end = datetime.now(TIMEZONE).date() + timedelta(days=7)
    labelled(worker, zh("Move the topic to")).select_option(label=zh("Publicise the decision"))
    worker.get_by_label(zh("Publicity ends on (only when publicising)")).fill(publicity_end.isoformat())
    submit(worker, zh("Record the step"), topic_url)
    assert badge(worker) == zh("Publicised")

    # 8. Residents read the published minutes on the session page and the decision on the topic page.
    wang.goto(meeting_url)
    minutes = wang.locator("#minutes")
    assert "声控灯" in minutes.inner_text()
    assert zh("Agreed") in minutes.locator(".badge").first.inner_text()
    scan(wang, "deliberation-19-meeting-minutes-resident")
    wang.goto(topic_url)
    assert badge(wang) == zh("Publicised")
    resolution = wang.locator("section.resolution")
    assert zh("Resolution") in resolution.locator("h2").inner_text()
    assert "更换3号楼1至3单元全部楼道灯为声控灯" in resolution.inner_text()
    assert str(publicity_end.year) in resolution.inner_text()
    minutes_link = resolution.get_by_role("link", name=re.compile(zh("Minutes of the session")))
    assert minutes_link.get_attribute("href").startswith(f"/meetings/{meeting_id}#item-")
    assert wang.locator("#comments .stance-support strong").inner_text() == "1"
    scan(wang, "deliberation-20-topic-publicised")
