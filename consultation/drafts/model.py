"""The provision tree a parsed draft is made of."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from consultation.drafts.numerals import int_to_cn
from consultation.errors import Message


class Kind(StrEnum):
    PART = "part"  # 编
    SUBPART = "subpart"  # 分编
    CHAPTER = "chapter"  # 章
    SECTION = "section"  # 节
    ARTICLE = "article"  # 条
    PARAGRAPH = "paragraph"  # 款
    ITEM = "item"  # 项


# Path-key prefix and Chinese unit word of each kind.
KEY_PREFIX: dict[Kind, str] = {
    Kind.PART: "b", Kind.SUBPART: "sb", Kind.CHAPTER: "c", Kind.SECTION: "s",
    Kind.ARTICLE: "a", Kind.PARAGRAPH: "p", Kind.ITEM: "i",
}
UNIT: dict[Kind, str] = {
    Kind.PART: "编", Kind.SUBPART: "分编", Kind.CHAPTER: "章", Kind.SECTION: "节",
    Kind.ARTICLE: "条", Kind.PARAGRAPH: "款", Kind.ITEM: "项",
}
HEADING_KINDS = (Kind.PART, Kind.SUBPART, Kind.CHAPTER, Kind.SECTION)

_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """Text with all whitespace removed: what content comparison and hashes look at."""
    return _SPACE.sub("", text)


def content_hash(text: str) -> str:
    return hashlib.sha256(squash(text).encode("utf-8")).hexdigest()[:16]


@dataclass
class Node:
    """One provision. ``text`` is the node's own source text (whitespace-normalised lines, label included);
    ``body`` is the same without the 第X条 / （一） label; ``hash`` is over the squashed body, so an
    article keeps its hash when only its number changes."""

    kind: Kind
    number: int
    label: str  # "第十二条", "第三章", "（二）", "" for paragraphs
    key: str = ""  # "c3/s1/a12/p2/i3"
    title: str = ""  # headings only: "总则"
    text: str = ""
    body: str = ""
    line: int = 0  # 1-based source line where the node starts
    children: list[Node] = field(default_factory=list)

    @property
    def hash(self) -> str:
        return content_hash(self.body)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class Problem:
    """Something the drafter should look at before saving; never fatal."""

    code: str  # "empty" | "no_articles" | "gap" | "duplicate" | "out_of_order" | "unparsed" | "toc_unclosed"
    message: Message
    line: int | None = None


@dataclass
class Counts:
    parts: int = 0
    subparts: int = 0
    chapters: int = 0
    sections: int = 0
    articles: int = 0
    paragraphs: int = 0
    items: int = 0


@dataclass
class ParsedDraft:
    preamble: list[str] = field(default_factory=list)  # title, 通过/公布 lines
    toc: list[str] = field(default_factory=list)  # the 目录 lines, skipped
    nodes: list[Node] = field(default_factory=list)  # top level: headings, or articles when there are none
    problems: list[Problem] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)

    @property
    def title(self) -> str:
        return self.preamble[0] if self.preamble else ""

    def walk(self) -> Iterator[Node]:
        for node in self.nodes:
            yield from node.walk()

    @property
    def articles(self) -> list[Node]:
        return [n for n in self.walk() if n.kind is Kind.ARTICLE]

    def by_key(self) -> dict[str, Node]:
        return {n.key: n for n in self.walk()}

    def find(self, key: str) -> Node | None:
        return self.by_key().get(key)


def cite(kind: Kind, label: str, number: int, article_label: str = "") -> str:
    """How a provision is cited: "第十二条", "第十二条第二款", "第十二条第（三）项"."""
    if kind is Kind.PARAGRAPH:
        return f"{article_label}第{int_to_cn(number)}款"
    if kind is Kind.ITEM:
        return f"{article_label}第{label or int_to_cn(number)}项"
    return label
