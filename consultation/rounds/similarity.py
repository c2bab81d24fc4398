"""Identical and near-identical comment texts, so a campaign of copied comments is counted as what it is.

``normalise`` folds width, case, spaces and punctuation; identical comments share ``norm_hash``.
Near-identical ones are found by locality-sensitive hashing of MinHash signatures over character bigrams:
``BANDS`` bands of ``ROWS`` MinHash values each. Two texts whose bigram sets have Jaccard similarity J
share a band with probability 1 - (1 - J**ROWS)**BANDS: 0.97 at J = 0.7, above 0.999 at J = 0.9, and
about 0.05 at J = 0.2. A lookup by band (an index per band column) finds the candidates, and the exact
Jaccard of the bigram sets decides (``MIN_JACCARD``).
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

MIN_JACCARD = 0.7  # of the bigram sets, to call two texts near-identical
MIN_NEAR_LENGTH = 12  # shorter texts ("同意", "赞成本条") are grouped only when identical
BANDS = 6
ROWS = 3
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)
_PRIME = (1 << 61) - 1
_RANDOM = random.Random(20261126)  # fixed: stored bands must be comparable across processes and releases
_PERMUTATIONS = [(_RANDOM.randrange(1, _PRIME), _RANDOM.randrange(0, _PRIME)) for _ in range(BANDS * ROWS)]


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


@lru_cache(maxsize=8192)
def _feature_row(feature: str) -> tuple[int, ...]:
    """The feature's value under each permutation. Kept for the features seen most (about 7 MB at most): a
    comment of 50 characters has about 50 bigrams and 18 permutations, and the common bigrams of Chinese
    text recur in most comments, so a signature is mostly the column minimums of rows already made."""
    h = _feature_hash(feature) % _PRIME
    return tuple((a * h + b) % _PRIME for a, b in _PERMUTATIONS)


def minhash(features: Iterable[str]) -> list[int]:
    """The MinHash signature (``BANDS * ROWS`` values) of a set of features; all zero for none."""
    rows = [_feature_row(f) for f in features]
    if not rows:
        return [0] * (BANDS * ROWS)
    return [min(column) for column in zip(*rows, strict=True)]


def bands(signature: list[int]) -> tuple[int, ...]:
    """One 31-bit value per band (what the ``sim0``… columns store)."""
    values = []
    for i in range(BANDS):
        chunk = ",".join(str(v) for v in signature[i * ROWS:(i + 1) * ROWS])
        digest = hashlib.blake2b(chunk.encode(), digest_size=4).digest()
        values.append(int.from_bytes(digest, "big") & 0x7FFFFFFF)
    return tuple(values)


def jaccard(a: set[str], b: set[str]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class Fingerprint:
    """What grouping needs to know of a text."""

    __slots__ = ("bands", "grams", "hash", "normal")

    def __init__(self, text: str) -> None:
        self.normal = normalise(text)
        self.hash = norm_hash(self.normal)
        self.grams = bigrams(self.normal)
        self.bands = bands(minhash(self.grams))

    @property
    def can_be_near(self) -> bool:
        return len(self.normal) >= MIN_NEAR_LENGTH

    def near(self, other_text: str) -> float | None:
        """The Jaccard similarity to another text if it is near-identical to this one, else None."""
        if not self.can_be_near:
            return None
        score = jaccard(self.grams, bigrams(normalise(other_text)))
        return score if score >= MIN_JACCARD else None
