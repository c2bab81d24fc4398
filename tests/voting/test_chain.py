"""The published ballot list: canonical hashing, recount, and tamper detection."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction as F

import pytest

from consultation.voting import chain, tally
from consultation.voting.chain import GENESIS, ChainEntry, build_chain, entry_hash, verify_chain

YES, NO, ABSTAIN = 11, 12, 13
A, B, C, D = 1, 2, 3, 4


def receipt(n: int) -> str:
    return hashlib.sha256(f"receipt-{n}".encode()).hexdigest()


def published(rows: Sequence[tuple[tuple[int, ...], str]]) -> list[ChainEntry]:
    entries = [(receipt(i), choices, weight) for i, (choices, weight) in enumerate(rows)]
    return build_chain(chain.publish_order(entries))


Row = tuple[tuple[int, ...], str]
OWNERS: list[Row] = [((YES,), "100.00"), ((YES,), "86.50"), ((NO,), "120.25"), ((ABSTAIN,), "90.00"),
                     ((YES,), "75.75"), ((YES,), "101.10")]
RANKED: list[Row] = [(choices, "1.00") for n, choices in (
    (8, (A,)), (6, (B, C)), (5, (C, A)), (3, (D, C))) for _ in range(n)]


def test_entry_hash_is_sha256_of_canonical_json() -> None:
    expected_json = '{"choices":[3,1],"prev":"' + GENESIS + '","receipt":"abc","seq":1,"weight":"1.00"}'
    assert chain.canonical_json({"seq": 1, "weight": "1.00", "receipt": "abc", "prev": GENESIS, "choices": [3, 1]}) \
        == expected_json
    assert entry_hash(GENESIS, 1, "abc", [3, 1], "1.00") == hashlib.sha256(expected_json.encode()).hexdigest()
    assert chain.canonical_json({"标签": "赞成"}) == '{"标签":"赞成"}'


def test_build_chain_links_each_entry_to_the_previous() -> None:
    entries = published(OWNERS)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    assert [e.receipt_hash for e in entries] == sorted(e.receipt_hash for e in entries)
    assert verify_chain(entries) is None
    assert verify_chain(entries, expected_head=chain.head(entries)) is None
    assert verify_chain([], expected_head=GENESIS) is None


@pytest.mark.parametrize(("kind", "rule", "options", "rows"), [
    ("yes_no", "art278_ordinary", [YES, NO, ABSTAIN], OWNERS),
    ("ranked", "simple_majority", [A, B, C, D], RANKED),
], ids=["owners-yes-no", "ranked-run-off"])
def test_recount_from_the_published_list_equals_the_announced_result(
        kind: str, rule: str, options: list[int], rows: list[tuple[tuple[int, ...], str]]) -> None:
    cast = [tally.CountedBallot(choices, F(weight)) for choices, weight in rows]
    announced = tally.decide(kind, rule, options, cast, eligible_count=7, eligible_area=F(600))
    entries = [ChainEntry.from_json(e.to_json()) for e in published(rows)]  # as a reader downloads it
    assert verify_chain(entries) is None
    recounted = tally.decide(kind, rule, options, chain.recount(entries), eligible_count=7, eligible_area=F(600))
    assert recounted == announced
    assert recounted.result.to_json() == announced.result.to_json()


def test_a_voter_finds_their_ballot_by_receipt() -> None:
    entries = published(OWNERS)
    found = chain.find_receipt(entries, receipt(2))
    assert found is not None and found.choices == (NO,) and found.weight == "120.25"
    assert chain.find_receipt(entries, receipt(99)) is None


CHANGES = {
    "seq": lambda e: dataclasses.replace(e, seq=e.seq + 1),
    "receipt_hash": lambda e: dataclasses.replace(e, receipt_hash=receipt(1000)),
    "choices": lambda e: dataclasses.replace(e, choices=(NO,) if e.choices != (NO,) else (YES,)),
    "extra-choice": lambda e: dataclasses.replace(e, choices=(*e.choices, ABSTAIN)),
    "weight": lambda e: dataclasses.replace(e, weight="999.00"),
    "weight-format": lambda e: dataclasses.replace(e, weight=e.weight + "0"),
    "prev_hash": lambda e: dataclasses.replace(e, prev_hash="f" * 64),
    "hash": lambda e: dataclasses.replace(e, hash="0" * 63 + "1"),
}


@pytest.mark.parametrize("index", range(len(OWNERS)), ids=[f"entry-{i}" for i in range(len(OWNERS))])
@pytest.mark.parametrize("field", list(CHANGES))
def test_changing_any_field_of_any_entry_is_detected(field: str, index: int) -> None:
    entries = published(OWNERS)
    tampered = list(entries)
    tampered[index] = CHANGES[field](entries[index])
    assert tampered[index] != entries[index]
    assert verify_chain(tampered) == index


@pytest.mark.parametrize("index", range(len(OWNERS) - 1), ids=[f"entry-{i}" for i in range(len(OWNERS) - 1)])
def test_deleting_an_entry_is_detected(index: int) -> None:
    entries = published(OWNERS)
    assert verify_chain(entries[:index] + entries[index + 1:]) == index


def test_deleting_the_last_entry_is_caught_by_the_published_head() -> None:
    entries = published(OWNERS)
    assert verify_chain(entries[:-1]) is None  # a shorter list is a valid chain on its own ...
    assert verify_chain(entries[:-1], expected_head=chain.head(entries)) == len(entries) - 1  # ... not this one


@pytest.mark.parametrize("index", range(len(OWNERS) - 1), ids=[f"swap-{i}-{i + 1}" for i in range(len(OWNERS) - 1)])
def test_reordering_entries_is_detected(index: int) -> None:
    entries = published(OWNERS)
    swapped = list(entries)
    swapped[index], swapped[index + 1] = swapped[index + 1], swapped[index]
    assert verify_chain(swapped) == index


def test_a_rebuilt_forged_chain_is_caught_by_the_published_head() -> None:
    entries = published(OWNERS)
    forged_rows: list[Row] = [((YES,), weight) for _, weight in OWNERS]
    forged = published(forged_rows)
    assert verify_chain(forged) is None
    assert verify_chain(forged, expected_head=chain.head(entries)) == len(forged)


def test_appending_an_entry_is_caught_by_the_published_head() -> None:
    entries = published(OWNERS)
    extra = build_chain([(e.receipt_hash, e.choices, e.weight) for e in entries] + [(receipt(50), (YES,), "1.00")])
    assert verify_chain(extra) is None
    assert verify_chain(extra, expected_head=chain.head(entries)) == len(extra)


@pytest.mark.parametrize(("value", "text"), [
    (1, "1.00"), (Decimal("86.5"), "86.50"), (Decimal("120.25"), "120.25"), (F(1, 4), "0.25"), ("7", "7.00"),
], ids=["int", "decimal-one-place", "decimal-two-places", "fraction", "string"])
def test_canonical_weight(value: int | Decimal | F | str, text: str) -> None:
    assert chain.canonical_weight(value) == text
    assert F(text) == F(value)


@pytest.mark.parametrize("value", [Decimal("1.005"), F(1, 3), -1], ids=["three-places", "third", "negative"])
def test_canonical_weight_refuses_what_it_cannot_store(value: Decimal | F | int) -> None:
    with pytest.raises(ValueError):
        chain.canonical_weight(value)
