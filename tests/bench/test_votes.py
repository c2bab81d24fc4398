"""The vote storm's pure parts: the generated wrk script, the voters file, the client's log and the
exactly-once check against synthetic database contents. (The storm itself runs under ``make bench``.)"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path

import pytest
from itsdangerous import URLSafeSerializer

from bench.cli import choose
from bench.scenarios import REGISTRY
from bench.votes import (
    CONCURRENCY,
    ClientLog,
    check_exactly_once,
    choice_of,
    comeback_order,
    parse_log,
    read_logs,
    receipt_hash,
    session_cookie_value,
    throughput,
    vote_lua,
    voter_lines,
)
from bench.wrk import MARKER, run_script
from consultation.accounts.services import token_hash
from consultation.voting.ballots import receipt_code
from consultation.voting.ballots import receipt_hash as domain_receipt_hash

KEY = "k" * 48
# three voters (indices 0..2) with their receipt codes for poll 7, roll entries 100..102
RECEIPTS = {receipt_code(KEY.encode(), 7, 100 + i): i for i in range(3)}
CODE = {i: code for code, i in RECEIPTS.items()}


def log_of(sent: list[tuple[int, int]], answers: list[tuple[int, str | None]]) -> ClientLog:
    return ClientLog(sent=[(v, a, 1.0 + n) for n, (v, a) in enumerate(sent)],
                     answers=[(s, r, 2.0 + n) for n, (s, r) in enumerate(answers)])


def stored(*voters: int) -> list[str]:
    return [receipt_hash(CODE[v]) for v in voters]


# --- the script and its inputs -----------------------------------------------------------------

def test_the_script_posts_each_ballot_with_the_session_and_the_csrf_pair() -> None:
    script = vote_lua(7, "http://127.0.0.1:8123")
    assert 'local poll_path = "/api/v1/polls/7"' in script and 'poll_path .. "/ballots"' in script
    assert 'local origin = "http://127.0.0.1:8123"' in script and '["Origin"] = origin' in script
    # the cookie carries the session and the CSRF cookie; the header repeats the CSRF token
    assert '"ysession" .. "=" .. session .. "; " .. "ycsrf" .. "=" .. csrf' in script
    assert '["x-csrf-token"] = v[3]' in script and '["Content-Type"] = "application/json"' in script
    assert "'{\"choices\":[' .. choice .. ']}'" in script
    # each voter twice in a row, the log written line by line, the result line for parse_output
    assert "math.floor(next_request / 2)" in script and 'log:setvbuf("line")' in script
    assert 'log:write(string.format("S %s %d %.6f\\n"' in script
    assert 'log:write(string.format("R %d %s %.6f\\n"' in script
    assert "then return arm(250) end" in script  # backs off while the server is down
    assert MARKER in script and "function done(summary, latency, requests)" in script
    assert "%%" not in script  # every Python format escape was resolved
    assert "local cycle = false" in script and "local cycle = true" in vote_lua(7, "http://x", cycle=True)
    # a second ballot's 409 is the expected refusal, not an error
    assert "status ~= 409" in script


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (make bench-tools)")
@pytest.mark.parametrize("twice_every", [1, 10])
def test_the_script_sends_each_voter_as_planned_and_logs_exactly_what_it_sent(
        counting_server: tuple[str, Counter[str]], tmp_path: Path, twice_every: int) -> None:
    """Against a stand-in server: every voter once, and every ``twice_every``-th voter twice. wrk's own check of
    the script (a request() in thread 0 before the run) takes no voter and logs nothing."""
    url, asked = counting_server
    voters = 300
    data = tmp_path / "voters.tsv"
    data.write_text(voter_lines((i, f"s{i}", f"c{i}", 1 + i % 3) for i in range(voters)), encoding="utf-8")
    load = run_script(url, vote_lua(7, url, twice_every=twice_every), duration=3, concurrency=16, work_dir=tmp_path,
                      name="storm", script_args=[str(data), str(tmp_path / "client"), "2", "8"])
    planned = sorted((v, a) for v in range(voters) for a in ((1, 2) if v % twice_every == 0 else (1,)))
    posts = Counter({key.split()[2]: n for key, n in asked.items() if key.startswith("POST ")})
    assert posts == Counter({f"ysession=s{v};": 2 if v % twice_every == 0 else 1 for v in range(voters)})
    log = read_logs(tmp_path.glob("client.*.log"))
    assert sorted((v, a) for v, a, _ in log.sent) == planned
    assert len(log.answers) == len(planned) + log.fillers and log.bad_lines == 0  # fillers: harmless reads
    assert load.errors == 0
    with pytest.raises(ValueError):
        vote_lua(7, url, twice_every=0)


def test_voters_file_and_its_refusal_of_values_that_would_break_a_cookie() -> None:
    assert voter_lines([(0, "s.e.ss", "csrf0", 11), (1, "t", "c", 12)]) == "0\ts.e.ss\tcsrf0\t11\n1\tt\tc\t12\n"
    for bad in ("a b", "a;b", "a\tb", "a\nb"):
        with pytest.raises(ValueError):
            voter_lines([(0, bad, "csrf", 1)])


def test_session_cookie_is_signed_as_the_app_signs_it() -> None:
    value = session_cookie_value(KEY, "the-token")
    assert URLSafeSerializer(KEY, salt="session").loads(value) == "the-token"
    assert ";" not in value and " " not in value
    # and the stored hash is the one the app looks sessions up by
    from bench.votes import _token_hash

    assert _token_hash("the-token") == token_hash("the-token")


def test_receipt_hash_matches_the_domain() -> None:
    code = CODE[0]
    assert receipt_hash(code) == domain_receipt_hash(code) == hashlib.sha256(code.encode()).hexdigest()


def test_choices_spread_over_the_three_options() -> None:
    options = {"yes": 1, "no": 2, "abstain": 3}
    assert [choice_of(i, options) for i in range(5)] == [1, 1, 1, 2, 3]


# --- the client's log --------------------------------------------------------------------------

def test_parses_the_log_and_counts_damaged_lines(tmp_path: Path) -> None:
    (tmp_path / "v.client.0.log").write_text("S 4 1 1700000000.000100\nR 201 ABCD-EFGH-JKMN 1700000000.2\n"
                                             "F 1700000001.0\nR 200 - 1700000001.1\nR 40", encoding="utf-8")
    (tmp_path / "v.client.1.log").write_text("S 5 2 1700000000.5\nR 409 - 1700000000.9\n", encoding="utf-8")
    log = read_logs(tmp_path.glob("v.client.*.log"))
    assert log.sent == [(4, 1, 1700000000.0001), (5, 2, 1700000000.5)]
    assert log.answers[0] == (201, "ABCD-EFGH-JKMN", 1700000000.2) and (409, None, 1700000000.9) in log.answers
    assert log.fillers == 1 and log.bad_lines == 1  # the last line was cut off when the thread stopped
    assert parse_log("") == ClientLog()


def test_throughput_counts_acknowledgements_over_the_client_window() -> None:
    log = ClientLog(sent=[(0, 1, 10.0), (0, 2, 10.0), (1, 1, 10.5), (1, 2, 10.5)],
                    answers=[(201, CODE[0], 10.5), (409, None, 10.6), (201, CODE[1], 12.0), (409, None, 12.0),
                             (200, None, 14.0)])  # the last answers a filler read
    rates = throughput(log)
    assert rates["ballots_per_s"] == 1.0 and rates["window_s"] == 4.0 and rates["attempts_per_s"] == 1.0
    assert throughput(ClientLog())["ballots_per_s"] is None


# --- the exactly-once check ----------------------------------------------------------------------

def test_a_clean_storm_passes() -> None:
    log = log_of([(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)],
                 [(201, CODE[0]), (409, None), (409, None), (201, CODE[1]), (201, CODE[2]), (409, None)])
    result = check_exactly_once(log, RECEIPTS, stored(0, 1, 2), {0, 1, 2})
    assert result.passed, result.problems
    assert (result.acknowledged, result.acknowledged_voters, result.stored_ballots, result.roll_marked) == (3, 3, 3, 3)
    assert result.statuses == {"201": 3, "409": 3} and result.unanswered == 0
    assert result.figures()["duplicate_acknowledgements"] == 0 and "problems" not in result.figures()


def test_a_secret_poll_is_checked_by_its_sealed_lookup_values() -> None:
    """A secret poll's open ballot rows hold ``seal.lookup(key, poll, code)``, not the SHA-256."""
    from consultation.voting.seal import lookup

    def hash_of(code: str) -> str:
        return lookup(KEY.encode(), 7, code)

    log = log_of([(0, 1), (1, 1), (2, 1)], [(201, CODE[0]), (201, CODE[1]), (201, CODE[2])])
    sealed_rows = [hash_of(CODE[v]) for v in (0, 1, 2)]
    result = check_exactly_once(log, RECEIPTS, sealed_rows, {0, 1, 2}, hash_of=hash_of)
    assert result.passed and result.stored_ballots == 3, result.problems
    assert not check_exactly_once(log, RECEIPTS, sealed_rows, {0, 1, 2}).passed  # SHA-256 no longer matches


