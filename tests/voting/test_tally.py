"""Counting: plurality, instant run-off round by round, choice validation and ``decide``."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from consultation.voting import rules, tally
from consultation.voting.tally import CountedBallot, Round, count_instant_runoff, count_plurality, decide

YES, NO, ABSTAIN = 11, 12, 13
A, B, C, D = 1, 2, 3, 4


def ballots(*groups: tuple[int, tuple[int, ...]]) -> list[CountedBallot]:
    """``(how many, choices)`` groups."""
    return [CountedBallot(choices) for n, choices in groups for _ in range(n)]


# --- plurality --------------------------------------------------------------------------------------

def test_plurality_counts_ballots_and_weight_for_every_option() -> None:
    cast = [CountedBallot((YES,), F("86.5")), CountedBallot((YES,), F("120.25")), CountedBallot((NO,), F(90)),
            CountedBallot((ABSTAIN,), F("75.5"))]
    counts = count_plurality([YES, NO, ABSTAIN], cast)
    assert counts == {YES: (2, F("206.75")), NO: (1, F(90)), ABSTAIN: (1, F("75.5"))}
    assert list(counts) == [YES, NO, ABSTAIN]


def test_plurality_includes_options_nobody_chose() -> None:
    assert count_plurality([A, B, C], ballots((2, (B,)))) == {A: (0, F(0)), B: (2, F(2)), C: (0, F(0))}


def test_multiple_choice_counts_each_named_option_once_per_ballot() -> None:
    counts = count_plurality([A, B, C], ballots((3, (A, B)), (2, (B, C)), (1, (C,))))
    assert counts == {A: (3, F(3)), B: (5, F(5)), C: (3, F(3))}


def test_plurality_refuses_an_option_outside_the_poll() -> None:
    with pytest.raises(ValueError):
        count_plurality([A, B], ballots((1, (A,)), (1, (99,))))


# --- instant run-off --------------------------------------------------------------------------------

def test_irv_winner_emerges_in_round_three_after_transfers() -> None:
    # A leads on first choices (8 of 22) but C wins once D's and B's ballots transfer.
    cast = ballots((8, (A,)), (6, (B, C)), (5, (C, A)), (3, (D, C)))
    rounds = count_instant_runoff([A, B, C, D], cast)
    assert rounds == [
        Round({A: 8, B: 6, C: 5, D: 3}, [D], 0, None),
        Round({A: 8, B: 6, C: 8}, [B], 0, None),
        Round({A: 8, C: 14}, [], 0, C),
    ]
    assert rounds[-1].continuing == 22


def test_irv_first_round_majority_ends_at_once() -> None:
    rounds = count_instant_runoff([A, B, C], ballots((6, (A,)), (3, (B,)), (2, (C, B))))
    assert rounds == [Round({A: 6, B: 3, C: 2}, [], 0, A)]


def test_irv_exhausted_ballots_leave_the_count() -> None:
    # C's two ballots name nobody else: after C goes they are exhausted and A has 4 of 7.
    rounds = count_instant_runoff([A, B, C], ballots((4, (A,)), (3, (B,)), (2, (C,))))
    assert rounds == [
        Round({A: 4, B: 3, C: 2}, [C], 0, None),
        Round({A: 4, B: 3}, [], 2, A),
    ]
    assert rounds[-1].continuing == 7


def test_irv_tie_for_fewest_goes_to_fewer_first_choices_before_position() -> None:
    # Ballot paper order A, C, B, D. In round 2 B and C both have 4; C had fewer first choices (3 vs 4),
    # so C goes although B is listed later.
    cast = ballots((5, (A,)), (4, (B,)), (3, (C, B)), (1, (D, C)))
    rounds = count_instant_runoff([A, C, B, D], cast)
    assert rounds == [
        Round({A: 5, C: 3, B: 4, D: 1}, [D], 0, None),
        Round({A: 5, C: 4, B: 4}, [C], 0, None),
        Round({A: 5, B: 7}, [], 1, B),
    ]


def test_irv_tie_on_both_counts_eliminates_the_option_listed_later() -> None:
    rounds = count_instant_runoff([A, B, C, D], ballots((4, (A,)), (3, (B,)), (2, (C, B)), (2, (D, A))))
    assert rounds[0] == Round({A: 4, B: 3, C: 2, D: 2}, [D], 0, None)
    assert rounds[1] == Round({A: 6, B: 3, C: 2}, [], 0, A)


def test_irv_complete_tie_has_no_winner() -> None:
    rounds = count_instant_runoff([A, B], ballots((2, (A,)), (2, (B,))))
    assert rounds == [Round({A: 2, B: 2}, [], 0, None)]


def test_irv_without_ballots_is_one_empty_round() -> None:
    assert count_instant_runoff([A, B], []) == [Round({A: 0, B: 0}, [], 0, None)]


def test_irv_option_without_votes_goes_first_then_a_level_pair_has_no_winner() -> None:
    rounds = count_instant_runoff([A, B, C], ballots((2, (A, C)), (2, (B,))))
    assert rounds == [Round({A: 2, B: 2, C: 0}, [C], 0, None), Round({A: 2, B: 2}, [], 0, None)]


def test_round_round_trips_through_json() -> None:
    import json

    rounds = count_instant_runoff([A, B, C, D], ballots((8, (A,)), (6, (B, C)), (5, (C, A)), (3, (D, C))))
    stored = json.loads(json.dumps([r.to_json() for r in rounds]))
    assert [Round.from_json(r) for r in stored] == rounds
    assert list(Round.from_json(stored[0]).counts) == [A, B, C, D]


# --- validate_choices -------------------------------------------------------------------------------

OPTS = [A, B, C, D]
V = [
    ("yes-no-one", "yes_no", [YES, NO, ABSTAIN], [NO], 1, 1, None),
    ("yes-no-none", "yes_no", [YES, NO, ABSTAIN], [], 1, 1, tally.CHOOSE_ONE),
    ("yes-no-two", "yes_no", [YES, NO, ABSTAIN], [YES, NO], 1, 1, tally.ONLY_ONE),
    ("yes-no-forged", "yes_no", [YES, NO, ABSTAIN], [A], 1, 1, tally.FORGED_OPTION),
    ("single-one", "single", OPTS, [C], 1, 1, None),
    ("single-two", "single", OPTS, [A, C], 1, 1, tally.ONLY_ONE),
    ("single-forged", "single", OPTS, [999], 1, 1, tally.FORGED_OPTION),
    ("multiple-min", "multiple", OPTS, [A, B], 2, 3, None),
    ("multiple-max", "multiple", OPTS, [A, B, D], 2, 3, None),
    ("multiple-too-few", "multiple", OPTS, [A], 2, 3, tally.AT_LEAST),
    ("multiple-empty-min-one", "multiple", OPTS, [], 1, 3, tally.AT_LEAST_ONE),
    ("multiple-empty-min-zero", "multiple", OPTS, [], 0, 3, tally.AT_LEAST_ONE),
    ("multiple-too-many", "multiple", OPTS, [A, B, C, D], 2, 3, tally.AT_MOST),
    ("multiple-duplicate", "multiple", OPTS, [A, A], 2, 3, tally.DUPLICATE_OPTION),
    ("multiple-forged-before-count", "multiple", OPTS, [A, B, 77], 2, 3, tally.FORGED_OPTION),
    ("ranked-one", "ranked", OPTS, [D], 1, 0, None),
    ("ranked-all", "ranked", OPTS, [D, C, B, A], 1, 0, None),
    ("ranked-none", "ranked", OPTS, [], 1, 0, tally.RANK_AT_LEAST_ONE),
    ("ranked-duplicate", "ranked", OPTS, [B, A, B], 1, 0, tally.DUPLICATE_OPTION),
    ("ranked-over-max", "ranked", OPTS, [A, B, C], 1, 2, tally.RANK_AT_MOST),
    ("ranked-at-max", "ranked", OPTS, [A, B], 1, 2, None),
    ("ranked-forged", "ranked", OPTS, [A, -1], 1, 0, tally.FORGED_OPTION),
]


@pytest.mark.parametrize(("kind", "options", "choices", "low", "high", "error"), [v[1:] for v in V],
                         ids=[v[0] for v in V])
def test_validate_choices(kind: str, options: list[int], choices: list[int], low: int, high: int,
                          error: str | None) -> None:
    message = tally.validate_choices(kind, options, choices, low, high)
    assert (message.msgid if message else None) == error


def test_validate_choices_counts_in_message() -> None:
    too_few = tally.validate_choices("multiple", OPTS, [A], 2, 3)
    too_many = tally.validate_choices("multiple", OPTS, [A, B, C, D], 2, 3)
    ranked = tally.validate_choices("ranked", OPTS, [A, B, C], 1, 2)
    assert too_few is not None and too_few.params == {"count": 2}
    assert too_many is not None and too_many.params == {"count": 3}
    assert ranked is not None and ranked.params == {"count": 2}


def test_validate_choices_unknown_kind() -> None:
    with pytest.raises(ValueError):
        tally.validate_choices("approval", OPTS, [A], 1, 1)


# --- decide -----------------------------------------------------------------------------------------

def test_decide_yes_no_owners_art278_weighs_floor_area() -> None:
    cast = [CountedBallot((YES,), F(100)), CountedBallot((YES,), F(100)), CountedBallot((YES,), F(120)),
            CountedBallot((NO,), F(80)), CountedBallot((ABSTAIN,), F(100)), CountedBallot((YES,), F(50))]
    outcome = decide("yes_no", "art278_ordinary", [YES, NO, ABSTAIN], cast, eligible_count=9,
                     eligible_area=F(800))
    assert outcome.data == rules.RuleInput(9, F(800), 6, F(550), 4, F(370), 1, F(80))
    assert outcome.result.passed and outcome.winner == YES
    assert outcome.counts[YES] == (4, F(370))


def test_decide_yes_no_fails_without_winner() -> None:
    outcome = decide("yes_no", "simple_majority", [YES, NO, ABSTAIN], ballots((2, (YES,)), (2, (NO,))),
                     eligible_count=10, eligible_area=F(10))
    assert not outcome.result.passed and outcome.leader == YES and outcome.winner is None


def test_decide_single_choice_leader_share() -> None:
    outcome = decide("single", "two_thirds", [A, B, C], ballots((6, (A,)), (2, (B,)), (1, (C,))),
                     eligible_count=20, eligible_area=F(20))
    assert outcome.leader == A and outcome.winner == A
    assert (outcome.data.yes_count, outcome.data.no_count, outcome.data.cast_count) == (6, 3, 9)


def test_decide_single_choice_tie_fails_with_its_own_reason() -> None:
    outcome = decide("single", "simple_majority", [A, B, C], ballots((3, (A,)), (3, (B,)), (1, (C,))),
                     eligible_count=20, eligible_area=F(20))
    assert outcome.leader is None and not outcome.result.passed
    assert outcome.result.reason.msgid == tally.TIED_LEAD


def test_decide_multiple_choice_counts_ballots_naming_the_leader() -> None:
    outcome = decide("multiple", "majority_of_eligible", [A, B, C], ballots((4, (A, B)), (2, (B, C)), (1, (C,))),
                     eligible_count=10, eligible_area=F(10))
    assert outcome.leader == B
    assert (outcome.data.yes_count, outcome.data.no_count) == (6, 1)
    assert outcome.result.passed


def test_decide_ranked_uses_the_final_round() -> None:
    cast = ballots((8, (A,)), (6, (B, C)), (5, (C, A)), (3, (D, C)))
    outcome = decide("ranked", "simple_majority", [A, B, C, D], cast, eligible_count=30, eligible_area=F(30))
    assert outcome.leader == C and outcome.winner == C and len(outcome.rounds) == 3
    assert outcome.counts[A] == (8, F(8)) and outcome.counts[C] == (5, F(5))  # first choices
    assert (outcome.data.yes_count, outcome.data.no_count, outcome.data.cast_count) == (14, 8, 22)


def test_decide_ranked_exhausted_ballots_count_as_abstaining() -> None:
    outcome = decide("ranked", "two_thirds", [A, B, C], ballots((4, (A,)), (3, (B,)), (2, (C,))),
                     eligible_count=9, eligible_area=F(9))
    assert (outcome.data.yes_count, outcome.data.no_count, outcome.data.abstain_count) == (4, 3, 2)
    assert not outcome.result.passed


def test_decide_ranked_tie_fails() -> None:
    outcome = decide("ranked", "simple_majority", [A, B], ballots((2, (A,)), (2, (B,))), eligible_count=4,
                     eligible_area=F(4))
    assert outcome.winner is None and outcome.result.reason.msgid == tally.IRV_TIED


def test_decide_without_ballots() -> None:
    outcome = decide("single", "simple_majority", [A, B], [], eligible_count=4, eligible_area=F(4))
    assert outcome.leader is None and outcome.result.reason.msgid == rules.NO_BALLOTS
