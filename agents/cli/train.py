"""``sphgym train`` and ``sphgym resume``: build a ``RunConfig`` from file + flags, hand it to the runner.

No training logic lives here: the runner owns the loop, the checkpoints, the signal handling and the run
folder. This module resolves the config (with clear errors before any folder is touched), draws the progress
bar from the runner's per-episode hook and prints the closing summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from agents.cli.common import (
    CLIError,
    HelpFormatter,
    existing_run_dir,
    non_negative_int,
    positive_int,
    shell_quote,
)

DEFAULT_RUNS_ROOT = Path("runs")

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

    overrides = [split_assignment(text) for text in args.set]
    if args.resume:
        return _resume(args, overrides)
    values = build_run_values(args, overrides)
    config = make_run_config(values)
    if args.print_config:
        sys.stdout.write(config_to_toml(config))
        return 0
    run_dir = Path(args.run_dir) if args.run_dir else default_run_dir(config)
    if run_dir.exists() and not run_dir.is_dir():
        raise CLIError(f"--run-dir {str(run_dir)!r} is a file, not a folder")
    if _holds_run(run_dir) and not args.overwrite:
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
    run_dir = existing_run_dir(args.resume)
    saved = _saved_config(run_dir)
    values = saved.to_dict()
    if args.episodes is not None:
        values["episodes"], values["steps"] = args.episodes, None
    if args.steps is not None:
        values["episodes"], values["steps"] = None, args.steps
    if args.checkpoint_every is not None:
        values["checkpoint_every"] = args.checkpoint_every
    if args.keep is not None:
        values["keep"] = args.keep
    if args.seed is not None:
        values["seed"] = args.seed
    _apply_overrides(values, overrides)
    config = make_run_config(values, check_env=False)
    return _train(run_dir, config, resume=True, overwrite=False, no_progress=args.no_progress)


def _saved_config(run_dir: Path):
    from agents.runner import read_folder_config

    path = run_dir / "config.json"
    if not path.exists():
        if not (run_dir / "checkpoints").is_dir():
            raise CLIError(
                f"{str(run_dir)!r} is not a run folder (no config.json, no checkpoints/): nothing to resume"
            )
        from agents.runner import inspect_checkpoint

        return make_run_config(inspect_checkpoint(run_dir)["config"], check_env=False)
    return read_folder_config(run_dir)  # the runner's reader: never follows a link or blocks on a FIFO


def _holds_run(run_dir: Path) -> bool:
    return any((run_dir / name).exists() for name in ("config.json", "checkpoints", "episodes.csv"))


def _train(run_dir: Path, config: Any, resume: bool, overwrite: bool, no_progress: bool) -> int:
    import warnings

    from agents.cli.progress import EpisodeProgress, progress_enabled
    from agents.runner import Runner

    show_bar = progress_enabled(no_progress)
    state: dict[str, Any] = {"bar": None}

    def say(message: str) -> None:
        bar = state["bar"]
        if bar is not None:
            bar.write(message)
        else:
            print(message, file=sys.stderr, flush=True)

    def on_episode(event: Any) -> bool:
        bar = state["bar"]
        if bar is None:
            by_steps = event.target_episodes is None
            bar = state["bar"] = EpisodeProgress(
                total=event.target_steps if by_steps else event.target_episodes,
                unit="steps" if by_steps else "episodes",
                initial=(event.global_step - event.episode_length) if by_steps else event.episode - 1,
                enabled=show_bar,
                description="resume" if resume else "train",
                start_step=event.global_step - event.episode_length,
            )
        bar.episode_done(
            event.episode_return, event.episode_length, event.global_step,
            best=event.best_metric, rolling=event.rolling_mean, steps_per_second=event.steps_per_second,
        )
        return True

    previous_showwarning = _route_warnings(say)
    runner = Runner(run_dir, config, resume=resume, overwrite=overwrite, on_episode=on_episode, log=say)
    _attach_startup_probe(runner)
    verb = "resuming" if resume else "training"
    say(f"{verb} {config.agent} on {config.env_id} (seed {config.seed}, target {_budget(config)}) "
        f"in {run_dir}")
    try:
        result = runner.train()
    finally:
        if state["bar"] is not None:
            state["bar"].close()
        warnings.showwarning = previous_showwarning
    print(summary_line(result))
    return int(result.exit_code)


def _attach_startup_probe(runner: Any) -> None:
    """``SPHGYM_STARTUP_PROBE=1``: print the wall-clock time of the first env step to stderr.

    benchmarks/startup_time.py uses it to measure start-up. The hook removes itself after one call, so
    training pays nothing per step.
    """
    import os

    if not os.environ.get("SPHGYM_STARTUP_PROBE"):
        return

    def probe(global_step: int) -> None:
        print(f"SPHGYM_FIRST_STEP {time.time():.6f}", file=sys.stderr, flush=True)
        runner.step_hook = None

    runner.step_hook = probe


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


# --------------------------------------------------------------------------------------- config building
RUN_ALIASES = {"env": "env_id", "agent_name": "agent"}


def build_run_values(args: argparse.Namespace, overrides: list[tuple[str, str]]) -> dict[str, Any]:
    """RunConfig values from ``--config``, then flags, then ``--set`` (lowest to highest precedence).

    Budgets: ``--episodes N`` / ``--steps N`` on the command line replace the whole budget (the other one is
    cleared). Elsewhere, setting ``steps`` without ``episodes`` means "no episode cap" (RunConfig's default
    would otherwise stop the run at 1000 episodes); setting both means whichever is reached first.
    """
    values: dict[str, Any] = {}
    if args.config:
        values.update(read_config_file(args.config))
    for dest in ("env_id", "agent", "seed", "checkpoint_every", "keep"):
        value = getattr(args, dest, None)
        if value is not None:
            values[dest] = value
    if args.episodes is not None:
        values["episodes"], values["steps"] = args.episodes, None
    if args.steps is not None:
        values["episodes"], values["steps"] = None, args.steps
    _apply_overrides(values, overrides)
    if values.get("steps") is not None and "episodes" not in values:
        values["episodes"] = None
    return values


def read_config_file(path: str) -> dict[str, Any]:
    """A TOML (or JSON, e.g. a run's own config.json) config file as RunConfig values, every key checked."""
    from agents.cli.config_loading import load_toml

    file_path = Path(path)
    if file_path.suffix.lower() == ".json":
        try:
            data = json.loads(file_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise CLIError(f"config file {path!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read config file {path!r}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise CLIError(f"config file {path!r} is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CLIError(f"config file {path!r} must hold a JSON object of config fields")
    else:
        data = load_toml(file_path)
    try:
        return normalise_table(data)
    except CLIError as exc:
        raise CLIError(f"config file {path!r}: {exc}") from None


def normalise_table(data: dict[str, Any]) -> dict[str, Any]:
    """Accept both the documented schema (``[agent]`` table with ``name``) and RunConfig's own shape
    (``agent = "name"`` plus ``[agent_config]``); return RunConfig values with types checked."""
    from agents.cli.config_loading import coerce, field_types, unknown_key_error
    from agents.runner import RunConfig

    run_types = field_types(RunConfig)
    values: dict[str, Any] = {}
    agent_fields: dict[str, Any] = {}
    for key, value in data.items():
        if key == "agent" and isinstance(value, dict):
            table = dict(value)
            if "name" in table:
                values["agent"] = coerce(table.pop("name"), str, "agent.name")
            agent_fields.update(table)
            continue
        if key == "agent_config":
            if not isinstance(value, dict):
                raise CLIError(f"agent_config must be a table, got {value!r}")
            agent_fields.update(value)
            continue
        name = RUN_ALIASES.get(key, key)
        if name not in run_types:
            raise unknown_key_error(key, key, [*run_types, "[agent]"], "")
        values[name] = coerce(value, run_types[name], key)
    if agent_fields:
        values["agent_config"] = agent_fields
    return values


def _apply_overrides(values: dict[str, Any], overrides: list[tuple[str, str]]) -> None:
    """Apply ``--set`` / ``--agent.FIELD`` assignments, parsing each by its field's type."""
    from agents.cli.config_loading import field_types, parse_text, unknown_key_error
    from agents.runner import RunConfig

    run_types = field_types(RunConfig)
    agent_sets: list[tuple[str, str]] = []
    for key, text in overrides:
        head, _, rest = key.partition(".")
        if head in ("agent", "agent_config") and rest:
            agent_sets.append((rest, text))
        elif head == "env_kwargs" and rest:
            from typing import Any as AnyType

            values.setdefault("env_kwargs", {})
            values["env_kwargs"] = dict(values["env_kwargs"], **{rest: parse_text(text, AnyType, key)})
        elif rest:
            raise CLIError(
                f"unknown config key {key!r}: dotted keys start with agent. or env_kwargs. "
                f"(e.g. agent.{rest})"
            )
        else:
            name = RUN_ALIASES.get(key, key)
            if name not in run_types:
                raise unknown_key_error(key, key, run_types, "")
            values[name] = parse_text(text, run_types[name], key)
    if agent_sets:
        agent_name = values.get("agent", RunConfig.agent)
        config_cls = _agent_config_class(agent_name)
        types_ = field_types(config_cls)
        agent_values = dict(values.get("agent_config", {}))
        for name, text in agent_sets:
            if name not in types_:
                raise unknown_key_error(f"agent.{name}", name, types_, f"agent ({agent_name})")
            agent_values[name] = parse_text(text, types_[name], f"agent.{name}")
        values["agent_config"] = agent_values


def _agent_config_class(name: str) -> type:
    from agents.registry import get_agent_spec

    try:
        spec = get_agent_spec(name)
    except ValueError as exc:
        raise CLIError(_lower_first(str(exc))) from None
    return spec.config_class()


def make_run_config(values: dict[str, Any], check_env: bool = True):
    """A validated ``RunConfig``: agent name, agent fields (types + did-you-mean), env id, then the
    dataclass's own checks. Raises ``CLIError`` naming the key."""
    from agents.cli.config_loading import check_table
    from agents.runner import RunConfig

    values = dict(values)
    agent_name = values.get("agent", RunConfig.agent)
    config_cls = _agent_config_class(agent_name)
    agent_values = check_table(dict(values.get("agent_config", {})), config_cls, "agent")
    try:
        agent_config = config_cls(**agent_values)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"invalid {agent_name} agent config: {_lower_first(str(exc))}") from None
    values["agent_config"] = json.loads(json.dumps(dataclasses.asdict(agent_config)))
    if check_env:
        check_env_id(values.get("env_id", RunConfig.env_id))
    try:
        return RunConfig.from_dict(values)
    except (TypeError, ValueError) as exc:
        raise CLIError(_lower_first(str(exc))) from None


def check_env_id(env_id: str) -> None:
    """Unknown env ids fail here, before a run folder exists, with the close matches."""
    import gymnasium

    import envs

    if ":" not in env_id and env_id not in gymnasium.registry:
        try:
            envs.make_env(env_id)  # raises UnknownEnvironmentError listing close matches
        except ValueError as exc:
            raise CLIError(str(exc)) from None


def default_run_dir(config: Any, root: Path = DEFAULT_RUNS_ROOT) -> Path:
    """``runs/<env>__<agent>__s<seed>__<YYYYmmdd-HHMMSS>``; ``/`` in env ids becomes ``--``; never an
    existing folder (a ``-2``, ``-3``, ... suffix when two runs start in the same second)."""
    env = sanitize(config.env_id)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{env}__{sanitize(config.agent)}__s{config.seed}__{stamp}"
    candidate = root / base
    n = 2
    while candidate.exists():
        candidate = root / f"{base}-{n}"
        n += 1
    return candidate


def sanitize(text: str) -> str:
    """A path-safe version of an env id or agent name (``sphgym/CartPoleNoVelocity-v0`` ->
    ``sphgym--CartPoleNoVelocity-v0``)."""
    out = text.replace("/", "--").replace("\\", "--")
    return "".join(c if c.isalnum() or c in "-_.+=" else "_" for c in out).strip(".") or "env"


def config_to_toml(config: Any) -> str:
    """The resolved config in the ``--config`` schema (run fields, ``[env_kwargs]``, ``[agent]``)."""
    from agents.cli.config_loading import toml_value

    data = config.to_dict()
    lines = [
        "# sphgym run config: pass to `sphgym train --config FILE`; flags and --set override it.",
    ]
    env_kwargs = data.pop("env_kwargs")
    agent_name = data.pop("agent")
    agent_config = data.pop("agent_config")
    for key, value in data.items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    lines.append("")
    lines.append("[env_kwargs]")
    lines.extend(f"{k} = {toml_value(v)}" for k, v in env_kwargs.items() if v is not None)
    lines.append("")
    lines.append("[agent]")
    lines.append(f"name = {toml_value(agent_name)}")
    for key, value in agent_config.items():
        if value is None:
            lines.append(f"# {key} = (unset)")
        else:
            lines.append(f"{key} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
