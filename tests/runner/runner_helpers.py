"""Shared helpers for the runner tests: launch training processes, read results, compare runs exactly."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROC = REPO / "tests" / "runner" / "runner_proc.py"
# Wall-clock derived, so never reproducible: excluded from exactness comparisons (documented in the README).
NONDETERMINISTIC_TAGS = frozenset({"time/fps"})
# rng.json (process-global Python/numpy/torch RNGs) is compared too: a fresh run seeds them from the run seed and a
# resume restores them, so two processes of one seed hold identical global RNG states at every checkpoint.
FILES_COMPARED = (
    "weights.safetensors",
    "state.safetensors",
    "runner.safetensors",
    "runner.json",
    "env.json",
    "rng.json",
)


def proc_args(run_dir: Path, *, resume: bool = False, **options) -> list[str]:
    args = [sys.executable, str(PROC), "--run-dir", str(run_dir)]
    if resume:
        args.append("--resume")
    for key, value in options.items():
        if value is None:
            continue
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def run_proc(
    run_dir: Path, *, resume: bool = False, environ: dict | None = None, timeout: float = 300, **options
):
    """Run one training process to its end; returns (returncode, parsed result or None, stderr)."""
    full_env = dict(os.environ, **(environ or {}))
    done = subprocess.run(
        proc_args(run_dir, resume=resume, **options),
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=REPO,
    )
    result = None
    for line in done.stdout.splitlines():
        if line.startswith("{"):
            result = json.loads(line)
    return done.returncode, result, done.stderr


def count_rows(run_dir: Path) -> int:
    try:
        return max(0, len((run_dir / "episodes.csv").read_bytes().splitlines()) - 1)
    except OSError:
        return 0


def run_and_kill_when(
    run_dir: Path, rows: int, *, resume: bool, environ: dict | None = None, timeout: float = 300, **options
) -> int:
    """Start a training process, SIGKILL it once ``episodes.csv`` has ``rows`` rows; return its returncode."""
    full_env = dict(os.environ, **(environ or {}))
    proc = subprocess.Popen(
        proc_args(run_dir, resume=resume, **options),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=full_env,
        cwd=REPO,
    )
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and count_rows(run_dir) < rows:
            if time.monotonic() > deadline:
                raise TimeoutError("training process made no progress")
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    return proc.returncode


def tb_scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """All scalar series (tag -> [(step, value)]) as TensorBoard's legacy reader shows them (purged)."""
    from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # its purge notices are expected after a resume

    acc = EventAccumulator(str(run_dir), size_guidance={SCALARS: 0}).Reload()
    return {
        tag: [(e.step, e.value) for e in acc.Scalars(tag)]
        for tag in sorted(acc.Tags()["scalars"])
        if tag not in NONDETERMINISTIC_TAGS
    }


def tb_scalars_plugin_reader(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Same via TensorBoard's data-provider path (plugin_event_accumulator: ignores a run's first START)."""
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    acc = pea.EventAccumulator(str(run_dir), size_guidance={pea.TENSORS: 0}).Reload()
    return {
        tag: [(e.step, float(tensor_util.make_ndarray(e.tensor_proto))) for e in acc.Tensors(tag)]
        for tag in sorted(acc.Tags()["tensors"])
        if tag not in NONDETERMINISTIC_TAGS and acc.SummaryMetadata(tag).plugin_data.plugin_name == "scalars"
    }


def final_checkpoint(run_dir: Path) -> Path:
    ckpts = sorted(p for p in (run_dir / "checkpoints").iterdir() if p.name.startswith("ep"))
    return ckpts[-1]


def run_fingerprint(run_dir: Path) -> dict:
    """Everything that must be identical between an interrupted-and-resumed run and an uninterrupted one."""
    ckpt = final_checkpoint(run_dir)
    meta = json.loads((ckpt / "meta.json").read_text())
    out = {
        "checkpoint_id": ckpt.name,
        "weights_sha256": meta["weights_sha256"],
        "state_sha256": meta["state_sha256"],
        "episodes.csv": (run_dir / "episodes.csv").read_bytes(),
        "tensorboard": tb_scalars(run_dir),
        "best": (run_dir / "best" / "weights.safetensors").read_bytes()
        if (run_dir / "best" / "weights.safetensors").exists()
        else None,
        # best.json minus its copy of the config, whose targets may legitimately be raised on resume.
        "best.json": {
            k: v for k, v in json.loads((run_dir / "best" / "best.json").read_text()).items() if k != "config"
        }
        if (run_dir / "best").exists()
        else None,
    }
    for name in FILES_COMPARED:
        out[name] = (ckpt / name).read_bytes()
    out["rng.json"] = json.loads(out["rng.json"])
    return out


def assert_same_run(reference: dict, other: dict) -> None:
    assert reference.keys() == other.keys()
    for key in reference:
        if key == "tensorboard":
            assert reference[key].keys() == other[key].keys(), "TensorBoard tags differ"
            for tag in reference[key]:
                assert reference[key][tag] == other[key][tag], f"TensorBoard series {tag!r} differs"
                steps = [s for s, _ in other[key][tag]]
                ref_steps = [s for s, _ in reference[key][tag]]
                # With N env copies every episode that ended in one vector step is logged at that step: a step
                # may repeat, but only as often as in the uninterrupted run (a resume must not add any).
                repeats = len(steps) - len(set(steps))
                assert steps == sorted(steps), f"{tag!r} has unordered steps after resume"
                assert repeats == len(ref_steps) - len(set(ref_steps)), f"{tag!r} has duplicate steps after resume"
        elif key == "rng.json":
            # Torch's global generator is captured only in processes that imported torch: a random-agent run made
            # inside a test process that loaded torch for other tests has it, the same run in a subprocess not.
            # Python's and numpy's states are always compared; torch's wherever both runs have it.
            shared = reference[key].keys() & other[key].keys()
            assert {"python", "numpy"} <= shared and set(reference[key]) ^ set(other[key]) <= {"torch"}, key
            for part in sorted(shared):
                assert reference[key][part] == other[key][part], f"rng.json ({part}) differs between the runs"
        else:
            assert reference[key] == other[key], f"{key} differs between the runs"


def mid_episode_step(ends: list[int], fraction: float, n_envs: int = 1) -> int:
    """A global step about ``fraction`` into a run whose episodes ended at ``ends``, strictly inside an episode
    (at least one step in); with N env copies, a vector step boundary (a multiple of N) where no copy's episode
    ended."""
    step = max(2, int(ends[-1] * fraction))
    if n_envs > 1:
        step = max(n_envs, step // n_envs * n_envs)
        while step in ends:
            step += n_envs
        return step
    while step in ends or step - 1 in ends:
        step += 1
    return step
