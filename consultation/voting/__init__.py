"""Resident voting: polls, eligibility rolls, ballots, rules, tallies and published ballot chains."""
