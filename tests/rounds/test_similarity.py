"""Grouping measure: identical after normalisation, near-identical by MinHash LSH bands and bigram
Jaccard; unrelated comments on the same subject are not grouped."""

from __future__ import annotations

import random

from consultation.rounds.similarity import BANDS, Fingerprint, jaccard, normalise

BASE = "坚决反对第二条的登记规定，养犬登记应当免费办理，并且可以在网上完成全部手续。"
COPIES = [
    BASE + "请采纳。",
    "强烈" + BASE,
    BASE.replace("坚决", ""),
    BASE.replace("网上", "手机上"),
    BASE.replace("，", ",  ").replace("。", "!"),
    "我们" + BASE[:-1] + "，谢谢！",
]
DIFFERENT = [
    "建议第二条增加关于犬只收容场所的规定，解决流浪犬问题。",
    "养犬登记的费用标准应当公开，并且需要召开听证会。",
    "希望明确规定遛狗必须牵绳，违者处罚。",
]


def shares_band(a: Fingerprint, b: Fingerprint) -> bool:
    return any(x == y for x, y in zip(a.bands, b.bands, strict=True))


def test_normalise_folds_width_case_spaces_and_punctuation() -> None:
    assert normalise("ＡＢＣ， 第二条！") == normalise("abc,第二条") == "abc第二条"
    assert Fingerprint("同意。").hash == Fingerprint("同意").hash


def test_real_copies_share_a_band_and_pass_the_measure() -> None:
    lead = Fingerprint(BASE)
    for copy in COPIES:
        assert shares_band(lead, Fingerprint(copy)), copy
        assert lead.near(copy) is not None, copy


def test_different_comments_on_the_same_article_are_not_grouped() -> None:
    lead = Fingerprint(BASE)
    for other in DIFFERENT:
        assert lead.near(other) is None, other


def test_short_texts_only_group_when_identical() -> None:
    assert Fingerprint("同意本条").near("同意本条。") is None  # identical texts are found by their hash instead


def test_band_recall_at_the_threshold_is_high() -> None:
    """Random edits down to Jaccard 0.7: the bands find at least 90% of the pairs (theory: 97%)."""
    rng = random.Random(7)
    lead = Fingerprint(BASE * 2)
    found = tried = 0
    for _ in range(300):
        chars = list(BASE * 2)
        for _ in range(rng.randint(1, 6)):
            chars[rng.randrange(len(chars))] = rng.choice("的了和是在有我们他")
        text = "".join(chars)
        if jaccard(lead.grams, Fingerprint(text).grams) < 0.7:
            continue
        tried += 1
        found += shares_band(lead, Fingerprint(text))
    assert tried > 100 and found / tried >= 0.9
    assert len(lead.bands) == BANDS
