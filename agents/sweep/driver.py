"""Run a sweep on Ray Tune (local or an existing cluster), restore an interrupted one, and write the tables.

Layout of a sweep folder::

    <sweep>/
      sweep.json                 the points (resolved RunConfigs), seeds, chunk size, failure budget
      <point>__s<seed>/          one normal run folder per trial (sphgym inspect/eval/verify/resume/plot work)
      tune/                      Tune's experiment: trial results, persisted checkpoints, experiment state
      results.csv, results.md    one row per config point
      trials.csv                 one row per trial (status, episodes, solved_at, final return, digests)
      hparams/                   TensorBoard HParams: one session per trial (agents/sweep/hparams.py)

Multi-node clusters need the sweep folder on storage every node mounts at the same path (NFS, ...): trials
write their run folders and Tune its checkpoints there.
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.sweep.cluster import (
    DEFAULT_CONNECT_TIMEOUT_S,
    RayConnectError,
    check_cluster,
    forget_local_ray,
    record_local_ray,
    stop_orphans,
)
from agents.sweep.ray_logs import quiet_ray_logs
from agents.sweep.spec import TUNE_DIR, SweepSpec, load_sweep, trial_folder

logger = logging.getLogger(__name__)

RAY_HINT = "pip install 'sphgym[ray]'"
TUNE_NO_AUTO_LOGGERS = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"  # "1": Tune adds no logger callbacks of its own


class RayMissingError(RuntimeError):
    """Ray Tune is not installed (it is an optional extra)."""


def require_ray() -> Any:
    """Import ray and ray.tune, or raise ``RayMissingError`` saying how to install them."""
    try:
        import ray
        from ray import tune  # noqa: F401
    except ImportError as exc:
        raise RayMissingError(
            f"sphgym sweep needs Ray Tune, which is not installed ({exc}): {RAY_HINT} "
            "(installs ray[tune]; not ray[rllib], which pins an older gymnasium)"
        ) from None
    return ray


@dataclass
class SweepOutcome:
    spec: SweepSpec
    rows: list[dict[str, Any]]
    table: str  # markdown
    trials: list[Any]  # TrialSummary
    errors: list[tuple[str, str]] = field(default_factory=list)  # (trial folder, error text)
    unfinished: list[str] = field(default_factory=list)  # trial folders that did not reach their target
    tune_results: Any = None  # Tune's ResultGrid (last reported metrics, errors, Tune checkpoint paths)

    @property
    def ok(self) -> bool:
        return not self.errors and not self.unfinished


def _trial_name(trial: Any, folders: dict[str, str]) -> str:
    config = trial.config
    return trial_folder(folders[config["point"]], int(config["seed"]))


def _trainable(spec: SweepSpec) -> Any:
    from ray import tune

    from agents.sweep.trainable import sweep_payload, sweep_trial

    return tune.with_resources(
        tune.with_parameters(sweep_trial, sweep=sweep_payload(spec)), {"cpu": spec.cpus_per_trial}
    )


def _init_ray(
    address: str | None, num_cpus: int | None, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S, verbose: int = 1
) -> bool:
    """Start (or connect to) Ray unless the caller already did; returns True if we must shut it down.
    ``verbose=0`` keeps Ray's and Tune's INFO lines off the terminal (warnings and errors still show).

    Raises:
        RayConnectError: ``address`` names no reachable cluster, or one that refuses this driver's token.
    """
    ray = require_ray()
    # Each report carries a checkpoint, so Tune snapshots its state often: its "excessive sync" warning is noise.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    # Tune's own loggers: CSV and JSON only (`_loggers`). Its TensorBoard logger would write a second HParams
    # experiment (TensorBoard's dashboard shows one: it hid ours) and a second session per restored trial.
    os.environ[TUNE_NO_AUTO_LOGGERS] = "1"
    if ray.is_initialized():
        return False
    from ray.exceptions import AuthenticationError

    from agents.sweep.trainable import thread_env

    # Every worker: one thread per library. Trials print nothing a user needs (each writes its run folder, and
    # Tune reports their results and errors here); worker output on this terminal is only Ray's teardown noise,
    # e.g. an "Exception ignored ... SystemExit" traceback when its SIGTERM handler fires inside a GC callback.
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": thread_env()}, "log_to_driver": False}
    if not verbose:
        kwargs["logging_level"] = logging.WARNING
    if address:
        check_cluster(address, connect_timeout)  # Ray alone would retry a dead address for many minutes
        kwargs["address"] = address
    else:
        # "local": a new Ray for this sweep, even if this machine has a cluster running (use --address auto for it)
        kwargs.update(address="local", num_cpus=num_cpus, include_dashboard=False)
    try:
        ray.init(**kwargs)
    except (ConnectionError, AuthenticationError) as exc:
        where = f"a Ray cluster at {address!r}" if address else "a local Ray"
        raise RayConnectError(
            f"cannot connect to {where} ({' '.join(str(exc).split())[:300]}); start one with `ray start --head` "
            "on this machine, pass the head node's HOST:PORT as printed by it, or drop --address for a local Ray"
        ) from None
    return True


def _loggers() -> list[Any]:
    """Tune's result files per trial (``progress.csv``, ``result.json``), without its TensorBoard logger: the
    sweep writes its own HParams records (agents/sweep/hparams.py) and every trial folder has its scalars."""
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    return [CSVLoggerCallback(), JsonLoggerCallback()]


def _record(sweep_dir: Path, address: str | None, shutdown: bool) -> None:
    """Note a local Ray we started in the sweep folder, so the next driver can stop what is left of it if this
    one is killed."""
    if shutdown and not address:
        record_local_ray(sweep_dir)


def _stop(sweep_dir: Path, shutdown: bool) -> None:
    """Shut down the Ray we started (``ray.shutdown`` stops a local Ray's processes) and drop its record."""
    if shutdown:
        import ray

        ray.shutdown()
        forget_local_ray(sweep_dir)


def _stop_orphans(sweep_dir: Path) -> None:
    """Stop the processes of the local Ray a killed driver of this sweep left behind, and say so."""
    driver, stopped, left = stop_orphans(sweep_dir)
    if stopped:
        logger.warning(
            "sweep: stopped %d Ray process(es) left by the killed driver (pid %d): %s",
            len(stopped), driver, " ".join(map(str, stopped)),
        )
    if left:
        logger.warning(
            "sweep: %d Ray process(es) of the killed driver (pid %d) could not be stopped: %s; stop them with "
            "`kill -9 PID`", len(left), driver, " ".join(map(str, left)),
        )


def run_sweep(
    spec: SweepSpec,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    verbose: int = 1,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> SweepOutcome:
    """Save ``sweep.json``, run every trial on Tune, write the tables. ``address`` = an existing cluster,
    ``connect_timeout`` = seconds to wait for it to answer."""
    require_ray()
    from ray import tune

    # first: a wrong --address must not leave a sweep.json behind
    shutdown = _init_ray(address, num_cpus, connect_timeout, verbose)
    try:
        spec.save()
        _record(spec.sweep_dir, address, shutdown)
        folders = {p.label: p.folder for p in spec.points}
        namer = functools.partial(_trial_name, folders=folders)
        tuner = tune.Tuner(
            _trainable(spec),
            param_space={
                "point": tune.grid_search([p.label for p in spec.points]),
                "seed": tune.grid_search(list(spec.seeds)),
            },
            tune_config=tune.TuneConfig(trial_name_creator=namer, trial_dirname_creator=namer),
            run_config=tune.RunConfig(
                name=TUNE_DIR,
                storage_path=str(spec.sweep_dir),
                failure_config=tune.FailureConfig(max_failures=spec.max_failures),
                checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
                callbacks=_loggers(),
                verbose=verbose,
            ),
        )
        with quiet_ray_logs():
            results = tuner.fit()
        return _outcome(spec, results)
    finally:
        _stop(spec.sweep_dir, shutdown)


def restore_sweep(
    sweep_dir: str | Path,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    verbose: int = 1,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
) -> SweepOutcome:
    """Continue an interrupted sweep (``Tuner.restore``): unfinished and errored trials resume from their last
    reported checkpoint, finished ones are kept. Then the tables are rewritten. What a killed driver of this
    sweep left of its local Ray is stopped first (logged as a warning)."""
    require_ray()
    from ray import tune

    spec = load_sweep(Path(sweep_dir).resolve())
    tune_path = spec.sweep_dir / TUNE_DIR
    _stop_orphans(spec.sweep_dir)
    shutdown = _init_ray(address, num_cpus, connect_timeout, verbose)
    try:
        _record(spec.sweep_dir, address, shutdown)
        if not tune.Tuner.can_restore(str(tune_path)):
            from agents.sweep.spec import SweepSpecError

            raise SweepSpecError(
                f"{str(tune_path)!r} holds no Tune experiment state to restore (the sweep was stopped "
                "before Tune saved any); start it again with `sphgym sweep`"
            )
        tuner = tune.Tuner.restore(
            str(tune_path), trainable=_trainable(spec), resume_unfinished=True, resume_errored=True
        )
        with quiet_ray_logs():
            results = tuner.fit()
        return _outcome(spec, results)
    finally:
        _stop(spec.sweep_dir, shutdown)


def _outcome(spec: SweepSpec, results: Any) -> SweepOutcome:
    from agents.sweep.hparams import write_hparams
    from agents.sweep.results import summarize_sweep, write_tables

    trials = summarize_sweep(spec)
    rows, table = write_tables(spec, trials)
    write_hparams(spec, trials)
    folders = {p.label: p.folder for p in spec.points}
    errors = []
    for result in results:
        config = result.config or {}
        name = trial_folder(folders.get(config.get("point"), "?"), int(config.get("seed", -1)))
        if result.error is not None:
            errors.append((name, _one_line(result.error)))
    unfinished = [t.folder for t in trials if not t.finished]
    return SweepOutcome(spec, rows, table, trials, errors, unfinished, results)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"
