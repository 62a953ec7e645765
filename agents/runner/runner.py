"""The episode runner: trains one agent on one env, checkpoints, and resumes exactly.

The loop is the Agent protocol's (agents/protocol.py)::

    obs = env.reset(seed=env_seed if first episode else None); agent.clear_state()
    loop: action = agent.act(obs); obs, r, term, trunc = env.step(action); agent.observe(obs, r, term, trunc)

A checkpoint can be written at any step boundary (between ``observe`` and the next ``act``): periodically
every ``checkpoint_every`` episodes, on SIGINT/SIGTERM (mid-episode included), and at the end. Restoring it
into fresh objects continues bit-identically. For an env whose mid-episode state cannot be captured, the
runner keeps an in-memory snapshot of the last episode boundary and writes that instead; the resumed run
replays the episode.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.runner import env_state
from agents.runner.checkpoint import (
    CHECKPOINTS_DIR,
    Checkpoint,
    arrays_to_bytes,
    checkpoint_id,
    clean_temporaries,
    find_latest_valid,
    json_bytes,
    list_checkpoints,
    parse_checkpoint_id,
    parse_json,
    remove_tree,
    rotate,
    write_checkpoint,
)
from agents.runner.config import RESUME_MUTABLE_FIELDS, RunConfig, config_differences
from agents.runner.episode_log import EPISODES_CSV, EpisodeLog
from agents.runner.errors import CheckpointError, IncompatibleCheckpointError, RunnerError, RunnerWarning
from agents.runner.fsutil import (
    DISK_ERRNOS,
    atomic_write_bytes,
    read_regular_file,
    refuse_symlink,
    sha256_bytes,
)
from agents.runner.lock import LOCK_NAME, RunLock
from agents.runner.metadata import library_versions, runtime_differences, thread_settings, version_differences
from agents.runner.rng_state import capture_global_rng, restore_global_rng, seed_global_rng, seed_torch_global
from agents.runner.signals import StopFlag, exit_code_for
from agents.runner.tracking import EpisodeTracker

CONFIG_FILE = "config.json"
BEST_DIR = "best"
FINAL_STATUSES = ("completed", "solved", "stopped_early")
STATUSES = ("running", "interrupted", "stopped", *FINAL_STATUSES)
# What a run folder may hold under these names: real files/folders, never links (see fsutil.refuse_symlink).
RUN_ENTRIES = {
    CONFIG_FILE: "run config",
    EPISODES_CSV: "episode log",
    LOCK_NAME: "lock file",
    CHECKPOINTS_DIR: "checkpoints/ folder",
    BEST_DIR: "best/ folder",
}
# Errors that restoring a checkpoint's content may raise when a file is well-formed on disk (digests match) but
# its content does not fit (crafted, or written by a buggy tool): reported as a CheckpointError naming the file.
_LOAD_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    IndexError,
    AttributeError,
    OverflowError,
    RecursionError,
    RuntimeError,
)


@dataclass(frozen=True)
class EpisodeEvent:
    """Passed to ``on_episode`` after each finished episode (training and evaluation)."""

    episode: int
    global_step: int
    episode_return: float
    episode_length: int
    rolling_mean: float
    best_metric: float | None
    is_best: bool
    steps_per_second: float
    target_episodes: int | None
    target_steps: int | None


@dataclass(frozen=True)
class TrainResult:
    """How ``Runner.train`` ended. ``exit_code`` follows the shell convention for signals (130/143)."""

    status: str
    signal: str | None
    exit_code: int
    already_finished: bool
    run_dir: Path
    checkpoint: Path | None
    episode: int
    global_step: int
    best_metric: float | None
    best_episode: int | None
    last_return: float | None
    rolling_mean: float | None
    weights_sha256: str
    state_sha256: str
    resume_command: str

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["run_dir"] = str(self.run_dir)
        out["checkpoint"] = None if self.checkpoint is None else str(self.checkpoint)
        return out


def _print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_holds_a_run(run_dir: Path) -> bool:
    return (run_dir / CONFIG_FILE).exists() or (run_dir / CHECKPOINTS_DIR).exists() or (run_dir / EPISODES_CSV).exists()


def check_run_entries(run_dir: Path) -> None:
    """``RunnerError`` if any file or folder the runner uses in ``run_dir`` is a symbolic link."""
    for name, what in RUN_ENTRIES.items():
        refuse_symlink(Path(run_dir) / name, what)


def read_folder_config(run_dir: Path) -> RunConfig | None:
    """The ``config.json`` of a run folder (``None`` if there is none), read safely.

    Unlike ``load_run_config`` (for config files the user names), this refuses a symbolic link or a FIFO in
    place of the file and any JSON naming a class: ``CheckpointError``/``RunnerError`` with the reason.
    """
    path = Path(run_dir) / CONFIG_FILE
    if not path.exists() and not path.is_symlink():
        return None
    try:
        return RunConfig.from_dict(parse_json(read_regular_file(path, "run config"), str(path)))
    except (OSError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path} is unreadable or invalid: {exc}") from None


@contextmanager
def loading(path: Path, what: str) -> Iterator[None]:
    """Turn any error raised while applying the content of ``path`` into a ``CheckpointError`` naming it."""
    try:
        yield
    except RunnerError:
        raise
    except _LOAD_ERRORS as exc:
        detail = f"missing entry {exc.args[0]!r}" if isinstance(exc, KeyError) and exc.args else str(exc)
        raise CheckpointError(
            f"{path} cannot be used ({what}): {type(exc).__name__}: {detail or 'invalid content'}"
        ) from exc


def _int_field(info: dict[str, Any], name: str, minimum: int = 0) -> int:
    value = info[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _bool_field(info: dict[str, Any], name: str) -> bool:
    value = info[name]
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _float_field(info: dict[str, Any], name: str) -> float:
    value = info[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def build_agent(config: RunConfig, env: Any, seed: int) -> Any:
    from agents.registry import make_agent, make_agent_config

    agent_config = make_agent_config(config.agent, _tuplify(config.agent_config))
    return make_agent(config.agent, env.observation_space, env.action_space, agent_config, seed)


def _tuplify(value: Any) -> Any:
    """JSON/TOML give lists where config dataclasses hold tuples."""
    if isinstance(value, list):
        return tuple(_tuplify(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuplify(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- observation <-> arrays


def obs_to_arrays(obs: Any, prefix: str = "obs") -> tuple[Any, dict[str, np.ndarray]]:
    """Encode an observation as (structure description, arrays) for ``runner.safetensors``."""
    if obs is None:
        return None, {}
    if isinstance(obs, dict):
        kinds, arrays = {}, {}
        for key in obs:
            kinds[key], sub = obs_to_arrays(obs[key], f"{prefix}.{key}")
            arrays.update(sub)
        return {"type": "dict", "items": kinds}, arrays
    if isinstance(obs, tuple):
        kinds, arrays = [], {}
        for i, item in enumerate(obs):
            kind, sub = obs_to_arrays(item, f"{prefix}.{i}")
            kinds.append(kind)
            arrays.update(sub)
        return {"type": "tuple", "items": kinds}, arrays
    if isinstance(obs, bool):
        return {"type": "bool"}, {prefix: np.asarray(obs, dtype=np.bool_)}
    if isinstance(obs, int):
        return {"type": "int"}, {prefix: np.asarray(obs, dtype=np.int64)}
    if isinstance(obs, float):
        return {"type": "float"}, {prefix: np.asarray(obs, dtype=np.float64)}
    array = np.asarray(obs)
    return {"type": "array", "scalar": isinstance(obs, np.generic)}, {prefix: array}


def obs_from_arrays(kind: Any, arrays: dict[str, np.ndarray], prefix: str = "obs") -> Any:
    if kind is None:
        return None
    kind_type = kind["type"]
    if kind_type == "dict":
        return {key: obs_from_arrays(sub, arrays, f"{prefix}.{key}") for key, sub in kind["items"].items()}
    if kind_type == "tuple":
        return tuple(obs_from_arrays(sub, arrays, f"{prefix}.{i}") for i, sub in enumerate(kind["items"]))
    array = arrays[prefix]
    if kind_type == "bool":
        return bool(array)
    if kind_type == "int":
        return int(array)
    if kind_type == "float":
        return float(array)
    return array[()] if kind.get("scalar") else array.copy()


# ---------------------------------------------------------------------- the runner


class Runner:
    """Train ``config.agent`` on ``config.env_id`` into ``run_dir``; resumable at any step.

    Args:
        run_dir: The run folder (created if needed).
        config: Required for a fresh run. On resume ``None`` uses the folder's config; a given config must
            match it except for the fields in ``RESUME_MUTABLE_FIELDS`` (``episodes``, ``steps``,
            ``checkpoint_every``, ``keep``, ``stop_when_solved``) and ``seed`` (ignored with a warning).
        resume: Continue the run in ``run_dir`` from its newest valid checkpoint.
        overwrite: For a fresh run, delete a previous run's files in ``run_dir`` instead of refusing.
        on_episode: Called after every finished episode; return ``False`` to stop (status ``"stopped"``).
        log: Receives human-readable messages (resume hint, fallback notices); ``None`` silences them.
        handle_signals: Install SIGINT/SIGTERM flag handlers during ``train()`` (main thread only).
        step_hook: Called with the global step after every env step (tests use it to signal at step k).

    Raises:
        FileExistsError: Fresh run into a folder holding a run, without ``overwrite``.
        FileNotFoundError: ``resume=True`` and the folder has no checkpoint.
        IncompatibleCheckpointError: The given config differs from the run's in a field that shapes the
            trajectory.
        ValueError: Invalid config (unknown agent, bad agent config field, ...).
        RunnerError: A file or folder the runner uses in ``run_dir`` is a symbolic link (``train()`` also raises it
            for an unwritable run folder, a run folder in use (``RunLockedError``), or a full disk
            (``CheckpointError``)).
    """

    def __init__(
        self,
        run_dir: str | Path,
        config: RunConfig | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
        on_episode: Callable[[EpisodeEvent], bool] | None = None,
        log: Callable[[str], None] | None = _print_stderr,
        handle_signals: bool = True,
        step_hook: Callable[[int], None] | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.overwrite = overwrite
        self.on_episode = on_episode
        self._log_fn = log
        self.handle_signals = handle_signals
        self.step_hook = step_hook
        self._stop_at_step: int | None = None  # used by verify_run: stop exactly at this global step
        if self.run_dir.is_dir():
            check_run_entries(self.run_dir)
        if resume:
            if not list_checkpoints(self.run_dir / CHECKPOINTS_DIR):
                raise FileNotFoundError(
                    f"Nothing to resume from: {str(self.run_dir)!r} has no checkpoints "
                    f"(expected {str(self.run_dir / CHECKPOINTS_DIR)!r}). Start a new run instead."
                )
            saved = read_folder_config(self.run_dir)
            if saved is None:
                latest, _ = find_latest_valid(self.run_dir / CHECKPOINTS_DIR)
                if latest is None:
                    raise CheckpointError(f"{str(self.run_dir)!r} has no config.json and no valid checkpoint.")
                with loading(latest.path / "config.json", "run config"):
                    saved = RunConfig.from_dict(latest.json("config.json"))
            self.config = self._merge_resume_config(saved, config)
        else:
            if config is None:
                raise ValueError("A fresh run needs a RunConfig (or pass resume=True to continue a run).")
            if run_holds_a_run(self.run_dir) and not overwrite:
                raise FileExistsError(
                    f"{str(self.run_dir)!r} already holds a run. Resume it (sphgym resume {self.run_dir}), "
                    f"choose another folder, or pass overwrite=True / --overwrite to replace it."
                )
            self.config = config.resolved()

    # ------------------------------------------------------------------ helpers

    def _log(self, message: str) -> None:
        if self._log_fn is not None:
            self._log_fn(message)

    def _warn(self, message: str) -> None:
        warnings.warn(message, RunnerWarning, stacklevel=3)

    def _merge_resume_config(self, saved: RunConfig, given: RunConfig | None) -> RunConfig:
        if given is None:
            return saved
        given = given.resolved()
        diffs = config_differences(saved, given, ignore=RESUME_MUTABLE_FIELDS | {"seed"})
        if diffs:
            raise IncompatibleCheckpointError(
                f"Cannot resume {str(self.run_dir)!r} with a different config: "
                + "; ".join(diffs)
                + ". Only episodes, steps, checkpoint_every, keep and stop_when_solved may change on resume."
            )
        if given.seed != saved.seed:
            self._warn(f"Resuming ignores seed={given.seed}: the run continues with its own seed {saved.seed}.")
        return saved.replace(**{name: getattr(given, name) for name in RESUME_MUTABLE_FIELDS})

    # ------------------------------------------------------------------ public

    def train(self, *, episodes: int | None = None, steps: int | None = None) -> TrainResult:
        """Run to the target; ``episodes``/``steps`` (if given) replace the config's target first.

        Returns:
            A ``TrainResult``; ``status`` is ``completed``, ``solved``, ``stopped_early``, ``interrupted`` (a
            signal;
            a checkpoint was written) or ``stopped`` (``on_episode`` returned False).
        """
        changes = {k: v for k, v in (("episodes", episodes), ("steps", steps)) if v is not None}
        if changes:
            self.config = self.config.replace(**changes)
        lock = RunLock(self.run_dir)
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            lock.acquire()
        except PermissionError as exc:
            raise RunnerError(
                f"Cannot write to the run folder {str(self.run_dir)!r} ({exc.strerror or exc}: "
                f"{exc.filename or self.run_dir}). Choose a folder you can write to (--run-dir) or fix its "
                "permissions."
            ) from None
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                raise
            raise RunnerError(f"Cannot write to the run folder {str(self.run_dir)!r}: {exc.strerror or exc}.") from None
        try:
            with StopFlag(self.handle_signals, self._log_fn) as flag:
                session = _Session(self, flag)
                try:
                    result = session.run()
                except BaseException as exc:
                    session.close(quiet=True)  # the original error is the one to report
                    if _is_disk_error(exc):
                        raise self._disk_error(exc) from exc
                    if isinstance(exc, Exception) and not isinstance(exc, RunnerError):
                        self._log_failure(session)
                    raise
                try:
                    session.close()
                except OSError as exc:
                    if not _is_disk_error(exc):
                        raise
                    raise self._disk_error(exc) from exc
                return result
        finally:
            lock.release()

    def _log_failure(self, session: _Session) -> None:
        """Where training stopped when the env or agent raised (the error itself is re-raised)."""
        if not hasattr(session, "global_step"):
            return  # failed while setting up: nothing was trained or written
        try:
            latest, _ = find_latest_valid(self.run_dir / CHECKPOINTS_DIR)
        except (OSError, RunnerError):
            latest = None
        where = f"episode {session.episode + 1}, global step {session.global_step}"
        self._log(
            f"Training stopped by an error in {where}; the newest checkpoint "
            f"({latest.id if latest is not None else 'none'}) is intact."
        )

    def _disk_error(self, exc: OSError) -> CheckpointError:
        """A clear message for a full (or read-only, or failing) disk met outside the checkpoint write."""
        try:
            latest, _ = find_latest_valid(self.run_dir / CHECKPOINTS_DIR)
        except RunnerError:
            latest = None
        where = exc.filename or "the run folder"
        return CheckpointError(
            f"Could not write {where}: {exc.strerror or exc}. The newest checkpoint "
            f"({latest.id if latest else 'none'}) is intact; free space, then resume with: "
            f"sphgym resume {shlex.quote(str(self.run_dir))}"
        )


def _is_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


class _BackgroundWriter:
    """Runs checkpoint disk work in one background thread, one job at a time; re-raises its errors later."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _run(self, job: Callable[[], None]) -> None:
        try:
            job()
        except BaseException as exc:
            self._error = exc

    @property
    def busy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def failed(self) -> bool:
        """The last job raised (``wait()`` re-raises it); checked at every episode end, so a failed periodic
        checkpoint stops the run at once instead of at the next checkpoint."""
        return self._error is not None

    def submit(self, job: Callable[[], None]) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._run, args=(job,), name="sphgym-checkpoint", daemon=True)
        self._thread.start()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def join_quietly(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None


class _Session:
    """One ``train()`` call: the env, the agent, the logs and the loop state."""

    def __init__(self, runner: Runner, flag: StopFlag) -> None:
        self.runner = runner
        self.flag = flag
        self.writer = _BackgroundWriter()
        self.run_dir = runner.run_dir
        self.ckpt_root = self.run_dir / CHECKPOINTS_DIR
        self.csv: EpisodeLog | None = None
        self.tb = None
        self.env = None

    # ------------------------------------------------------------------ setup

    def _prepare_fresh(self) -> None:
        config = self.runner.config
        if not self.runner.overwrite and run_holds_a_run(self.run_dir):
            raise FileExistsError(f"{str(self.run_dir)!r} already holds a run (created since this Runner was made).")
        self.seeds = config.derived_seeds()
        # The process-global RNGs start from the run seed too (recorded in runner.json with the other seeds),
        # so a library drawing from np.random / random behind our back is reproducible, and two fresh runs of
        # one seed write identical rng.json files.
        torch_was_loaded = "torch" in sys.modules
        seed_global_rng(self.seeds)
        # Env and agent before anything is written: an env or space they cannot handle leaves no half-made run
        # (and --overwrite deletes the previous run only once the new one can start).
        self.env = env_state.make_env(config.env_id, dict(config.env_kwargs))
        self.env.action_space.seed(self.seeds["action_space"])
        self.env.observation_space.seed(self.seeds["observation_space"])
        self.agent = build_agent(config, self.env, self.seeds["agent"])
        if not torch_was_loaded and "torch" in sys.modules:
            seed_torch_global(self.seeds)  # the agent imported torch: its global generator starts seeded too
        self.meta_static = self._static_meta()
        if self.runner.overwrite:
            for name in (CHECKPOINTS_DIR, BEST_DIR):
                remove_tree(self.run_dir / name)
            for path in list(self.run_dir.iterdir()):
                if path.name in (CONFIG_FILE, EPISODES_CSV) or path.name.startswith("events.out.tfevents."):
                    path.unlink()
        atomic_write_bytes(self.run_dir / CONFIG_FILE, json_bytes(config.to_dict()))
        self._init_tracker()
        self.episode = 0
        self.global_step = 0
        self.episode_step = 0
        self.in_episode = False
        self.episode_return = 0.0
        self.obs = None
        self.env_reset_done = False
        self.status = "running"
        self.csv = EpisodeLog(self.run_dir, 0, None)
        self._open_tensorboard(purge_step=0)

    def _init_tracker(self) -> None:
        config = self.runner.config
        threshold = config.reward_threshold
        if threshold is None and self.env.spec is not None:
            threshold = self.env.spec.reward_threshold
        self.reward_threshold = threshold
        self.tracker = EpisodeTracker(
            window=config.metric_window,
            mode=config.early_stopping_mode,
            min_delta=config.early_stopping_min_delta,
            patience=config.early_stopping_patience,
            reward_threshold=threshold,
        )

    def _prepare_resume(self) -> bool:
        """Restore the newest valid checkpoint; returns False if the run had already finished.

        Digests prove a file is what was written; its content is still checked as it is applied (a crafted
        checkpoint with matching digests, or one from a buggy tool): any problem is a ``CheckpointError`` naming
        the file, raised before training starts.
        """
        config = self.runner.config
        ckpt, problems = find_latest_valid(self.ckpt_root)
        if ckpt is None:
            raise CheckpointError(
                f"No valid checkpoint in {str(self.ckpt_root)!r}, the run cannot be resumed: "
                + "; ".join(f"{p.name}: {m.replace(str(p) + '/', '').replace(str(p) + ' ', '')}" for p, m in problems)
            )
        for path, problem in problems:
            self.runner._warn(f"Skipping checkpoint {path.name}: {problem}. Using an older one.")
        for path, _ in problems:  # newer but broken: they would shadow the checkpoints this session writes
            remove_tree(path)
        self.loaded = ckpt
        where = ckpt.path
        with loading(where / "config.json", "run config"):
            saved_config = RunConfig.from_dict(ckpt.json("config.json"))
        diffs = config_differences(saved_config, config, ignore=RESUME_MUTABLE_FIELDS | {"seed"})
        if diffs:
            raise IncompatibleCheckpointError(
                f"Checkpoint {ckpt.path} was made with a different config: " + "; ".join(diffs)
            )
        with loading(where / "runner.json", "counters"):
            info = ckpt.json("runner.json")
            self.seeds = {str(k): int(v) for k, v in info["seeds"].items()}
            missing = {"agent", "env", "action_space", "observation_space"} - set(self.seeds)
            if missing:
                raise ValueError(f"seeds lacks {sorted(missing)}")
            self.episode = _int_field(info, "episode")
            self.global_step = _int_field(info, "global_step")
            self.episode_step = _int_field(info, "episode_step")
            self.in_episode = _bool_field(info, "in_episode")
            self.episode_return = _float_field(info, "episode_return")
            self.env_reset_done = _bool_field(info, "env_reset_done")
            self.status = info["status"]
            if self.status not in STATUSES:
                raise ValueError(f"unknown status {self.status!r}")
            if parse_checkpoint_id(ckpt.id) != (self.episode, self.global_step):
                raise ValueError(
                    f"its counters (episode {self.episode}, step {self.global_step}) contradict the "
                    f"checkpoint's name {ckpt.id}"
                )
            if self.episode_step > self.global_step or (self.episode_step and not self.in_episode):
                raise ValueError(f"episode_step {self.episode_step} is inconsistent with the other counters")
            csv_sha256 = info["episodes_csv_sha256"]
            if not isinstance(csv_sha256, str):
                raise ValueError("episodes_csv_sha256 must be a string")
            tracker_state = info["tracker"]
            obs_kind = info["obs_kind"]
        self.env = env_state.make_env(config.env_id, dict(config.env_kwargs), from_file=True)
        self.env.action_space.seed(self.seeds["action_space"])
        self.env.observation_space.seed(self.seeds["observation_space"])
        self.agent = build_agent(config, self.env, self.seeds["agent"])
        # After the agent exists: a torch agent has imported torch and pinned its threads by now.
        self.meta_static = self._static_meta()
        runtime_diffs = version_differences(ckpt.meta.get("versions", {}), self.meta_static["versions"])
        runtime_diffs += runtime_differences(ckpt.meta.get("agent_runtime", {}), self.meta_static["agent_runtime"])
        if runtime_diffs:
            self.runner._warn(
                "Library versions or thread settings differ from the checkpoint's ("
                + "; ".join(runtime_diffs)
                + "): the resumed run may not be bit-identical."
            )
        with loading(where / "weights.safetensors", "agent weights"):
            self.agent.set_weights(ckpt.arrays("weights.safetensors"))
        with loading(where / "state.safetensors", "agent state"):
            self.agent.set_state(ckpt.arrays("state.safetensors"))
        self._init_tracker()
        with loading(where / "runner.safetensors", "episode statistics and observation"):
            arrays = ckpt.arrays("runner.safetensors")
            self.tracker.load(tracker_state, arrays)
            self.obs = obs_from_arrays(obs_kind, arrays)
            if self.in_episode and self.obs is None:
                raise ValueError("the checkpoint is mid-episode but holds no observation")
            space = self.env.observation_space
            if self.obs is not None and hasattr(space, "shape") and space.shape is not None:
                if np.shape(self.obs) != tuple(space.shape):
                    raise ValueError(
                        f"the observation has shape {np.shape(self.obs)}, the env's observations {space.shape}"
                    )
        # Env: exact snapshot, or (lacking one) a reconstruction for reset-only-RNG envs.
        if ckpt.has("env.json"):
            with loading(where / "env.json", "env snapshot"):
                snapshot = ckpt.json("env.json")
                if snapshot is not None:
                    if not isinstance(snapshot, dict):
                        raise ValueError("an env snapshot must be a JSON object")
                    if self.in_episode and not snapshot.get("episode_state_captured", False):
                        raise CheckpointError(
                            f"{ckpt.path} is mid-episode but its env snapshot lacks the episode state"
                        )
                    env_state.restore_env_state(self.env, snapshot)
        else:
            self._reconstruct_env(ckpt)
        self.csv = EpisodeLog(self.run_dir, self.episode, csv_sha256)
        # RNG last: building the env and agent above may have drawn from the global generators.
        if ckpt.has("rng.json"):
            with loading(where / "rng.json", "global RNG states"):
                for note in restore_global_rng(ckpt.json("rng.json")):
                    self.runner._warn(note)
        else:
            self.runner._warn(
                f"Checkpoint {ckpt.path.name} has no rng.json: the global Python/numpy/torch RNGs are NOT "
                "restored; "
                "the run continues but is exact only if nothing draws from them."
            )
        return not self._already_finished()

    def _reconstruct_env(self, ckpt: Checkpoint) -> None:
        config = self.runner.config
        if self.in_episode:
            raise CheckpointError(
                f"Checkpoint {ckpt.path.name} is mid-episode and has no env.json: the env state cannot be restored."
            )
        if config.env_id in env_state.RESET_ONLY_RNG_ENVS:
            resets = self.episode
            env_state.reconstruct_env_rng(self.env, self.seeds["env"], resets)
            self.runner._warn(
                f"Checkpoint {ckpt.path.name} has no env.json: rebuilt the {config.env_id} RNG by replaying "
                "one seeded "
                f"reset and {max(0, resets - 1)} more (its RNG is only used by reset). Exact if the run had "
                "no other "
                "env resets."
            )
        else:
            self.runner._warn(
                f"Checkpoint {ckpt.path.name} has no env.json and the RNG of {config.env_id} cannot be "
                "rebuilt: the "
                "env restarts from its seed, so the resumed run will NOT match an uninterrupted one."
            )
            self.env_reset_done = False

    def _already_finished(self) -> bool:
        config = self.runner.config
        if self.status == "stopped_early":
            return True
        if self.status == "solved" and config.stop_when_solved:
            return True
        return self._target_reached()

    def _target_reached(self) -> bool:
        config = self.runner.config
        if config.steps is not None and self.global_step >= config.steps:
            return True
        return config.episodes is not None and self.episode >= config.episodes and not self.in_episode

    def _open_tensorboard(self, purge_step: int) -> None:
        if self.runner.config.tensorboard:
            from agents.runner.tensorboard_log import ScalarWriter

            self.tb = ScalarWriter(self.run_dir, purge_step)

    # ------------------------------------------------------------------ snapshots and checkpoints

    def _snapshot_files(self) -> dict[str, bytes]:
        """Everything needed to continue from this step boundary, as file bytes."""
        obs_kind, obs_arrays = obs_to_arrays(self.obs if self.in_episode else None)
        runner_arrays = dict(self.tracker.state_arrays())
        runner_arrays.update(obs_arrays)
        info = {
            "episode": self.episode,
            "global_step": self.global_step,
            "episode_step": self.episode_step,
            "in_episode": self.in_episode,
            "episode_return": self.episode_return,
            "env_reset_done": self.env_reset_done,
            "obs_kind": obs_kind,
            "status": self.status,
            "seeds": self.seeds,
            "tracker": self.tracker.state_json(),
            "reward_threshold": self.reward_threshold,
            "episodes_csv_rows": self.csv.rows,
            "episodes_csv_sha256": self.csv.sha256,
        }
        return {
            "weights.safetensors": arrays_to_bytes(self.agent.get_weights()),
            "state.safetensors": arrays_to_bytes(self.agent.get_state()),
            "runner.safetensors": arrays_to_bytes(runner_arrays),
            "runner.json": json_bytes(info),
            "rng.json": json_bytes(capture_global_rng(), pretty=False),
            "env.json": json_bytes(
                env_state.capture_env_state(self.env) if self.env_reset_done else None, pretty=False
            ),
            "config.json": json_bytes(self.runner.config.to_dict()),
        }

    def _checkpoint(self, kind: str, files: dict[str, bytes] | None = None, wait: bool = True) -> Path:
        """Write a checkpoint of the current state (or of ``files``, a prepared boundary snapshot).

        The state is serialised here, in the training thread; the disk work (fsyncs of the logs, the ``best/``
        copy, the checkpoint directory, rotation) runs in a background thread, one write at a time. ``wait``
        blocks until it is durable (final and signal checkpoints); periodic ones overlap with training.
        A failed write raises ``CheckpointError`` at the next checkpoint or at the end of ``train()``.
        """
        if files is None:
            files = self._snapshot_files()
        info = json.loads(files["runner.json"])
        ckpt_id = checkpoint_id(info["episode"], info["global_step"])
        # Logs first: a checkpoint must never be ahead of episodes.csv or the TensorBoard events it covers.
        # Their buffers are handed to the OS now; the background job fsyncs them before writing the
        # checkpoint.
        self.csv.flush()
        log_fds = [self.csv.fileno()]
        if self.tb is not None:
            self.tb.flush()
            log_fds.append(self.tb.fileno())
        best, self.pending_best = self.pending_best, None
        meta = dict(
            self.meta_static,
            kind=kind,
            created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            created_unix=time.time(),
            episode=info["episode"],
            global_step=info["global_step"],
        )
        root, keep = self.ckpt_root, self.runner.config.keep
        resume_command = f"sphgym resume {shlex.quote(str(self.run_dir))}"

        def write() -> None:
            try:
                for fd in log_fds:
                    os.fsync(fd)
                if best is not None:
                    self._write_best(*best)
                path = write_checkpoint(root, ckpt_id, files, meta)
                rotate(root, keep, protect=path)
            except OSError as exc:
                try:
                    latest, _ = find_latest_valid(root)
                except (OSError, RunnerError):
                    latest = None
                raise CheckpointError(
                    f"Could not write checkpoint {ckpt_id}: {exc.strerror or exc}. The newest valid checkpoint "
                    f"({latest.id if latest is not None else 'none'}) is intact; free space (or fix the "
                    f"folder's permissions), then resume with: {resume_command}"
                ) from exc

        self.writer.submit(write)
        if wait:
            self.writer.wait()
        self.last_checkpoint = root / ckpt_id
        self.last_files = files
        self.last_checkpoint_episode = info["episode"]
        self.last_checkpoint_time = time.monotonic()
        return self.last_checkpoint

    def _note_best(self, metric: float) -> None:
        self.pending_best = (
            arrays_to_bytes(self.agent.get_weights()),
            {"episode": self.episode, "global_step": self.global_step, "metric": metric},
        )

    def _write_best(self, weights: bytes, info: dict[str, Any]) -> None:
        best_dir = self.run_dir / BEST_DIR
        refuse_symlink(best_dir, "best/ folder")
        best_dir.mkdir(exist_ok=True)
        info = dict(info, weights_sha256=sha256_bytes(weights), config=self.runner.config.to_dict())
        # weights first, then best.json naming its digest: a reader can always tell if they belong together.
        atomic_write_bytes(best_dir / "weights.safetensors", weights)
        atomic_write_bytes(best_dir / "best.json", json_bytes(info))

    # ------------------------------------------------------------------ the loop

    def _static_meta(self) -> dict[str, Any]:
        """Versions and thread settings for every checkpoint's meta.json; built once the agent exists."""
        runtime_info = getattr(self.agent, "runtime_info", None)
        return {
            "versions": library_versions(),
            "threads": thread_settings(),
            "agent_runtime": runtime_info() if callable(runtime_info) else {},
            "agent_rng_keys": list(getattr(self.agent, "rng_state_keys", ())),
            "env_backend": env_state.env_backend(),
            "agent": self.runner.config.agent,
            "env_id": self.runner.config.env_id,
        }

    def run(self) -> TrainResult:
        runner = self.runner
        config = runner.config
        clean_temporaries(self.ckpt_root)
        self.pending_best = None
        self.last_checkpoint = None
        self.last_files = None
        self.last_checkpoint_episode = 0
        self.last_checkpoint_time = time.monotonic()
        if runner.resume:
            if not self._prepare_resume():
                runner._log(f"{self.run_dir} already finished ({self.status}); nothing to do.")
                return self._result(self.status, None, already_finished=True)
            self.last_checkpoint = self.loaded.path
            self.last_checkpoint_episode = self.episode
            self._open_tensorboard(purge_step=self.global_step + 1)
            if self.status not in FINAL_STATUSES or not self._target_reached():
                self.status = "running"
        else:
            self._prepare_fresh()
            self._checkpoint("initial", wait=False)
        capture_mid_episode = env_state.can_capture_episode_state(self.env)
        boundary_files = None if capture_mid_episode else self._snapshot_files_if_boundary()

        env, agent, tracker = self.env, self.agent, self.tracker
        session_start_step, session_start_time = self.global_step, time.perf_counter()
        stop_at = runner._stop_at_step
        status, signal_name = "running", None
        while True:
            # ---- step boundary: the only place where the run stops or is checkpointed
            if self.flag.raised:
                status, signal_name = "interrupted", self.flag.signal_name
                break
            if stop_at is not None and self.global_step >= stop_at:
                status = "stopped"
                break
            if self.status in ("solved", "stopped_early"):
                status = self.status
                break
            if self._target_reached():
                status = "completed"
                break
            if not self.in_episode:
                if self.env_reset_done:
                    self.obs, _ = env.reset()
                else:
                    self.obs, _ = env.reset(seed=self.seeds["env"])
                    self.env_reset_done = True
                agent.clear_state()
                self.in_episode, self.episode_step, self.episode_return = True, 0, 0.0

            action = agent.act(self.obs)
            self.obs, reward, terminated, truncated, _ = env.step(action)
            agent.observe(self.obs, reward, terminated, truncated)
            self.global_step += 1
            self.episode_step += 1
            self.episode_return += float(reward)
            if runner.step_hook is not None:
                runner.step_hook(self.global_step)
            if not (terminated or truncated):
                continue

            # ---- episode end
            episode_return, length = self.episode_return, self.episode_step
            self.in_episode, self.obs, self.episode_return, self.episode_step = False, None, 0.0, 0
            self.episode += 1
            self.csv.append(self.episode, self.global_step, episode_return, length)
            update = tracker.update(episode_return, length, self.episode, self.global_step)
            if self.episode % config.best_every == 0 and tracker.offer_saved_best(self.episode):
                self._note_best(update.rolling_mean)
            elapsed = time.perf_counter() - session_start_time
            fps = (self.global_step - session_start_step) / elapsed if elapsed > 0 else 0.0
            if self.tb is not None:
                step = self.global_step
                self.tb.add_scalar("charts/episodic_return", episode_return, step)
                self.tb.add_scalar("charts/episodic_length", length, step)
                self.tb.add_scalar("rollout/ep_rew_mean", update.rolling_mean, step)
                self.tb.add_scalar("rollout/ep_len_mean", update.rolling_length, step)
                self.tb.add_scalar("charts/best_mean_return", tracker.best_metric, step)
                self.tb.add_scalar("time/fps", fps, step)
                self.tb.maybe_flush()
            if update.solved and config.stop_when_solved:
                self.status = "solved"
            elif update.stop_early:
                self.status = "stopped_early"
            keep_going = True
            if runner.on_episode is not None:
                keep_going = (
                    runner.on_episode(
                        EpisodeEvent(
                            episode=self.episode,
                            global_step=self.global_step,
                            episode_return=episode_return,
                            episode_length=length,
                            rolling_mean=update.rolling_mean,
                            best_metric=tracker.best_metric,
                            is_best=update.is_best,
                            steps_per_second=fps,
                            target_episodes=config.episodes,
                            target_steps=config.steps,
                        )
                    )
                    is not False
                )
            if (
                self.status == "running"
                and self.episode - self.last_checkpoint_episode >= config.checkpoint_every
                and time.monotonic() - self.last_checkpoint_time >= config.checkpoint_min_interval
                # With a minimum interval the positions are time-based anyway: never stall training on I/O,
                # try again at the next boundary. Without one, checkpoints land exactly every N episodes.
                and not (config.checkpoint_min_interval > 0 and self.writer.busy)
            ):
                self._checkpoint("periodic", wait=False)
                boundary_files = self.last_files
            elif not capture_mid_episode:
                boundary_files = self._snapshot_files()
            if self.writer.failed:
                self.writer.wait()  # raises the CheckpointError of the failed periodic write: stop now
            if not keep_going:
                status = "stopped"
                break
            self.csv.flush()

        # ---- final checkpoint
        if status in FINAL_STATUSES:
            self.status = status
        if self.in_episode and not capture_mid_episode:
            # The env's mid-episode state cannot be saved: save the last episode boundary; resume replays from
            # it.
            path = self._checkpoint(status if status != "interrupted" else "signal-boundary", boundary_files)
            runner._log(
                f"Note: {config.env_id}'s mid-episode state cannot be captured; the checkpoint is the last "
                "episode "
                f"boundary (episode {self.episode}), and a resume replays the current episode exactly."
            )
        else:
            path = self._checkpoint("signal" if status == "interrupted" else "final")
        result = self._result(status, signal_name)
        if status == "interrupted":
            runner._log(
                f"Interrupted by {signal_name}: checkpoint {path.name} written. Resume with: {result.resume_command}"
            )
        return result

    def _snapshot_files_if_boundary(self) -> dict[str, bytes] | None:
        if self.in_episode:
            raise CheckpointError(
                f"The newest checkpoint is mid-episode but {self.runner.config.env_id}'s episode state "
                "cannot be "
                "captured now; it was written by a different envs/ version."
            )
        return self._snapshot_files()

    def _result(self, status: str, signal_name: str | None, already_finished: bool = False) -> TrainResult:
        files = self.last_files if self.last_files is not None else getattr(self, "loaded", None).files
        checkpoint = self.last_checkpoint if self.last_checkpoint is not None else self.loaded.path
        info = json.loads(files["runner.json"])
        last = self.tracker.returns[-1] if self.tracker.returns else None
        return TrainResult(
            status=status,
            signal=signal_name,
            exit_code=exit_code_for(signal_name),
            already_finished=already_finished,
            run_dir=self.run_dir,
            checkpoint=checkpoint,
            episode=int(info["episode"]),
            global_step=int(info["global_step"]),
            best_metric=self.tracker.best_metric,
            best_episode=self.tracker.best_episode,
            last_return=last,
            rolling_mean=self.tracker.rolling_mean,
            weights_sha256=sha256_bytes(files["weights.safetensors"]),
            state_sha256=sha256_bytes(files["state.safetensors"]),
            resume_command=f"sphgym resume {shlex.quote(str(self.run_dir))}",
        )

    def close(self, quiet: bool = False) -> None:
        """Release files and the env. ``quiet``: an error is already being raised, so errors here (a full
        disk refusing the last flush) are dropped instead of hiding it."""
        self.writer.join_quietly()  # normally already done: the final checkpoint waits for it
        first: BaseException | None = None
        for closer in (self.csv, self.tb, self.env):
            if closer is None:
                continue
            try:
                closer.close()
            except Exception as exc:
                if first is None:
                    first = exc
        if first is not None and not quiet:
            raise first
