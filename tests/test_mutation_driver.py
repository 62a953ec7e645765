"""The mutation driver's own rules (``benchmarks/mutation_test.py``): what counts as a kill, what its results file
keeps. Pure functions only; no pytest is started."""

from __future__ import annotations

import ast

import pytest

from benchmarks.mutation_test import Mutant, _sites, killers_from_log, merge_results, mutated_source, verdict

PASSED = "....\n4 passed in 1.20s\n"


@pytest.mark.parametrize(
    ("returncode", "output", "expected"),
    [
        (0, PASSED, ("survived", None)),
        (0, "ss\n2 skipped in 0.1s\n", ("error(nothing passed)", None)),  # all skipped proves nothing
        (1, "F\nFAILED tests/a.py::test_b[x-1] - AssertionError: no\n", ("killed", "tests/a.py::test_b[x-1]")),
        (2, "ERROR tests/a.py - ImportError\nInterrupted: 1 error during collection\n", ("killed", "tests/a.py")),
        (2, "!!! KeyboardInterrupt !!!\n", ("error(rc=2)", None)),
        (3, "INTERNALERROR> boom\n", ("error(rc=3)", None)),
        (4, "ERROR: not found: tests/a.py::test_gone\n", ("error(rc=4)", None)),  # a usage error is no kill
        (5, "no tests ran in 0.01s\n", ("error(rc=5)", None)),  # nor is an empty selection a survivor
        (-9, "", ("error(rc=-9)", None)),
    ],
)
def test_only_a_failing_test_kills_and_only_passing_tests_survive(returncode, output, expected):
    assert verdict(returncode, output) == expected


def _record(key: str, target: str, outcome: str) -> dict:
    return {"key": key, "target": target, "outcome": outcome}


def test_a_run_of_some_targets_keeps_every_other_record_and_drops_only_changed_functions():
    recorded = {
        "a:f:0:op:d1": _record("a:f:0:op:d1", "a", "survived"),
        "b:g:0:op:d2": _record("b:g:0:op:d2", "b", "killed"),  # another target: not run this time
        "b:g:1:op:old": _record("b:g:1:op:old", "b", "killed"),  # its function changed since
    }
    new = {"a:f:0:op:d1": _record("a:f:0:op:d1", "a", "killed")}
    merged = merge_results(recorded, new, current={"a:f:0:op:d1", "b:g:0:op:d2", "b:g:1:op:new"})
    assert merged == {"a:f:0:op:d1": new["a:f:0:op:d1"], "b:g:0:op:d2": recorded["b:g:0:op:d2"]}


def test_killers_from_a_log_are_the_killing_tests_of_each_function_most_frequent_first():
    log = (
        "killed       3.1s agents/x.py:11 f return None  tests/t.py::test_one\n"
        "killed       2.0s agents/x.py:12 f delete Expr  tests/t.py::test_two\n"
        "killed       2.0s agents/x.py:13 f delete Expr  tests/t.py::test_two\n"
        "killed       2.0s agents/x.py:14 C.g compare[0] Eq->NotEq  tests/u.py::test_three[a-b]\n"
        "survived     7.9s agents/x.py:15 f return None  \n"
        "killed     300.0s agents/x.py:16 f delete Expr  \n"  # a timeout-like line without a node
    )
    assert killers_from_log(log) == {
        "agents/x.py:f": ["tests/t.py::test_two", "tests/t.py::test_one"],
        "agents/x.py:C.g": ["tests/u.py::test_three[a-b]"],
    }


def test_a_mutant_changes_exactly_its_site():
    source = "def f(a, b):\n    if a == b:\n        return a\n    return b\n"
    sites = [operator for _, operator in _sites(ast.parse(source).body[0])]
    assert sites == ["return None", "compare[0] Eq->NotEq", "return None"]  # breadth first: the last return first
    mutated = [mutated_source(Mutant("t", "m.py", "f", i, 0, op), source) for i, op in enumerate(sites)]
    assert mutated == [
        "def f(a, b):\n    if a == b:\n        return a\n    return None\n",
        "def f(a, b):\n    if a != b:\n        return a\n    return b\n",
        "def f(a, b):\n    if a == b:\n        return None\n    return b\n",
    ]
