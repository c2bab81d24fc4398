"""Complete published texts must come out with exactly the right structure."""

from __future__ import annotations

import pytest

from consultation.drafts.model import Counts, Kind
from tests.drafts.helpers import parsed, text

REAL = {
    # 个人信息保护法: 8 chapters, 3 sections in chapter 2, 74 articles, 附则 chapter, 目录
    "personal_information_protection_law": Counts(chapters=8, sections=3, articles=74, paragraphs=109, items=62),
    # 仲裁法 (2017): 8 chapters, 3 sections in chapter 4, 80 articles, Windows line ends, NBSP indents
    "arbitration_law": Counts(chapters=8, sections=3, articles=80, paragraphs=112, items=33),
    # 上海市公共场所控制吸烟条例: no chapters, 23 articles
    "shanghai_smoking_control": Counts(articles=23, paragraphs=35, items=23),
}


@pytest.mark.parametrize(("name", "counts"), REAL.items())
def test_real_texts_have_exact_counts_and_no_problems(name: str, counts: Counts) -> None:
    draft = parsed(name)
    assert draft.counts == counts
    assert draft.problems == []
    assert [a.number for a in draft.articles] == list(range(1, counts.articles + 1))


def test_pipl_structure() -> None:
    draft = parsed("personal_information_protection_law")
    assert draft.preamble == [
        "中华人民共和国个人信息保护法",
        "（2021年8月20日第十三届全国人民代表大会常务委员会第三十次会议通过）",
    ]
    assert draft.title == "中华人民共和国个人信息保护法"
    assert len(draft.toc) == 11 and draft.toc[0] == "第一章 总 则"
    chapters = draft.nodes
    assert [c.title for c in chapters] == [
        "总则", "个人信息处理规则", "个人信息跨境提供的规则", "个人在个人信息处理活动中的权利",
        "个人信息处理者的义务", "履行个人信息保护职责的部门", "法律责任", "附则",
    ]
    assert [s.title for s in chapters[1].children] == [
        "一般规定", "敏感个人信息的处理规则", "国家机关处理个人信息的特别规定",
    ]
    # 附则 is an ordinary chapter holding its articles
    assert chapters[7].key == "c8"
    assert [a.label for a in chapters[7].children] == ["第七十二条", "第七十三条", "第七十四条"]
    nodes = draft.by_key()
    a13 = nodes["c2/s1/a13"]
    assert [len(p.children) for p in a13.children] == [7, 0]
    item3 = nodes["c2/s1/a13/p1/i3"]
    assert item3.label == "（三）" and item3.body == "为履行法定职责或者法定义务所必需；"
    # a paragraph that quotes other articles is one paragraph, not a new article
    a45 = nodes["c4/a45"]
    assert a45.children[0].body == (
        "个人有权向个人信息处理者查阅、复制其个人信息；有本法第十八条第一款、第三十五条规定情形的除外。"
    )
    assert a45.text.startswith("第四十五条 个人有权")
    assert a45.body.startswith("个人有权")
    assert len(a45.children) == 3


def test_arbitration_windows_line_endings_and_sections() -> None:
    source = text("arbitration_law")
    assert "\r\n" in source and "\xa0" in source
    draft = parsed("arbitration_law")
    chapter4 = draft.nodes[3]
    assert chapter4.title == "仲裁程序"
    assert [(s.key, s.title, len(s.children)) for s in chapter4.children] == [
        ("c4/s1", "申请和受理", 9), ("c4/s2", "仲裁庭的组成", 9), ("c4/s3", "开庭和裁决", 19),
    ]
    assert draft.nodes[-1].title == "附则"
    assert all("\r" not in n.text for n in draft.walk())


def test_civil_code_parts_subparts_and_bare_fuze() -> None:
    draft = parsed("civil_code_excerpt")
    assert draft.counts == Counts(parts=3, subparts=1, chapters=3, sections=1, articles=10, paragraphs=13, items=0)
    keys = [n.key for n in draft.walk() if n.kind is not Kind.PARAGRAPH]
    assert keys == [
        "b1", "b1/c1", "b1/c1/a1", "b1/c1/a2", "b1/c1/a3",
        "b2", "b2/sb1", "b2/sb1/c1", "b2/sb1/c1/a205", "b2/sb1/c1/a206", "b2/sb1/c1/a207", "b2/sb1/c1/a208",
        "b2/sb1/c2", "b2/sb1/c2/s1", "b2/sb1/c2/s1/a209",
        "b3", "b3/a1259", "b3/a1260",
    ]
    assert draft.nodes[2].title == "附则" and draft.nodes[2].label == ""
    assert draft.by_key()["b2/sb1/c1/a206"].label == "第二百零六条"
    # chapters restart in each 编, so 第一章 under 第二编 is not a duplicate; the excerpt's omissions are gaps
    assert [(p.code, p.message.params) for p in draft.problems] == [
        ("gap", {"missing": "第四条至第二百零四条", "found": "第二百零五条"}),
        ("gap", {"missing": "第二百一十条至第一千二百五十八条", "found": "第一千二百五十九条"}),
    ]


def test_hashes_are_stable_and_content_based() -> None:
    one, two = parsed("arbitration_law"), parsed("arbitration_law")
    assert [(n.key, n.hash) for n in one.walk()] == [(n.key, n.hash) for n in two.walk()]
    keys = [n.key for n in one.walk()]
    assert len(keys) == len(set(keys))
