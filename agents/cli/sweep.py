"""``sphgym sweep``: many seeds x config points on Ray Tune, each trial a normal resumable run folder.

The config of every point is built exactly like ``sphgym train`` builds one (``--config`` < flags < ``--set`` <
``--grid`` values), by the same library functions (``agents.runner.config_schema``); the sweep itself lives in
``agents.sweep``. Ray is imported only once a sweep actually runs (after the arguments are checked), never at
start-up.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from agents.cli.common import (
    EXIT_SIGINT,
    EXIT_USER_ERROR,
    CLIError,
    HelpFormatter,
    positive_int,
    shell_quote,
)

DEFAULT_CONNECT_TIMEOUT_S = 30.0  # = agents.sweep.cluster.DEFAULT_CONNECT_TIMEOUT_S (not imported: no Ray at start-up)
MAX_CONNECT_TIMEOUT_S = 3600.0

DESCRIPTION = """\
Train one run per seed and config point on Ray Tune (a local Ray started for the sweep, or an existing cluster
with --address). Each trial is an ordinary run folder inside the sweep folder; it reports to Tune every
--report-every episodes, handing Tune its checkpoint. A trial whose worker dies is restarted by Tune from that
checkpoint and continues exactly (--max-failures); `sphgym sweep --restore DIR` continues a whole interrupted
sweep (driver killed, Ctrl-C, cluster lost). Each trial uses one thread, so results do not depend on packing.

At the end a table per config point (solved count, episodes to solve: median and IQR, final return) is printed
and saved as DIR/results.md and DIR/results.csv (per trial: DIR/trials.csv). `sphgym plot DIR` draws the runs;
`tensorboard --logdir DIR` shows their curves and, in its HPARAMS tab, each trial's grid values, seed and results.
Needs the optional extra: pip install 'sphgym[ray]'.
"""

EPILOG = """\
examples:
  sphgym sweep --seeds 0-9 --episodes 500                             # hierarchy on CartPole-v1, 10 seeds
  sphgym sweep --agent hierarchy --seeds 0-4 --grid agent.history_capacity=256,512,1024
  sphgym sweep --agent ppo --seeds 0-2 --grid learning_rate=3e-4,1e-3 --grid metric_window=50,100
  sphgym sweep --seeds 0-9 --run-dir /nfs/sweeps/cp --address auto    # on a running Ray cluster
  sphgym sweep --seeds 0-9 --run-dir /nfs/sweeps/cp --address 10.0.0.5:6379 --connect-timeout 60
  sphgym sweep --restore sweeps/CartPole-v1__hierarchy__20250101-120000
  sphgym plot sweeps/CartPole-v1__hierarchy__20250101-120000 --out sweep.png

--grid KEY=V1,V2,...: KEY is a run field (episodes, metric_window, env_id, ...), agent.FIELD (or just FIELD
when it is a field of the agent's config), or env_kwargs.NAME; values are typed like --set (0.5, true,
[64, 64]); commas inside brackets do not split. Several --grid options form the cartesian product.

--address HOST:PORT with Ray token authentication: the token is taken from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
~/.ray/auth_token (`ray get-auth-token` on the head node prints it); RAY_AUTH_MODE=token is set when one exists.

exit codes: 0 every trial finished · 1 user error, or a trial failed more than --max-failures times · 130 the
sweep was interrupted (Ctrl-C/SIGTERM; Tune saved its state): continue with --restore DIR.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="many seeds x config points on Ray Tune, each trial resumable (needs sphgym[ray])",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    what = parser.add_argument_group("what to train")
    what.add_argument("--env", dest="env_id", metavar="ID", help="Gymnasium env id (default: CartPole-v1)")
    what.add_argument("--agent", metavar="NAME", help="agent name (default: hierarchy)")
    what.add_argument("--seeds", metavar="LIST", default="0-9", help="seeds: 0-9, 0,3,5-7 (default: 0-9)")
    budget = what.add_mutually_exclusive_group()
    budget.add_argument("--episodes", type=positive_int, metavar="N", help="episode budget per trial (default: 1000)")
    budget.add_argument("--steps", type=positive_int, metavar="N", help="env-step budget per trial instead")
    what.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="a swept field and its values (repeatable: cartesian product)",
    )
    what.add_argument("--config", metavar="FILE", help="base TOML/JSON config, as for sphgym train")
    what.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="fix a field for every trial (as for train; --agent.FIELD VALUE works too)",
    )
    what.add_argument("--checkpoint-every", type=positive_int, metavar="N", help="runner checkpoints every N episodes")
    what.add_argument("--keep", type=positive_int, metavar="K", help="checkpoints kept per trial (default: 3)")
    where = parser.add_argument_group("where and how")
    where.add_argument(
        "--run-dir", metavar="DIR", help="sweep folder (default: sweeps/<env>__<agent>__<YYYYmmdd-HHMMSS>)"
    )
    where.add_argument(
        "--restore",
        metavar="DIR",
        help="continue the interrupted sweep in DIR (unfinished/failed trials resume from their checkpoint)",
    )
    where.add_argument(
        "--address",
        metavar="ADDR",
        help="an existing Ray cluster this machine belongs to: 'auto' or HEAD:PORT (default: a local Ray)",
    )
    where.add_argument(
        "--connect-timeout",
        type=_timeout_seconds,
        metavar="S",
        help=f"seconds to wait for the --address cluster to answer (default: {DEFAULT_CONNECT_TIMEOUT_S:g})",
    )
    where.add_argument(
        "--num-cpus",
        type=positive_int,
        metavar="N",
        help="CPUs of the local Ray (default: all; not with --address)",
    )
    where.add_argument(
        "--report-every",
        type=positive_int,
        metavar="N",
        help="episodes between Tune reports, each handing Tune a checkpoint (default: --checkpoint-every)",
    )
    where.add_argument(
        "--max-failures",
        type=int,
        default=3,
        metavar="N",
        help="restarts of a dead trial from its last checkpoint (-1: unlimited)",
    )
    where.add_argument("--cpus-per-trial", type=float, default=1.0, metavar="X", help="CPUs Tune reserves per trial")
    where.add_argument("--quiet", action="store_true", help="no Tune progress tables (only the final table)")
    parser.set_defaults(handler=run, seed=None)