def test_a_lost_acknowledged_ballot_fails() -> None:
    log = log_of([(0, 1), (1, 1)], [(201, CODE[0]), (201, CODE[1])])
    result = check_exactly_once(log, RECEIPTS, stored(0), {0})
    assert not result.passed and result.acknowledged_not_stored == 1
    assert any("not in the database" in p for p in result.problems)


def test_a_ballot_stored_twice_fails() -> None:
    log = log_of([(0, 1), (0, 2)], [(201, CODE[0]), (409, None)])
    result = check_exactly_once(log, RECEIPTS, stored(0, 0), {0})
    assert not result.passed and result.stored_ballots == 2 and result.distinct_stored == 1
    assert any("stored twice" in p for p in result.problems)


def test_a_voter_acknowledged_twice_fails() -> None:
    log = log_of([(0, 1), (0, 2)], [(201, CODE[0]), (201, CODE[0])])
    result = check_exactly_once(log, RECEIPTS, stored(0), {0})
    assert not result.passed and result.duplicate_acknowledgements == 1


def test_ballots_and_roll_marks_must_be_the_same_voters() -> None:
    log = log_of([(0, 1), (1, 1)], [(201, CODE[0]), (201, CODE[1])])
    result = check_exactly_once(log, RECEIPTS, stored(0, 1), {0, 2})
    assert not result.passed and result.ballot_without_roll_mark == 1 and result.roll_mark_without_ballot == 1


