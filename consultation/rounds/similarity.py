"""Identical and near-identical comment texts, so a campaign of copied comments is counted as what it is.

``normalise`` folds width, case, spaces and punctuation; identical comments share ``norm_hash``.
Near-identical ones are found with a 64-bit SimHash over character bigrams: similar texts have hashes
that differ in few bits, so they very likely share one of four 16-bit bands exactly (within 3 bits
they always do). A lookup by band finds the candidates; ``jaccard`` of the bigram sets decides.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

MAX_DISTANCE = 12  # bits: a cheap first filter before the Jaccard measure decides
MIN_JACCARD = 0.7  # of the bigram sets, to call two texts near-identical
MIN_NEAR_LENGTH = 12  # shorter texts ("同意", "赞成本条") are grouped only when identical
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_MASK64 = (1 << 64) - 1


def normalise(text: str) -> str:
    """NFKC (full width to half width), lower case, without spaces or punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


def norm_hash(normal: str) -> str:
    return hashlib.sha256(normal.encode("utf-8")).hexdigest()[:16]


def bigrams(normal: str) -> set[str]:
    if len(normal) < 2:
        return {normal} if normal else set()
    return {normal[i:i + 2] for i in range(len(normal) - 1)}


def _feature_hash(feature: str) -> int:
    return int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")


def simhash(features: Iterable[str]) -> int:
    """The unsigned 64-bit SimHash of a set of features (0 for none)."""
    weights = [0] * 64
    for feature in features:
        value = _feature_hash(feature)
        for bit in range(64):
            weights[bit] += 1 if value >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def bands(value: int) -> tuple[int, int, int, int]:
    """The four 16-bit bands of an unsigned 64-bit hash."""
    return (value & 0xFFFF, value >> 16 & 0xFFFF, value >> 32 & 0xFFFF, value >> 48 & 0xFFFF)


def to_signed(value: int) -> int:
    """An unsigned 64-bit value as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= 1 << 63 else value


def to_unsigned(value: int) -> int:
    return value & _MASK64


def distance(a: int, b: int) -> int:
    return (to_unsigned(a) ^ to_unsigned(b)).bit_count()


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class Fingerprint:
    """What grouping needs to know of a text."""

    __slots__ = ("bands", "grams", "hash", "normal", "simhash")

    def __init__(self, text: str) -> None:
        self.normal = normalise(text)
        self.hash = norm_hash(self.normal)
        self.grams = bigrams(self.normal)
        self.simhash = simhash(self.grams)
        self.bands = bands(self.simhash)

    @property
    def can_be_near(self) -> bool:
        return len(self.normal) >= MIN_NEAR_LENGTH

    def near(self, other_text: str, other_simhash: int) -> float | None:
        """The Jaccard similarity to another text if it is near-identical to this one, else None."""
        if not self.can_be_near or distance(self.simhash, other_simhash) > MAX_DISTANCE:
            return None
        score = jaccard(self.grams, bigrams(normalise(other_text)))
        return score if score >= MIN_JACCARD else None
