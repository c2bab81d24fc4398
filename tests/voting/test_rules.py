"""Decision rules at and around every threshold (exact fractions, no database)."""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any

import pytest

from consultation.voting import rules
from consultation.voting.rules import (
    ALL_ABSTAINED,
    NO_AREA,
    NO_BALLOTS,
    NO_ELIGIBLE,
    PASSED,
    Measure,
    RuleInput,
    RuleResult,
    as_decimal,
    as_percent,
    evaluate,
)


def data(eligible: tuple[int, int | F], cast: tuple[int, int | F], yes: tuple[int, int | F],
         no: tuple[int, int | F] = (0, 0)) -> RuleInput:
    """(count, area) pairs; the rest of ``cast`` abstains."""
    return RuleInput(eligible[0], F(eligible[1]), cast[0], F(cast[1]), yes[0], F(yes[1]), no[0], F(no[1]))


def heads(eligible: int, cast: int, yes: int, no: int = 0) -> RuleInput:
    return data((eligible, eligible), (cast, cast), (yes, yes), (no, no))


AREA_SHORT = ("Owners taking part hold less than two-thirds of the exclusive floor area "
              "(required ≥ {required}, measured {value}).")
OWNERS_SHORT = "Fewer than two-thirds of the owners took part (required ≥ {required}, measured {value})."
MAJOR_OWNERS_SHORT = ("Fewer than three-quarters of the participating owners voted yes "
                      "(required ≥ {required}, measured {value}).")
ORDINARY_OWNERS_SHORT = ("No more than half of the participating owners voted yes "
                         "(required > {required}, measured {value}).")
ORDINARY_AREA_SHORT = ("Owners voting yes do not hold more than half of the participating area "
                       "(required > {required}, measured {value}).")
SIMPLE_SHORT = "Yes votes do not outnumber no votes (required > {required}, measured {value})."
ELIGIBLE_SHORT = "No more than half of all eligible voters voted yes (required > {required}, measured {value})."
TWO_THIRDS_SHORT = "Fewer than two-thirds of the ballots cast said yes (required ≥ {required}, measured {value})."
QUORUM_SHORT = "Turnout fell short of the participation quorum (required ≥ {required}, measured {value})."
THRESHOLD_SHORT = ("The yes share of the ballots cast fell short of the pass threshold "
                   "(required ≥ {required}, measured {value}).")

Q = {"quorum": F(1, 2), "threshold": F(3, 5)}

