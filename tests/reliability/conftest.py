"""Reliability tests: a summary line of how many fault and corruption cases ran (the issue asks for counts)."""

from __future__ import annotations

from tests.reliability.reliability_stats import CASES


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not CASES:
        return
    terminalreporter.section("reliability cases")
    for name, counts in sorted(CASES.items()):
        detail = ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{name}: {sum(counts.values())} cases ({detail})")
