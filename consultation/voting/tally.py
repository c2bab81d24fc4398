"""Counting ballots (no database): plurality, instant run-off, choice validation, and ``decide``.

Options are identified by their ids, passed in ballot-paper order (``PollOption.position``). For a
yes/no poll the options are ``(yes, no, abstain)`` in that order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from consultation.errors import N_, Message, msg
from consultation.voting import rules
from consultation.voting.rules import RuleInput, RuleResult

YES_NO = "yes_no"
SINGLE = "single"
MULTIPLE = "multiple"
RANKED = "ranked"
KINDS = (YES_NO, SINGLE, MULTIPLE, RANKED)

# The count rule for ranked polls, shown on the result page.
IRV_COUNT_RULE = N_(
    "Instant run-off: each round counts every ballot for its highest-ranked option still in the count. "
    "An option with more than half of those ballots wins. Otherwise the option with the fewest ballots is "
    "eliminated and its ballots pass to their next choice; a tie for fewest is broken by fewer first-choice "
    "ballots, then by eliminating the option listed later on the ballot paper. If every remaining option is "
    "tied on both counts, no option wins. A ballot with no remaining choice is exhausted.")

FORGED_OPTION = N_("This option is not part of the poll.")
DUPLICATE_OPTION = N_("Each option can be chosen only once.")
CHOOSE_ONE = N_("Choose an option.")
ONLY_ONE = N_("Choose only one option.")
AT_LEAST_ONE = N_("Choose at least one option.")
AT_LEAST = N_("Choose at least {count} options.")
AT_MOST = N_("Choose at most {count} options.")
RANK_AT_LEAST = N_("Rank at least {count} options.")
RANK_AT_LEAST_ONE = N_("Rank at least one option.")
RANK_AT_MOST = N_("Rank at most {count} options.")
TIED_LEAD = N_("Two or more options tied for first place, so no option won.")
IRV_TIED = N_("The instant run-off ended in a tie, so no option won.")


@dataclass(frozen=True)
class CountedBallot:
    choices: tuple[int, ...]  # option ids; in rank order for ranked polls
    weight: Fraction = Fraction(1)  # floor area for owners' polls


@dataclass(frozen=True)
class Round:
    """One round of an instant run-off. ``counts``: continuing options (ballot-paper order) → ballots;
    ``eliminated``: options dropped at the end of this round; ``exhausted``: ballots with no continuing
    choice left; ``winner``: set in the last round when an option has more than half."""

    counts: dict[int, int]
    eliminated: list[int] = field(default_factory=list)
    exhausted: int = 0
    winner: int | None = None

    @property
    def continuing(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> dict[str, Any]:
        return {"counts": [[o, n] for o, n in self.counts.items()], "eliminated": list(self.eliminated),
                "exhausted": self.exhausted, "winner": self.winner}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Round:
        return cls({int(o): int(n) for o, n in data["counts"]}, [int(o) for o in data["eliminated"]],
                   int(data["exhausted"]), None if data["winner"] is None else int(data["winner"]))


def _check_known(options: Sequence[int], ballot: CountedBallot) -> None:
    known = set(options)
    unknown = [c for c in ballot.choices if c not in known]
    if unknown:
        raise ValueError(f"ballot names options {unknown} not in the poll")


def count_plurality(options: Sequence[int], ballots: Iterable[CountedBallot]) -> dict[int, tuple[int, Fraction]]:
    """Option → (ballots naming it, their total weight), for every option in ballot-paper order. A
    multiple-choice ballot counts once for each option it names. Unknown options raise ``ValueError``."""
    totals: dict[int, tuple[int, Fraction]] = {o: (0, Fraction(0)) for o in options}
    for ballot in ballots:
        _check_known(options, ballot)
        for option in dict.fromkeys(ballot.choices):
            n, w = totals[option]
            totals[option] = (n + 1, w + ballot.weight)
    return totals


def count_instant_runoff(options: Sequence[int], ballots: Iterable[CountedBallot]) -> list[Round]:
    """Every round of an instant run-off, by ballots (weights are not used); see ``IRV_COUNT_RULE``.

    The last round has the ``winner``, or none when no ballot is left or all remaining options tie."""
    papers = [b.choices for b in ballots]
    for choices in papers:
        _check_known(options, CountedBallot(choices))
    position = {o: i for i, o in enumerate(options)}
    continuing = list(options)
    rounds: list[Round] = []
    first: dict[int, int] | None = None
    while continuing:
        alive = set(continuing)
        counts = dict.fromkeys(continuing, 0)
        exhausted = 0
        for choices in papers:
            top = next((c for c in choices if c in alive), None)
            if top is None:
                exhausted += 1
            else:
                counts[top] += 1
        if first is None:
            first = dict(counts)
        total = sum(counts.values())
        leader = next((o for o, n in counts.items() if 2 * n > total), None) if total else None
        if leader is not None or total == 0:
            rounds.append(Round(counts, [], exhausted, leader))
            break
        fewest = min(counts.values())
        tied = [o for o in continuing if counts[o] == fewest]
        least_first = min(first[o] for o in tied)
        tied = [o for o in tied if first[o] == least_first]
        if len(tied) == len(continuing):  # everyone level on both counts: no fair way to eliminate
            rounds.append(Round(counts, [], exhausted, None))
            break
        loser = max(tied, key=lambda o: position[o])
        rounds.append(Round(counts, [loser], exhausted, None))
        continuing.remove(loser)
    return rounds


def validate_choices(kind: str, options: Sequence[int], choices: Sequence[int], min_choices: int,
                     max_choices: int) -> Message | None:
    """Why ``choices`` is not a valid ballot, or ``None``. Checked in this order: an option id not in
    the poll, a repeated option, then the number of choices (yes/no and single: exactly one; multiple:
    ``min_choices``..``max_choices``; ranked: ``min_choices`` (at least 1)..``max_choices`` (or all options
    when ``max_choices`` is 0 or more than there are options), as a ranking without repeats)."""
    if kind not in KINDS:
        raise ValueError(f"unknown poll kind {kind!r}")
    known = set(options)
    if any(c not in known for c in choices):
        return msg(FORGED_OPTION)
    if len(set(choices)) != len(choices):
        return msg(DUPLICATE_OPTION)
    n = len(choices)
    if kind in (YES_NO, SINGLE):
        if n == 0:
            return msg(CHOOSE_ONE)
        return msg(ONLY_ONE) if n > 1 else None
    if kind == MULTIPLE:
        low = max(min_choices, 1)
        if n < low:
            return msg(AT_LEAST_ONE) if low == 1 else msg(AT_LEAST, count=low)
        if max_choices > 0 and n > max_choices:
            return msg(AT_MOST, count=max_choices)
        return None
    most = max_choices if 0 < max_choices < len(options) else len(options)
    if n == 0:
        return msg(RANK_AT_LEAST_ONE)
    if n < min(max(min_choices, 1), len(options)):
        return msg(RANK_AT_LEAST, count=min(min_choices, len(options)))
    return msg(RANK_AT_MOST, count=most) if n > most else None


# --- from ballots to a decision ---------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """The whole count of a poll. ``counts``: plurality per option (for ranked: first choices);
    ``rounds``: the run-off (ranked only); ``leader``: the yes option / the option ahead (``None`` on a
    tie or with no ballots); ``data`` and ``result``: what the rule saw and decided."""

    counts: dict[int, tuple[int, Fraction]]
    rounds: list[Round]
    leader: int | None
    data: RuleInput
    result: RuleResult

    @property
    def winner(self) -> int | None:
        """The option carried by the poll: the leader if the rule passed."""
        return self.leader if self.result.passed else None


def _sum(ballots: Iterable[CountedBallot]) -> tuple[int, Fraction]:
    n, w = 0, Fraction(0)
    for b in ballots:
        n, w = n + 1, w + b.weight
    return n, w


def decide(kind: str, rule: str, options: Sequence[int], ballots: Iterable[CountedBallot], *,
           eligible_count: int, eligible_area: Fraction, quorum: Fraction | None = None,
           threshold: Fraction | None = None) -> Outcome:
    """Count ``ballots`` and apply ``rule``.

    yes/no: yes = ballots for ``options[0]``, no = for ``options[1]``, the rest abstain. single and
    multiple: yes = ballots naming the option with the most ballots, no = the other ballots. ranked:
    yes = the final-round winner's ballots, no = the other continuing ballots, exhausted ballots count
    as abstentions. A tie for first place (or a tied run-off) fails with its own reason."""
    papers = list(ballots)
    counts = count_plurality(options, papers) if kind != RANKED else count_plurality(
        options, [CountedBallot(b.choices[:1], b.weight) for b in papers])
    cast_count, cast_area = _sum(papers)
    rounds: list[Round] = []
    tie: str | None = None
    if kind == YES_NO:
        leader: int | None = options[0]
        yes = [b for b in papers if options[0] in b.choices]
        no = [b for b in papers if options[1] in b.choices]
    elif kind == RANKED:
        rounds = count_instant_runoff(options, papers)
        leader = rounds[-1].winner if rounds else None
        if leader is None and rounds and rounds[-1].continuing:
            tie = IRV_TIED
        alive = set(rounds[-1].counts) if rounds else set()
        tops = [(next((c for c in b.choices if c in alive), None), b) for b in papers]
        yes = [b for top, b in tops if top is not None and top == leader]
        no = [b for top, b in tops if top is not None and top != leader]
    else:
        best = max((n for n, _ in counts.values()), default=0)
        ahead = [o for o, (n, _) in counts.items() if n == best and n > 0]
        leader = ahead[0] if len(ahead) == 1 else None
        if len(ahead) > 1:
            tie = TIED_LEAD
            leader_choice = ahead[0]  # measured as if ahead; the poll still fails on the tie
        else:
            leader_choice = leader if leader is not None else -1
        yes = [b for b in papers if leader_choice in b.choices]
        no = [b for b in papers if leader_choice not in b.choices and b.choices]
    yes_count, yes_area = _sum(yes)
    no_count, no_area = _sum(no)
    data = RuleInput(eligible_count, Fraction(eligible_area), cast_count, cast_area, yes_count, yes_area,
                     no_count, no_area)
    result = rules.evaluate(rule, data, quorum=quorum, threshold=threshold)
    if tie is not None and cast_count:
        result = RuleResult(False, result.measures, msg(tie))
    return Outcome(counts, rounds, leader, data, result)
