"""``sphgym train`` and ``sphgym resume``: turn argv into a ``RunConfig``, hand it to the runner.

No training logic and no config schema lives here: the runner owns the loop, the checkpoints, the signal
handling; ``agents.runner.run_folder`` the run folder; ``agents.runner.config_schema`` reading, checking and
overriding configs. This module maps flags onto those, draws the progress bar (a runner callback) and prints
the closing summary.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from agents.cli.common import (
    CLIError,
    HelpFormatter,
    existing_run_dir,
    named_values,
    non_negative_int,
    positive_int,
    shell_quote,
)

TRAIN_DESCRIPTION = """\
Train an agent on a Gymnasium env into a run folder, checkpointing as it goes. Stops when the env is solved
(rolling mean of the last 100 returns >= the env's reward threshold), at the budget, or on Ctrl-C/SIGTERM
(a checkpoint is written first, even mid-episode; `sphgym resume DIR` continues exactly where it stopped).

Config precedence, lowest first: defaults < --config FILE < flags (--env, --episodes, ...) < --set and
--agent.FIELD. --print-config prints the fully resolved config of any combination (a valid --config file).
"""

TRAIN_EPILOG = """\
examples:
  sphgym train                                        # hierarchy on CartPole-v1, into runs/<name>/
  sphgym train --env Acrobot-v1 --agent dqn --seed 2 --episodes 300
  sphgym train --steps 50000 --run-dir runs/long --checkpoint-every 25 --keep 5
  sphgym train --agent ppo --agent.learning_rate 3e-4 --set early_stopping_patience=200
  sphgym train --agent ppo --n-envs 8 --steps 100000   # 8 CartPole copies, the RL Zoo's 8 x 32-step rollout
  sphgym train --agent dqn --print-config > dqn.toml  # every field with its default; edit, then:
  sphgym train --config dqn.toml --seed 4

config file (TOML; `sphgym train --print-config` writes a complete one):
  env_id = "CartPole-v1"          # run fields: any RunConfig field, see --print-config
  seed = 0
  episodes = 500                  # or steps = 100000 (a file that sets only steps has no episode cap)
  checkpoint_every = 10
  [env_kwargs]                    # passed to gymnasium.make
  max_episode_steps = 500
  [agent]
  name = "hierarchy"              # which agent; the other keys are fields of its config dataclass
  # <field> = <value>

--set KEY=VALUE sets any of these: run fields by name (--set stop_when_solved=false), agent fields as
agent.FIELD (or --agent.FIELD VALUE), env arguments as env_kwargs.NAME. Values are TOML (0.5, true, [64, 64],
"text") or plain words; each is checked against the field's type.

agents: {agents}
"""

RESUME_DESCRIPTION = """\
Continue a run exactly where its newest valid checkpoint left it (mid-episode included): the result is the
same, bit for bit, as if it had never been interrupted. The run keeps its own config; only the budget
(--episodes/--steps), --checkpoint-every, --keep and stop_when_solved may change. A run that already reached
its target says so and exits 0; raise --episodes to train it further.
"""

RESUME_EPILOG = """\
examples:
  sphgym resume runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym resume runs/CartPole-v1__hierarchy__s0__20250101-120000 --episodes 2000   # raise the target
  sphgym resume runs/my-run --set stop_when_solved=false --episodes 1500            # keep going after solving
  sphgym train --resume runs/my-run                                                  # the same as resume
"""


# ------------------------------------------------------------------------------------------------ parsers
def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    from agents.registry import AGENTS

    agent_lines = "".join(f"\n  {name:10s} {spec.summary}" for name, spec in AGENTS.items())
    train = subparsers.add_parser(
        "train",
        help="train an agent into a run folder (default: hierarchy on CartPole-v1)",
        description=TRAIN_DESCRIPTION,
        epilog=TRAIN_EPILOG.format(agents=agent_lines),
        formatter_class=HelpFormatter,
    )
    run = train.add_argument_group("run")
    run.add_argument("--env", dest="env_id", metavar="ID", help="Gymnasium env id (default: CartPole-v1)")
    run.add_argument("--agent", metavar="NAME", help="agent name, see below (default: hierarchy)")
    run.add_argument("--seed", type=non_negative_int, metavar="N", help="run seed (default: 0)")
    run.add_argument(
        "--n-envs", type=positive_int, metavar="N",
        help="step N copies of the env together (Gymnasium SyncVectorEnv, 1-256; ppo, dqn and sac only; "
        "env steps count N per vector step) (default: 1)",
    )
    _add_budget_flags(run)
    run.add_argument(
        "--run-dir", metavar="DIR",
        help="run folder (default: runs/<env>__<agent>__s<seed>__<YYYYmmdd-HHMMSS>)",
    )
    run.add_argument("--overwrite", action="store_true", help="replace a run already in --run-dir")
    run.add_argument(
        "--resume", metavar="DIR", help="continue the run in DIR instead (same as `sphgym resume DIR`)"
    )
    cfg = train.add_argument_group("config")
    cfg.add_argument("--config", metavar="FILE", help="TOML (or JSON) config file; schema below")
    _add_set_flag(cfg)
    cfg.add_argument(
        "--print-config", action="store_true",
        help="print the resolved config as TOML and exit (nothing is trained or written)",
    )
    _add_output_flags(train)
    train.set_defaults(handler=run_train, set=[])

    resume = subparsers.add_parser(
        "resume",
        help="continue an interrupted run exactly (same as train --resume DIR)",
        description=RESUME_DESCRIPTION,
        epilog=RESUME_EPILOG,
        formatter_class=HelpFormatter,
    )
    resume.add_argument("resume", metavar="DIR", help="the run folder to continue")
    _add_budget_flags(resume, resume=True)
    _add_set_flag(resume)
    _add_output_flags(resume)
    resume.set_defaults(handler=run_train, set=[], config=None, env_id=None, agent=None, seed=None,
                        run_dir=None, overwrite=False, print_config=False)


def _add_budget_flags(parser: Any, resume: bool = False) -> None:
    default = (lambda text: "default: the run's own") if resume else (lambda text: f"default: {text}")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument(
        "--episodes", type=positive_int, metavar="N",
        help=f"episode budget: a total target, not 'N more' ({default('1000')})",
    )
    budget.add_argument(
        "--steps", type=positive_int, metavar="N", help="env-step budget (total) instead of episodes"
    )
    parser.add_argument(
        "--checkpoint-every", type=positive_int, metavar="N",
        help=f"checkpoint every N episodes, at most once per checkpoint_min_interval seconds "
        f"(--set checkpoint_min_interval=0: exactly every N) ({default('10')})",
    )
    parser.add_argument(
        "--keep", type=positive_int, metavar="K", help=f"checkpoints to keep besides best/ ({default('3')})"
    )


def _add_set_flag(parser: Any) -> None:
    parser.add_argument(
        "--set", action="append", metavar="KEY=VALUE", default=[],
        help="set any config field, e.g. --set agent.FIELD=0.1 --set stop_when_solved=false (repeatable)",
    )


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (also off when stderr is not a terminal)"
    )


# ------------------------------------------------------------------------------------------- the command
def run_train(args: argparse.Namespace) -> int:
    from agents.cli.config_loading import split_assignment
    from agents.runner.config_schema import build_run_values, config_to_toml, make_run_config
    from agents.runner.run_folder import default_run_dir, holds_a_run

    overrides = [split_assignment(text) for text in args.set]
    if args.resume:
        return _resume(args, overrides)
    config = make_run_config(build_run_values(named_values(args), overrides, config_file=args.config))
    if args.print_config:
        sys.stdout.write(config_to_toml(config))
        return 0
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config)
    if run_dir.exists() and not run_dir.is_dir():
        raise CLIError(f"--run-dir {str(run_dir)!r} is a file, not a folder")
    if holds_a_run(run_dir) and not args.overwrite:
        raise CLIError(
            f"run folder {str(run_dir)!r} already holds a run: continue it with `sphgym resume "
            f"{shell_quote(run_dir)}`, replace it with --overwrite, or choose another --run-dir"
        )
    return _train(run_dir, config, resume=False, overwrite=args.overwrite, no_progress=args.no_progress)


def _resume(args: argparse.Namespace, overrides: list[tuple[str, str]]) -> int:
    for flag in ("config", "env_id", "agent", "run_dir"):
        if getattr(args, flag, None):
            name = {"env_id": "--env", "run_dir": "--run-dir"}.get(flag, f"--{flag}")
            raise CLIError(f"{name} cannot be combined with --resume: a resumed run keeps its own config")
    if getattr(args, "overwrite", False):
        raise CLIError("--overwrite cannot be combined with --resume (it would delete the run to resume)")
    from agents.runner.config_schema import build_run_values, make_run_config

    run_dir = existing_run_dir(args.resume)
    saved = _saved_config(run_dir)
    values = build_run_values(named_values(args), overrides, base=saved.to_dict())
    config = make_run_config(values, check_env=False)
    if getattr(args, "print_config", False):
        from agents.runner.config_schema import config_to_toml

        # What the resume would run: the run's own config (its seed, not --seed) with the allowed changes.
        sys.stdout.write(config_to_toml(config.replace(seed=saved.seed)))
        return 0
    return _train(run_dir, config, resume=True, overwrite=False, no_progress=args.no_progress)


def _saved_config(run_dir: Path) -> Any:
    from agents.runner import inspect_checkpoint
    from agents.runner.config_schema import make_run_config
    from agents.runner.run_folder import CHECKPOINTS_DIR, CONFIG_FILE, read_config

    if not (run_dir / CONFIG_FILE).exists():
        if not (run_dir / CHECKPOINTS_DIR).is_dir():
            raise CLIError(
                f"{str(run_dir)!r} is not a run folder (no config.json, no checkpoints/): nothing to resume"
            )
        return make_run_config(inspect_checkpoint(run_dir)["config"], check_env=False)
    return read_config(run_dir)  # never follows a link or blocks on a FIFO


def _train(run_dir: Path, config: Any, resume: bool, overwrite: bool, no_progress: bool) -> int:
    import os
    import warnings

    from agents.cli.progress import ProgressCallback, progress_enabled
    from agents.runner import Runner
    from agents.runner.callbacks import FirstStepProbe

    progress = ProgressCallback(enabled=progress_enabled(no_progress), description="resume" if resume else "train")
    callbacks: list[Any] = [progress]
    if os.environ.get("SPHGYM_STARTUP_PROBE"):  # benchmarks/startup_time.py: time of the first env step
        callbacks.append(FirstStepProbe())
    previous_showwarning = _route_warnings(progress.say)
    runner = Runner(run_dir, config, resume=resume, overwrite=overwrite, callbacks=callbacks, log=progress.say)
    verb = "resuming" if resume else "training"
    config = runner.config  # on resume: the run's own (its seed, not an ignored --seed)
    progress.say(
        f"{verb} {config.agent} on {config.env_id} (seed {config.seed}, target {_budget(config)}) in {run_dir}"
    )
    try:
        result = runner.train()
    finally:
        progress.close()
        warnings.showwarning = previous_showwarning
    return _print_summary(result)


def _print_summary(result: Any) -> int:
    """Print the closing line; a stdout that cannot take it loses nothing (the run is saved) and hides nothing."""
    try:
        print(summary_line(result), flush=True)
    except BrokenPipeError:  # `sphgym train | head -1`: the reader left; the run and its exit code stand
        from agents.cli.main import _silence_broken_pipe

        _silence_broken_pipe()
    except OSError as exc:
        try:
            sys.stdout = open(os.devnull, "w")  # nothing more is written to the failing stream at exit
            print(
                f"sphgym: error: the run finished ({result.status}, saved in {result.run_dir}) but its summary could "
                f"not be written to stdout: {exc.strerror or exc}",
                file=sys.stderr,
            )
        except OSError:
            pass
        return int(result.exit_code) or 1
    return int(result.exit_code)


def _route_warnings(say):
    """Runner warnings (seed ignored on resume, stale lock, skipped checkpoint) as ``warning:`` lines."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None):
        say(f"warning: {message}")

    previous = warnings.showwarning
    warnings.showwarning = show
    return previous


def _budget(config: Any) -> str:
    parts = []
    if config.episodes is not None:
        parts.append(f"{config.episodes} episodes")
    if config.steps is not None:
        parts.append(f"{config.steps} steps")
    return " or ".join(parts)


def summary_line(result: Any) -> str:
    """The closing line: what happened, where the run is, how to resume, evaluate and open TensorBoard."""
    run_dir = shell_quote(result.run_dir)
    parent = result.run_dir.parent
    logdir = shell_quote(parent if str(parent) not in ("", ".") else result.run_dir)
    best = f", best mean return {result.best_metric:.4g}" if result.best_metric is not None else ""
    where = f"episode {result.episode}, step {result.global_step}{best}"
    hints = f"eval: sphgym eval {run_dir} · curves: tensorboard --logdir {logdir}"
    if result.already_finished:
        more = "--set stop_when_solved=false --episodes N" if result.status == "solved" else "--episodes N"
        return (
            f"{result.run_dir} already finished ({result.status}, {where}); nothing to do. "
            f"Train further: sphgym resume {run_dir} {more} · {hints}"
        )
    what = {
        "completed": "finished the budget",
        "solved": "solved",
        "stopped_early": "stopped early (no improvement)",
        "interrupted": f"interrupted by {result.signal}, checkpoint saved",
        "stopped": "stopped",
    }.get(result.status, result.status)
    head = f"{what} ({where}). run: {result.run_dir} · "
    if result.status not in ("completed", "solved", "stopped_early"):
        head += f"resume: sphgym resume {run_dir} · "
    return head + hints
