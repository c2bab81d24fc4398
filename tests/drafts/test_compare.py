"""Version comparison: renumbering, changes with inline and side-by-side diffs, additions and removals."""

from __future__ import annotations

import itertools

from consultation.drafts.compare import Change, Comparison, compare, inline_diff, side_by_side
from consultation.drafts.numerals import int_to_cn
from consultation.drafts.parser import parse
from tests.drafts.helpers import parsed, text

V1 = """某市养犬管理条例
第一条 为了加强养犬管理，保障公民健康和人身安全，制定本条例。
第二条 本市行政区域内的养犬管理适用本条例。
第三条 养犬人应当依法办理养犬登记。
第四条 禁止在公共场所遛犬时不使用牵引绳。
第五条 违反本条例第四条规定的，由公安机关责令改正，处二百元罚款。
第六条 本条例自2024年1月1日起施行。"""

V2 = """某市养犬管理条例
第一条 为了加强养犬管理，保障公民健康和人身安全，制定本条例。
第二条 本市行政区域内的养犬管理适用本条例。
第三条 市和区人民政府应当建设犬只收容场所。
第四条 养犬人应当依法办理养犬登记。
第五条 禁止在公共场所遛犬时不使用牵引绳，牵引绳长度不得超过一点五米。
第六条 本条例自2025年1月1日起施行。"""


def kinds(comparison: Comparison) -> list[tuple[str, int | None, int | None]]:
    return [(c.change.value, c.old.number if c.old else None, c.new.number if c.new else None)
            for c in comparison.changes]


def test_inserted_article_renumbers_the_rest_instead_of_removing_them() -> None:
    result = compare(parse(V1), parse(V2))
    assert kinds(result) == [
        ("unchanged", 1, 1),
        ("unchanged", 2, 2),
        ("added", None, 3),
        ("renumbered", 3, 4),
        ("renumbered_changed", 4, 5),
        ("removed", 5, None),
        ("changed", 6, 6),
    ]
    counts = result.counts
    assert counts[Change.UNCHANGED] == 2 and counts[Change.ADDED] == 1 and counts[Change.REMOVED] == 1
    assert counts[Change.RENUMBERED] == 1 and counts[Change.RENUMBERED_CHANGED] == 1 and counts[Change.CHANGED] == 1
    renumbered = result.of(Change.RENUMBERED)[0]
    assert renumbered.renumbered and not renumbered.changed and renumbered.segments == []


def test_changed_article_inline_diff() -> None:
    result = compare(parse(V1), parse(V2))
    changed = result.of(Change.CHANGED)[0]
    assert changed.changed and not changed.renumbered
    assert changed.segments == [
        ("equal", "本条例自202"), ("delete", "4"), ("insert", "5"), ("equal", "年1月1日起施行。"),
    ]
    assert [(r.op, r.old, r.new) for r in changed.rows] == [
        ("replace", "本条例自2024年1月1日起施行。", "本条例自2025年1月1日起施行。"),
    ]
    assert 0.9 < changed.similarity < 1


def test_segments_rebuild_both_texts() -> None:
    old, new = "公安机关责令改正，处二百元罚款。", "公安机关应当责令改正；拒不改正的，处五百元罚款。"
    segments = inline_diff(old, new)
    assert "".join(t for op, t in segments if op != "insert") == old
    assert "".join(t for op, t in segments if op != "delete") == new
    assert all(a[0] != b[0] for a, b in itertools.pairwise(segments))


def test_side_by_side_aligns_paragraphs() -> None:
    old = "第一款原文。\n第二款原文。\n第三款原文。"
    new = "第一款原文。\n第二款修改后的文字。\n第三款原文。\n新增的第四款。"
    rows = side_by_side(old, new)
    assert [(r.op, r.old, r.new) for r in rows] == [
        ("equal", "第一款原文。", "第一款原文。"),
        ("replace", "第二款原文。", "第二款修改后的文字。"),
        ("equal", "第三款原文。", "第三款原文。"),
        ("insert", None, "新增的第四款。"),
    ]