# (id, rule, input, keyword args, passed, reason msgid, each measure passed)
CASES: list[tuple[str, str, RuleInput, dict[str, Any], bool, str, list[bool]]] = [
    # --- Civil Code art. 278: participation (9 owners, 100 m² each unless stated) ---
    ("278-exactly-two-thirds-area-and-owners-passes", "art278_ordinary",
     data((9, 900), (6, 600), (4, 400), (2, 200)), {}, True, PASSED, [True, True, True, True]),
    ("278-one-owner-short-fails", "art278_ordinary",
     data((9, 900), (5, 500), (5, 500)), {}, False, AREA_SHORT, [False, False, True, True]),
    ("278-area-met-headcount-not", "art278_ordinary",
     data((9, 900), (5, 650), (5, 650)), {}, False, OWNERS_SHORT, [True, False, True, True]),
    ("278-headcount-met-area-not", "art278_ordinary",
     data((9, 900), (6, F("599.99")), (6, F("599.99"))), {}, False, AREA_SHORT, [False, True, True, True]),
    ("278-area-a-hair-over-two-thirds-passes", "art278_major",
     data((9, F("899.99")), (6, 600), (6, 600)), {}, True, PASSED, [True, True, True, True]),
    # --- art. 278 matters (6)-(8): at least 3/4 of participating area and owners ---
    ("278-major-exactly-three-quarters-passes", "art278_major",
     data((8, 800), (8, 800), (6, 600), (2, 200)), {}, True, PASSED, [True, True, True, True]),
    ("278-major-area-met-owners-one-short", "art278_major",
     data((8, 800), (8, 800), (5, 600), (3, 200)), {}, False, MAJOR_OWNERS_SHORT, [True, True, True, False]),
    ("278-major-abstentions-count-as-participating", "art278_major",
     data((8, 800), (8, 800), (6, 590), (0, 0)), {}, False,
     "Owners voting yes hold less than three-quarters of the participating area "
     "(required ≥ {required}, measured {value}).", [True, True, False, True]),
    # --- art. 278 other matters: more than half ---
    ("278-ordinary-exactly-half-fails", "art278_ordinary",
     data((9, 900), (6, 600), (3, 300), (3, 300)), {}, False, ORDINARY_AREA_SHORT, [True, True, False, False]),
    ("278-ordinary-area-over-half-owners-exactly-half", "art278_ordinary",
     data((9, 900), (6, 600), (3, 301), (3, 299)), {}, False, ORDINARY_OWNERS_SHORT, [True, True, True, False]),
    ("278-ordinary-abstentions-do-not-help", "art278_ordinary",
     data((9, 900), (6, 600), (3, 350), (1, 100)), {}, False, ORDINARY_OWNERS_SHORT, [True, True, True, False]),
    ("278-ordinary-just-over-half-passes", "art278_ordinary",
     data((9, 900), (7, 700), (4, F("350.01")), (3, F("349.99"))), {}, True, PASSED, [True, True, True, True]),
    ("278-zero-eligible", "art278_ordinary",
     data((0, 0), (0, 0), (0, 0)), {}, False, NO_ELIGIBLE, [False, False, False, False]),
    ("278-no-floor-area-on-roll", "art278_ordinary",
     data((3, 0), (3, 0), (3, 0)), {}, False, NO_AREA, [False, True, False, True]),
    ("278-zero-ballots", "art278_major",
     data((9, 900), (0, 0), (0, 0)), {}, False, NO_BALLOTS, [False, False, False, False]),
    # --- simple majority of ballots cast: yes > no ---
    ("simple-majority-one-vote-ahead-passes", "simple_majority", heads(20, 9, 5, 4), {}, True, PASSED, [True]),
    ("simple-majority-tie-fails", "simple_majority", heads(20, 10, 5, 5), {}, False, SIMPLE_SHORT, [False]),
    ("simple-majority-abstentions-ignored", "simple_majority", heads(20, 15, 3, 2), {}, True, PASSED, [True]),
    ("simple-majority-all-abstain", "simple_majority", heads(20, 4, 0, 0), {}, False, ALL_ABSTAINED, [False]),
    ("simple-majority-zero-ballots", "simple_majority", heads(20, 0, 0, 0), {}, False, NO_BALLOTS, [False]),
    ("simple-majority-zero-eligible", "simple_majority", heads(0, 0, 0, 0), {}, False, NO_ELIGIBLE, [False]),
    # --- majority of all eligible ---
    ("majority-of-eligible-six-of-ten-passes", "majority_of_eligible", heads(10, 7, 6, 1), {}, True, PASSED,
     [True]),
    ("majority-of-eligible-exactly-half-fails", "majority_of_eligible", heads(10, 5, 5, 0), {}, False,
     ELIGIBLE_SHORT, [False]),
    ("majority-of-eligible-most-ballots-not-enough", "majority_of_eligible", heads(10, 6, 5, 1), {}, False,
     ELIGIBLE_SHORT, [False]),
    ("majority-of-eligible-zero-eligible", "majority_of_eligible", heads(0, 0, 0), {}, False, NO_ELIGIBLE,
     [False]),
    ("majority-of-eligible-zero-ballots", "majority_of_eligible", heads(10, 0, 0), {}, False, NO_BALLOTS,
     [False]),
    # --- two-thirds of ballots cast (abstentions are ballots cast) ---
    ("two-thirds-exactly-passes", "two_thirds", heads(30, 9, 6, 3), {}, True, PASSED, [True]),
    ("two-thirds-with-abstentions-still-met", "two_thirds", heads(30, 9, 6, 1), {}, True, PASSED, [True]),
    ("two-thirds-abstentions-pull-below", "two_thirds", heads(30, 10, 6, 1), {}, False, TWO_THIRDS_SHORT,
     [False]),
    ("two-thirds-zero-ballots", "two_thirds", heads(30, 0, 0), {}, False, NO_BALLOTS, [False]),
    # --- custom quorum 1/2, threshold 3/5 ---
    ("custom-quorum-and-threshold-exactly-met", "custom", heads(10, 5, 3, 2), Q, True, PASSED, [True, True]),
    ("custom-quorum-one-short", "custom", heads(10, 4, 4, 0), Q, False, QUORUM_SHORT, [False, True]),
    ("custom-threshold-one-short", "custom", heads(10, 5, 2, 3), Q, False, THRESHOLD_SHORT, [True, False]),
    ("custom-no-quorum-zero-ballots", "custom", heads(10, 0, 0), {"quorum": F(0), "threshold": F(1, 2)},
     False, NO_BALLOTS, [True, False]),
    ("custom-zero-eligible", "custom", heads(0, 0, 0), Q, False, NO_ELIGIBLE, [False, False]),
]


