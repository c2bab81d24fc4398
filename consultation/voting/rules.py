"""Decision rules as pure functions over exact fractions (no database).

``evaluate(rule, data)`` measures every threshold a rule sets and says in plain words why the poll
passed or failed. All arithmetic uses ``fractions.Fraction``; decimals appear only when a value is
rendered (``as_decimal`` / ``as_percent``, rounding half up), and a failing value is never rendered so
that it looks equal to the threshold it missed (``Measure.value_text`` adds digits until they differ).

Rules (``RuleKind`` values in ``models.py``; plain strings here):

- ``simple_majority``: yes > no among the ballots cast (abstentions count for neither side).
- ``majority_of_eligible``: yes > 1/2 of everyone on the roll.
- ``two_thirds``: yes ≥ 2/3 of the ballots cast (abstentions are ballots cast).
- ``custom``: turnout (cast / eligible) ≥ ``quorum``, then yes ≥ ``threshold`` of the ballots cast.
- ``art278_major`` / ``art278_ordinary``: Civil Code art. 278. Participation by owners holding ≥ 2/3 of
  the exclusive floor area and ≥ 2/3 of the owners; then matters (6)–(8) need ≥ 3/4 of the participating
  area and ≥ 3/4 of the participating owners, other matters > 1/2 of each. Abstentions take part.

The general rules count ballots (heads); only the art. 278 rules use floor area. For polls that are not
yes/no, "yes" is the leading option and "no" every other ballot (see ``tally.decide``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from consultation.errors import N_, Message, msg

SIMPLE_MAJORITY = "simple_majority"
MAJORITY_OF_ELIGIBLE = "majority_of_eligible"
TWO_THIRDS = "two_thirds"
CUSTOM = "custom"
ART278_MAJOR = "art278_major"
ART278_ORDINARY = "art278_ordinary"
RULES = (SIMPLE_MAJORITY, MAJORITY_OF_ELIGIBLE, TWO_THIRDS, CUSTOM, ART278_MAJOR, ART278_ORDINARY)
ART278_RULES = frozenset({ART278_MAJOR, ART278_ORDINARY})

HALF = Fraction(1, 2)
TWO_THIRDS_SHARE = Fraction(2, 3)
THREE_QUARTERS = Fraction(3, 4)

PASSED = N_("Passed: every threshold was met.")
NO_ELIGIBLE = N_("Nobody is on the roll of eligible voters, so the vote cannot decide anything.")
NO_AREA = N_("The owners on the roll have no recorded exclusive floor area, so the owners' decision cannot be counted.")
NO_BALLOTS = N_("No ballots were cast, so the vote cannot decide anything.")
ALL_ABSTAINED = N_("Every ballot abstained, so neither side has a majority.")
BAD_RULE = N_("This decision rule needs a yes/no poll of the owners' joint decision.")
BAD_QUORUM = N_("The participation quorum must be a fraction between 0 and 1.")
BAD_THRESHOLD = N_("The pass threshold must be a fraction greater than 0 and at most 1.")


# --- rendering -------------------------------------------------------------------------------------

def _round_half_up(value: Fraction, places: int) -> str:
    scale = 10**places
    sign = "-" if value < 0 else ""
    units = int(abs(value) * scale + HALF)  # floor(x + 1/2) for x >= 0: half up
    whole, frac = divmod(units, scale)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def as_decimal(value: Fraction, places: int = 4) -> str:
    """``Fraction(2, 3)`` → ``"0.6667"`` (half up)."""
    return _round_half_up(Fraction(value), places)


def as_percent(value: Fraction, places: int = 2) -> str:
    """``Fraction(2, 3)`` → ``"66.67%"`` (half up)."""
    return _round_half_up(Fraction(value) * 100, places) + "%"


def as_fraction(value: Fraction) -> str:
    """``Fraction(2, 3)`` → ``"2/3"``, ``Fraction(1)`` → ``"1"``."""
    return str(Fraction(value))


def distinct(render: Callable[[Fraction, int], str], value: Fraction, required: Fraction, places: int) -> str:
    """Render ``value`` with at least ``places`` digits, and more while it would print the same as a
    different ``required`` (0.6666 against 2/3 prints 66.666%, not 66.67%). Rounding is monotonic, so
    once the two texts differ they are in the right order."""
    if value == required:
        return render(value, places)
    for extra in range(places, places + 12):
        text = render(value, extra)
        if text != render(required, extra):
            return text
    return render(value, places + 12)


# --- data ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleInput:
    """What a rule looks at. Counts are ballots (households / owners); areas are floor area (1 per
    ballot for polls that are not weighted). ``abstain`` = cast - yes - no."""

    eligible_count: int
    eligible_area: Fraction
    cast_count: int
    cast_area: Fraction
    yes_count: int
    yes_area: Fraction
    no_count: int
    no_area: Fraction

    @property
    def abstain_count(self) -> int:
        return self.cast_count - self.yes_count - self.no_count

    @property
    def abstain_area(self) -> Fraction:
        return self.cast_area - self.yes_area - self.no_area


@dataclass(frozen=True)
class Measure:
    """One threshold: ``value op required`` (``op`` is ``">="`` or ``">"``).

    ``label`` is a message id naming the quantity; ``explanation`` says in words whether it was met,
    with ``required`` (as ``2/3``), ``value`` (decimal) and ``percent`` as placeholders. A value that
    cannot be measured (its denominator is zero) has ``measurable=False`` and never passes."""

    label: str
    value: Fraction
    required: Fraction
    op: str
    explanation: Message
    measurable: bool = True

    @property
    def passed(self) -> bool:
        if not self.measurable:
            return False
        return self.value >= self.required if self.op == ">=" else self.value > self.required

    @property
    def value_text(self) -> str:
        """The measured value as a decimal, e.g. ``0.6523`` (never printed equal to a missed threshold)."""
        return distinct(as_decimal, self.value, self.required, 4)

    @property
    def value_percent(self) -> str:
        return distinct(as_percent, self.value, self.required, 2)

    @property
    def required_text(self) -> str:
        return as_fraction(self.required)

    @property
    def required_percent(self) -> str:
        return as_percent(self.required)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label, "value": as_fraction(self.value), "required": as_fraction(self.required),
            "op": self.op, "passed": self.passed, "measurable": self.measurable,
            "explanation": message_to_json(self.explanation),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measure:
        return cls(data["label"], Fraction(data["value"]), Fraction(data["required"]), data["op"],
                   message_from_json(data["explanation"]), bool(data.get("measurable", True)))


@dataclass(frozen=True)
class RuleResult:
    passed: bool
    measures: list[Measure] = field(default_factory=list)
    reason: Message = field(default_factory=lambda: msg(PASSED))

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form for ``Poll.result`` (fractions as ``"n/d"`` strings)."""
        return {"passed": self.passed, "measures": [m.to_json() for m in self.measures],
                "reason": message_to_json(self.reason)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuleResult:
        return cls(bool(data["passed"]), [Measure.from_json(m) for m in data["measures"]],
                   message_from_json(data["reason"]))


def message_to_json(message: Message) -> dict[str, Any]:
    return {"msgid": message.msgid, "params": dict(message.params)}


def message_from_json(data: dict[str, Any]) -> Message:
    return Message(data["msgid"], dict(data.get("params", {})))


# --- thresholds ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    label: str
    op: str
    met: str  # message id when passed
    missed: str  # message id when failed


_AREA_TURNOUT = _Spec(
    N_("Exclusive floor area of the owners taking part"), ">=",
    N_("Owners taking part hold at least two-thirds of the exclusive floor area "
       "(required ≥ {required}, measured {value})."),
    N_("Owners taking part hold less than two-thirds of the exclusive floor area "
       "(required ≥ {required}, measured {value})."))
_OWNER_TURNOUT = _Spec(
    N_("Owners taking part"), ">=",
    N_("At least two-thirds of the owners took part (required ≥ {required}, measured {value})."),
    N_("Fewer than two-thirds of the owners took part (required ≥ {required}, measured {value})."))
_MAJOR_AREA = _Spec(
    N_("Floor area voting yes, of the participating area"), ">=",
    N_("Owners voting yes hold at least three-quarters of the participating area "
       "(required ≥ {required}, measured {value})."),
    N_("Owners voting yes hold less than three-quarters of the participating area "
       "(required ≥ {required}, measured {value})."))
_MAJOR_OWNERS = _Spec(
    N_("Owners voting yes, of the participating owners"), ">=",
    N_("At least three-quarters of the participating owners voted yes (required ≥ {required}, measured {value})."),
    N_("Fewer than three-quarters of the participating owners voted yes "
       "(required ≥ {required}, measured {value})."))
_ORDINARY_AREA = _Spec(
    _MAJOR_AREA.label, ">",
    N_("Owners voting yes hold more than half of the participating area (required > {required}, measured {value})."),
    N_("Owners voting yes do not hold more than half of the participating area "
       "(required > {required}, measured {value})."))
_ORDINARY_OWNERS = _Spec(
    _MAJOR_OWNERS.label, ">",
    N_("More than half of the participating owners voted yes (required > {required}, measured {value})."),
    N_("No more than half of the participating owners voted yes (required > {required}, measured {value})."))
_SIMPLE = _Spec(
    N_("Yes votes among yes and no votes"), ">",
    N_("Yes votes outnumber no votes (required > {required}, measured {value})."),
    N_("Yes votes do not outnumber no votes (required > {required}, measured {value})."))
_ELIGIBLE = _Spec(
    N_("Yes votes among all eligible voters"), ">",
    N_("More than half of all eligible voters voted yes (required > {required}, measured {value})."),
    N_("No more than half of all eligible voters voted yes (required > {required}, measured {value})."))
_TWO_THIRDS = _Spec(
    N_("Yes votes among ballots cast"), ">=",
    N_("At least two-thirds of the ballots cast said yes (required ≥ {required}, measured {value})."),
    N_("Fewer than two-thirds of the ballots cast said yes (required ≥ {required}, measured {value})."))
_QUORUM = _Spec(
    N_("Turnout"), ">=",
    N_("Turnout reached the participation quorum (required ≥ {required}, measured {value})."),
    N_("Turnout fell short of the participation quorum (required ≥ {required}, measured {value})."))
_THRESHOLD = _Spec(
    _TWO_THIRDS.label, ">=",
    N_("The yes share of the ballots cast reached the pass threshold (required ≥ {required}, measured {value})."),
    N_("The yes share of the ballots cast fell short of the pass threshold "
       "(required ≥ {required}, measured {value})."))


def _measure(spec: _Spec, numerator: Fraction | int, denominator: Fraction | int, required: Fraction,
             unmeasurable: str) -> Measure:
    if denominator == 0:
        return Measure(spec.label, Fraction(0), required, spec.op, msg(unmeasurable), measurable=False)
    value = Fraction(numerator) / Fraction(denominator)
    probe = Measure(spec.label, value, required, spec.op, msg(spec.met))
    text = spec.met if probe.passed else spec.missed
    params = {"required": probe.required_text, "value": probe.value_text, "percent": probe.value_percent}
    return Measure(spec.label, value, required, spec.op, msg(text, **params))


def _check_fraction(value: Fraction | None, *, allow_zero: bool, error: str) -> Fraction:
    if value is None or value < 0 or value > 1 or (value == 0 and not allow_zero):
        raise ValueError(error)
    return Fraction(value)


def evaluate(rule: str, data: RuleInput, *, quorum: Fraction | None = None,
             threshold: Fraction | None = None) -> RuleResult:
    """Measure every threshold of ``rule`` on ``data``.

    ``passed`` only if every measure passed. ``reason``: no one on the roll / no floor area / no
    ballots first, then the first missed threshold, else ``PASSED``. ``quorum`` and ``threshold`` are
    required for (and only used by) ``custom``; a bad value raises ``ValueError`` (services validate
    them earlier with ``check_rule``)."""
    d = data
    if rule == SIMPLE_MAJORITY:
        decided = d.yes_count + d.no_count
        measures = [_measure(_SIMPLE, d.yes_count, decided, HALF, NO_BALLOTS if d.cast_count == 0 else ALL_ABSTAINED)]
    elif rule == MAJORITY_OF_ELIGIBLE:
        measures = [_measure(_ELIGIBLE, d.yes_count, d.eligible_count, HALF, NO_ELIGIBLE)]
    elif rule == TWO_THIRDS:
        measures = [_measure(_TWO_THIRDS, d.yes_count, d.cast_count, TWO_THIRDS_SHARE, NO_BALLOTS)]
    elif rule == CUSTOM:
        q = _check_fraction(quorum, allow_zero=True, error=BAD_QUORUM)
        t = _check_fraction(threshold, allow_zero=False, error=BAD_THRESHOLD)
        measures = [_measure(_QUORUM, d.cast_count, d.eligible_count, q, NO_ELIGIBLE),
                    _measure(_THRESHOLD, d.yes_count, d.cast_count, t, NO_BALLOTS)]
    elif rule in ART278_RULES:
        area_spec, owners_spec, share = ((_MAJOR_AREA, _MAJOR_OWNERS, THREE_QUARTERS) if rule == ART278_MAJOR
                                         else (_ORDINARY_AREA, _ORDINARY_OWNERS, HALF))
        measures = [_measure(_AREA_TURNOUT, d.cast_area, d.eligible_area, TWO_THIRDS_SHARE, NO_AREA),
                    _measure(_OWNER_TURNOUT, d.cast_count, d.eligible_count, TWO_THIRDS_SHARE, NO_ELIGIBLE),
                    _measure(area_spec, d.yes_area, d.cast_area, share, NO_AREA if d.cast_count else NO_BALLOTS),
                    _measure(owners_spec, d.yes_count, d.cast_count, share, NO_BALLOTS)]
    else:
        raise ValueError(f"unknown rule {rule!r}")

    passed = all(m.passed for m in measures)
    if d.eligible_count == 0:
        reason = msg(NO_ELIGIBLE)
    elif rule in ART278_RULES and d.eligible_area == 0:
        reason = msg(NO_AREA)
    elif d.cast_count == 0:
        reason = msg(NO_BALLOTS)
    elif passed:
        reason = msg(PASSED)
    else:
        reason = next(m.explanation for m in measures if not m.passed)
    return RuleResult(passed, measures, reason)


def check_rule(rule: str, kind: str, eligibility: str, *, quorum: Fraction | None = None,
               threshold: Fraction | None = None) -> dict[str, Message]:
    """Validate a poll's rule settings; field name → message (empty when fine). Field names:
    ``rule``, ``quorum``, ``threshold``."""
    errors: dict[str, Message] = {}
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}")
    if rule in ART278_RULES and (kind != "yes_no" or eligibility != "owners"):
        errors["rule"] = msg(BAD_RULE)
    if rule == CUSTOM:
        if quorum is None or not 0 <= quorum <= 1:
            errors["quorum"] = msg(BAD_QUORUM)
        if threshold is None or not 0 < threshold <= 1:
            errors["threshold"] = msg(BAD_THRESHOLD)
    return errors
