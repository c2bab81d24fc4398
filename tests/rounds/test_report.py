"""The feedback report of a comment round (public, printable): totals, the heat map of chapters and
articles, themes, adoption figures and, once version 2 exists, each changed article with the adopted
comments behind it; and the staff's exports of every comment with its answer (CSV with BOM, XLSX)."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from typing import Any

import pytest

from consultation.accounts.models import Role
from consultation.drafts import services as drafts
from consultation.rounds import report, services
from consultation.rounds.models import DraftComment
from tests.conftest import WebClient, text_of
from tests.rounds.test_staff import (
    CAMPAIGN,
    V2,
    World,
    articles_of,
    campaign,
    commenter,
    post,
    staff_client,
    world,
)


async def comments_world(db: Any) -> tuple[World, dict[str, DraftComment]]:
    """A campaign of 15 on article 3 (adopted, themed), a representative's comment on article 4 (not
    adopted), two on the whole draft (one pending), one on article 1 with a support."""
    w = await world(db)
    found = {"campaign": await campaign(db, w)}
    found["rep"] = await post(db, w, await commenter(db, w, "代表张三", Role.representative),
                              "助餐服务应当明确财政补贴标准。", on="第四条")
    found["whole"] = await post(db, w, await commenter(db, w), "建议增加对养老护理员的培训补贴规定。", on=None)
    found["whole2"] = await post(db, w, await commenter(db, w), "建议写明养老服务信息平台。", on=None)
    found["first"] = await post(db, w, await commenter(db, w), "立法目的应当写上积极应对人口老龄化。", on="第一条")
    supporter = await commenter(db, w)
    await services.set_support(db, supporter, w.round, found["first"], True)
    staff = w.drafter_actor
    await services.answer(db, staff, w.draft, w.round, found["campaign"], outcome="adopted", reason="已提高标准。")
    await services.answer(db, staff, w.draft, w.round, found["rep"], outcome="not_adopted", reason="另行规定。")
    await services.answer(db, staff, w.draft, w.round, found["whole"], outcome="partly", reason="部分采纳。")
    await services.set_themes(db, staff, w.draft, w.round, found["campaign"], ["设施标准", "验收"])
    await services.set_themes(db, staff, w.draft, w.round, found["rep"], ["助餐"])
    await services.set_themes(db, staff, w.draft, w.round, found["whole"], ["验收"])
    return w, found


def heat_cells(html: str) -> dict[str, tuple[int, int]]:
    """Article label -> (count, heat level) of the report's heat map."""
    cells = re.findall(r'class="heat-cell heat-(\d)" href="/rounds/\d+/articles/\d+" data-count="(\d+)">'
                       r'<span class="heat-label">([^<]+)</span>', html)
    return {label: (int(n), int(level)) for level, n, label in cells}


async def test_report_figures(db: Any, client: WebClient) -> None:
    w, _found = await comments_world(db)
    await db.commit()
    client.cookies.set("lang", "en")
    page = await client.get(f"{w.base}/report")  # public: no log-in
    assert page.status_code == 200
    html = page.text
    totals = dict(re.findall(r"<dt>([^<]+)</dt><dd>([\d,]+)</dd>", html))
    assert totals == {"Comments received": "19", "People who commented": "19", "Representatives": "1",
                      "Comments by representatives": "1", "Distinct opinions (groups)": "5", "Supports": "1"}
    assert heat_cells(html) == {"第一条": (1, 1), "第二条": (0, 0), "第三条": (15, 5), "第四条": (1, 1),
                                "第五条": (0, 0)}
    assert f'href="/rounds/{w.round.id}/articles/{w.articles["第三条"].id}"' in html
    text = text_of(html)
    assert "第二章 居家和社区养老服务 16 comments" in text and "第一章 总则 1 comment" in text
    assert "2 comments are on the draft as a whole." in text
    themes = re.findall(r'<span class="theme-name">([^<]+)</span> <span class="theme-count">(\d+)', html)
    assert themes == [("验收", "16"), ("设施标准", "15"), ("助餐", "1")]
    outcomes = re.findall(r'<tr class="outcome-row-(\w+)"><th scope="row">[^<]+</th><td class="num">(\d+)</td>'
                          r'<td class="num">([\d.%]+)</td>', html)
    assert outcomes == [("adopted", "15", "78.9%"), ("partly", "1", "5.3%"), ("not_adopted", "1", "5.3%"),
                        ("already_provided", "0", "0.0%"), ("out_of_scope", "0", "0.0%"),
                        ("pending", "2", "10.5%")]
    assert "居民1号" not in html and "代表张三" not in html  # the public report names nobody
    assert "/report.csv" not in html and "What changed in version" not in html
    staff = await staff_client(db, client, w)
    page = await staff.get(f"{w.base}/report")
    assert f'href="/rounds/{w.round.id}/report.csv"' in page.text and "/report.xlsx" in page.text
    assert (await client.get("/rounds/987654/report")).status_code == 404


