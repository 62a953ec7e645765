"""Kill/resume soak: many random interruptions of one long run, which must end as the uninterrupted run.

    python benchmarks/resume_soak.py [--agent random] [--env CartPole-v1] [--episodes 3000]
                                     [--interruptions 30]
                                     [--checkpoint-every 10] [--seed 0]

Runs the real training process (tests/agents/runner_proc.py) uninterrupted once, then again while interrupting
it ``--interruptions`` times, resuming after each. Each interruption is drawn at random (seeded) from: a
SIGKILL after a random wall-clock delay, or SIGINT / SIGTERM / SIGKILL sent by the process to itself right
after a random global step ahead of where it resumed. The final checkpoint (weights, agent state, counters,
env snapshot), episodes.csv, best/ and the TensorBoard scalars (except time/fps) must be identical. The
resident memory of the uninterrupted process is sampled every ``--rss-every`` episodes to show that it stays
flat. Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.runner.checkpoint import list_checkpoints
from tests.agents.runner_helpers import (
    assert_same_run,
    count_rows,
    proc_args,
    run_fingerprint,
    run_proc,
)


def _last_step(run_dir: Path) -> int:
    lines = (run_dir / "episodes.csv").read_text().splitlines()
    return int(lines[-1].split(",")[1]) if len(lines) > 1 else 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agent", default="random")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--episodes", type=int, default=3000)
    parser.add_argument("--interruptions", type=int, default=30)
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--checkpoint-min-interval", type=float, default=0.0)
    parser.add_argument("--rss-every", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    options = {
        "env": args.env,
        "agent": args.agent,
        "episodes": args.episodes,
        "seed": args.seed,
        "checkpoint_every": args.checkpoint_every,
        "checkpoint_min_interval": args.checkpoint_min_interval,
    }

    with tempfile.TemporaryDirectory(prefix="sphgym-soak-") as tmp:
        tmp = Path(tmp)
        reference, run, rss_log = tmp / "reference", tmp / "interrupted", tmp / "rss.txt"
        start = time.perf_counter()
        code, _, err = run_proc(
            reference,
            environ={"SPHGYM_TEST_RSS_LOG": str(rss_log), "SPHGYM_TEST_RSS_EVERY": str(args.rss_every)},
            timeout=36000,
            **options,
        )
        if code != 0:
            print(err, file=sys.stderr)
            return 1
        reference_seconds = time.perf_counter() - start
        total_steps = _last_step(reference)
        rss = [tuple(map(int, line.split())) for line in rss_log.read_text().splitlines()]

        kinds = {"timed SIGKILL": 0, "SIGINT": 0, "SIGTERM": 0, "SIGKILL": 0}
        start = time.perf_counter()
        resumed = False
        for _ in range(args.interruptions):
            kind = rng.choice(list(kinds))
            if kind == "timed SIGKILL":
                proc = subprocess.Popen(
                    proc_args(run, resume=resumed, **options),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                time.sleep(rng.uniform(0.5, 3.0))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                code = proc.wait()
            else:
                here = _last_step(run) if resumed else 0
                if here >= total_steps - 2:
                    break
                at = rng.randint(
                    here + 1, min(total_steps - 1, here + max(2, total_steps // args.interruptions))
                )
                code, _, err = run_proc(
                    run,
                    resume=resumed,
                    environ={"SPHGYM_TEST_SIGNAL_AT_STEP": f"{at}:{kind}"},
                    timeout=36000,
                    **options,
                )
            if code == 0:
                break  # finished before the interruption landed
            kinds[kind] += 1
            resumed = bool(list_checkpoints(run / "checkpoints"))
            if not resumed:  # killed before its first checkpoint landed: start afresh
                shutil.rmtree(run, ignore_errors=True)
        code, _, err = run_proc(run, resume=resumed, timeout=36000, **options)
        if code != 0:
            print(err, file=sys.stderr)
            return 1
        interrupted_seconds = time.perf_counter() - start
        identical = True
        try:
            assert_same_run(run_fingerprint(reference), run_fingerprint(run))
        except AssertionError as exc:
            identical, detail = False, str(exc)
        summary = {
            "agent": args.agent,
            "env": args.env,
            "episodes": count_rows(run),
            "global_steps": total_steps,
            "checkpoint_every": args.checkpoint_every,
            "interruptions": kinds,
            "uninterrupted_seconds": round(reference_seconds, 1),
            "interrupted_seconds_total": round(interrupted_seconds, 1),
            "rss_mb_first_last_max": [
                round(rss[0][1] / 2**20, 1),
                round(rss[-1][1] / 2**20, 1),
                round(max(r for _, r in rss) / 2**20, 1),
            ]
            if rss
            else None,
            "identical": identical,
        }
        if not identical:
            summary["detail"] = detail
        print(json.dumps(summary))
        return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
