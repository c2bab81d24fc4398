"""Chinese and Arabic numerals as used to number legislation (第一百二十三条, 第123条)."""

from __future__ import annotations

DIGITS: dict[str, int] = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}
UNITS: dict[str, int] = {"十": 10, "百": 100, "千": 1000}
CN_CHARS = "".join(DIGITS) + "".join(UNITS)
FULLWIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
NUMERAL_CHARS = CN_CHARS + "0123456789０１２３４５６７８９"
_CN_DIGIT_OUT = "零一二三四五六七八九"


def cn_to_int(text: str) -> int | None:
    """Parse a Chinese numeral below 10 000 ("一百零五" → 105); None if malformed."""
    if not text or any(ch not in DIGITS and ch not in UNITS for ch in text):
        return None
    total = 0
    pending: int | None = None  # a digit waiting for its unit
    last_unit = 10_000
    zero_seen = False
    for ch in text:
        if ch in DIGITS:
            value = DIGITS[ch]
            if value == 0:
                if pending is not None or zero_seen:
                    return None
                zero_seen = True
                continue
            if pending is not None:
                return None  # two digits in a row ("一二")
            pending = value
        else:
            unit = UNITS[ch]
            if unit >= last_unit:
                return None  # units must decrease ("十百")
            if pending is None:
                if total or zero_seen:  # "一百零十" / "一百十": accept the latter as 110
                    if zero_seen:
                        pending = 1
                    elif unit == 10:
                        pending = 1
                    else:
                        return None
                else:
                    if unit != 10:
                        return None  # "百" alone is not a number
                    pending = 1  # "十二" = 12
            total += pending * unit
            pending = None
            last_unit = unit
            zero_seen = False
    if pending is not None:
        if last_unit == 10 or last_unit == 10_000 or zero_seen:
            total += pending
        else:
            return None  # "一百五" is colloquial 150; not used in legislation numbering
    elif zero_seen:
        return None  # trailing zero ("一百零")
    return total if total > 0 or text in ("零", "〇") else None


def to_int(text: str) -> int | None:
    """A legislation number written in Chinese, Arabic or full-width digits."""
    text = text.strip().translate(FULLWIDTH_DIGITS)
    if text.isascii() and text.isdigit():
        return int(text)
    return cn_to_int(text)


def int_to_cn(number: int) -> str:
    """Write 1 … 9999 as legislation does: 十, 十一, 一百零五, 一百一十, 一千零一十."""
    if not 0 < number < 10_000:
        raise ValueError(f"out of range: {number}")
    parts: list[str] = []
    need_zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = number // unit % 10
        if digit == 0:
            if parts:
                need_zero = True
            continue
        if need_zero:
            parts.append("零")
            need_zero = False
        if not (unit == 10 and digit == 1 and not parts):
            parts.append(_CN_DIGIT_OUT[digit])
        parts.append(name)
    return "".join(parts)
