from __future__ import annotations

from pathlib import Path

from consultation.drafts.model import ParsedDraft
from consultation.drafts.parser import parse

TEXTS = Path(__file__).parent / "texts"


def text(name: str) -> str:
    return (TEXTS / f"{name}.txt").read_bytes().decode("utf-8")


def parsed(name: str) -> ParsedDraft:
    return parse(text(name))


def codes(draft: ParsedDraft) -> list[str]:
    return [p.code for p in draft.problems]
