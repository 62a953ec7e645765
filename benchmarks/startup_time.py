"""Start-up time of ``sphgym train``: from launching the command to the first env step.

Target (issue 5): <= 1.5 s on the development machine for the default hierarchy agent.

How "first env step" is detected: with ``SPHGYM_STARTUP_PROBE=1`` the CLI attaches a one-shot step hook to
the runner that prints ``SPHGYM_FIRST_STEP <unix time>`` to stderr right after the first ``env.step`` returns
(the hook then removes itself). The clock starts just before the process is launched, so the figure includes
interpreter start-up, imports, argument parsing, config resolution, run-folder creation, env and agent
construction, the initial checkpoint and the first ``act`` (numba kernels loaded from their on-disk cache).

The first launch after a code change also compiles the numba kernels into their cache; it is run once as a
warm-up and reported separately ("cold"); the median of ``--repeats`` warm launches is the result.
Interleaved with those, the "library floor" runs the same work without the CLI and the runner (import, make
the env, build the agent, one act + step); the difference is what the CLI and runner add, which stays
meaningful when the shared machine is loaded and absolute times are not.

Usage::

    python benchmarks/startup_time.py                     # hierarchy on CartPole-v1, 7 warm launches
    python benchmarks/startup_time.py --agent random --repeats 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.5


def launch_to_first_step(agent: str, env_id: str, workdir: Path, index: int) -> float:
    """Seconds from launching ``sphgym train`` to the end of its first env step."""
    env = dict(os.environ, SPHGYM_STARTUP_PROBE="1")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    argv = [
        sys.executable, "-m", "agents.cli.main", "train", "--agent", agent, "--env", env_id,
        "--episodes", "1", "--no-progress", "--run-dir", str(workdir / f"run{index}"),
    ]
    start = time.time()
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise SystemExit(f"sphgym train failed ({result.returncode}):\n{result.stderr}")
    for line in result.stderr.splitlines():
        if line.startswith("SPHGYM_FIRST_STEP "):
            return float(line.split()[1]) - start
    raise SystemExit("no SPHGYM_FIRST_STEP line: is the CLI's start-up probe missing?\n" + result.stderr)


FLOOR_SCRIPT = """
import sys, time
import envs
from agents.registry import make_agent
env = envs.make_env(sys.argv[2])
obs, _ = env.reset(seed=0)
agent = make_agent(sys.argv[1], env.observation_space, env.action_space, None, seed=0)
agent.clear_state()
env.step(agent.act(obs))
print(f"{time.time():.6f}")
"""


def library_floor(agent: str, env_id: str) -> float:
    """The same path without CLI and runner: import, make env, build agent, one act + step."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    start = time.time()
    result = subprocess.run([sys.executable, "-c", FLOOR_SCRIPT, agent, env_id], env=env, capture_output=True,
                            text=True, timeout=300, check=True)
    return float(result.stdout.split()[-1]) - start


def help_time() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "agents.cli.main", "--help"], capture_output=True, check=True,
                   cwd=REPO)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--agent", default="hierarchy")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sphgym-startup-") as tmp:
        workdir = Path(tmp)
        cold = launch_to_first_step(args.agent, args.env, workdir, 0)
        warm, floor = [], []
        for i in range(args.repeats):  # interleaved, so both see the same machine load
            warm.append(launch_to_first_step(args.agent, args.env, workdir, i + 1))
            floor.append(library_floor(args.agent, args.env))
    helps = [help_time() for _ in range(3)]
    median = statistics.median(warm)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"sphgym train --agent {args.agent} --env {args.env}: launch -> first env step")
    print(f"  warm median {median:.3f} s  (min {min(warm):.3f}, max {max(warm):.3f}, n={len(warm)})")
    print(f"  cold (first launch, may compile numba kernels) {cold:.3f} s")
    floor_median = statistics.median(floor)
    print(f"  library floor (imports, env, agent, 1 step; no CLI/runner) median {floor_median:.3f} s")
    print(f"  => CLI + runner overhead {median - floor_median:.3f} s")
    print(f"  sphgym --help median {statistics.median(helps):.3f} s")
    print(f"  machine: {os.cpu_count()} CPUs, 1-min load average {load:.2f}")
    verdict = "OK" if median <= TARGET_SECONDS else "OVER TARGET"
    print(f"  target <= {TARGET_SECONDS} s: {verdict}")
    print()
    print("| command | launch -> first env step (median) | min | max | library floor | load |")
    print("| --- | --- | --- | --- | --- | --- |")
    print(f"| `sphgym train --agent {args.agent}` | {median:.2f} s | {min(warm):.2f} s | {max(warm):.2f} s "
          f"| {floor_median:.2f} s | {load:.1f} |")
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
