"""Tricky inputs: odd spaces, a 目录, quoted articles, Arabic numbers, numbering problems, junk."""

from __future__ import annotations

from consultation.drafts.model import Counts
from consultation.drafts.parser import parse
from tests.drafts.helpers import codes

SMALL = "\n".join([
    "某市物业管理条例（草案）",
    "（征求意见稿）",
    "目　录",
    "第一章　总　　则",
    "第二章　业主大会",
    "　第一节　一般规定",
    "第三章　附　　则",
    "第一章\u3000总\u3000\u3000则",
    "\u3000\u3000第一条\u3000为了规范物业管理活动，制定本条例。",
    "\xa0\xa0第二条\xa0本条例适用于本市行政区域内的物业管理活动。",
    "第二章 业主大会",
    "第一节 一般规定",
    "第三条 业主大会决定下列事项：",
    "  (一) 制定和修改管理规约；",
    "  （二）选举业主委员会；",
    "依照本条例第十二条的规定召开的业主大会，应当有物业管理区域内专有部分面积占比三分之二以上的业主参与表决。",
    "第十二条规定的业主大会会议，由业主委员会召集。",
    "第三章　附　　则",
    "第四条　本条例自2025年1月1日起施行。",
])


def test_small_draft_with_toc_spaces_and_quotes() -> None:
    draft = parse(SMALL)
    assert draft.problems == []
    assert draft.preamble == ["某市物业管理条例（草案）", "（征求意见稿）"]
    assert draft.toc == ["第一章 总 则", "第二章 业主大会", "第一节 一般规定", "第三章 附 则"]
    assert draft.counts == Counts(chapters=3, sections=1, articles=4, paragraphs=6, items=2)
    nodes = draft.by_key()
    assert nodes["c1"].title == "总则" and nodes["c3"].title == "附则"
    assert nodes["c1/a2"].text == "第二条 本条例适用于本市行政区域内的物业管理活动。"
    a3 = nodes["c2/s1/a3"]
    assert [p.key for p in a3.children] == ["c2/s1/a3/p1", "c2/s1/a3/p2", "c2/s1/a3/p3"]
    assert [i.body for i in a3.children[0].children] == ["制定和修改管理规约；", "选举业主委员会；"]
    assert a3.children[2].body == "第十二条规定的业主大会会议，由业主委员会召集。"
    assert nodes["c3/a4"].body == "本条例自2025年1月1日起施行。"


def test_arabic_and_fullwidth_article_numbers() -> None:
    draft = parse("第1条 甲。\n第2条 乙。\n第３条 丙。\n第123条 丁。")
    assert [a.number for a in draft.articles] == [1, 2, 3, 123]
    assert [a.label for a in draft.articles] == ["第1条", "第2条", "第３条", "第123条"]
    assert [(p.code, p.message.params) for p in draft.problems] == [
        ("gap", {"missing": "第4条至第122条", "found": "第123条"}),
    ]


def test_chinese_numbers_into_the_hundreds() -> None:
    draft = parse("第一百二十二条　甲。\n第一百二十三条　乙。")
    assert [a.number for a in draft.articles] == [122, 123]
    assert draft.articles[1].key == "a123"
    assert codes(draft) == ["gap"]  # 第一条 to 第一百二十一条 are not there


def test_gap_duplicate_and_out_of_order_are_flagged_not_raised() -> None:
    draft = parse("第一条 甲。\n第二条 乙。\n第五条 丙。\n第五条 丁。\n第四条 戊。\n第六条 己。")
    assert [(p.code, p.message.params, p.line) for p in draft.problems] == [
        ("gap", {"missing": "第三条至第四条", "found": "第五条"}, 3),
        ("duplicate", {"label": "第五条"}, 4),
        ("out_of_order", {"label": "第四条", "previous": "第五条"}, 5),
    ]
    assert draft.problems[0].message.msgid == "Numbering gap: {missing} is missing before {found}."
    assert [a.key for a in draft.articles] == ["a1", "a2", "a5", "a5~2", "a4", "a6"]
    assert draft.counts.articles == 6