async def test_report_shows_the_changed_articles_with_the_comments_behind_them(db: Any, client: WebClient) -> None:
    w, found = await comments_world(db)
    version2 = await drafts.add_version(db, w.drafter_actor, w.draft, V2)
    new = await articles_of(db, version2.id)
    await services.answer(db, w.drafter_actor, w.draft, w.round, found["campaign"], outcome="adopted",
                          reason="已提高标准。", changed_provision_id=new["第三条"].id)
    await db.commit()
    client.cookies.set("lang", "en")
    html = (await client.get(f"{w.base}/report")).text
    assert "What changed in version 2" in html
    changes = html.split('<section class="card draft-change round-change')[1:]
    kinds = [re.search(r'data-change="(\w+)"', c).group(1) for c in changes]  # type: ignore[union-attr]
    assert kinds == ["changed", "added"]  # the renumbered article 5 → 6 is left out
    changed = changes[0]
    assert "第三条" in changed and "<ins>" in changed and "<del>" in changed
    assert "15 comments led to this change" in text_of(changed)
    assert CAMPAIGN[:40] in changed and "15 identical or near-identical comments" in changed
    added = changes[1]
    assert "第五条" in added and "鼓励志愿者" in added and "led to this change" not in added
    assert f"/drafts/{w.draft.id}/compare?from=1&amp;to=2" in html


async def test_report_of_an_empty_round(db: Any, client: WebClient) -> None:
    w = await world(db)
    await db.commit()
    client.cookies.set("lang", "en")
    page = await client.get(f"{w.base}/report")
    assert page.status_code == 200
    assert "No theme has been given to the comments yet." in page.text
    assert set(heat_cells(page.text).values()) == {(0, 0)}


# --- exports ---------------------------------------------------------------------------------------

async def test_csv_export_has_every_comment_with_its_answer(db: Any, client: WebClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report, "EXPORT_BATCH", 4)  # several batches
    w, found = await comments_world(db)
    staff = await staff_client(db, client, w)
    response = await staff.get(f"{w.base}/report.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["意见编号", "提交时间（北京时间）", "条款"] and "采纳情况" in header and "理由说明" in header
    assert len(body) == 19
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in body}
    lead = by_id[found["campaign"].id]
    assert lead["条款"] == "第三条" and lead["章"] == "第二章" and lead["本组意见数"] == "15"
    assert lead["采纳情况"] == "采纳" and lead["理由说明"] == "已提高标准。" and lead["主题"] == "设施标准、验收"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lead["提交时间（北京时间）"])
    members = [r for r in by_id.values() if r["所属意见组（组首意见编号）"] == str(found["campaign"].id)]
    assert len(members) == 14 and all(r["采纳情况"] == "采纳" for r in members)
    assert by_id[found["rep"].id]["人大代表"] == "是" and lead["人大代表"] == "否"
    assert by_id[found["whole2"].id]["条款"] == "" and by_id[found["whole2"].id]["采纳情况"] == "未答复"
    assert by_id[found["first"].id]["赞同数"] == "1"
    assert "居民1号" not in response.text  # commenters are numbers
    assert len({r["提交人编号"] for r in by_id.values()}) == 19


async def test_xlsx_export_is_a_workbook_with_the_sheet(db: Any, client: WebClient) -> None:
    w, found = await comments_world(db)
    staff = await staff_client(db, client, w)
    response = await staff.get(f"{w.base}/report.xlsx")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    with zipfile.ZipFile(io.BytesIO(response.content)) as book:
        assert book.testzip() is None
        assert {"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} <= set(book.namelist())
        assert 'name="意见及答复"' in book.read("xl/workbook.xml").decode()
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert sheet.count("<row ") == 20  # the header and 19 comments
    assert "意见编号" in sheet and "采纳情况" in sheet and CAMPAIGN in sheet
    assert f'<c r="A2"><v>{found["campaign"].id}</v></c>' in sheet  # ids stay numbers
