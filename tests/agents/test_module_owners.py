"""One owner per concept: file names, the loop and the config schema are imported from their owner, not copied."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Names of files and folders in a run folder or a checkpoint: only their owners spell them out. ("checkpoints" is
# left out: it is also a key of inspect's JSON output.)
OWNED_NAMES = {
    "config.json": "run_folder / checkpoint",
    "episodes.csv": "run_folder",
    "run.lock": "run_folder",
    "best.json": "run_folder",
    "weights.safetensors": "checkpoint",
    "state.safetensors": "checkpoint",
    "runner.safetensors": "checkpoint",
    "runner.json": "checkpoint",
    "rng.json": "checkpoint",
    "env.json": "checkpoint",
    "meta.json": "checkpoint",
    "COMPLETE": "checkpoint",
}
OWNERS = {"agents/runner/run_folder.py", "agents/runner/checkpoint.py"}


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).glob("*.py"))


def _module_imports(path: Path) -> set[str]:
    """Modules imported at module level (not inside functions)."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


@pytest.mark.parametrize("name", ["evaluation.py", "inspect.py", "verify.py"])
def test_eval_inspect_verify_do_not_import_the_loop_module(name):
    assert "agents.runner.runner" not in _module_imports(REPO / "agents" / "runner" / name)


def test_the_sweep_command_does_not_reach_into_the_train_command():
    text = (REPO / "agents" / "cli" / "sweep.py").read_text()
    assert "agents.cli.train" not in text


def test_run_folder_and_checkpoint_file_names_are_spelled_only_by_their_owners():
    offenders = []
    for path in _sources("agents/runner", "agents/cli", "agents/sweep"):
        rel = str(path.relative_to(REPO))
        if rel in OWNERS:
            continue
        offenders += [f"{rel}:{line}: {value!r}" for line, value in _string_constants(path) if value in OWNED_NAMES]
    assert not offenders, "import the name from its owner instead:\n" + "\n".join(offenders)
