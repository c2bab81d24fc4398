from __future__ import annotations

import pytest

from consultation.drafts.numerals import cn_to_int, int_to_cn, to_int

TABLE = [
    (1, "一"), (9, "九"), (10, "十"), (11, "十一"), (19, "十九"), (20, "二十"), (21, "二十一"), (99, "九十九"),
    (100, "一百"), (101, "一百零一"), (105, "一百零五"), (110, "一百一十"), (119, "一百一十九"),
    (123, "一百二十三"), (200, "二百"), (205, "二百零五"), (999, "九百九十九"), (1000, "一千"),
    (1001, "一千零一"), (1010, "一千零一十"), (1260, "一千二百六十"), (2005, "二千零五"),
]


@pytest.mark.parametrize(("number", "text"), TABLE)
def test_round_trip(number: int, text: str) -> None:
    assert int_to_cn(number) == text
    assert cn_to_int(text) == number
    assert to_int(text) == number


def test_every_number_to_two_thousand_round_trips() -> None:
    for n in range(1, 2001):
        assert cn_to_int(int_to_cn(n)) == n


@pytest.mark.parametrize(("text", "number"), [
    ("两百", 200), ("一十二", 12), ("一百十", 110), ("123", 123), ("１２３", 123), (" 7 ", 7), ("〇", None),
])
def test_variants(text: str, number: int | None) -> None:
    assert to_int(text) == number


@pytest.mark.parametrize("text", ["", "百", "千", "一二", "十百", "一百五", "一百零", "零零", "abc", "十条", "-1"])
def test_malformed(text: str) -> None:
    assert to_int(text) is None


@pytest.mark.parametrize("number", [0, -1, 10_000])
def test_int_to_cn_range(number: int) -> None:
    with pytest.raises(ValueError):
        int_to_cn(number)
