"""Parse the text of a Chinese law or regulation into a provision tree.

Recognises 第X编 / 第X分编 / 第X章 / 第X节 headings, 第X条 articles (Chinese or Arabic numerals), 款
paragraphs (each line of an article) and （一） items; skips a 目录 and keeps the lines before the first
heading as the preamble. Problems (numbering gaps, duplicates, lines outside any article) are reported in
``ParsedDraft.problems``; parsing never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from consultation.drafts.model import (
    HEADING_KINDS,
    KEY_PREFIX,
    UNIT,
    Counts,
    Kind,
    Node,
    ParsedDraft,
    Problem,
    squash,
)
from consultation.drafts.numerals import NUMERAL_CHARS, int_to_cn, to_int
from consultation.errors import Message, msg

_NUM = f"[{NUMERAL_CHARS}]+"
HEADING_RE = re.compile(rf"^第\s*({_NUM})\s*(分编|编|章|节)\s*(.*)$")
ARTICLE_RE = re.compile(rf"^第\s*({_NUM})\s*条(\s*)(.*)$")
ITEM_RE = re.compile(r"^[（(]\s*([一二三四五六七八九十百]+)\s*[）)]\s*(.*)$")
SUBITEM_RE = re.compile(r"^(?:\d+[.．、]|[（(]\d+[）)])")  # 目 inside an item: kept with the item
# After "第X条" with no space, these characters mean the line quotes an article instead of starting one.
QUOTE_FOLLOWERS = set("第、，,。；;：:的规至和或及中所款项之（(")
UNNUMBERED_HEADINGS = {"附则"}
HEADING_UNITS = {"编": Kind.PART, "分编": Kind.SUBPART, "章": Kind.CHAPTER, "节": Kind.SECTION}
_SPACES = re.compile(r"[\s\u3000\xa0\u2000-\u200a\u202f\u205f]+")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_MARKDOWN = re.compile(r"^(?:#{1,6}\s*|>\s*)")


def normalise_lines(text: str) -> list[str]:
    """Lines with Windows/Mac line ends, full-width, non-breaking and odd spaces normalised to one space."""
    text = text.replace("\ufeff", "").replace("\u200b", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        line = _MARKDOWN.sub("", line)
        if line.startswith("**") and line.endswith("**") and len(line) > 4:
            line = line[2:-2].strip()
        lines.append(line)
    return lines


def _is_heading_title(title: str) -> bool:
    return len(title) <= 40 and not re.search(r"[。；;，,：:]", title)


@dataclass
class _Sequence:
    last: int = 0
    seen: set[int] = field(default_factory=set)


class _Parser:
    def __init__(self) -> None:
        self.draft = ParsedDraft()
        self.heads: dict[Kind, Node | None] = dict.fromkeys(HEADING_KINDS)
        self.article: Node | None = None
        self.article_lines: list[str] = []
        self.article_first = ""
        self.paragraph: Node | None = None
        self.item: Node | None = None
        self.sequences: dict[tuple[str, str], _Sequence] = {}
        self.keys: set[str] = set()
        self.body_started = False
        self.arabic = False

    # -- numbering ---------------------------------------------------------------------------------
    def _label(self, kind: Kind, number: int) -> str:
        if kind is Kind.ITEM:
            return f"（{int_to_cn(number)}）"
        return f"第{number if self.arabic else int_to_cn(number)}{UNIT[kind]}"

    def _check_number(self, kind: Kind, scope: str, number: int, label: str, line: int) -> None:
        seq = self.sequences.setdefault((kind.value, scope), _Sequence())
        if number in seq.seen:
            self._problem("duplicate", msg("{label} appears more than once.", label=label), line)
        elif number < seq.last:
            self._problem(
                "out_of_order",
                msg("{label} is out of order: it comes after {previous}.",
                    label=label, previous=self._label(kind, seq.last)),
                line,
            )
        elif number > seq.last + 1:
            first, last = self._label(kind, seq.last + 1), self._label(kind, number - 1)
            missing = first if number == seq.last + 2 else f"{first}至{last}"
            self._problem("gap", msg("Numbering gap: {missing} is missing before {found}.",
                                     missing=missing, found=label), line)
        seq.seen.add(number)
        seq.last = max(seq.last, number)

    def _problem(self, code: str, message: Message, line: int | None) -> None:
        self.draft.problems.append(Problem(code, message, line))

    def _key(self, parent: Node | None, kind: Kind, number: int) -> str:
        own = f"{KEY_PREFIX[kind]}{number}"
        key = f"{parent.key}/{own}" if parent else own
        if key in self.keys:  # duplicates keep distinct ids
            n = 2
            while f"{key}~{n}" in self.keys:
                n += 1
            key = f"{key}~{n}"
        self.keys.add(key)
        return key

    def _attach(self, parent: Node | None, node: Node) -> None:
        if parent is None:
            self.draft.nodes.append(node)
        else:
            parent.children.append(node)

    # -- structure ---------------------------------------------------------------------------------
    def unnumbered_heading(self, text: str, line: int) -> None:
        """A bare "附则" (民法典 style): a heading at the highest level in use, numbered after the last one."""
        kind = next((k for k in HEADING_KINDS if any(n.kind is k for n in self.draft.walk())), Kind.CHAPTER)
        scope = self.heads[Kind.PART] if kind is Kind.CHAPTER else None
        number = self.sequences.get((kind.value, scope.key if scope else ""), _Sequence()).last + 1
        self.heading(kind, number, "", squash(text), text, line, numbered=False)

    def heading(
        self, kind: Kind, number: int, label: str, title: str, text: str, line: int, numbered: bool = True
    ) -> None:
        self.close_article()
        order = HEADING_KINDS.index(kind)
        for lower in HEADING_KINDS[order:]:
            self.heads[lower] = None
        parent = next((self.heads[k] for k in reversed(HEADING_KINDS[:order]) if self.heads[k]), None)
        # Chapters are numbered through a whole 编 (across its 分编); sections restart in each chapter.
        scope_kind = {Kind.PART: None, Kind.SUBPART: Kind.PART, Kind.CHAPTER: Kind.PART,
                      Kind.SECTION: Kind.CHAPTER}[kind]
        scope_node = self.heads[scope_kind] if scope_kind else None
        if numbered:
            self._check_number(kind, scope_node.key if scope_node else "", number, label, line)
        else:
            self.sequences.setdefault((kind.value, scope_node.key if scope_node else ""), _Sequence()).last = number
        node = Node(kind, number, label, self._key(parent, kind, number), title, text, title, line)
        self._attach(parent, node)
        self.heads[kind] = node

    def start_article(self, number: int, label: str, rest: str, text: str, line: int) -> None:
        self.close_article()
        parent = next((self.heads[k] for k in reversed(HEADING_KINDS) if self.heads[k]), None)
        self._check_number(Kind.ARTICLE, "", number, label, line)
        self.article = Node(Kind.ARTICLE, number, label, self._key(parent, Kind.ARTICLE, number), line=line)
        self._attach(parent, self.article)
        self.article_lines = [text]
        self.article_first = rest
        if rest:
            self.new_paragraph(rest, line)

    def new_paragraph(self, text: str, line: int) -> None:
        assert self.article is not None
        number = len(self.article.children) + 1
        self.paragraph = Node(Kind.PARAGRAPH, number, "", f"{self.article.key}/p{number}", text=text, body=text,
                              line=line)
        self.article.children.append(self.paragraph)
        self.item = None

    def add_item(self, number: int, label: str, rest: str, text: str, line: int) -> None:
        assert self.article is not None
        if self.paragraph is None:
            self.new_paragraph("", line)
        assert self.paragraph is not None
        self._check_number(Kind.ITEM, self.paragraph.key, number, label, line)
        self.item = Node(Kind.ITEM, number, label, self._key(self.paragraph, Kind.ITEM, number), text=text,
                         body=rest, line=line)
        self.paragraph.children.append(self.item)
        self._extend(self.paragraph, text)

    def article_line(self, text: str, line: int) -> None:
        self.article_lines.append(text)
        if self.item is not None and SUBITEM_RE.match(text):
            self._extend(self.item, text)
            assert self.paragraph is not None
            self._extend(self.paragraph, text)
            return
        item = ITEM_RE.match(text)
        number = to_int(item.group(1)) if item else None
        if item and number:
            self.add_item(number, text[: len(text) - len(item.group(2))].strip(), item.group(2), text, line)
        else:
            self.new_paragraph(text, line)

    @staticmethod
    def _extend(node: Node, text: str) -> None:
        node.text = f"{node.text}\n{text}" if node.text else text
        node.body = f"{node.body}\n{text}" if node.body else text

    def close_article(self) -> None:
        if self.article is not None:
            self.article.text = "\n".join(self.article_lines)
            self.article.body = "\n".join([self.article_first, *self.article_lines[1:]]).strip("\n")
        self.article = self.paragraph = self.item = None
        self.article_lines = []

    # -- line classification -----------------------------------------------------------------------
    def match_heading(self, text: str) -> tuple[Kind, int, str, str] | None:
        m = HEADING_RE.match(text)
        if not m:
            return None
        number, title = to_int(m.group(1)), _CJK_GAP.sub("", m.group(3).strip())
        if number is None or not _is_heading_title(title):
            return None
        return HEADING_UNITS[m.group(2)], number, text[: m.end(2)].replace(" ", ""), title

    def match_article(self, text: str) -> tuple[int, str, str] | None:
        m = ARTICLE_RE.match(text)
        if not m:
            return None
        number = to_int(m.group(1))
        if number is None:
            return None
        sep, rest = m.group(2), m.group(3).strip()
        if not sep and rest:
            expected = self.sequences.get(("article", ""), _Sequence()).last + 1
            if rest[0] in QUOTE_FOLLOWERS or number != expected:
                return None  # "第十二条的规定…" continues a paragraph
        self.arabic = m.group(1).translate(str.maketrans("０１２３４５６７８９", "0123456789")).isdigit()
        return number, f"第{m.group(1)}条", rest

    def feed(self, lines: list[str]) -> None:
        in_toc = False
        toc_first: tuple[Kind, int] | None = None
        for index, text in enumerate(lines, start=1):
            if not text:
                continue
            heading = self.match_heading(text)
            article = None if heading else self.match_article(text)
            if in_toc:
                if heading and toc_first is None:
                    toc_first = heading[:2]
                elif (heading and heading[:2] == toc_first) or article:
                    in_toc = False
                    if article and toc_first is not None:
                        self._problem("toc_unclosed", msg(
                            "The table of contents (目录) is not followed by the headings it lists."), index)
                if in_toc:
                    self.draft.toc.append(text)
                    continue
            elif not self.body_started and squash(text) == "目录":
                in_toc = True
                continue
            if self.body_started and squash(text) in UNNUMBERED_HEADINGS:
                self.unnumbered_heading(text, index)
            elif heading:
                self.body_started = True
                self.heading(heading[0], heading[1], heading[2], heading[3], text, index)
            elif article:
                self.body_started = True
                self.start_article(article[0], article[1], article[2], text, index)
            elif self.article is not None:
                self.article_line(text, index)
            elif not self.body_started:
                self.draft.preamble.append(text)
            else:
                self._problem("unparsed", msg("Line {line} is outside any article and was not recognised: {text}",
                                              line=index, text=text[:80]), index)
        self.close_article()
        if in_toc:
            self._problem("toc_unclosed", msg(
                "The table of contents (目录) is not followed by the headings it lists."), None)


def count(draft: ParsedDraft) -> Counts:
    counts = Counts()
    attr = {Kind.PART: "parts", Kind.SUBPART: "subparts", Kind.CHAPTER: "chapters", Kind.SECTION: "sections",
            Kind.ARTICLE: "articles", Kind.PARAGRAPH: "paragraphs", Kind.ITEM: "items"}
    for node in draft.walk():
        setattr(counts, attr[node.kind], getattr(counts, attr[node.kind]) + 1)
    return counts


def parse(text: str) -> ParsedDraft:
    """Parse legislative text. Never raises; see ``ParsedDraft.problems``."""
    parser = _Parser()
    lines = normalise_lines(text or "")
    if not any(lines):
        parser.draft.problems.append(Problem("empty", msg("The text is empty.")))
        return parser.draft
    parser.feed(lines)
    draft = parser.draft
    draft.counts = count(draft)
    if draft.counts.articles == 0:
        draft.problems.append(Problem("no_articles", msg("No articles (第…条) were found in the text.")))
    return draft
