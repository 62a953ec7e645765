"""``sphgym verify``: the determinism audit. Re-run between two checkpoints and compare every digest."""

from __future__ import annotations

import argparse
import json
import sys

from agents.cli.common import HelpFormatter

EXIT_MISMATCH = 3

DESCRIPTION = """\
Determinism audit: copy one checkpoint of the run into a temporary folder, re-run from it to the next
checkpoint, and compare what comes out with what was recorded: weights_sha256, state_sha256, counters and
episodes.csv digest, current observation, RNG states and env snapshot. Default: from the second newest valid
checkpoint to the newest. Never writes into the run folder.

exit status: 0 every digest matched · 3 MISMATCH (the run is not reproducible on this machine) ·
1 nothing to verify (missing folder, fewer than two valid checkpoints, bad --start).
"""

EPILOG = """\
examples:
  sphgym verify runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym verify runs/my-run --start ep00000020-st0000001234      # audit an older stretch
  sphgym verify runs/my-run --json                               # every check with both digests
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="re-run between two checkpoints and check the digests match (determinism audit)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("run_dir", metavar="DIR", help="run folder")
    parser.add_argument("--start", metavar="ID", help="checkpoint id to re-run from (default: second newest)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON (stdout)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from agents.cli.common import existing_run_dir
    from agents.runner import verify_run

    run_dir = existing_run_dir(args.run_dir)
    if not args.json:
        print(f"verifying {run_dir} (re-running between two checkpoints)...", file=sys.stderr, flush=True)
    report = verify_run(run_dir, start=args.start)
    if args.json:
        json.dump(report.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        width = max((len(name) for name, *_ in report.checks), default=0)
        for name, recorded, recomputed, equal in report.checks:
            mark = "ok      " if equal else "MISMATCH"
            detail = (
                _short(recorded) if equal else f"recorded {_short(recorded)} != re-run {_short(recomputed)}"
            )
            print(f"  {mark} {name:{width}s}  {detail}")
        if report.checks:
            print(report.message)
    if report.ok:
        return 0
    if not report.checks:  # nothing could be compared: a user error, reported like every other one
        from agents.cli.common import CLIError

        raise CLIError(" ".join(report.message.split()))
    return EXIT_MISMATCH


def _short(digest: str) -> str:
    if isinstance(digest, str) and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest):
        return digest[:16] + "…"
    return str(digest)
