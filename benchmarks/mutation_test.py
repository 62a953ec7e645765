"""Mutation testing of the code that carries exactness and safety (a benchmark-like audit, not a CI step).

A small self-written driver (mutmut 3 does not fit this code base: its trampolines would wrap numba kernels, and
most of the tests that matter run the code in forked children and subprocesses that import the package from
``PYTHONPATH``, which mutmut's ``mutants/`` copy does not reach). For each target function it makes one mutant
per site with the classic operators

* a comparison negated (``==``/``!=``, ``<``/``>=``, ``>``/``<=``, ``in``/``not in``, ``is``/``is not``);
* ``and``/``or`` swapped, a ``not`` dropped, ``+``/``-`` swapped;
* an integer constant plus one, ``True``/``False`` swapped;
* a statement deleted (an assignment, a call, a ``raise``, a ``return`` value replaced by ``None``),

writes the mutated module into a private copy of the source tree, runs the tests that guard that target in a
subprocess (``pytest -x``, with ``PYTHONPATH`` at the copy, so forked and subprocess tests see the mutant too) and
records *killed* (a test failed), *survived* (tests ran and all passed) or *timeout* (counted as killed, reported
apart); any other pytest exit (usage error, nothing collected, interrupted) is an *error*, never a verdict.

Usage (on idle CPU, time-boxed, continued from its results file; 2 shared cores):

    nice -n 19 python benchmarks/mutation_test.py --until 15:25 --out benchmarks/results/mutation.json
    python benchmarks/mutation_test.py --summary --out benchmarks/results/mutation.json  # score per module
    python benchmarks/mutation_test.py --rerun-survivors --out benchmarks/results/mutation.json
    python benchmarks/mutation_test.py --list                    # the mutants, without running anything
    python benchmarks/mutation_test.py --only hierarchy.clear    # targets whose name contains the text
    python benchmarks/mutation_test.py --only eval,verify --reverse --out ...  # a second driver, from the other end
    python benchmarks/mutation_test.py --hints OLD_RUN.log --out ...          # an old log's killers run first

The targets are visited round-robin (one mutant of each in turn), so an early stop still covers every target;
mutants recorded in ``--out`` are skipped while their function is unchanged, and the file is merged (a run of some
targets keeps every other record). The tests that killed a target's mutants run first. Survivors are triaged by
hand in docs/testing.md (killed by a new test, or equivalent: ``EQUIVALENT`` below).
"""

from __future__ import annotations

import argparse
import ast
import copy
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class Target:
    """Functions of one module and the tests that must kill their mutants."""

    name: str
    module: str  # path relative to the repository
    functions: tuple[str, ...]  # qualified names: "func" or "Class.method"
    tests: tuple[str, ...]  # pytest arguments: node ids, files, ``-k`` expressions