def test_a_stored_ballot_of_a_voter_never_sent_or_of_no_voter_fails() -> None:
    log = log_of([(0, 1)], [(201, CODE[0])])
    result = check_exactly_once(log, RECEIPTS, [*stored(0, 2), "f" * 64], {0, 2})
    assert not result.passed and result.stored_never_sent == 1 and result.stored_unknown == 1


def test_unanswered_requests_may_or_may_not_be_stored() -> None:
    """The drill: voter 0 acknowledged; voter 1's request died with its worker after the commit (stored,
    no answer) and its retry was refused; voter 2's died before (not stored). Passes."""
    log = log_of([(0, 1), (1, 1), (2, 1), (1, 3)], [(201, CODE[0]), (409, None)])
    result = check_exactly_once(log, RECEIPTS, stored(0, 1), {0, 1})
    assert result.passed, result.problems
    assert (result.unanswered, result.stored_not_acknowledged, result.acknowledged) == (2, 1, 1)


def test_more_unacknowledged_ballots_than_unanswered_requests_fails() -> None:
    """A ballot stored although every request got an answer and none acknowledged it: the server
    answered an error after storing."""
    log = log_of([(0, 1), (1, 1)], [(201, CODE[0]), (500, None)])
    result = check_exactly_once(log, RECEIPTS, stored(0, 1), {0, 1})
    assert not result.passed and any("without an acknowledgement" in p for p in result.problems)


def test_an_acknowledgement_with_a_receipt_of_no_voter_fails() -> None:
    log = log_of([(0, 1)], [(201, "ZZZZ-ZZZZ-ZZZZ")])
    result = check_exactly_once(log, RECEIPTS, [], set())
    assert not result.passed and result.unknown_receipts == 1


# --- registry ----------------------------------------------------------------------------------------

def test_the_clients_that_come_back_send_the_voters_not_yet_acknowledged_first() -> None:
    receipts = RECEIPTS | {receipt_code(KEY.encode(), 7, 103): 3, receipt_code(KEY.encode(), 7, 104): 4}
    # voters 0 and 1 sent; 1 acknowledged, 0's answer lost; 2, 3 and 4 never sent
    log = log_of([(0, 1), (1, 1), (1, 2)], [(201, CODE[1]), (409, None)])
    assert comeback_order(5, log, receipts) == [2, 3, 4, 0, 1]
    assert comeback_order(2, ClientLog(), RECEIPTS) == [0, 1]


def test_both_are_registered_and_run_by_default() -> None:
    assert REGISTRY["vote_storm"].available and REGISTRY["vote_storm"].kind == "load"
    assert REGISTRY["vote_storm_double"].available and not REGISTRY["vote_storm_double"].warm
    assert not REGISTRY["vote_storm"].warm  # it warms itself: the page warm-up would not touch the vote path
    assert REGISTRY["drill_vote_kill"].available and REGISTRY["drill_vote_kill"].kind == "drill"
    chosen, problems = choose("drill_vote_kill,vote_storm")
    assert chosen == ["vote_storm", "drill_vote_kill"] and not problems
    default, _ = choose("")
    assert "vote_storm" in default and "drill_vote_kill" in default
    assert CONCURRENCY == 64