@pytest.mark.parametrize(("rule", "given", "kwargs", "passed", "reason", "measures"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule_table(rule: str, given: RuleInput, kwargs: dict[str, Any], passed: bool, reason: str,
                    measures: list[bool]) -> None:
    result = evaluate(rule, given, **kwargs)
    assert result.passed is passed
    assert result.reason.msgid == reason
    assert [m.passed for m in result.measures] == measures
    assert result.passed == all(m.passed for m in result.measures)


def test_art278_measures_report_exact_values_and_plain_reason() -> None:
    # 587.1 m² of 900 m² took part: 0.6523 — the example the result page shows.
    result = evaluate("art278_ordinary", data((9, 900), (6, F("587.1")), (6, F("587.1"))))
    area, owners, yes_area, yes_owners = result.measures
    assert yes_owners.value == 1 and yes_owners.op == ">"
    assert area.value == F(5871, 9000) and area.required == F(2, 3) and area.op == ">="
    assert owners.value == F(6, 9) and owners.passed
    assert yes_area.op == ">" and yes_area.required == F(1, 2) and yes_area.value == 1
    assert result.reason == area.explanation
    assert result.reason.params == {"required": "2/3", "value": "0.6523", "percent": "65.23%"}
    assert area.label == "Exclusive floor area of the owners taking part"


def test_a_value_just_below_two_thirds_never_prints_as_two_thirds() -> None:
    close = F(66666, 100000)
    result = evaluate("two_thirds", heads(100000, 100000, 66666))
    (measure,) = result.measures
    assert not measure.passed
    assert as_percent(F(2, 3)) == "66.67%" and as_percent(close) == "66.67%"  # naive rendering would lie
    assert measure.value_percent == "66.666%"
    assert measure.value_text == "0.66666"
    assert measure.explanation.params["value"] == "0.66666"
    assert measure.required_text == "2/3" and measure.required_percent == "66.67%"
    exact = evaluate("two_thirds", heads(9, 9, 6)).measures[0]
    assert exact.passed and exact.value_percent == "66.67%" and exact.value_text == "0.6667"


@pytest.mark.parametrize(("value", "places", "decimal", "percent"), [
    (F(1, 8), 2, "0.13", "12.50%"),
    (F(1, 800), 2, "0.00", "0.13%"),
    (F(2, 3), 4, "0.6667", "66.67%"),
    (F(1, 3), 4, "0.3333", "33.33%"),
    (F(1), 4, "1.0000", "100.00%"),
    (F(0), 4, "0.0000", "0.00%"),
    (F(-1, 8), 2, "-0.13", "-12.50%"),
], ids=["eighth-half-up", "tiny-half-up", "two-thirds", "one-third", "one", "zero", "negative"])
def test_rendering_rounds_half_up(value: F, places: int, decimal: str, percent: str) -> None:
    assert as_decimal(value, places) == decimal
    assert as_percent(value) == percent


def test_unmeasurable_measure_never_passes_even_against_zero() -> None:
    measure = Measure("x", F(0), F(0), ">=", rules.msg(NO_BALLOTS), measurable=False)
    assert not measure.passed
    assert Measure("x", F(0), F(0), ">=", rules.msg(NO_BALLOTS)).passed


def test_result_round_trips_through_json() -> None:
    import json

    result = evaluate("art278_major", data((8, F("812.35")), (7, F("700.5")), (6, F("650.25")), (1, F("50.25"))))
    stored = json.loads(json.dumps(result.to_json(), ensure_ascii=False))
    assert stored["measures"][0]["value"] == "14010/16247"
    again = RuleResult.from_json(stored)
    assert again == result


@pytest.mark.parametrize(("kwargs", "error"), [
    ({}, rules.BAD_QUORUM),
    ({"quorum": F(1, 2)}, rules.BAD_THRESHOLD),
    ({"quorum": F(3, 2), "threshold": F(1, 2)}, rules.BAD_QUORUM),
    ({"quorum": F(1, 2), "threshold": F(0)}, rules.BAD_THRESHOLD),
], ids=["no-quorum", "no-threshold", "quorum-over-one", "zero-threshold"])
def test_custom_needs_sane_fractions(kwargs: dict[str, F], error: str) -> None:
    with pytest.raises(ValueError, match=error[:20]):
        evaluate("custom", heads(10, 5, 3), **kwargs)
    field = "quorum" if error == rules.BAD_QUORUM else "threshold"
    assert rules.check_rule("custom", "yes_no", "verified_residents", **kwargs)[field].msgid == error


def test_unknown_rule_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        evaluate("unanimity", heads(3, 3, 3))


@pytest.mark.parametrize(("rule", "kind", "eligibility", "fields"), [
    ("art278_major", "yes_no", "owners", set()),
    ("art278_ordinary", "single", "owners", {"rule"}),
    ("art278_ordinary", "yes_no", "households", {"rule"}),
    ("simple_majority", "ranked", "verified_residents", set()),
], ids=["278-owners-yes-no", "278-single-choice", "278-households", "simple-ranked"])
def test_check_rule(rule: str, kind: str, eligibility: str, fields: set[str]) -> None:
    assert set(rules.check_rule(rule, kind, eligibility)) == fields
