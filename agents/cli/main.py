"""Entry point of the ``sphgym`` script: parse, dispatch to a command module, map errors to exit codes.

Exit codes: 0 success; 1 user error (one-line message, traceback only with ``--debug``); 2 internal error (a
bug: traceback printed); 130 / 143 / 129 when SIGINT / SIGTERM / SIGHUP interrupted training after a successful
checkpoint (130 also for Ctrl-C while the command is starting).

Only argparse and the command modules' parser definitions load at parse time; each command imports what it
needs (runner, numpy, gymnasium, matplotlib, ...) when it runs, so ``sphgym --help`` and the start of
``sphgym train`` stay fast.
"""

from __future__ import annotations

import errno
import signal
import sys


def _interrupted_while_starting(signum: int, frame: object) -> None:
    """Ctrl-C while the command modules import: a one-line note and exit 130, never a traceback."""
    sys.stderr.write("\nsphgym: interrupted\n")
    raise SystemExit(130)


# Installed before the (slower) imports below and replaced by Python's default in main(); only when SIGINT has
# Python's default handler: an ignored SIGINT (a background job) stays ignored.
if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _interrupted_while_starting)

from agents.cli import eval as eval_cmd  # noqa: E402
from agents.cli import inspect as inspect_cmd  # noqa: E402
from agents.cli import plot as plot_cmd  # noqa: E402
from agents.cli import sweep as sweep_cmd  # noqa: E402
from agents.cli import train as train_cmd  # noqa: E402
from agents.cli import verify as verify_cmd  # noqa: E402
from agents.cli.common import (  # noqa: E402
    EXIT_INTERNAL_ERROR,
    EXIT_SIGINT,
    EXIT_USER_ERROR,
    ArgumentParser,
    CLIError,
    HelpFormatter,
)
from agents.cli.config_loading import extract_agent_field_options  # noqa: E402

DESCRIPTION = """\
sphgym: reinforcement learning on Gymnasium with a Sparse Predictive Hierarchy agent, torch DQN/PPO
baselines, and training runs you can kill at any moment (Ctrl-C, SIGTERM, power cut) and resume exactly.
"""

EPILOG = """\
examples:
  sphgym train                                   # hierarchy agent on CartPole-v1 into runs/<name>/
  sphgym train --env Acrobot-v1 --agent ppo --seed 3 --episodes 300
  sphgym train --config my.toml --set agent.policy_lr=0.01
  sphgym resume runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym eval runs/CartPole-v1__hierarchy__s0__20250101-120000 --episodes 100 --json
  sphgym inspect runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym verify runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym plot runs/ --out curves.png
  sphgym sweep --seeds 0-9 --episodes 500      # many seeds on Ray Tune (pip install 'sphgym[ray]')
  tensorboard --logdir runs

exit codes: 0 ok · 1 user error · 2 internal error (a bug) · 130/143 interrupted by SIGINT/SIGTERM after a
checkpoint was written (resume with `sphgym resume DIR`). `sphgym COMMAND --help` explains each command.
"""


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(
        prog="sphgym", description=DESCRIPTION, epilog=EPILOG, formatter_class=HelpFormatter
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"sphgym {_version()}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    subparsers.required = True
    train_cmd.add_parsers(subparsers)
    eval_cmd.add_parser(subparsers)
    inspect_cmd.add_parser(subparsers)
    verify_cmd.add_parser(subparsers)
    plot_cmd.add_parser(subparsers)
    sweep_cmd.add_parser(subparsers)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sphgym")
    except PackageNotFoundError:
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    if signal.getsignal(signal.SIGINT) is _interrupted_while_starting:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # from here on: KeyboardInterrupt, caught below
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug may appear anywhere (before or after the command); it only changes how errors are shown.
    debug = "--debug" in argv[: argv.index("--")] if "--" in argv else "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    command = next((a for a in argv if not a.startswith("-")), "")
    prog = f"sphgym {command}".strip()
    try:
        argv, agent_assignments = extract_agent_field_options(argv)
        args, extra = build_parser().parse_known_args(argv)
        if extra:  # reported under the command's own name (argparse would name the top-level parser)
            raise CLIError(f"unrecognized arguments: {' '.join(extra)} (see '{prog} --help')")
        args.debug = debug
        if agent_assignments:
            if not hasattr(args, "set"):
                raise CLIError(f"--agent.FIELD options only apply to train and resume, not {args.command}")
            args.set = list(args.set or []) + agent_assignments
        return int(args.handler(args) or 0)
    except CLIError as exc:
        return _user_error(prog, exc, debug)
    except KeyboardInterrupt:
        # Interrupted outside the runner's own handler (start-up, eval, verify): nothing was being written.
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_SIGINT
    except BrokenPipeError:
        _silence_broken_pipe()
        return 0
    except (ValueError, FileNotFoundError, FileExistsError, NotADirectoryError, IsADirectoryError,
            PermissionError) as exc:
        # The library's own user-facing errors (bad config value, missing checkpoint, folder in use, ...).
        return _user_error(prog, exc, debug)
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            return _internal_error(prog, exc)
        return _user_error(prog, _path_error(exc), debug)
    except Exception as exc:
        if _is_user_error_type(exc):
            return _user_error(prog, exc, debug)
        return _internal_error(prog, exc)


def _internal_error(prog: str, exc: BaseException) -> int:
    import traceback

    traceback.print_exception(type(exc), exc, exc.__traceback__)
    print(
        f"{prog}: internal error: {type(exc).__name__}: {exc} (this is a bug in sphgym; "
        "please report it with the traceback above)",
        file=sys.stderr,
    )
    return EXIT_INTERNAL_ERROR


# OS errors that a path the user gave causes: reported as user errors.
_USER_ERRNOS = frozenset({errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EACCES, errno.EPERM, errno.EROFS,
                          errno.ENOSPC, errno.EDQUOT, errno.ENOENT, errno.EEXIST, errno.EISDIR})  # fmt: skip


def _path_error(exc: OSError) -> CLIError:
    if exc.errno == errno.ENAMETOOLONG:
        name = exc.filename or ""
        return CLIError(
            f"a file name is too long: {name!r} (each part of a path may have at most 255 bytes on most file "
            "systems): choose a shorter --run-dir or folder name"
        )
    return CLIError(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))


def _user_error(prog: str, exc: BaseException, debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__)
    message = str(exc) if str(exc) else type(exc).__name__
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        message = f"{exc.strerror}: {exc.filename}"
    message = " ".join(message.split())  # one line, whatever the library put into the message
    print(f"{prog}: error: {message}", file=sys.stderr)
    return EXIT_USER_ERROR


def _is_user_error_type(exc: BaseException) -> bool:
    """Errors the runner raises for user mistakes (named ``...Error`` in ``agents.runner``)."""
    module = type(exc).__module__ or ""
    return module.startswith(("agents.runner", "envs", "gymnasium.error")) and not isinstance(
        exc, (AssertionError, AttributeError, TypeError, KeyError, IndexError, NameError)
    )


def _silence_broken_pipe() -> None:
    """``sphgym inspect --json | head``: stdout closed early is not an error."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
