"""Sealed ballots of secret polls while they are open.

A database reader must not learn what anyone chose, even by joining rows written in one transaction
(PostgreSQL ``xmin``, SQLite ``rowid`` order): the ``Ballot`` row of a secret poll is written in the
same transaction that marks the roll entry as voted. So, while the poll is open, that row holds only

- ``sealed``: AES-GCM (a key derived from the server's receipt key and the poll id, a random nonce,
  the poll id as associated data) over canonical JSON ``{choices, receipt_hash, weight}``, padded to a
  fixed size so the length does not tell how many options were chosen;
- ``receipt_hash``: the *lookup* value ``HMAC(receipt_key, "poll-lookup:{poll}:{code}")`` — not the
  SHA-256 of the code that the chain publishes later, so the published list cannot be joined back to
  the (already deleted) rows either.

At close the ballots are unsealed, counted and published as the chain (sorted by the published receipt
hash, all in one transaction) and the sealed rows are deleted. Without the key nothing is readable;
the server (which holds the key) can unseal, as it must to count.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
PAD_BLOCK = 512  # plaintexts are padded to a multiple of this (a ballot of 30 options fits in one)


@dataclass(frozen=True)
class Opened:
    choices: tuple[int, ...]
    receipt_hash: str  # the SHA-256 of the receipt code, as the chain publishes it
    weight: str  # two decimals, as the chain stores it


def _key(receipt_key: bytes, poll_id: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"poll-seal:{poll_id}".encode()).derive(receipt_key)


@lru_cache(maxsize=256)
def _cipher(receipt_key: bytes, poll_id: int) -> AESGCM:
    """The poll's cipher, kept per process: each ballot of a storm would derive its key again."""
    return AESGCM(_key(receipt_key, poll_id))


def lookup(receipt_key: bytes, poll_id: int, code: str) -> str:
    """What a secret poll's open ballot row stores to be found again (for a vote change)."""
    return hmac.new(receipt_key, f"poll-lookup:{poll_id}:{code}".encode(), hashlib.sha256).hexdigest()


def seal(receipt_key: bytes, poll_id: int, choices: Sequence[int], receipt_hash: str, weight: str) -> str:
    plain = json.dumps({"choices": [int(c) for c in choices], "receipt_hash": receipt_hash, "weight": weight},
                       sort_keys=True, separators=(",", ":")).encode()
    plain += b" " * (-len(plain) % PAD_BLOCK or (0 if plain else PAD_BLOCK))
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(receipt_key, poll_id).encrypt(nonce, plain, f"poll:{poll_id}".encode())
    return base64.b64encode(nonce + sealed).decode("ascii")


def unseal(receipt_key: bytes, poll_id: int, sealed: str) -> Opened:
    """Raises ``cryptography.exceptions.InvalidTag`` for a wrong key or a changed row."""
    raw = base64.b64decode(sealed)
    plain = _cipher(receipt_key, poll_id).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:],
                                                       f"poll:{poll_id}".encode())
    data = json.loads(plain.decode())
    return Opened(tuple(int(c) for c in data["choices"]), str(data["receipt_hash"]), str(data["weight"]))
