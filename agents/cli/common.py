"""Pieces every ``sphgym`` command shares: the user-error type, help formatting, did-you-mean, paths.

Only the standard library is imported here: this module is loaded while the command line is parsed, before
anything heavy (numpy, gymnasium, numba, torch) is needed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agents.suggest import did_you_mean

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_INTERNAL_ERROR = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class CLIError(Exception):
    """A mistake the user can fix. ``main`` prints it as one line (no traceback) and exits with 1."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse with sphgym's conventions: argument errors exit 1 (a user error), not argparse's 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, like every other user error (the usage is one `--help` away).
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keep hand-formatted descriptions and examples; show real defaults (not False/None) next to options."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32, width=min(110, _terminal_width()))

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and "default:" not in text
            and default is not None
            and default is not False
            and default is not argparse.SUPPRESS
            and default != []
            and action.option_strings
        ):
            text += " (default: %(default)s)"
        return text


def _terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def _whole_number(text: str, minimum: int, too_small: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{too_small}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type for budgets and frequencies: an integer >= 1 (``-3`` or ``0`` is a user error)."""
    return _whole_number(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """argparse type for seeds: an integer >= 0."""
    return _whole_number(text, 0, "must be 0 or more")


def named_values(args: argparse.Namespace) -> dict[str, object]:
    """The run fields given as flags (``None``: not given), for ``config_schema.build_run_values``."""
    names = ("env_id", "agent", "seed", "checkpoint_every", "keep", "n_envs", "episodes", "steps")
    return {name: getattr(args, name, None) for name in names}


def existing_run_dir(path: str | Path, what: str = "run folder") -> Path:
    """``path`` as a folder that exists, or a ``CLIError`` that says what is there instead."""
    run_dir = Path(path)
    if not run_dir.exists():
        parent = run_dir.parent if str(run_dir.parent) else Path(".")
        hint = ""
        if parent.is_dir():
            hint = did_you_mean(run_dir.name, (p.name for p in parent.iterdir() if p.is_dir()), n=2)
        raise CLIError(f"{what} {str(run_dir)!r} does not exist{hint}")
    if not run_dir.is_dir():
        raise CLIError(f"{str(run_dir)!r} is a file, not a {what}")
    return run_dir


def shell_quote(path: str | Path) -> str:
    """``path`` quoted for a copy-pasteable shell hint."""
    import shlex

    return shlex.quote(str(path))


def stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