# ------------------------------------------------------------------------------------------------ command
def run(args: argparse.Namespace) -> int:
    from agents.sweep import RayConnectError, RayMissingError, SweepSpecError

    try:
        if args.restore:
            return _restore(args)
        _check_address(args)
        spec = build_spec(args)
        _require_ray()
        return _run(args, spec)
    except (SweepSpecError, RayMissingError, RayConnectError) as exc:
        raise CLIError(str(exc)) from None


def _require_ray() -> None:
    from agents.sweep import require_ray

    require_ray()


def _run(args: argparse.Namespace, spec: Any) -> int:
    from agents.sweep import run_sweep

    where = f"Ray cluster at {args.address}" if args.address else "a local Ray"
    n_points, n_seeds = len(spec.points), len(spec.seeds)
    print(
        f"sweep: {n_points} config point{'s' * (n_points != 1)} x {n_seeds} seed{'s' * (n_seeds != 1)} = "
        f"{n_points * n_seeds} trials on {where}, into {spec.sweep_dir}",
        file=sys.stderr,
        flush=True,
    )
    outcome = run_sweep(
        spec, address=args.address, num_cpus=args.num_cpus, verbose=0 if args.quiet else 1, **_connect(args)
    )
    return _report(outcome)


def _restore(args: argparse.Namespace) -> int:
    from agents.sweep import load_sweep, restore_sweep

    given = [
        flag
        for flag, value in (
            ("--env", args.env_id),
            ("--agent", args.agent),
            ("--episodes", args.episodes),
            ("--steps", args.steps),
            ("--grid", args.grid),
            ("--config", args.config),
            ("--set", args.set),
            ("--run-dir", args.run_dir),
            ("--checkpoint-every", args.checkpoint_every),
            ("--keep", args.keep),
            ("--report-every", args.report_every),
        )
        if value
    ]
    if given:
        raise CLIError(f"{', '.join(given)} cannot be combined with --restore: a restored sweep keeps its own setup")
    _check_address(args)
    spec = load_sweep(args.restore)  # a clear error before Ray starts
    _require_ray()
    print(f"sweep: restoring {spec.sweep_dir} ({len(spec.trials)} trials)", file=sys.stderr, flush=True)
    outcome = restore_sweep(
        args.restore, address=args.address, num_cpus=args.num_cpus, verbose=0 if args.quiet else 1, **_connect(args)
    )
    return _report(outcome)


def _report(outcome: Any) -> int:
    spec = outcome.spec
    sweep_dir = shell_quote(spec.sweep_dir)
    print(outcome.table, end="")
    print(
        f"results: {spec.sweep_dir / 'results.md'}, results.csv, trials.csv · "
        f"curves: sphgym plot {sweep_dir} · "
        f"one trial: sphgym inspect {shell_quote(spec.sweep_dir / outcome.trials[0].folder)}"
    )
    for folder, error in outcome.errors:
        print(f"trial {folder} failed: {error}", file=sys.stderr)
    if outcome.unfinished:
        print(
            f"{len(outcome.unfinished)} trial(s) did not finish ({', '.join(outcome.unfinished[:5])}"
            f"{', ...' if len(outcome.unfinished) > 5 else ''}); "
            f"continue them with: sphgym sweep --restore {sweep_dir}",
            file=sys.stderr,
        )
    if outcome.errors:
        return EXIT_USER_ERROR  # a trial failed more often than --max-failures allows
    if outcome.unfinished:
        return EXIT_SIGINT  # Tune stopped on Ctrl-C/SIGTERM after saving its state: restorable
    return 0


