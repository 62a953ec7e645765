"""Counters of the cases the reliability tests ran, by test and outcome (printed by conftest.py)."""

from __future__ import annotations

from collections import Counter, defaultdict

CASES: defaultdict[str, Counter] = defaultdict(Counter)


def count(test: str, outcome: str) -> None:
    CASES[test][outcome] += 1
