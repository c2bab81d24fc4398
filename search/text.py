"""Text handling shared by indexing and the fallback: normalisation, jieba segmentation, query
terms with synonyms, and safe highlighting (escape first, then mark)."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable

import jieba
from markupsafe import Markup, escape

jieba.setLogLevel(logging.WARNING)

# Highlight markers Meilisearch wraps around matches: private-use characters that documents never
# contain (``normalise`` strips them), turned into <mark> only after the text has been escaped.
MARK_START = "\ue000"
MARK_END = "\ue001"
MAX_QUERY_CHARS = 200

# Civic vocabulary that residents and offices use interchangeably (each group is mutual).
SYNONYM_GROUPS: tuple[tuple[str, ...], ...] = (
    ("电梯", "升降梯", "直梯"),
    ("充电桩", "充电设施", "充电站"),
    ("物业", "物业公司", "物业服务企业"),
    ("居委会", "居民委员会", "社区居委会"),
    ("街道办", "街道办事处"),
    ("人大代表", "代表"),
    ("停车位", "车位"),
    ("垃圾分类", "垃圾分拣"),
)
SYNONYMS: dict[str, list[str]] = {
    word: [other for other in group if other != word] for group in SYNONYM_GROUPS for word in group
}

_CJK = re.compile(r"([\u3400-\u9fff\uf900-\ufaff])")
_WORDISH = re.compile(r"\w", re.UNICODE)


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), no marker characters, folded whitespace."""
    text = unicodedata.normalize("NFKC", text).replace(MARK_START, "").replace(MARK_END, "")
    return re.sub(r"\s+", " ", text).strip()


def segment(text: str) -> list[str]:
    """jieba's search-engine cut (long words also yield their parts), lower-cased, no punctuation."""
    return [word.lower() for word in jieba.cut_for_search(normalise(text)) if _WORDISH.search(word)]


def spaced_chars(text: str) -> str:
    """Every CJK character as its own token, other words intact: a phrase query is then a substring match."""
    return re.sub(r"\s+", " ", _CJK.sub(r" \1 ", normalise(text).lower())).strip()


def query_groups(query: str) -> list[list[str]]:
    """The query as AND-ed groups of alternatives: a known civic word brings its synonyms,
    anything else is cut by jieba into words that must all appear."""
    groups: list[list[str]] = []
    for part in normalise(query)[:MAX_QUERY_CHARS].lower().split(" "):
        if not part:
            continue
        if part in SYNONYMS:
            groups.append([part, *SYNONYMS[part]])
            continue
        groups.extend([word] for word in jieba.cut(part) if _WORDISH.search(word))
    return groups


def highlight(text: str, terms: Iterable[str]) -> Markup:
    """Escape ``text`` and wrap each occurrence of a term (case-insensitive) in <mark>."""
    wanted = sorted({t for t in terms if t}, key=len, reverse=True)
    if not wanted:
        return escape(text)
    pattern = re.compile("|".join(re.escape(t) for t in wanted), re.IGNORECASE)
    spans: list[list[int]] = []
    for match in pattern.finditer(text):
        if spans and spans[-1][1] == match.start():
            spans[-1][1] = match.end()  # adjacent words read as one mark: 多福巷, not 多福|巷
        else:
            spans.append([match.start(), match.end()])
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        pieces.append(f"{escape(text[position:start])}<mark>{escape(text[start:end])}</mark>")
        position = end
    pieces.append(str(escape(text[position:])))
    return Markup("".join(pieces))  # noqa: S704 - every piece was escaped above


def marked(formatted: str) -> Markup:
    """Meilisearch's ``_formatted`` text made safe: escape everything, then turn markers into <mark>."""
    safe = str(escape(formatted.replace(MARK_END + MARK_START, "")))
    return Markup(safe.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>"))  # noqa: S704


def excerpt(text: str, terms: Iterable[str], width: int = 80) -> str:
    """About ``width`` characters of ``text`` around the first term found (or its start)."""
    if len(text) <= width:
        return text
    lowered = text.lower()
    hits = [i for i in (lowered.find(t.lower()) for t in terms if t) if i >= 0]
    start = max(0, min(hits) - width // 4) if hits else 0
    end = min(len(text), start + width)
    return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")