def _timeout_seconds(text: str) -> float:
    """argparse type for --connect-timeout: seconds, > 0 and at most an hour."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds (e.g. 30 or 2.5), got {text!r}") from None
    if not (math.isfinite(value) and 0 < value <= MAX_CONNECT_TIMEOUT_S):
        raise argparse.ArgumentTypeError(f"must be > 0 and at most {MAX_CONNECT_TIMEOUT_S:g} seconds, got {text}")
    return value


def _connect(args: argparse.Namespace) -> dict[str, float]:
    return {} if args.connect_timeout is None else {"connect_timeout": args.connect_timeout}


def _check_address(args: argparse.Namespace) -> None:
    if args.connect_timeout is not None and not args.address:
        raise CLIError("--connect-timeout is how long to wait for an --address cluster; without --address drop it")
    if args.address and args.num_cpus:
        raise CLIError("--num-cpus sizes a local Ray; with --address the cluster decides (drop one of them)")
    if args.address and args.address.startswith("ray://"):
        raise CLIError(
            "Ray Client addresses (ray://) are not supported: the sweep reads its trial folders after Tune "
            "finishes, so run `sphgym sweep --address auto` on a node of the cluster (e.g. the head node)"
        )


# --------------------------------------------------------------------------------------------- the spec
def build_spec(args: argparse.Namespace) -> Any:
    """The sweep's points (typed, validated RunConfigs), seeds and folder, from the arguments. No Ray
    needed."""
    from agents.cli.config_loading import split_assignment
    from agents.cli.common import named_values
    from agents.runner.config_schema import ConfigError, build_run_values, make_run_config
    from agents.runner.run_folder import default_sweep_dir
    from agents.sweep.spec import (
        SweepPoint,
        SweepSpec,
        folder_name,
        grid_points,
        parse_grid_option,
        parse_seeds,
        point_label,
    )

    seeds = parse_seeds(args.seeds)
    if args.max_failures < -1:
        raise CLIError(f"--max-failures must be -1 (unlimited) or >= 0, got {args.max_failures}")
    if not args.cpus_per_trial > 0:
        raise CLIError(f"--cpus-per-trial must be > 0, got {args.cpus_per_trial}")
    base_sets = [split_assignment(text) for text in args.set]
    if any(key == "seed" for key, _ in base_sets):
        raise CLIError("a sweep takes its seeds from --seeds, not --set seed=...")
    named = named_values(args)
    try:
        base_values = build_run_values(named, base_sets, config_file=args.config)
        grid = [_normalise_grid_key(parse_grid_option(text), base_values) for text in args.grid]
    except ConfigError as exc:
        raise CLIError(str(exc)) from None
    varying = {key for key, values in grid if len(values) > 1}

    points: list[SweepPoint] = []
    folders: set[str] = set()
    for index, assignments in enumerate(grid_points(grid)):
        label = point_label([(k, v) for k, v in assignments if k in varying])
        try:
            config = make_run_config(build_run_values(named, base_sets + assignments, config_file=args.config))
        except ConfigError as exc:
            where = f" (config point {label})" if varying else ""
            raise CLIError(f"{exc}{where}") from None
        folder = folder_name([(k, v) for k, v in assignments if k in varying])
        if folder in folders:
            folder = f"{folder}-p{index}"
        folders.add(folder)
        grid_values = {k: v for k, v in assignments if k in varying}
        points.append(SweepPoint(label, folder, grid_values, config.resolved()))

    first = points[0].run_config
    report_every = args.report_every or first.checkpoint_every
    sweep_dir = Path(args.run_dir) if args.run_dir else default_sweep_dir(first)
    sweep_dir = sweep_dir.resolve()
    if sweep_dir.exists() and not sweep_dir.is_dir():
        raise CLIError(f"--run-dir {str(sweep_dir)!r} is a file, not a folder")
    if (sweep_dir / "sweep.json").exists():
        raise CLIError(
            f"{str(sweep_dir)!r} already holds a sweep: continue it with `sphgym sweep --restore "
            f"{shell_quote(sweep_dir)}` or choose another --run-dir"
        )
    if sweep_dir.is_dir() and any(sweep_dir.iterdir()):
        raise CLIError(f"--run-dir {str(sweep_dir)!r} is not empty: a sweep needs a new or empty folder")
    return SweepSpec(
        sweep_dir=sweep_dir,
        points=tuple(points),
        seeds=tuple(seeds),
        report_every=report_every,
        max_failures=args.max_failures,
        cpus_per_trial=args.cpus_per_trial,
    )


def _normalise_grid_key(item: tuple[str, list[str]], base_values: dict[str, Any]) -> tuple[str, list[str]]:
    """``learning_rate`` -> ``agent.learning_rate`` when it names a field of the agent's config, not a run
    field."""
    from agents.runner import RunConfig
    from agents.runner.config_schema import RUN_ALIASES, agent_config_class, field_types

    key, values = item
    if key in ("seed", "seeds"):
        raise CLIError("a sweep takes its seeds from --seeds, not --grid seed=...")
    head = key.split(".", 1)[0]
    if "." in key or RUN_ALIASES.get(key, key) in field_types(RunConfig):
        if head in ("agent_config",):
            key = "agent." + key.split(".", 1)[1]
        return key, values
    agent_name = base_values.get("agent", RunConfig.agent)
    if key in field_types(agent_config_class(agent_name)):
        return f"agent.{key}", values
    return key, values  # unknown: build_run_values reports it with a did-you-mean
