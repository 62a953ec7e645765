"""Suite-wide settings: compiled bytecode, the suite on every core (pytest-xdist), the reliability case counts.

Bytecode. Many tests start fresh interpreters (training processes, the ``sphgym`` CLI, Ray workers). Where
``PYTHONDONTWRITEBYTECODE`` is set (some sandboxes and CI images set it), each of them compiled every project
module from source (~0.2 s of CPU per process, a few hundred processes per suite run) and pytest re-rewrote the
asserts of every test module at every run. Bytecode is written to the usual ``__pycache__`` folders (git-ignored).
``SPHGYM_TESTS_NO_BYTECODE=1`` keeps it off: ``benchmarks/mutation_test.py`` sets it, because it rewrites a
module in place between runs and a stale ``.pyc`` (same mtime second and size) would run the wrong mutant.

Workers. ``pyproject.toml`` asks for ``-n auto --dist loadgroup``: one worker per core (at most
``MAX_WORKERS``), none when the command names single tests (``pytest tests/x.py::test_y`` starts as fast as
plain pytest) or the machine has one core. ``-n 0`` runs everything in this process;
``PYTEST_XDIST_AUTO_NUM_WORKERS=N`` picks N. Under ``loadgroup`` a unit of work is one test, or every test of one
``xdist_group``; this file adds the group ``module:<file>`` to each test that uses a module- or class-scoped
fixture (the fixture is built once, in one worker), and orders units so the long ones start first (units with
tests marked ``slow``, most first). docs/testing.md ("Suite run time") has the rules for an xdist-safe test.
"""

from __future__ import annotations

import os
import sys
from collections import Counter, defaultdict

import pytest

from tests.reliability.reliability_stats import CASES

if os.environ.get("SPHGYM_TESTS_NO_BYTECODE") != "1":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False

MAX_WORKERS = 4  # each worker holds numpy, numba, Gymnasium, torch and Ray's client (~0.5 GB)
SHARED_SCOPES = ("module", "class", "package")
CASES_KEY = "sphgym_reliability_cases"
GROUPS_KEY = "sphgym_xdist_groups"
GROUPS_RUN: set[str] = set()  # in a worker: the xdist groups of the tests it ran
WORKERS_OF_GROUP: defaultdict[str, set[str]] = defaultdict(set)  # in the controller: which workers ran each group


# --------------------------------------------------------------------------------------------- workers
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per available core up to ``MAX_WORKERS``; 0 (this process) for named tests."""
    chosen = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS", "")
    if chosen.isdigit():
        return int(chosen)
    if config.args and all("::" in arg for arg in config.args):
        return 0  # a few named tests: starting workers would cost more than it saves
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 0 if cores < 2 else min(cores, MAX_WORKERS)


def _group(item: pytest.Item) -> str | None:
    for mark in item.iter_markers("xdist_group"):
        return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
    return None


def _uses_a_shared_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs[-1].scope in SHARED_SCOPES for defs in info.name2fixturedefs.values() if defs)


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _group(item) is None and _uses_a_shared_fixture(item):
            item.add_marker(pytest.mark.xdist_group(f"module:{item.nodeid.split('::')[0]}"))
    if not hasattr(config, "workerinput"):
        return
    # an xdist worker: every worker sorts the same collection the same way
    unit = {item.nodeid: _group(item) or item.nodeid for item in items}
    slow = Counter(unit[item.nodeid] for item in items if item.get_closest_marker("slow"))
    items.sort(key=lambda item: -slow[unit[item.nodeid]])  # stable: collection order within equal weights
    if config.getvalue("loadgroup"):
        for item in items:
            if (group := _group(item)) is not None:
                _tag_with_group(item, group)


def _tag_with_group(item: pytest.Item, group: str) -> None:
    """Give ``item`` the node id ``<id>@<group>`` the loadgroup scheduler reads its unit from.

    xdist 3.8 does this by setting ``item._nodeid``, which pytest 9.2 no longer reads (it keeps the id as a
    structured ``item._id``): without this, the tests of one group were spread over both workers (two local
    Rays at once). Where xdist's own tagging works, the item is left to it.
    """
    node_id = getattr(item, "_id", None)
    if node_id is not None and not hasattr(item, "_nodeid") and "@" not in item.nodeid:
        item._id = type(node_id).parse(f"{item.nodeid}@{group}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if (group := _group(item)) is not None:
        GROUPS_RUN.add(group)


# ------------------------------------------------- what the workers report back: case counts, groups they ran
def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand its counts and groups to the controller
        workeroutput[CASES_KEY] = {name: dict(counts) for name, counts in CASES.items()}
        workeroutput[GROUPS_KEY] = [session.config.workerinput["workerid"], sorted(GROUPS_RUN)]
    elif _split_groups():  # the controller: a group that ran in two workers is a broken run, whatever passed
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    output = getattr(node, "workeroutput", {})
    for name, counts in output.get(CASES_KEY, {}).items():
        CASES[name].update(counts)
    worker, groups = output.get(GROUPS_KEY, ("", []))
    for group in groups:
        WORKERS_OF_GROUP[group].add(worker)


def _split_groups() -> dict[str, list[str]]:
    return {group: sorted(workers) for group, workers in WORKERS_OF_GROUP.items() if len(workers) > 1}


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Groups split over workers (an error), then a "reliability cases" section: how many fault and corruption
    cases ran, by outcome (issue 18 asks)."""
    for group, workers in _split_groups().items():
        terminalreporter.write_line(
            f"ERROR: the tests of xdist_group {group!r} ran in {', '.join(workers)}: a group must stay in one worker "
            "(check tests/conftest.py's grouping against the installed pytest and pytest-xdist)",
            red=True,
        )
    if not CASES:
        return
    terminalreporter.section("reliability cases")
    for name, counts in sorted(CASES.items()):
        detail = ", ".join(f"{outcome} {n}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{name}: {sum(counts.values())} cases ({detail})")
