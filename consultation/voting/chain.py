"""The published ballot list as a hash chain (no database).

Each entry is ``sha256`` (hex) of the canonical JSON (sorted keys, no spaces, UTF-8, ``ensure_ascii=False``)
of ``{"choices": [...], "prev": <previous hash>, "receipt": <receipt hash>, "seq": n, "weight": "1.00"}``.
The first entry's ``prev`` is ``GENESIS``; ``seq`` counts from 1. Anyone holding the list (and the head
published with the result) can check it with ``verify_chain`` and recount it with ``recount``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from consultation.voting.tally import CountedBallot

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_weight(value: Decimal | Fraction | int | str) -> str:
    """A ballot weight as the chain stores it: two decimals (``1`` → ``"1.00"``, floor area ``86.5`` →
    ``"86.50"``). Raises ``ValueError`` for negative weights or more than two decimals."""
    exact = Fraction(value)
    if exact < 0 or (exact * 100).denominator != 1:
        raise ValueError(f"weight {value!r} is not a non-negative amount with two decimals")
    cents = int(exact * 100)
    return f"{cents // 100}.{cents % 100:02d}"


def entry_hash(prev_hash: str, seq: int, receipt_hash: str, choices: Sequence[int], weight: str) -> str:
    payload = {"choices": [int(c) for c in choices], "prev": prev_hash, "receipt": receipt_hash, "seq": seq,
               "weight": weight}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainEntry:
    seq: int
    receipt_hash: str
    choices: tuple[int, ...]
    weight: str
    prev_hash: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "receipt_hash": self.receipt_hash, "choices": list(self.choices),
                "weight": self.weight, "prev_hash": self.prev_hash, "hash": self.hash}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChainEntry:
        return cls(int(data["seq"]), str(data["receipt_hash"]), tuple(int(c) for c in data["choices"]),
                   str(data["weight"]), str(data["prev_hash"]), str(data["hash"]))


def build_chain(entries: Sequence[tuple[str, Sequence[int], str]]) -> list[ChainEntry]:
    """Chain ``(receipt_hash, choices, weight)`` in publish order (the poll publishes sorted by
    ``receipt_hash``, see ``publish_order``). ``weight`` should already be ``canonical_weight``."""
    chain: list[ChainEntry] = []
    prev = GENESIS
    for seq, (receipt, choices, weight) in enumerate(entries, start=1):
        digest = entry_hash(prev, seq, receipt, choices, weight)
        chain.append(ChainEntry(seq, receipt, tuple(int(c) for c in choices), weight, prev, digest))
        prev = digest
    return chain


def publish_order(entries: Sequence[tuple[str, Sequence[int], str]]) -> list[tuple[str, Sequence[int], str]]:
    """Sorted by receipt hash, so the order says nothing about when anyone voted."""
    return sorted(entries, key=lambda e: e[0])


def head(chain: Sequence[ChainEntry]) -> str:
    """The hash published with the result (``GENESIS`` for an empty list)."""
    return chain[-1].hash if chain else GENESIS


def verify_chain(entries: Sequence[ChainEntry], *, expected_head: str | None = None) -> int | None:
    """Index of the first entry that does not fit (wrong ``seq``, ``prev_hash`` or ``hash``), or ``None``
    if the list is intact. With ``expected_head`` (the published ``Poll.chain_head``) a list cut short or
    replaced at its end is caught too: then the answer is ``len(entries)``."""
    prev = GENESIS
    for index, entry in enumerate(entries):
        if entry.seq != index + 1 or entry.prev_hash != prev:
            return index
        if entry_hash(prev, entry.seq, entry.receipt_hash, entry.choices, entry.weight) != entry.hash:
            return index
        prev = entry.hash
    if expected_head is not None and prev != expected_head:
        return len(entries)
    return None


def recount(entries: Sequence[ChainEntry]) -> list[CountedBallot]:
    """The ballots of a published list, ready for ``tally.count_plurality`` / ``decide``."""
    return [CountedBallot(tuple(e.choices), Fraction(e.weight)) for e in entries]


def find_receipt(entries: Sequence[ChainEntry], receipt_hash: str) -> ChainEntry | None:
    return next((e for e in entries if e.receipt_hash == receipt_hash), None)