CHECKPOINT_FAST = ("tests/runner/test_runner_checkpoint.py", "-k", "not sigkill")
POWER_CUT = "tests/reliability/test_crash_points.py::test_a_power_cut_after_the_run_ended_loses_no_checkpoint"
POWER_CUT_PERIODIC = (
    "tests/reliability/test_crash_points.py::"
    "test_a_power_cut_right_after_a_periodic_checkpoint_keeps_the_logs_it_covers"
)
HIERARCHY_CLEAR_TESTS = (
    "tests/hierarchy/test_hierarchy.py",
    "tests/agents/test_hierarchy_agent.py",
    "-k",
    "not learns_cartpole",
)
TARGETS = (
    Target(
        "checkpoint.write",
        "agents/runner/checkpoint.py",
        ("write_checkpoint", "rotate", "clean_temporaries"),
        (POWER_CUT, "tests/reliability/test_stray_checkpoint_entries.py", *CHECKPOINT_FAST),
    ),
    Target(
        "checkpoint.read",
        "agents/runner/checkpoint.py",
        ("read_checkpoint", "_read_regular", "find_latest_valid", "list_checkpoints", "parse_json"),
        (
            "tests/runner/test_runner_tools.py::test_verify_passes_on_a_good_run",
            "tests/reliability/test_untrusted_files.py",
            *CHECKPOINT_FAST,
        ),
    ),
    Target(
        "fsutil",
        "agents/runner/fsutil.py",
        ("atomic_write_bytes", "remove_tree", "fsync_dir", "write_file_synced"),
        (
            POWER_CUT,
            "tests/reliability/test_crash_points.py::test_a_crash_while_resuming_a_crashed_run_loses_nothing",
            "tests/reliability/test_disk_full.py::test_disk_full_at_any_write_of_a_checkpoint",
            "tests/reliability/test_stray_checkpoint_entries.py",
            "tests/runner/test_fsutil.py",
        ),
    ),
    Target(
        "rng_state",
        "agents/runner/rng_state.py",
        ("seed_global_rng", "capture_global_rng", "restore_global_rng", "_words_hex", "_hex_words"),
        (
            "tests/runner/test_rng_state.py",
            "tests/reliability/test_global_rng.py",
            "tests/runner/test_runner.py",
            "tests/reliability/test_corruption.py::test_resigned_valid_content_is_loaded_exactly_as_written",
            "-k",
            "rng or loaded_exactly",
        ),
    ),
    Target(
        "env_state",
        "agents/runner/env_state.py",
        ("capture_env_state", "restore_env_state", "reconstruct_env_rng", "can_capture_episode_state"),
        (
            "tests/runner/test_runner.py",
            "tests/envs/test_env_capture.py",
            "tests/runner/test_vector_envs.py",
            "-k",
            "signal or env or cartpole",
        ),
    ),
    Target(
        "runner.resume",
        "agents/runner/runner.py",
        ("_Session._prepare_resume", "_Session._already_finished", "_Session._target_reached"),
        (
            "tests/runner/test_runner.py",
            "tests/reliability/test_resume_bookkeeping.py",
            "tests/runner/test_runner_runtime_meta.py",
            "tests/reliability/test_stray_checkpoint_entries.py",
            "tests/runner/test_vector_envs.py",
            "tests/reliability/test_crafted_values.py",
            "tests/reliability/test_untrusted_files.py::"
            "test_an_env_id_that_imports_a_module_is_not_imported_from_a_run_folder",
            *CHECKPOINT_FAST,
        ),
    ),
    Target(
        "runner.checkpoint_and_best",
        "agents/runner/runner.py",
        ("_Session._checkpoint", "_Session._note_best", "_Session._snapshot_files", "_Session._config_json"),
        (
            "tests/runner/test_runner.py",
            "tests/runner/test_checkpoint_writer.py",
            "tests/reliability/test_divergence_guard.py",
            "tests/runner/test_vector_envs.py",
            "tests/runner/test_boundary_snapshots.py",
            POWER_CUT,
            POWER_CUT_PERIODIC,
            *CHECKPOINT_FAST,
        ),
    ),
    Target(
        "run_folder.best",
        "agents/runner/run_folder.py",
        ("write_best", "read_best"),
        (
            "tests/runner/test_runner.py",
            "tests/runner/test_runner_tools.py",
            "tests/runner/test_run_folder.py",
            "-k",
            "best",
        ),
    ),
    Target(
        "restore",
        "agents/runner/restore.py",
        ("restore_runner_arrays", "restore_env", "restore_global_rngs"),
        ("tests/runner/test_runner.py", "tests/reliability/test_crafted_values.py", *CHECKPOINT_FAST),
    ),
    Target("hierarchy.clear", "hierarchy/hierarchy.py", ("Hierarchy.clear_state",), HIERARCHY_CLEAR_TESTS),
    Target("encoder.clear", "hierarchy/encoder.py", ("Encoder.clear",), HIERARCHY_CLEAR_TESTS),
    Target("decoder.clear", "hierarchy/decoder.py", ("Decoder.clear",), HIERARCHY_CLEAR_TESTS),
    Target("actor.clear", "hierarchy/actor.py", ("Actor.clear",), HIERARCHY_CLEAR_TESTS),
    Target(
        "hierarchy.serialisation",
        "hierarchy/hierarchy.py",
        (
            "Hierarchy.set_state_from_buffer",
            "Hierarchy.set_weights_from_buffer",
            "Hierarchy._check_state_values",
            "Hierarchy._assign",
            "Hierarchy._read",
        ),
        (
            "tests/hierarchy/test_hierarchy.py",
            "tests/hierarchy/test_buffer_format.py",
            "tests/reliability/test_corruption.py::test_damaged_hierarchy_buffers",
        ),
    ),
    Target(
        "hierarchy.buffers",
        "hierarchy/serialization.py",
        ("write_buffer", "read_buffer", "check_arrays", "buffer_size"),
        ("tests/hierarchy/test_buffer_format.py", "tests/hierarchy/test_hierarchy.py"),
    ),
    Target(
        "hierarchy_agent",
        "agents/hierarchy_agent.py",
        (
            "HierarchyAgent.clear_state",
            "HierarchyAgent.observe",
            "HierarchyAgent.get_state",
            "HierarchyAgent.set_state",
        ),
        (
            "tests/agents/test_hierarchy_agent.py",
            "tests/agents/test_agent_contract.py",
            "tests/agents/test_hierarchy_metrics.py",
            "tests/agents/test_pixel_frontend.py",
            "-k",
            "not learns_cartpole",
        ),
    ),
    Target(
        "eval",
        "agents/runner/evaluation.py",
        ("evaluate", "load_weights_for_eval"),
        (
            "tests/runner/test_runner_tools.py",
            "tests/cli/test_cli_eval_inspect_verify.py::test_eval_inspect_and_verify_while_the_run_is_training",
            "tests/cli/test_cli_eval_video.py",
            "tests/reliability/test_untrusted_files.py::"
            "test_an_env_id_that_imports_a_module_is_not_imported_from_a_run_folder",
        ),
    ),
    Target(
        "verify",
        "agents/runner/verify.py",
        ("verify_run", "_runner_json_without_status"),
        (
            "tests/runner/test_runner_tools.py",
            "tests/cli/test_cli_messages.py",
            "tests/cli/test_cli_eval_inspect_verify.py",
            "-k",
            "verify",
        ),
    ),
)

