"""The Tune trainable: one trial = our ``Runner`` training one config point with one seed, in chunks.

A chunk raises the run's episode target by ``report_every`` and resumes the run folder (the first chunk starts
it). Every chunk ends with a runner checkpoint; once it is durable, the ``TuneReporter`` callback copies it
(plus ``config.json``, ``episodes.csv`` and ``best/``: a complete one-checkpoint run folder) into a temporary
folder and hands it to Tune with ``tune.report(metrics, checkpoint=...)``. Tune persists it under
``<sweep>/tune/<trial>/checkpoint_*``.

Why chunks and not one ``Runner`` reporting its periodic checkpoints: periodic checkpoints are placed by time as
well as by episode (``checkpoint_min_interval``) and are written in the background, so reports would land at
machine-dependent episodes and a staged ``episodes.csv`` would run ahead of its checkpoint. A chunk's final
checkpoint is at an exact episode and the folder is at rest when it is reported.

When Tune restarts a trial (its worker died, ``FailureConfig``) or restores the sweep (``Tuner.restore``),
``tune.get_checkpoint()`` returns the last reported checkpoint: it replaces the run folder's checkpoints,
config and ``episodes.csv`` (the folder may be ahead of it, or on another machine missing) and the runner
resumes from it. Resuming is exact (the runner's guarantee), and so is splitting a run into chunks: a trial's
final weights, state and ``episodes.csv`` equal those of one uninterrupted ``Runner`` with the same
``RunConfig``.

Ray is imported inside the functions only: this module is imported by Ray workers, never at ``sphgym``
start-up.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from agents.runner import RunConfig
from agents.runner.callbacks import Callback, CheckpointEvent
from agents.runner.checkpoint import find_latest_valid, parse_checkpoint_id
from agents.runner.fsutil import atomic_write_bytes
from agents.runner.run_folder import BEST_DIR, CHECKPOINTS_DIR, CONFIG_FILE, EPISODES_CSV

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMBA_NUM_THREADS",
)
# Environment variable (read by the driver, see sweep_payload): make named trials die once with os._exit, at
# the end of a given episode, to exercise Tune's restart path. "FOLDER@EPISODE[;FOLDER@EPISODE...]", FOLDER =
# the trial's run folder name, e.g. "base__s1@15". Each trial dies at most once (a flag file in its folder).
CRASH_ENV = "SPHGYM_SWEEP_CRASH"
CRASH_FLAG = ".sweep_crashed"
RUN_FILES = (CONFIG_FILE, EPISODES_CSV)


def thread_env() -> dict[str, str]:
    """One thread for every numeric library: results must not depend on how many trials share a machine."""
    return {name: "1" for name in THREAD_ENV_VARS}


def pin_threads() -> None:
    """Pin this worker to one thread (env vars for libraries loaded later, setters for those already
    loaded)."""
    os.environ.update(thread_env())
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    numba = sys.modules.get("numba")
    if numba is not None:
        try:
            numba.set_num_threads(1)
        except (ValueError, RuntimeError):  # NUMBA_NUM_THREADS was fixed lower at import: already <= 1
            pass


def parse_crash_spec(text: str | None) -> dict[str, int]:
    """``"base__s1@15;base__s0@3"`` -> ``{"base__s1": 15, "base__s0": 3}`` (the test hook, see
    ``CRASH_ENV``)."""
    out: dict[str, int] = {}
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        folder, sep, episode = part.rpartition("@")
        if not sep or not folder or not episode.isdigit():
            raise ValueError(f"{CRASH_ENV} expects FOLDER@EPISODE[;...], got {part!r}")
        out[folder] = int(episode)
    return out


def sweep_payload(spec: Any) -> dict[str, Any]:
    """What every trial needs besides its (point, seed): plain data, shipped with ``tune.with_parameters``."""
    return {
        "sweep_dir": str(spec.sweep_dir),
        "report_every": spec.report_every,
        "points": {p.label: {"folder": p.folder, "run_config": p.run_config.to_dict()} for p in spec.points},
        "crash": parse_crash_spec(os.environ.get(CRASH_ENV)),
    }


# --------------------------------------------------------------------------------------------- the trainable
def sweep_trial(config: dict[str, Any], sweep: dict[str, Any]) -> None:
    """Tune function trainable. ``config = {"point": label, "seed": int}``; ``sweep`` =
    ``sweep_payload(spec)``."""
    pin_threads()
    logging.getLogger("ray.train._internal.storage").setLevel(logging.WARNING)  # "Checkpoint created" per report
    from ray import tune

    from agents.runner import Runner
    from agents.sweep.spec import TRIAL_FILE, trial_folder

    label, seed = config["point"], int(config["seed"])
    point = sweep["points"][label]
    run_config = RunConfig.from_dict(dict(point["run_config"], seed=seed))
    run_dir = Path(sweep["sweep_dir"]) / trial_folder(point["folder"], seed)
    chunk = int(sweep["report_every"])

    restored = tune.get_checkpoint()
    resumed_from = 0
    if restored is not None:
        with restored.as_directory() as source:
            install_checkpoint(Path(source), run_dir)
        resumed_from = _newest_episode(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    trial_info = {"sweep_dir": sweep["sweep_dir"], "point": label, "seed": seed, "folder": run_dir.name}
    atomic_write_bytes(run_dir / TRIAL_FILE, (json.dumps(trial_info, indent=2) + "\n").encode())
    on_episode = _crash_hook(run_dir, sweep.get("crash", {}).get(run_dir.name))

    reporter = TuneReporter(run_dir, run_config, label, seed, resumed_from)
    resume = restored is not None
    while not reporter.done:
        target = reporter.episode // chunk * chunk + chunk
        if run_config.episodes is not None:
            target = min(target, run_config.episodes)
        result = Runner(
            run_dir,
            run_config.replace(episodes=target),
            resume=resume,
            overwrite=not resume,  # no Tune checkpoint: (re)start the trial from scratch
            on_episode=on_episode,
            callbacks=[reporter],
            log=None,
            handle_signals=False,  # Tune owns the process; a trial stops by being killed, then resumes
        ).train()
        resume = True
        if result.status == "interrupted":  # pragma: no cover - signals are not handled here
            raise RuntimeError(f"trial {run_dir.name} was interrupted by {result.signal}")
        if result.already_finished:  # restarted after its last report: report the finished checkpoint again
            reporter.on_checkpoint(result.checkpoint_event())
            if not reporter.done:  # pragma: no cover - a finished run has reached its target
                raise RuntimeError(f"trial {run_dir.name} finished before its budget ({result.status})")


class TuneReporter(Callback):
    """Reports the last checkpoint of each chunk to Tune: the trial's metrics plus a staged one-checkpoint copy
    of its run folder (``tune.report(metrics, checkpoint=...)``), once that checkpoint is durable.

    ``done`` says whether the trial reached its own budget (or was solved / stopped early); ``episode`` is where
    the last chunk ended.
    """

    def __init__(self, run_dir: Path, run_config: RunConfig, label: str, seed: int, resumed_from: int) -> None:
        self.run_dir, self.run_config, self.label, self.seed = run_dir, run_config, label, seed
        self.resumed_from = resumed_from
        self.episode = resumed_from
        self.done = False

    def on_checkpoint(self, event: CheckpointEvent) -> None:
        if not event.final:
            return
        from ray import tune

        from agents.sweep.results import trial_metrics

        config = self.run_config
        self.episode = event.episode
        self.done = (
            event.status in ("solved", "stopped_early")
            or (config.episodes is not None and event.episode >= config.episodes)
            or (config.steps is not None and event.global_step >= config.steps)
        )
        metrics = trial_metrics(self.run_dir, config, event.path)
        metrics.update(
            point=self.label,
            seed=self.seed,
            global_step=event.global_step,
            best_metric=event.best_metric,
            status=event.status if self.done else "running",
            done_training=self.done,
            resumed_from_episode=self.resumed_from,
            weights_sha256=event.weights_sha256,
            state_sha256=event.state_sha256,
        )
        with tempfile.TemporaryDirectory(prefix="sphgym-sweep-") as staging:
            stage_checkpoint(self.run_dir, event.path, Path(staging))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(staging))


# --------------------------------------------------------------------------------------------- checkpoints
def stage_checkpoint(run_dir: Path, checkpoint: Path, staging: Path) -> None:
    """Copy a one-checkpoint run folder into ``staging``: config, episodes.csv, best/, the checkpoint, trial
    file."""
    from agents.sweep.spec import TRIAL_FILE

    for name in (*RUN_FILES, TRIAL_FILE):
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, staging / name)
    if (run_dir / BEST_DIR).is_dir():
        shutil.copytree(run_dir / BEST_DIR, staging / BEST_DIR)
    shutil.copytree(checkpoint, staging / CHECKPOINTS_DIR / checkpoint.name)


def install_checkpoint(source: Path, run_dir: Path) -> None:
    """Make ``run_dir`` continue from the Tune checkpoint in ``source`` (a staged one-checkpoint run folder).

    The run folder's own checkpoints, config, episodes.csv and best/ are replaced: they may be ahead of what
    Tune recorded (the worker died between writing a checkpoint and reporting it) or missing (another
    machine). TensorBoard event files stay; the resumed runner purges the steps after the checkpoint.
    """
    from agents.runner.fsutil import remove_tree

    checkpoints = [p for p in (source / CHECKPOINTS_DIR).iterdir() if parse_checkpoint_id(p.name)]
    if len(checkpoints) != 1:
        raise RuntimeError(f"Tune checkpoint {source} should hold exactly one runner checkpoint, found {checkpoints}")
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_tree(run_dir / CHECKPOINTS_DIR)
    remove_tree(run_dir / BEST_DIR)
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    tmp = run_dir / f".installing-{os.getpid()}"
    remove_tree(tmp)
    shutil.copytree(checkpoints[0], tmp)
    (run_dir / CHECKPOINTS_DIR).mkdir()
    os.rename(tmp, run_dir / CHECKPOINTS_DIR / checkpoints[0].name)
    if (source / BEST_DIR).is_dir():
        shutil.copytree(source / BEST_DIR, run_dir / BEST_DIR)
    for name in RUN_FILES:
        if (source / name).is_file():
            shutil.copy2(source / name, run_dir / name)


def _newest_episode(run_dir: Path) -> int:
    ckpt, _ = find_latest_valid(run_dir / CHECKPOINTS_DIR)
    if ckpt is None:
        raise RuntimeError(f"the Tune checkpoint installed into {run_dir} holds no valid runner checkpoint")
    parsed = parse_checkpoint_id(ckpt.path.name)
    assert parsed is not None
    return parsed[0]


def _crash_hook(run_dir: Path, crash_episode: int | None):
    """``on_episode`` hook of the ``CRASH_ENV`` test hook: die (like a killed worker) once, at that
    episode."""
    if crash_episode is None:
        return None
    flag = run_dir / CRASH_FLAG

    def hook(event: Any) -> bool:
        if event.episode == crash_episode and not flag.exists():
            flag.write_text(f"{event.episode}\n")
            os._exit(3)
        return True

    return hook
