"""The draft-regulation journey in a real browser: the demo drafter 周立法 pastes a draft, previews its
structure and saves it → opens a comment round → residents comment on their phones, one on a paragraph
with a proposed wording, another supports it, and a comment outside the form's rules comes back with the
message beside the field → the drafter publishes version two, answers the comment from the queue
(adopted, linked to the changed article) → the commenter sees the outcome and the new wording in
"My comments on drafts", and the comparison shows the comment behind the change.
Every page on the way gets an axe-core scan and a screenshot in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import DEMO_PASSWORD, LUO, PHONE, WANG, LiveServer
from tests.e2e.test_deliberation_journey import labelled, main_text, scan, submit, zh
from web.i18n import TIMEZONE

pytestmark = pytest.mark.browser

DRAFTER = "13800000001"  # 周立法, legislative staff of 北京市 (web/demo.py)
TITLE = "北京市电动自行车停放充电管理规定（草案）"
V1 = """北京市电动自行车停放充电管理规定（草案）
第一章　总则
第一条　为了规范电动自行车停放和充电，预防火灾事故，保障人身和财产安全，制定本规定。
第二条　本市行政区域内电动自行车的停放、充电及其监督管理，适用本规定。
第二章　停放和充电
第三条　住宅小区应当设置电动自行车集中停放场所。
集中停放场所应当配备充电设施和消防器材。
第四条　禁止在楼道、楼梯间、安全出口处停放电动自行车或者为电动自行车充电。
第五条　本规定自2027年1月1日起施行。"""
V2 = V1.replace("集中停放场所应当配备充电设施和消防器材。",
                "集中停放场所应当配备具有定时断电功能的充电设施和消防器材，并安排专人巡查。")
WORDING = "集中停放场所应当配备具有定时断电功能的充电设施和消防器材，并安排专人巡查。"
COMMENT = "充电设施应当能够定时断电，晚上充满后自动断电，避免过充起火；还要有人定期巡查。"


def local(moment: datetime) -> str:
    return moment.astimezone(TIMEZONE).strftime("%Y-%m-%dT%H:%M")


def log_in(browser: Any, base: str, phone: str) -> Any:
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                  locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(base + "/login")
    page.get_by_label("手机号或邮箱").fill(phone)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录", exact=True).click()
    page.wait_for_url(base + "/")
    return page


@pytest.fixture
def phones(browser: Any, live_server: LiveServer) -> Iterator[dict[str, Any]]:
    pages = {who: log_in(browser, live_server.url, phone)
             for who, phone in (("drafter", DRAFTER), ("wang", WANG), ("luo", LUO))}
    try:
        yield pages
    finally:
        for page in pages.values():
            page.context.close()


def test_publish_comment_answer_and_see_the_outcome(phones: dict[str, Any], live_server: LiveServer) -> None:
    base = live_server.url
    drafter, wang, luo = phones["drafter"], phones["wang"], phones["luo"]

    # 1. The drafter pastes the draft, previews its structure (nothing saved yet) and saves version 1.
    drafter.get_by_role("link", name=zh("Draft regulations")).first.click()
    drafter.wait_for_url(base + "/drafts")
    drafter.goto(base + "/drafts/new")
    labelled(drafter, zh("Area")).select_option(label="北京市")
    labelled(drafter, zh("Text of the draft")).fill(V1)
    submit(drafter, zh("Preview"), base + "/drafts/new")
    preview = drafter.locator("#preview-heading").locator("..")
    shown = preview.inner_text()  # the counts (2 chapters, 5 articles) and no problems; chapters folded
    assert "第二章 停放和充电" in shown and re.search(r"条\s+5\b", shown)
    assert zh("No numbering gaps, duplicates or unrecognised lines were found.") in shown
    scan(drafter, "drafts-01-preview")
    submit(drafter, zh("Save draft"), re.compile(r"/drafts/\d+$"))
    draft_url = drafter.url
    assert drafter.locator("h1").inner_text() == TITLE

    # 2. It opens a round on version 1 (the form proposes 30 days from now); a first submit with the
    #    closing time cleared comes back with the message beside it.
    drafter.get_by_role("link", name=zh("Open a comment round on version {n}", n=1)).click()
    drafter.wait_for_url(re.compile(r"/rounds/new$"))
    now = datetime.now(TIMEZONE)
    labelled(drafter, zh("Opens (Beijing time)")).fill(local(now - timedelta(minutes=1)))
    labelled(drafter, zh("Closes (Beijing time)")).fill("")
    drafter.get_by_label(zh("Everyone with an account")).check()
    submit(drafter, zh("Open the round"), re.compile(r"/rounds/new$"))
    assert drafter.locator("#f-closes_at-error").inner_text().strip() == zh("Enter when the round closes.")
    labelled(drafter, zh("Closes (Beijing time)")).fill(local(now + timedelta(days=30)))
    labelled(drafter, zh("Instructions for commenters (optional)")).fill("请对停放和充电的规定提出意见。")
    submit(drafter, zh("Open the round"), re.compile(r"/rounds/\d+$"))
    round_url = drafter.url
    scan(drafter, "drafts-02-round-staff")

    # 3. 王伟 finds the round from the drafts list and comments on the second paragraph of article 3.
    wang.get_by_role("link", name=zh("Draft regulations")).first.click()
    wang.get_by_role("link", name=TITLE).first.click()
    wang.goto(round_url)
    assert "请对停放和充电的规定提出意见。" in main_text(wang)
    scan(wang, "drafts-03-round-resident")
    wang.get_by_role("link", name=re.compile("^第三条")).first.click()
    wang.wait_for_url(re.compile(r"/rounds/\d+/articles/\d+$"))
    article_url = wang.url
    labelled(wang, zh("Your comment is on")).select_option(label="第三条第二款")
    labelled(wang, zh("Proposed wording (optional)")).fill(WORDING)
    submit(wang, zh("Send the comment"), re.compile(r"/rounds/\d+/(articles/\d+|comments)$"))
    # the comment itself was empty: back with the message, the wording kept
    assert wang.locator("#f-body-error").inner_text().strip() == zh("This field is required.")
    assert labelled(wang, zh("Proposed wording (optional)")).input_value() == WORDING
    scan(wang, "drafts-04-comment-errors")
    labelled(wang, zh("Your comment on the draft")).fill(COMMENT)
    submit(wang, zh("Send the comment"), re.compile(r"/rounds/\d+/articles/\d+"))
    mine = wang.locator(".draft-comment").filter(has_text=COMMENT)
    assert mine.count() == 1 and "第三条第二款" in mine.inner_text()
    scan(wang, "drafts-05-article-commented")

    # 4. 罗红梅 supports it; her name or his never appears on the public page.
    luo.goto(article_url)
    theirs = luo.locator(".draft-comment").filter(has_text=COMMENT)
    theirs.get_by_role("button", name=re.compile(zh("Support this comment"))).click()
    luo.wait_for_url(re.compile(r"/rounds/\d+/articles/\d+"))
    theirs = luo.locator(".draft-comment").filter(has_text=COMMENT)
    assert theirs.get_by_role("button", name=re.compile(zh("Withdraw my support"))).count() == 1
    assert "王伟" not in main_text(luo) and "罗红梅" not in main_text(luo)
    scan(luo, "drafts-06-supported")

    # 5. The drafter publishes version 2, then answers the comment from the queue, linking the new article.
    drafter.goto(draft_url)
    drafter.get_by_role("link", name=zh("Add a new version")).click()
    labelled(drafter, zh("Text of the draft")).fill(V2)
    submit(drafter, zh("Save draft"), re.compile(r"/compare\?from=1&to=2$"))
    assert "定时断电" in drafter.locator(".draft-change ins").first.inner_text()
    drafter.goto(round_url)
    drafter.get_by_role("link", name=zh("Process the comments")).first.click()
    drafter.wait_for_url(re.compile(r"/queue"))
    scan(drafter, "drafts-07-queue")
    row = drafter.locator("li, article, tr").filter(has_text=COMMENT[:20]).last
    row.get_by_role("link", name=re.compile("^" + zh("Answer"))).click()
    drafter.wait_for_url(re.compile(r"/rounds/\d+/comments/\d+"))
    drafter.get_by_label(zh("Adopted"), exact=True).check()
    labelled(drafter, zh("Reason")).fill("采纳。第三条第二款已增加定时断电和专人巡查的要求。")
    select = drafter.locator("#f-changed_provision_id")
    option = select.locator("option").filter(has_text=re.compile("^第三条")).first
    select.select_option(value=option.get_attribute("value"))
    scan(drafter, "drafts-08-answer-form")
    submit(drafter, zh("Save and open the next group"), re.compile(r"/rounds/\d+/(queue|comments/\d+)"))

    # 6. 王伟 sees the outcome and the new wording, and the comparison shows his comment behind the change.
    wang.goto(base + "/my/draft-comments")
    item = wang.locator("main li, main article").filter(has_text=COMMENT).first
    text = item.inner_text()
    assert zh("Adopted") in text and "专人巡查" in text and "定时断电功能" in text
    scan(wang, "drafts-09-my-comments")
    wang.get_by_role("link", name=zh("Compare version {a} with version {b}", a=1, b=2)).first.click()
    wang.wait_for_url(re.compile(r"/compare\?from=1&to=2"))
    behind = wang.locator(".change-comments")
    assert behind.count() == 1 and COMMENT[:20] in behind.inner_text()
    scan(wang, "drafts-10-compare")
