"""Kill/resume soak: a long run checkpointed every episode, SIGKILLed at random and resumed, ends exactly.

    python benchmarks/resume_soak.py [--episodes 20000] [--kills 40] [--checkpoint-every 1]
                                     [--agent random] [--env CartPole-v1] [--seed 0]
                                     [--rss-every 1000] [--tmp-dir DIR] [--json OUT]

1. Trains the run uninterrupted once (the real training process, tests/runner/runner_proc.py), sampling its
   resident memory (RSS) every ``--rss-every`` episodes.
2. Trains it again while SIGKILLing it ``--kills`` times, resuming after each kill. Kills are drawn at random
   (seeded): half are sent by the benchmark after a random wall-clock delay (they land anywhere: start-up,
   restore, training, inside a checkpoint write), half by the process to itself right after a random global
   step (mid-episode, no chance to checkpoint). Kills that left a partial checkpoint directory are counted.
3. Compares the final checkpoint (weights, agent state, counters, observation, env snapshot, global RNG
   states), episodes.csv, best/ and every TensorBoard scalar series (except wall-clock time/fps) with the
   uninterrupted run: they must be identical.
4. Reports RSS at the start, middle and end of the uninterrupted run (and of the longest resumed process),
   the growth and its linear trend per 1000 episodes: flat memory means no leak per episode or checkpoint.

Prints a human summary and one JSON line; exits 1 if the runs differ or memory grew by more than
``--max-growth-mb``. Put the run folders on tmpfs (``--tmp-dir /dev/shm``) to keep 2 x 20,000 fsynced
checkpoints to minutes; crash consistency on a real disk is tested by tests/reliability/test_crash_points.py.
"""

from __future__ import annotations

import argparse
import json
import os
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
from tests.runner.runner_helpers import REPO, assert_same_run, count_rows, proc_args, run_fingerprint, run_proc


def _last_step(run_dir: Path) -> int:
    try:
        lines = (run_dir / "episodes.csv").read_text().splitlines()
    except OSError:
        return 0
    return int(lines[-1].split(",")[1]) if len(lines) > 1 else 0


def _rss(path: Path) -> list[tuple[int, int]]:
    if not path.exists():
        return []
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines() if line.strip()]


