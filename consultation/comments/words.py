"""The sensitive-word list (敏感词): matching, and its upkeep by administrators.

A comment containing a listed word is not refused: it is held for review (its author sees it as
pending, nobody else does, and it waits in the moderation queue). Matching ignores case, width
(全角/半角) and spaces or punctuation put between the characters, so "代 开-发票" matches "代开发票".
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from consultation import audit
from consultation.comments.models import WORD_MAX, SensitiveWord
from consultation.db import insert_ignore, utcnow
from consultation.errors import NotFound, ValidationFailed, msg
from consultation.policy import Actor, require
from consultation.table_cache import TableCache
from consultation.validation import check_length

# Sample words for the demo and fresh installs (spam and fraud, the usual trouble in neighbourhood boards).
SAMPLE_WORDS = ("代开发票", "刷单", "网络赌博", "高利贷", "办证")
_NOISE = re.compile(r"[\s\W_]+", re.UNICODE)


def fold(text: str) -> str:
    """Text as matching sees it: NFKC (full-width to half-width), lower case, no spaces or punctuation."""
    return _NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


_WORDS = select(SensitiveWord.word)  # built once
# Every comment checks the list, which administrators change now and then: kept per process until the table
# changes, in this process or another (``consultation.table_cache``), each word with its folded form.
_LIST = TableCache[list[tuple[str, str]]](SensitiveWord.__tablename__, max_entries=16)


async def _folded_list(session: AsyncSession) -> list[tuple[str, str]]:
    async def load() -> list[tuple[str, str]]:
        return [(word, key) for word in (await session.scalars(_WORDS)).all() if (key := fold(word))]

    return await _LIST.get(session, "words", load)


async def matches(session: AsyncSession, text: str) -> list[str]:
    """The listed words that ``text`` contains (an empty list: nothing to hold)."""
    folded = fold(text)
    return [word for word, key in await _folded_list(session) if key in folded]


async def listed(session: AsyncSession) -> list[SensitiveWord]:
    return list((await session.scalars(select(SensitiveWord).order_by(SensitiveWord.word))).all())


async def add_word(session: AsyncSession, actor: Actor, raw: str) -> bool:
    """Add a word (admins only); False if it was already listed (also when two admins add it at once)."""
    require(actor, "comments.manage_words")
    word = unicodedata.normalize("NFKC", raw).strip()
    problem = check_length(word, minimum=1, maximum=WORD_MAX)
    if problem is None and not fold(word):
        problem = msg("A word needs at least one letter or character.")
    if problem is not None:
        raise ValidationFailed({"word": problem})
    added = await insert_ignore(session, SensitiveWord,
                                {"word": word, "added_by_id": actor.user_id, "created_at": utcnow()}, ["word"])
    if added:
        await audit.record(session, "sensitive_word.added", "sensitive_word", word, actor_id=actor.user_id,
                           ip=actor.ip, after={"word": word})
    return added


async def remove_word(session: AsyncSession, actor: Actor, word_id: int) -> str:
    """Remove a listed word (admins only); returns it. Comments held because of it stay held until reviewed."""
    require(actor, "comments.manage_words")
    word = await session.get(SensitiveWord, word_id)
    if word is None:
        raise NotFound()
    text = word.word
    await session.execute(delete(SensitiveWord).where(SensitiveWord.id == word_id))
    await audit.record(session, "sensitive_word.removed", "sensitive_word", text, actor_id=actor.user_id,
                       ip=actor.ip, before={"word": text})
    return text


async def seed_sample_words(session: AsyncSession, actor: Actor) -> int:
    """Add ``SAMPLE_WORDS`` (for the demo); returns how many were new."""
    return sum([await add_word(session, actor, word) for word in SAMPLE_WORDS])
