"""Article-level comparison of two versions of a draft.

Articles are matched by content, so an article that only moved to a new number is "renumbered", not
"removed" plus "added". Matching: identical bodies first (same number preferred), then the remaining pairs
greedily by similarity (difflib ratio over whitespace-free text), with a small bonus for keeping the same
number, above a threshold.
"""

from __future__ import annotations

import difflib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from consultation.drafts.model import Node, ParsedDraft, squash

MATCH_THRESHOLD = 0.5  # similarity needed to call two differently numbered articles the same article
SAME_NUMBER_THRESHOLD = 0.35  # a same-numbered article needs less: it is the natural continuation
SAME_NUMBER_BONUS = 0.1  # tie-breaker in favour of keeping the number
PREFILTER = 0.15  # character-bigram Jaccard below which difflib is not even run

Op = Literal["equal", "insert", "delete"]


class Change(StrEnum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    RENUMBERED = "renumbered"
    RENUMBERED_CHANGED = "renumbered_changed"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True)
class Row:
    """One line of a side-by-side view: a paragraph of the old article beside one of the new."""

    op: Literal["equal", "replace", "insert", "delete"]
    old: str | None
    new: str | None
    segments: list[tuple[Op, str]] = field(default_factory=list)


@dataclass
class ArticleChange:
    change: Change
    old: Node | None
    new: Node | None
    similarity: float
    segments: list[tuple[Op, str]] = field(default_factory=list)  # inline diff of the bodies
    rows: list[Row] = field(default_factory=list)

    @property
    def renumbered(self) -> bool:
        return self.change in (Change.RENUMBERED, Change.RENUMBERED_CHANGED)

    @property
    def changed(self) -> bool:
        return self.change in (Change.CHANGED, Change.RENUMBERED_CHANGED)


@dataclass
class Comparison:
    changes: list[ArticleChange]

    @property
    def counts(self) -> dict[Change, int]:
        counter = Counter(c.change for c in self.changes)
        return {kind: counter.get(kind, 0) for kind in Change}

    def of(self, kind: Change) -> list[ArticleChange]:
        return [c for c in self.changes if c.change is kind]


def similarity(a: str, b: str) -> float:
    a, b = squash(a), squash(b)
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def _bigrams(text: str) -> set[str]:
    text = squash(text)
    return {text[i : i + 2] for i in range(len(text) - 1)} or {text}


def inline_diff(old: str, new: str) -> list[tuple[Op, str]]:
    """Character-level diff as (op, text) segments; replacements come out as delete then insert."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    segments: list[tuple[Op, str]] = []

    def add(op: Op, text: str) -> None:
        if not text:
            return
        if segments and segments[-1][0] == op:
            segments[-1] = (op, segments[-1][1] + text)
        else:
            segments.append((op, text))

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", old[i1:i2])
        else:
            add("delete", old[i1:i2])
            add("insert", new[j1:j2])
    return segments


def side_by_side(old: str, new: str) -> list[Row]:
    """Align the paragraphs (lines) of two article bodies; changed lines carry their inline diff."""
    a, b = old.split("\n") if old else [], new.split("\n") if new else []
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(Row("equal", line, line, [("equal", line)]) for line in a[i1:i2])
            continue
        olds, news = a[i1:i2], b[j1:j2]
        for k in range(max(len(olds), len(news))):
            o = olds[k] if k < len(olds) else None
            n = news[k] if k < len(news) else None
            if o is not None and n is not None:
                rows.append(Row("replace", o, n, inline_diff(o, n)))
            elif o is not None:
                rows.append(Row("delete", o, None, [("delete", o)]))
            elif n is not None:
                rows.append(Row("insert", None, n, [("insert", n)]))
    return rows


def _match(old: list[Node], new: list[Node]) -> dict[int, tuple[int, float]]:
    """old index → (new index, similarity)."""
    pairs: dict[int, tuple[int, float]] = {}
    used_new: set[int] = set()
    # 1. identical content: same number first, then in document order
    by_hash: dict[str, list[int]] = defaultdict(list)
    for j, node in enumerate(new):
        by_hash[node.hash].append(j)
    for prefer_same in (True, False):
        for i, node in enumerate(old):
            if i in pairs:
                continue
            for j in by_hash.get(node.hash, []):
                if j not in used_new and (not prefer_same or new[j].number == node.number):
                    pairs[i] = (j, 1.0)
                    used_new.add(j)
                    break
    # 2. similar content, greedy by score
    rest_old = [i for i in range(len(old)) if i not in pairs]
    rest_new = [j for j in range(len(new)) if j not in used_new]
    grams_new = {j: _bigrams(new[j].body) for j in rest_new}
    index: dict[str, list[int]] = defaultdict(list)
    for j, grams in grams_new.items():
        for gram in grams:
            index[gram].append(j)
    candidates: list[tuple[float, float, int, int]] = []
    for i in rest_old:
        grams = _bigrams(old[i].body)
        overlap: Counter[int] = Counter()
        for gram in grams:
            overlap.update(index.get(gram, ()))
        for j, shared in overlap.items():
            same = new[j].number == old[i].number
            jaccard = shared / (len(grams) + len(grams_new[j]) - shared)
            if jaccard < PREFILTER and not same:
                continue
            score = similarity(old[i].body, new[j].body)
            if score >= (SAME_NUMBER_THRESHOLD if same else MATCH_THRESHOLD):
                candidates.append((score + (SAME_NUMBER_BONUS if same else 0.0), score, i, j))
    candidates.sort(key=lambda c: (-c[0], c[2], c[3]))
    for _, score, i, j in candidates:
        if i not in pairs and j not in used_new:
            pairs[i] = (j, score)
            used_new.add(j)
    return pairs


def _pair(old: Node, new: Node, score: float) -> ArticleChange:
    same_text = old.hash == new.hash
    same_number = old.number == new.number
    if same_text:
        kind = Change.UNCHANGED if same_number else Change.RENUMBERED
        return ArticleChange(kind, old, new, 1.0)
    kind = Change.CHANGED if same_number else Change.RENUMBERED_CHANGED
    return ArticleChange(kind, old, new, score, inline_diff(old.body, new.body), side_by_side(old.body, new.body))


def compare(old: ParsedDraft, new: ParsedDraft) -> Comparison:
    """Compare the articles of two versions, in the new version's order (removed ones where they stood)."""
    a, b = old.articles, new.articles
    pairs = _match(a, b)
    by_new = {j: (i, score) for i, (j, score) in pairs.items()}
    changes: list[ArticleChange] = []
    next_old = 0

    def flush_removed(upto: int) -> None:
        nonlocal next_old
        while next_old < upto:
            if next_old not in pairs:
                node = a[next_old]
                changes.append(ArticleChange(Change.REMOVED, node, None, 0.0, [("delete", node.body)],
                                             side_by_side(node.body, "")))
            next_old += 1

    # the old index of the next matched article at or after each new position: removals in a gap come first
    next_anchor = [len(a)] * (len(b) + 1)
    for j in range(len(b) - 1, -1, -1):
        next_anchor[j] = by_new[j][0] if j in by_new else next_anchor[j + 1]

    for j, node in enumerate(b):
        if j in by_new:
            i, score = by_new[j]
            flush_removed(i)
            next_old = max(next_old, i + 1)
            changes.append(_pair(a[i], node, score))
        else:
            flush_removed(next_anchor[j])
            changes.append(ArticleChange(Change.ADDED, None, node, 0.0, [("insert", node.body)],
                                         side_by_side("", node.body)))
    flush_removed(len(a))
    return Comparison(changes)
