"""Test helper: one training process, as the CLI would run it, with deterministic fault injection.

    python tests/runner/runner_proc.py --run-dir D --seed 0 --episodes 60 [--resume] [--env ID] [--agent NAME]
        [--n-envs N]

Environment variables (fault injection; none changes what is computed):

* ``SPHGYM_TEST_SIGNAL_AT_STEP="<k>:<SIGNAL>"``: the process sends itself SIGNAL (SIGINT, SIGTERM,
  SIGKILL) right after global env step k (only if the run passes step k).
* ``SPHGYM_TEST_STEP_SLEEP=<seconds>``: sleep after every env step (gives timed SIGKILLs a window).
* ``SPHGYM_TEST_NO_CAPTURE=1``: pretend the env's mid-episode state cannot be captured, forcing the
  replay-from-last-boundary fallback.
* ``SPHGYM_TEST_KILL_IN_WRITE=<n>``: SIGKILL itself at the n-th file write inside checkpoint writes.
* ``SPHGYM_TEST_KILL_IN_FSYNC_DIR=<n>``: SIGKILL itself at the n-th directory fsync inside checkpoint writes
  (odd n: before the rename into place; even n: after it).
* ``SPHGYM_TEST_RSS_LOG=<path>``: append "episode rss_bytes" every ``SPHGYM_TEST_RSS_EVERY`` (1000) episodes.

Prints the TrainResult as one JSON line and exits with its exit code (130/143 when interrupted).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agents.runner import RunConfig, Runner, env_state
from agents.runner import checkpoint as checkpoint_module
from tests.runner import metric_agent


def _kill_at_call(module, name: str, n: int) -> None:
    original = getattr(module, name)
    calls = [0]

    def wrapper(*args, **kwargs):
        calls[0] += 1
        if calls[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(module, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-dir", required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--agent", default="random")
    parser.add_argument("--agent-config", default="{}", help="JSON object")
    parser.add_argument("--env-kwargs", default="{}", help="JSON object")
    parser.add_argument("--checkpoint-every", type=int, default=10)
    parser.add_argument("--keep", type=int, default=3)
    parser.add_argument("--checkpoint-min-interval", type=float, default=0.0)
    parser.add_argument("--n-envs", type=int, default=1)
    args = parser.parse_args()
    metric_agent.register()  # --agent metric-random: an agent with metrics() (logged to TensorBoard)

    if os.environ.get("SPHGYM_TEST_NO_CAPTURE") == "1":
        env_state.can_capture_episode_state = lambda env: False
    for variable, name in (
        ("SPHGYM_TEST_KILL_IN_WRITE", "write_file_synced"),
        ("SPHGYM_TEST_KILL_IN_FSYNC_DIR", "fsync_dir"),
    ):
        if os.environ.get(variable):
            _kill_at_call(checkpoint_module, name, int(os.environ[variable]))

    step_hook = None
    trigger = os.environ.get("SPHGYM_TEST_SIGNAL_AT_STEP")
    sleep = float(os.environ.get("SPHGYM_TEST_STEP_SLEEP", "0") or 0)
    if trigger or sleep:
        at_step, sig_name = trigger.split(":") if trigger else ("-1", "SIGTERM")
        at_step, sig = int(at_step), getattr(signal, sig_name)

        def step_hook(global_step: int) -> None:
            if sleep:
                time.sleep(sleep)
            if global_step == at_step:
                os.kill(os.getpid(), sig)

    on_episode = None
    if os.environ.get("SPHGYM_TEST_RSS_LOG"):
        rss_path, rss_every = (
            os.environ["SPHGYM_TEST_RSS_LOG"],
            int(os.environ.get("SPHGYM_TEST_RSS_EVERY", "1000")),
        )
        page = os.sysconf("SC_PAGE_SIZE")

        def on_episode(event) -> bool:
            if event.episode % rss_every == 0:
                with open("/proc/self/statm") as statm, open(rss_path, "a") as out:
                    out.write(f"{event.episode} {int(statm.read().split()[1]) * page}\n")
            return True

    if args.resume:
        runner = Runner(args.run_dir, resume=True, step_hook=step_hook, on_episode=on_episode)
        result = runner.train(episodes=args.episodes, steps=args.steps)
    else:
        config = RunConfig(
            env_id=args.env,
            env_kwargs=json.loads(args.env_kwargs),
            agent=args.agent,
            agent_config=json.loads(args.agent_config),
            seed=args.seed,
            episodes=args.episodes,
            steps=args.steps,
            checkpoint_every=args.checkpoint_every,
            checkpoint_min_interval=args.checkpoint_min_interval,
            keep=args.keep,
            n_envs=args.n_envs,
        )
        runner = Runner(args.run_dir, config, step_hook=step_hook, on_episode=on_episode)
        result = runner.train()
    print(json.dumps(result.to_dict()), flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