def test_added_and_removed_at_the_end() -> None:
    old = parse("第一条 甲规定。\n第二条 乙规定的内容。")
    new = parse("第一条 甲规定。\n第二条 完全不同的新条文，讲别的事情。\n第三条 另一条新规定。")
    result = compare(old, new)
    assert kinds(result) == [("unchanged", 1, 1), ("removed", 2, None), ("added", None, 2), ("added", None, 3)]
    removed = result.of(Change.REMOVED)[0]
    assert removed.segments == [("delete", "乙规定的内容。")]
    assert [(r.op, r.old) for r in removed.rows] == [("delete", "乙规定的内容。")]


def test_deleted_article_shifts_later_ones_back() -> None:
    source = text("shanghai_smoking_control")
    old = parse(source)
    lines = source.split("\n")
    start = next(i for i, line in enumerate(lines) if "第十五条" in line)
    new_lines = lines[:start] + lines[start + 1:]  # drop 第十五条 (one line)
    for n in range(16, 24):  # renumber the rest: 第十六条 → 第十五条 …
            new_lines = [line.replace(f"第{int_to_cn(n)}条　", f"第{int_to_cn(n - 1)}条　") for line in new_lines]
    new = parse("\n".join(new_lines))
    assert new.problems == [] and new.counts.articles == 22
    result = compare(old, new)
    assert result.counts[Change.REMOVED] == 1 and result.of(Change.REMOVED)[0].old.number == 15  # type: ignore[union-attr]
    assert result.counts[Change.UNCHANGED] == 14
    assert result.counts[Change.RENUMBERED] == 8
    assert result.counts[Change.ADDED] == 0


def test_identical_versions_are_all_unchanged() -> None:
    result = compare(parsed("personal_information_protection_law"), parsed("personal_information_protection_law"))
    assert result.counts[Change.UNCHANGED] == 74 and len(result.changes) == 74


def test_same_number_preferred_when_similar() -> None:
    old = parse("第一条 本办法适用于本市居民。\n第二条 本办法适用于本市居民区。")
    new = parse("第一条 本办法适用于本市全体居民。\n第二条 本办法适用于本市居民区。")
    assert kinds(compare(old, new)) == [("changed", 1, 1), ("unchanged", 2, 2)]


def test_swapped_articles_are_renumbered_both_ways() -> None:
    old = parse("第一条 关于犬只登记的规定。\n第二条 关于牵引绳的规定，长度不得超过一米五。")
    new = parse("第一条 关于牵引绳的规定，长度不得超过一米五。\n第二条 关于犬只登记的规定。")
    assert kinds(compare(old, new)) == [("renumbered", 2, 1), ("renumbered", 1, 2)]


def test_renumbered_and_changed_has_a_diff() -> None:
    moved = compare(parse(V1), parse(V2)).of(Change.RENUMBERED_CHANGED)[0]
    assert moved.renumbered and moved.changed
    assert moved.segments == [
        ("equal", "禁止在公共场所遛犬时不使用牵引绳"), ("insert", "，牵引绳长度不得超过一点五米"), ("equal", "。"),
    ]


def test_article_inserted_at_the_start_of_a_real_law() -> None:
    source = text("personal_information_protection_law")
    old = parse(source)
    shifted = source
    for n in range(74, 0, -1):
        shifted = shifted.replace(f"第{int_to_cn(n)}条　", f"第{int_to_cn(n + 1)}条　")
    inserted = "　　第一条　本法所称网信部门，是指国家和地方网信部门。\n"
    shifted = shifted.replace("　　第二条　为了保护个人信息权益", inserted + "　　第二条　为了保护个人信息权益", 1)
    new = parse(shifted)
    assert new.problems == [] and new.counts.articles == 75
    result = compare(old, new)
    assert result.counts[Change.ADDED] == 1 and result.changes[0].change is Change.ADDED
    # quotations such as "本法第十七条第一款" were shifted too, so some renumbered articles also changed text
    assert result.counts[Change.RENUMBERED] + result.counts[Change.RENUMBERED_CHANGED] == 74
    assert result.counts[Change.REMOVED] == 0