def _memory(samples: list[tuple[int, int]]) -> dict | None:
    """RSS at start/middle/end (MB), growth end - start, least-squares trend in KB per 1000 episodes."""
    if len(samples) < 3:
        return None
    episodes = [e for e, _ in samples]
    mb = [r / 2**20 for _, r in samples]
    n, mean_e, mean_r = len(samples), sum(episodes) / len(samples), sum(mb) / len(samples)
    slope = sum((e - mean_e) * (r - mean_r) for e, r in zip(episodes, mb, strict=True)) / max(
        1e-9, sum((e - mean_e) ** 2 for e in episodes)
    )
    middle = samples[n // 2]
    return {
        "samples": n,
        "start": {"episode": samples[0][0], "rss_mb": round(mb[0], 1)},
        "middle": {"episode": middle[0], "rss_mb": round(middle[1] / 2**20, 1)},
        "end": {"episode": samples[-1][0], "rss_mb": round(mb[-1], 1)},
        "max_rss_mb": round(max(mb), 1),
        "growth_mb": round(mb[-1] - mb[0], 2),
        "trend_kb_per_1000_episodes": round(slope * 1000 * 1024, 1),
        "rss_mb_samples": [round(r, 2) for r in mb],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--agent", default="random")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--episodes", type=int, default=20000)
    parser.add_argument("--kills", "--interruptions", type=int, default=40, help="SIGKILLs (older name kept)")
    parser.add_argument("--checkpoint-every", type=int, default=1)
    parser.add_argument("--rss-every", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tmp-dir", default=None, help="where the two run folders go (default: system temp)")
    parser.add_argument("--max-growth-mb", type=float, default=8.0, help="fail if RSS grows more than this")
    parser.add_argument("--json", default=None, help="also write the summary JSON here")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    options = {
        "env": args.env,
        "agent": args.agent,
        "episodes": args.episodes,
        "seed": args.seed,
        "checkpoint_every": args.checkpoint_every,
        "checkpoint_min_interval": 0.0,  # exactly every N episodes: the most checkpoint cycles
    }
    rss_env = {"SPHGYM_TEST_RSS_EVERY": str(args.rss_every)}

    with tempfile.TemporaryDirectory(prefix="sphgym-soak-", dir=args.tmp_dir) as tmp:
        tmp = Path(tmp)
        reference, run = tmp / "reference", tmp / "interrupted"

        # ---- 1. uninterrupted
        start = time.perf_counter()
        code, _, err = run_proc(
            reference, environ={**rss_env, "SPHGYM_TEST_RSS_LOG": str(tmp / "rss-reference.txt")}, timeout=36000,
            **options,
        )  # fmt: skip
        if code != 0:
            print(err, file=sys.stderr)
            return 1
        reference_seconds = time.perf_counter() - start
        total_steps = _last_step(reference)

        # ---- 2. interrupted: random SIGKILLs, resume after each
        kinds = {"timed SIGKILL": 0, "SIGKILL at a random step": 0}
        partial_writes = 0
        processes = 0
        resumed = False
        start = time.perf_counter()
        for kill in range(args.kills):
            kind = "timed SIGKILL" if kill % 2 == 0 else "SIGKILL at a random step"
            rss_log = tmp / f"rss-process-{processes:03d}.txt"
            environ = {**rss_env, "SPHGYM_TEST_RSS_LOG": str(rss_log)}
            processes += 1
            if kind == "timed SIGKILL":
                proc = subprocess.Popen(
                    proc_args(run, resume=resumed, **options),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env={**os.environ, **environ},
                    cwd=REPO,
                )
                # segments of ~1/(4 kills) of the run on average, so that every kill lands before the end
                time.sleep(rng.uniform(0.3, 1.5 + 0.5 * reference_seconds / max(1, args.kills)))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                code = proc.wait()
            else:
                here = _last_step(run) if resumed else 0
                if here >= total_steps - 2:
                    break
                span = max(2, total_steps // max(1, 2 * args.kills))
                at = rng.randint(here + 1, min(total_steps - 1, here + span))
                code, _, err = run_proc(
                    run, resume=resumed, environ={**environ, "SPHGYM_TEST_SIGNAL_AT_STEP": f"{at}:SIGKILL"},
                    timeout=36000, **options,
                )  # fmt: skip
            if code == 0:
                break  # finished before the kill landed
            if code != -signal.SIGKILL:
                print(f"process {processes} exited with {code}:\n{err if kind != 'timed SIGKILL' else ''}")
                return 1
            kinds[kind] += 1
            ckpt_dir = run / "checkpoints"
            if ckpt_dir.is_dir() and any(p.name.startswith(".tmp-") for p in ckpt_dir.iterdir()):
                partial_writes += 1
            resumed = bool(list_checkpoints(ckpt_dir))
            if not resumed:  # killed before its first checkpoint landed: start afresh
                shutil.rmtree(run, ignore_errors=True)
        final_log = tmp / f"rss-process-{processes:03d}.txt"
        code, _, err = run_proc(
            run, resume=resumed, environ={**rss_env, "SPHGYM_TEST_RSS_LOG": str(final_log)}, timeout=36000,
            **options,
        )  # fmt: skip
        processes += 1
        if code != 0:
            print(err, file=sys.stderr)
            return 1
        interrupted_seconds = time.perf_counter() - start

        # ---- 3. compare
        identical, detail = True, None
        try:
            assert_same_run(run_fingerprint(reference), run_fingerprint(run))
        except AssertionError as exc:
            identical, detail = False, str(exc)

        # ---- 4. memory
        reference_memory = _memory(_rss(tmp / "rss-reference.txt"))
        longest = max(tmp.glob("rss-process-*.txt"), key=lambda p: len(_rss(p)), default=None)
        resumed_memory = _memory(_rss(longest)) if longest is not None else None
        flat = reference_memory is not None and reference_memory["growth_mb"] <= args.max_growth_mb

        summary = {
            "command": " ".join(["python", "benchmarks/resume_soak.py", *sys.argv[1:]]),
            "agent": args.agent,
            "env": args.env,
            "episodes": count_rows(run),
            "global_steps": total_steps,
            "checkpoint_every": args.checkpoint_every,
            "checkpoints_written_uninterrupted": args.episodes // args.checkpoint_every + 1,
            "kills": kinds,
            "kills_that_left_a_partial_checkpoint": partial_writes,
            "processes_in_interrupted_run": processes,
            "uninterrupted_seconds": round(reference_seconds, 1),
            "interrupted_seconds_total": round(interrupted_seconds, 1),
            "memory_uninterrupted": reference_memory,
            "memory_longest_resumed_process": resumed_memory,
            "memory_flat": flat,
            "identical": identical,
        }
        if detail:
            summary["detail"] = detail
    print(
        f"{summary['episodes']} episodes ({total_steps} steps), a checkpoint every {args.checkpoint_every} "
        f"episode(s); {sum(kinds.values())} SIGKILLs ({kinds['timed SIGKILL']} timed, "
        f"{kinds['SIGKILL at a random step']} at a random step; {partial_writes} left a partial checkpoint), "
        f"{processes} processes: end state {'IDENTICAL' if identical else 'DIFFERENT'} to the uninterrupted run."
    )
    if reference_memory:
        m = reference_memory
        print(
            f"RSS uninterrupted: {m['start']['rss_mb']} MB at episode {m['start']['episode']}, "
            f"{m['middle']['rss_mb']} MB at {m['middle']['episode']}, {m['end']['rss_mb']} MB at "
            f"{m['end']['episode']} (growth {m['growth_mb']} MB, trend {m['trend_kb_per_1000_episodes']} KB per "
            f"1000 episodes): {'flat' if flat else 'GROWING'}."
        )
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1) + "\n")
    return 0 if identical and flat else 1


if __name__ == "__main__":
    sys.exit(main())
