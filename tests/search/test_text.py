"""Query parsing and safe highlighting, the parts of search that need no engine."""

from __future__ import annotations

from search.catalog import build_registry
from search.fallback import fts_match
from search.service import parse_query
from search.text import MARK_END, MARK_START, highlight, marked, query_groups, spaced_chars


def test_query_words_are_cut_by_jieba_and_civic_words_bring_their_synonyms() -> None:
    assert query_groups("加装电梯") == [["加装"], ["电梯"]]
    assert query_groups("充电桩  多福巷") == [["充电桩", "充电设施", "充电站"], ["多福"], ["巷"]]
    assert query_groups("！？、") == []
    assert query_groups("ＡＢＣ１２") == [["abc12"]]  # full-width letters and digits are folded


def test_fts_query_quotes_every_term() -> None:
    assert fts_match([["a\"b"]]) == '((words : "a""b"* OR chars : "a""b"*))'
    assert fts_match([["多福"], ["巷"]]) == \
        '((words : "多福"* OR chars : "多 福"*)) AND ((words : "巷"* OR chars : "巷"*))'
    assert spaced_chars("多福巷 Road") == "多 福 巷 road"


def test_highlight_escapes_before_marking() -> None:
    assert str(highlight("<b>电梯</b> & 电梯", ["电梯"])) == \
        "&lt;b&gt;<mark>电梯</mark>&lt;/b&gt; &amp; <mark>电梯</mark>"
    assert str(highlight("amp &", ["amp"])) == "<mark>amp</mark> &amp;"
    assert str(marked(f"<script>{MARK_START}多福{MARK_END}")) == "&lt;script&gt;<mark>多福</mark>"


def test_parse_query_ignores_what_it_cannot_use() -> None:
    registry = build_registry()
    query = parse_query({"q": "  多福巷 ", "type": "secret", "area": "-1", "page": "x"}, registry)
    assert (query.text, query.doc_type, query.area_id, query.page) == ("多福巷", None, None, 1)
    assert parse_query({"type": "area", "area": "7", "page": "1000"}, registry).page == 50