def test_single_missing_article_and_item_gap() -> None:
    draft = parse("第五条 甲。\n第七条 乙：\n（一）一；\n（三）三。")
    assert [(p.code, p.message.params) for p in draft.problems] == [
        ("gap", {"missing": "第一条至第四条", "found": "第五条"}),
        ("gap", {"missing": "第六条", "found": "第七条"}),
        ("gap", {"missing": "（二）", "found": "（三）"}),
    ]


def test_duplicate_chapter_and_section_numbers() -> None:
    draft = parse("\n".join([
        "第一章 总则", "第一条 甲。", "第一章 又一章", "第二条 乙。",
        "第二章 三", "第一节 甲", "第三条 丙。", "第一节 乙", "第四条 丁。",
    ]))
    assert [(p.code, p.message.params) for p in draft.problems] == [
        ("duplicate", {"label": "第一章"}),
        ("duplicate", {"label": "第一节"}),
    ]
    assert [n.key for n in draft.nodes] == ["c1", "c1~2", "c2"]


def test_unparsed_lines_after_the_body_starts() -> None:
    draft = parse("标题\n第一章 总则\n这一行不属于任何条文\n第一条 甲。\n第二章 其他\n第二条 乙。")
    assert codes(draft) == ["unparsed"]
    problem = draft.problems[0]
    assert problem.line == 3 and problem.message.params == {"line": 3, "text": "这一行不属于任何条文"}
    assert draft.preamble == ["标题"]


def test_empty_and_blank_text() -> None:
    for source in ["", "   \n\u3000\u3000\n\r\n", "\ufeff"]:
        draft = parse(source)
        assert codes(draft) == ["empty"]
        assert draft.problems[0].message.msgid == "The text is empty."
        assert draft.nodes == [] and draft.counts == Counts()


def test_text_without_articles() -> None:
    draft = parse("关于某事的通知\n各单位：请认真落实。")
    assert codes(draft) == ["no_articles"]
    assert draft.preamble == ["关于某事的通知", "各单位：请认真落实。"]


def test_toc_that_never_ends_is_flagged() -> None:
    draft = parse("目录\n第一章 总则\n第二章 附则")
    assert codes(draft) == ["toc_unclosed", "no_articles"]


def test_heading_like_sentence_is_not_a_heading() -> None:
    draft = parse("第一条 甲：\n第二章规定的事项，依照本条执行。\n第二条 乙。")
    assert draft.counts.chapters == 0
    assert [p.body for p in draft.articles[0].children] == ["甲：", "第二章规定的事项，依照本条执行。"]


def test_article_without_space_after_label() -> None:
    draft = parse("第一条为了规范，制定本办法。\n第二条本办法自公布之日起施行。")
    assert [a.body for a in draft.articles] == ["为了规范，制定本办法。", "本办法自公布之日起施行。"]


def test_article_label_on_its_own_line() -> None:
    draft = parse("第一条\n为了规范，制定本办法。\n前款规定适用于本市。")
    assert draft.counts == Counts(articles=1, paragraphs=2)
    assert draft.articles[0].body == "为了规范，制定本办法。\n前款规定适用于本市。"


def test_markdown_headings_and_sub_items() -> None:
    draft = parse("# 某办法\n## 第一章 总则\n第一条 下列情形：\n（一）甲：\n1. 子目一；\n2. 子目二；\n（二）乙。")
    assert draft.preamble == ["某办法"]
    assert draft.counts == Counts(chapters=1, articles=1, paragraphs=1, items=2)
    assert draft.by_key()["c1/a1/p1/i1"].body == "甲：\n1. 子目一；\n2. 子目二；"


def test_same_body_same_hash_regardless_of_number_and_spacing() -> None:
    one = parse("第一条 本条例自公布之日起施行。").articles[0]
    two = parse("第九条　本条例自公布之日起施行。 ").articles[0]
    three = parse("第九条 本条例自发布之日起施行。").articles[0]
    assert one.hash == two.hash != three.hash