# ---------------------------------------------------------------------- mutants

_COMPARE_SWAP = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Raise, ast.Return)


@dataclass(frozen=True)
class Mutant:
    target: str
    module: str
    function: str
    site: int
    line: int
    operator: str
    function_sha: str = ""  # digest of the function's AST: a result is reused only while the function is unchanged
    code: str = ""  # the mutated source line (for the triage)

    @property
    def key(self) -> str:
        return f"{self.module}:{self.function}:{self.site}:{self.operator}:{self.function_sha}"


def _sites(func: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every mutable site of a function, in a fixed order: (node, operator name)."""
    out = []
    for node in ast.walk(func):
        if node is func:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _COMPARE_SWAP:
                    out.append((node, f"compare[{i}] {type(op).__name__}->{_COMPARE_SWAP[type(op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append((node, f"{type(node.op).__name__}->{'Or' if isinstance(node.op, ast.And) else 'And'}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((node, "drop not"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            out.append((node, f"{type(node.op).__name__}->{'Sub' if isinstance(node.op, ast.Add) else 'Add'}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            out.append((node, f"{node.value}->{not node.value}"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append((node, f"{node.value}->{node.value + 1}"))
        if isinstance(node, _DELETABLE) and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            if isinstance(node, ast.Return):
                if node.value is not None and not (isinstance(node.value, ast.Constant) and node.value.value is None):
                    out.append((node, "return None"))
            else:
                out.append((node, f"delete {type(node).__name__}"))
    return out


def _apply(node: ast.AST, operator: str) -> ast.AST:
    """The replacement of ``node`` for ``operator`` (a new node; statements become ``pass``)."""
    new = copy.deepcopy(node)
    if operator.startswith("compare["):
        i = int(operator[len("compare[") : operator.index("]")])
        new.ops[i] = _COMPARE_SWAP[type(new.ops[i])]()
    elif operator in ("And->Or", "Or->And"):
        new.op = ast.Or() if isinstance(new.op, ast.And) else ast.And()
    elif operator == "drop not":
        return new.operand
    elif operator in ("Add->Sub", "Sub->Add"):
        new.op = ast.Sub() if isinstance(new.op, ast.Add) else ast.Add()
    elif operator in ("True->False", "False->True"):
        new.value = not new.value
    elif operator.startswith("delete"):
        return ast.Pass()
    elif operator == "return None":
        new.value = ast.Constant(None)
    else:
        new.value = new.value + 1
    return new


class _Replace(ast.NodeTransformer):
    def __init__(self, old: ast.AST, new: ast.AST) -> None:
        self.old, self.new = old, new

    def generic_visit(self, node):
        if node is self.old:
            return self.new
        return super().generic_visit(node)

    def visit(self, node):
        if node is self.old:
            return self.new
        return super().visit(node)


def _functions(tree: ast.Module) -> dict[str, ast.AST]:
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found[node.name] = node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    found[f"{node.name}.{item.name}"] = item
    return found


# The default operators; ``--all-operators`` adds integer constants +1 and ``+``/``-`` swaps (mostly indices,
# sizes and messages in this code: many equivalent mutants for little signal on a small time budget).
_DEFAULT_OPERATORS = ("compare", "And->", "Or->", "drop not", "True->", "False->", "delete", "return None")


def mutants_of(target: Target, all_operators: bool = False) -> list[Mutant]:
    source = (REPO / target.module).read_text()
    lines = source.splitlines()
    functions = _functions(ast.parse(source))
    out = []
    for qualname in target.functions:
        if qualname not in functions:
            raise SystemExit(f"{target.module} has no function {qualname!r} (target {target.name})")
        func = functions[qualname]
        digest = hashlib.sha256(ast.dump(func, include_attributes=False).encode()).hexdigest()[:12]
        for site, (node, operator) in enumerate(_sites(func)):
            if not all_operators and not operator.startswith(_DEFAULT_OPERATORS):
                continue
            line = getattr(node, "lineno", 0)
            code = lines[line - 1].strip()[:100] if line else ""
            out.append(Mutant(target.name, target.module, qualname, site, line, operator, digest, code))
    return out


def mutated_source(mutant: Mutant, source: str) -> str:
    """``source`` (the module's unmutated text) with ``mutant`` applied."""
    tree = ast.parse(source)
    func = _functions(tree)[mutant.function]
    node, operator = _sites(func)[mutant.site]
    assert operator == mutant.operator
    tree = _Replace(node, _apply(node, operator)).visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n"


# ---------------------------------------------------------------------- running

# Surviving mutants judged equivalent by hand, (module, function, operator, mutated line) -> why; docs/testing.md
# has the triage table. A listed mutant still runs (a test may kill it one day); it only counts apart if it survives.
EQUIVALENT: dict[tuple[str, str, str, str], str] = {
    ("agents/runner/fsutil.py", "atomic_write_bytes", "delete Assign", "path = Path(path)"): (
        "every caller passes a Path (the signature says Path)"
    ),
    ("agents/runner/fsutil.py", "remove_tree", "delete Assign", "path = Path(path)"): (
        "every caller passes a Path"
    ),
    ("agents/runner/rng_state.py", "capture_global_rng", "And->Or",
     'if torch is not None and hasattr(torch, "get_rng_state"):'): (
        "differs only for a loaded torch module without get_rng_state"
    ),
    # Equivalent only where CUDA is not available (this machine, CI): the lines run with a GPU only. Killing them
    # needs a GPU run with a test that compares CUDA generator states across a resume.
    (
        "agents/runner/rng_state.py",
        "capture_global_rng",
        "compare[0] IsNot->Is",
        "if cuda is not None and cuda.is_available() and cuda.is_initialized():",
    ): "without CUDA: cuda.is_available() is False either way, nothing is captured (GPU-only line)",
    (
        "agents/runner/rng_state.py",
        "capture_global_rng",
        "delete Assign",
        'snapshot["torch"]["cuda"] = [s.numpy().tobytes().hex() for s in cuda.get_rng_state_all()]',
    ): "without CUDA the line never runs (GPU-only line)",
    ("agents/runner/rng_state.py", "restore_global_rng", "delete Expr", "torch.cuda.set_rng_state_all("): (
        "without CUDA the line never runs (GPU-only line)"
    ),
    ("agents/runner/evaluation.py", "evaluate", "delete Expr", 'env.action_space.seed(seeds["action_space"])'): (
        "no registered agent samples from env.action_space (the random agent has its own generator)"
    ),
    (
        "agents/runner/evaluation.py",
        "evaluate",
        "delete Expr",
        'env.observation_space.seed(seeds["observation_space"])',
    ): "no registered agent samples from env.observation_space",
    ("agents/runner/fsutil.py", "remove_tree", "delete Expr", "fsync_dir(path.parent)"): (
        "harmless under the power-cut model: if the rename to .trash-* is lost, the folder comes back with files "
        "deleted; a checkpoint without its COMPLETE marker or with a missing file fails its digests and is removed "
        "again at the next resume (the twin after unlinking a file or link is the same case)"
    ),
    ("agents/hierarchy_agent.py", "HierarchyAgent.observe", "delete Assign", "self._pending_reward = 0.0"): (
        "under the Agent protocol act() precedes every observe() and zeroes the pending reward already"
    ),
    ("agents/runner/evaluation.py", "evaluate", "delete Expr", "env.close()"): (
        "no observable effect for the envs the tests evaluate (no render mode, no files): closing frees nothing "
        "a test can see"
    ),
    ("agents/hierarchy_agent.py", "HierarchyAgent.observe", "And->Or", "truncated=truncated and not terminated,"): (
        "differs only when both flags are set, and Hierarchy.step gives terminated precedence (flag 1 either way; "
        "the (True, True) case of test_terminal_step_closes_the_episode)"
    ),
    ("agents/runner/checkpoint.py", "write_checkpoint", "delete Assign", "root = Path(root)"): (
        "its one caller passes a Path"
    ),
    ("agents/runner/verify.py", "verify_run", "delete Expr", "(tmp / CHECKPOINTS_DIR).mkdir()"): (
        "shutil.copytree of the start checkpoint into tmp/checkpoints/<id> creates the missing checkpoints/ too"
    ),
    (
        "agents/runner/verify.py",
        "verify_run",
        "delete Expr",
        "(tmp / CONFIG_FILE).write_bytes(json_bytes(config.to_dict()))",
    ): (
        "without a config.json the resuming Runner reads the copied checkpoint's config.json, and the config passed "
        "to it (the end checkpoint's) wins for every field a resume may change: the same run"
    ),
    ("agents/runner/checkpoint.py", "clean_temporaries", "delete Assign", "root = Path(root)"): (
        "its one caller passes a Path (the run's checkpoints folder)"
    ),
    (
        "agents/runner/runner.py",
        "_Session._snapshot_files",
        "False->True",
        "RNG_JSON: json_bytes(capture_global_rng(), pretty=False),",
    ): "speed only: pretty=False writes the same JSON value on one line (~20x faster); every reader parses it",
    (
        "agents/runner/runner.py",
        "_Session._snapshot_files",
        "False->True",
        "env_state.capture_env_state(self.env) if self.env_reset_done else None, pretty=False",
    ): "speed only: pretty=False writes the same JSON value on one line (~20x faster); every reader parses it",
    ("agents/runner/verify.py", "_runner_json_without_status", "delete Expr", 'info.pop("status", None)'): (
        "defensive: every checkpoint verify compares against records the status its re-run ends with (a stopped "
        "or Ctrl-C checkpoint records 'running', the status a resume continues with; completed, solved and "
        "steps-target runs re-run to the same status; all four checked by hand)"
    ),
    ("agents/runner/env_state.py", "restore_env_state", "delete Expr", "_check_bit_generators(snapshot)"): (
        "defence in depth: envs.capture refuses the same bit-generator names with its own check before any lookup"
    ),
}


def _copy_tree(dest: Path) -> None:
    """The sources and tests, with numba's on-disk cache (``__pycache__/*.nbi``/``*.nbc``).

    Numba keys a cached kernel on its source file's mtime and size, which ``copy2`` keeps: the copy starts with
    warm kernels instead of compiling every one cold (a mutated module recompiles only its own).
    """
    for name in ("agents", "hierarchy", "envs", "tests", "pyproject.toml", "conftest.py"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("*.pyc"))
        elif src.exists():
            shutil.copy2(src, dest / name)


def _first_failure(output: str) -> str | None:
    """The node id of the first ``FAILED``/``ERROR`` line of pytest's short summary."""
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" ", 1)[1].split(" - ", 1)[0].strip()
    return None


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # already gone
        pass


def verdict(returncode: int, output: str) -> tuple[str, str | None]:
    """A pytest run's outcome for a mutant: (``killed``/``survived``/``error(...)``, node id of the failing test).

    Only a failing test kills: exit 1 (a test failed) or exit 2 with an ``ERROR`` line (the mutant broke a
    collection). Exit 0 survives only if some test passed (all skipped proves nothing). Anything else is an error
    of the run, never a verdict: 2 without a collection error (interrupted), 3 (pytest's internal error),
    4 (usage error: a bad argument or a node id that does not exist), 5 (no test collected: a ``-k`` or
    ``--deselect`` that left nothing), a negative code (killed by a signal).
    """
    node = _first_failure(output)
    if returncode == 0:
        return ("survived", None) if " passed" in output else ("error(nothing passed)", None)
    if returncode == 1 or (returncode == 2 and node is not None):
        return "killed", node
    return f"error(rc={returncode})", None


def run_tests(workdir: Path, tests: tuple[str, ...], timeout: float) -> tuple[str, float, str | None]:
    """Run ``tests`` (pytest arguments) in ``workdir``: (outcome, seconds, node id of the failing test)."""
    # No .pyc: each mutant rewrites a module in place, and a stale .pyc (same mtime second and size) would run the
    # previous mutant (tests/conftest.py turns bytecode on unless SPHGYM_TESTS_NO_BYTECODE is set).
    env = dict(
        os.environ, PYTHONPATH=str(workdir), NUMBA_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
        SPHGYM_TESTS_NO_BYTECODE="1",
    )
    # -n 0: one process per mutant (pyproject's addopts spread a run over every core with pytest-xdist).
    args = [PYTHON, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider", "-W", "ignore", "-rfE", *tests]
    start = time.perf_counter()
    # Its own process group: a timeout, or this driver being stopped, ends pytest and every child it forked.
    proc = subprocess.Popen(
        args, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )
    try:
        stdout, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc.pid)
        proc.communicate()
        return "timeout", time.perf_counter() - start, None
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    elapsed = time.perf_counter() - start
    outcome, node = verdict(proc.returncode, stdout)
    if outcome.startswith("error"):
        tail = " | ".join(stdout.strip().splitlines()[-3:])
        print(f"  pytest {outcome} for {' '.join(tests)}: {tail}", flush=True)
    return outcome, elapsed, node


def run_mutant(workdir: Path, target: Target, killers: list[str], timeout: float) -> tuple[str, float, str | None]:
    """Run the tests that killed this target's earlier mutants first (most mutants die there in seconds), then,
    if none of them fails, the target's whole test set without them. Same verdict as one ``pytest -x`` over the
    set plus the killers (a killer outside the set still counts: it is a test of this code too)."""
    spent = 0.0
    if killers:
        outcome, spent, node = run_tests(workdir, tuple(killers), timeout)
        if outcome in ("killed", "timeout"):
            return outcome, spent, node
        if outcome != "survived":  # e.g. a killer renamed since (exit 4): run the whole set with nothing deselected
            killers = []
    deselect = tuple(f"--deselect={k}" for k in killers)
    outcome, seconds, node = run_tests(workdir, (*target.tests, *deselect), max(1.0, timeout - spent))
    if outcome == "error(rc=5)" and killers:  # the killers were the whole set: they passed, so the mutant survived
        outcome = "survived"
    return outcome, spent + seconds, node


def _load(path: Path | None) -> dict[str, dict]:
    if path is None or not path.exists():
        return {}
    return {r["key"]: r for r in json.loads(path.read_text())["results"]}


def merge_results(recorded: dict[str, dict], new: dict[str, dict], current: set[str]) -> dict[str, dict]:
    """What the results file keeps: every record of a mutant that still exists (``current``: the keys of every
    target's mutants, all operators, whatever ``--only`` selected), the new records replacing the old ones.

    A record is dropped only when its function changed (its key holds the function's digest): a run of some
    targets never loses the records of the others.
    """
    merged = {k: r for k, r in recorded.items() if k in current}
    merged.update(new)
    return merged


def _save(path: Path, total: int, new: dict[str, dict], current: set[str]) -> None:
    """Merge ``new`` into the results file under a lock: two drivers (``--only`` of disjoint targets) may share it."""
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    with open(Path(tempfile.gettempdir()) / f"sphgym-mutation-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = merge_results(_load(path), new, current)
        rows = sorted(results.values(), key=lambda r: (r["module"], r["function"], r["site"]))
        summary = {"total_mutants": total, "summary": _summary(rows), "results": rows}
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(summary, indent=1) + "\n")
        tmp.replace(path)


def survivors_from_log(text: str) -> set[tuple[str, str, str, int]]:
    """(module, function, operator, line) of the mutants a driver log reports ``survived``."""
    out = set()
    for line in text.splitlines():
        parts = line.split(maxsplit=4)
        if len(parts) == 5 and parts[0] == "survived" and ":" in parts[2]:
            module, lineno = parts[2].rsplit(":", 1)
            out.add((module, parts[3], parts[4].strip(), int(lineno)))
    return out


def killers_from_log(text: str) -> dict[str, list[str]]:
    """Killing tests per ``module:function`` from a driver log (``killed <s> <module>:<line> <function> ... <node>``
    lines), most frequent first: hints for which tests to run first, never verdicts."""
    counts: dict[str, dict[str, int]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 5 or parts[0] != "killed" or "::" not in parts[-1] and not parts[-1].startswith("tests/"):
            continue
        module, function = parts[2].rsplit(":", 1)[0], parts[3]
        chain = counts.setdefault(f"{module}:{function}", {})
        chain[parts[-1]] = chain.get(parts[-1], 0) + 1
    return {k: sorted(c, key=lambda n: -c[n]) for k, c in counts.items()}


def _is_equivalent(r: dict) -> bool:
    return (r["module"], r["function"], r["operator"], r["code"]) in EQUIVALENT


def _summary(rows: list[dict]) -> dict[str, dict[str, int]]:
    """Per module: mutants run, killed (a timeout counts), equivalent survivors, other survivors, errors."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        counts = out.setdefault(r["module"], dict(run=0, killed=0, equivalent=0, surviving=0, error=0))
        counts["run"] += 1
        if r["outcome"] in ("killed", "timeout"):
            counts["killed"] += 1
        elif r["outcome"] == "survived":
            counts["equivalent" if _is_equivalent(r) else "surviving"] += 1
        else:
            counts["error"] += 1
    return out


def _print_summary(rows: list[dict], total: int) -> None:
    table = _summary(rows)
    print("| module | run | killed | equivalent | surviving | error |")
    print("| --- | --- | --- | --- | --- | --- |")
    sums = dict(run=0, killed=0, equivalent=0, surviving=0, error=0)
    for module, c in sorted(table.items()):
        print(f"| `{module}` | {c['run']} | {c['killed']} | {c['equivalent']} | {c['surviving']} | {c['error']} |")
        sums = {k: sums[k] + c[k] for k in sums}
    print(f"| all ({total} mutants) | {sums['run']} | {sums['killed']} | {sums['equivalent']} | "
          f"{sums['surviving']} | {sums['error']} |")
    for r in rows:
        if r["outcome"] == "survived":
            tag = "EQUIVALENT" if _is_equivalent(r) else "SURVIVED"
            print(f"{tag} {r['module']}:{r['line']} {r['function']} {r['operator']}: {r['code']}")


def _needs_rerun(record: dict) -> bool:
    return (record["outcome"] == "survived" and not _is_equivalent(record)) or record["outcome"].startswith("error")


def _killers(targets: list[Target], records, log: str) -> dict[str, list[str]]:
    """Per target, the tests to run first: those that killed its mutants (in any record, also of a function that
    changed since, or in a ``--hints`` log), most frequent first."""
    from_log = killers_from_log(log)
    out = {}
    for target in targets:
        counts: dict[str, int] = {}
        for r in records:
            if r.get("killed_by") and r["target"] == target.name:
                counts[r["killed_by"]] = counts.get(r["killed_by"], 0) + 1
        for function in target.functions:
            for rank, node in enumerate(from_log.get(f"{target.module}:{function}", ())):
                counts[node] = counts.get(node, 0) + max(1, 5 - rank)
        out[target.name] = sorted(counts, key=lambda n: -counts[n])
    return out


def _round_robin(per_target: dict[str, list[Mutant]]) -> list[Mutant]:
    queue, iters = [], {name: iter(ms) for name, ms in per_target.items()}
    while iters:
        for name in list(iters):
            mutant = next(iters[name], None)
            if mutant is None:
                del iters[name]
            else:
                queue.append(mutant)
    return queue


def _deadline(text: str) -> float | None:
    """``HH:MM`` (UTC, today) as a ``time.time()`` value."""
    if not text:
        return None
    hour, minute = (int(part) for part in text.split(":"))
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds of mutant runs (default 1800)")
    parser.add_argument("--until", default="", help="start no mutant after this UTC time (HH:MM)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a mutant's tests count as hung")
    parser.add_argument("--start", type=int, default=0, help="skip the first N mutants of the round-robin queue")
    parser.add_argument("--baseline", action="store_true", help="first check each target's tests pass unmutated")
    parser.add_argument(
        "--only", default="", help="run the targets whose name contains this text (or one of these, comma-separated)"
    )
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--summary", action="store_true", help="print the score of --out per module and exit")
    parser.add_argument(
        "--rerun-survivors",
        action="store_true",
        help="run only the recorded survivors not listed as equivalent, and errors",
    )
    parser.add_argument("--all-operators", action="store_true", help="also integer +1 and +/- swaps")
    parser.add_argument("--reverse", action="store_true", help="run the queue from its end (a second driver)")
    parser.add_argument(
        "--hints",
        type=Path,
        default=None,
        help="a driver log: its killing tests run first, its survivors after the other mutants",
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="results JSON: read first (mutants recorded there are skipped), "
        "merged after every mutant (other targets' records are kept), so a run can be stopped and continued"
    )
    args = parser.parse_args(argv)

    targets = [t for t in TARGETS if any(part in t.name for part in args.only.split(","))]
    per_target = {t.name: mutants_of(t, args.all_operators) for t in targets}
    total = sum(len(m) for m in per_target.values())
    total_all = sum(len(mutants_of(t, args.all_operators)) for t in TARGETS)
    if args.list:
        for target in targets:
            for m in per_target[target.name]:
                print(f"{m.target:28s} {m.module}:{m.line:<5d} {m.function:40s} {m.operator}")
        print(f"{total} mutants in {len(targets)} targets")
        return 0

    queue = _round_robin(per_target)
    recorded = _load(args.out)
    every = {m.key for t in TARGETS for m in mutants_of(t, all_operators=True)}  # of all targets, not just --only
    if args.out is not None and args.out.exists() and set(recorded) - every:
        print(f"{len(set(recorded) - every)} records of {args.out} are of changed functions: dropped", flush=True)
    results = {m.key: recorded[m.key] for m in queue if m.key in recorded}
    if args.summary:
        _print_summary(sorted(results.values(), key=lambda r: (r["module"], r["line"])), total)
        return 0
    hints = args.hints.read_text() if args.hints else ""
    killers = _killers(targets, recorded.values(), hints)
    if args.rerun_survivors:  # only the survivors not listed as equivalent, and the runs that ended in an error
        todo = [m for m in queue if m.key in results and _needs_rerun(results[m.key])]
    else:
        todo = [m for m in queue[args.start :] if m.key not in results]
    logged = survivors_from_log(hints)  # the log's survivors last: they survive until a new test is written
    todo.sort(key=lambda m: (m.module, m.function, m.operator, m.line) in logged)
    if args.reverse:  # a second driver on the same targets works from the other end (each skips what is recorded)
        todo.reverse()
    print(f"{total} mutants; {len(results)} recorded in {args.out}; {len(todo)} to run", flush=True)

    def stop(signum, frame):  # SIGTERM: clean up like Ctrl-C (the current mutant's tests are killed, not recorded)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    workdir = Path(tempfile.mkdtemp(prefix="sphgym-mutation-"))
    started, deadline = time.monotonic(), _deadline(args.until)
    ran = 0
    try:
        _copy_tree(workdir)
        by_target = {t.name: t for t in targets}
        if args.baseline:  # the unmutated code must pass each target's tests (costs one full run per target)
            for target in targets:
                outcome, seconds, node = run_tests(workdir, target.tests, timeout=args.timeout)
                if outcome != "survived":
                    raise SystemExit(f"the tests of {target.name} fail without any mutant ({outcome}: {node})")
                print(f"baseline {target.name}: {seconds:.1f} s, {len(per_target[target.name])} mutants", flush=True)
        for mutant in todo:
            if time.monotonic() - started > args.budget or (deadline is not None and time.time() > deadline):
                break
            latest = _load(args.out).get(mutant.key)  # recorded meanwhile by another driver sharing the file?
            if latest is not None and (not args.rerun_survivors or not _needs_rerun(latest)):
                continue
            module = workdir / mutant.module
            original = module.read_text()
            module.write_text(mutated_source(mutant, original))
            try:
                outcome, seconds, node = run_mutant(
                    workdir, by_target[mutant.target], killers[mutant.target][:3], args.timeout
                )
            finally:
                module.write_text(original)
            if node and outcome == "killed":
                chain = killers[mutant.target]
                if node in chain:
                    chain.remove(node)
                chain.insert(0, node)  # the most recent killer first
            results[mutant.key] = dict(
                asdict(mutant), key=mutant.key, outcome=outcome, seconds=round(seconds, 1), killed_by=node
            )
            ran += 1
            if args.out is not None:
                _save(args.out, total_all, {mutant.key: results[mutant.key]}, every)  # this one only
            print(f"{outcome:9s} {seconds:6.1f}s {mutant.module}:{mutant.line} {mutant.function} "
                  f"{mutant.operator}  {node or ''}", flush=True)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the mutant that was running is not recorded
        print("\nstopped", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nran {ran} mutants this time")
    if args.out is not None:  # the file, which other drivers may have added to meanwhile
        latest = _load(args.out)
        results = {m.key: latest[m.key] for m in queue if m.key in latest}
    _print_summary(sorted(results.values(), key=lambda r: (r["module"], r["line"])), total)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
