"""The episode runner: trains one agent on one env, checkpoints, and resumes exactly.

The loop is the Agent protocol's (agents/protocol.py)::

    obs = env.reset(seed=env_seed if first episode else None); agent.clear_state()
    loop: action = agent.act(obs); obs, r, term, trunc = env.step(action); agent.observe(obs, r, term, trunc)

A checkpoint can be written at any step boundary (between ``observe`` and the next ``act``): periodically
every ``checkpoint_every`` episodes, on SIGINT/SIGTERM (mid-episode included), and at the end. Restoring it
into fresh objects continues bit-identically. For an env whose mid-episode state cannot be captured, the
runner keeps an in-memory snapshot of the last episode boundary and writes that instead; the resumed run
replays the episode.

With ``n_envs`` = N > 1 the env is a Gymnasium ``SyncVectorEnv`` of N copies (next-step autoreset: the step
after a copy's episode ended resets it; ``env_state.make_run_vector_env``) and the loop is
``actions = agent.act_batch(obs, active); obs, r, term, trunc = env.step(actions); agent.observe_batch(...)``,
where ``active`` is False for the copies taking a reset step. Every vector step is N env steps (``global_step``
+= N; a ``steps`` budget stops at the first multiple of N that reaches it). Episodes that end in one vector step
are accounted (episodes.csv, tracker, TensorBoard, callbacks) one by one in env index order, all at that
step's ``global_step``: the order is by step, then env index. A checkpoint at any vector step boundary holds
every copy's env snapshot, the autoreset flags, the batched observation and each copy's episode length and
return (``runner.safetensors``: ``vector.episode_steps`` / ``vector.episode_returns``), so N > 1 needs an env
whose mid-episode state can be captured (there is no common episode boundary to fall back to).

This module holds the loop only. The run folder's layout is ``run_folder``'s, ``runner.json`` is ``RunState``'s,
checkpoint files are ``checkpoint``'s, applying one is ``restore``'s; whatever watches a run is a callback
(``callbacks``): it sees values and can only stop the run.
"""

from __future__ import annotations

import errno
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from agents.protocol import agent_metrics_hook
from agents.runner import env_state
from agents.runner.callbacks import Callback, CheckpointEvent, EpisodeEvent, as_callbacks
from agents.runner.checkpoint import (
    CONFIG_JSON,
    ENV_JSON,
    RNG_JSON,
    RUNNER_ARRAYS,
    RUNNER_JSON,
    STATE,
    WEIGHTS,
    BackgroundWriter,
    arrays_to_bytes,
    checkpoint_id,
    clean_temporaries,
    is_checkpoint_dir,
    find_latest_valid,
    newest_valid_id,
    json_bytes,
    list_checkpoints,
    loading,
    obs_to_arrays,
    parse_checkpoint_id,
    remove_tree,
    rotate,
    stray_entries,
    write_checkpoint,
)
from agents.runner.config import RESUME_MUTABLE_FIELDS, RunConfig, build_agent, config_differences
from agents.runner.episode_log import EpisodeLog
from agents.runner.errors import (
    CheckpointError,
    IncompatibleCheckpointError,
    RunnerError,
    RunnerWarning,
    TrainingDivergedError,
)
from agents.runner.fsutil import DISK_ERRNOS, sha256_bytes
from agents.runner.lock import RunLock
from agents.runner.metadata import runtime_differences, static_meta, version_differences
from agents.runner.restore import restore_env, restore_global_rngs, restore_runner_arrays
from agents.runner.rng_state import capture_global_rng, seed_global_rng, seed_torch_global
from agents.runner.run_folder import (
    CHECKPOINTS_DIR,
    check_entries,
    holds_a_run,
    read_config,
    read_run_config,
    remove_run,
    resume_command,
    write_best,
    write_config,
)
from agents.runner.run_state import FINAL_STATUSES, RunState
from agents.runner.signals import StopFlag, exit_code_for
from agents.runner.tracking import EpisodeTracker

__all__ = ["EpisodeEvent", "Runner", "TrainResult"]


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

    def checkpoint_event(self) -> CheckpointEvent:
        """The run's last checkpoint as a callback event (e.g. to report a run that had already finished)."""
        return CheckpointEvent(
            path=Path(self.checkpoint),
            kind="final",
            final=True,
            episode=self.episode,
            global_step=self.global_step,
            status=self.status,
            best_metric=self.best_metric,
            weights_sha256=self.weights_sha256,
            state_sha256=self.state_sha256,
        )


def _print_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
        callbacks: ``agents.runner.callbacks.Callback`` objects (progress, reporters, ``StopAtStep``); they see
            values only and can only stop the run. ``step_hook`` and ``on_episode`` are callbacks too.

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
        callbacks: Sequence[Callback] = (),
    ) -> None:
        self.run_dir = Path(run_dir)
        self.resume = resume
        self.overwrite = overwrite
        self.callbacks = as_callbacks(callbacks, on_episode=on_episode, step_hook=step_hook)
        self._log_fn = log
        self.handle_signals = handle_signals
        if self.run_dir.is_dir():
            check_entries(self.run_dir)
        if resume and is_checkpoint_dir(self.run_dir):
            raise FileNotFoundError(
                f"{str(self.run_dir)!r} is a checkpoint folder, not a run folder: pass the run folder "
                f"(sphgym resume {self.run_dir.parent.parent}); a resume always continues from its newest valid "
                "checkpoint"
            )
        if resume and not list_checkpoints(self.run_dir / CHECKPOINTS_DIR):
            recorded = read_config(self.run_dir) if self.run_dir.is_dir() else None
            if recorded is None:
                raise FileNotFoundError(
                    f"Nothing to resume from: {str(self.run_dir)!r} has no checkpoints "
                    f"(expected {str(self.run_dir / CHECKPOINTS_DIR)!r}). Start a new run instead."
                )
            # The run stopped (crash, full disk) before its first checkpoint: nothing was trained that could be
            # kept, so "resume" starts it over from its recorded config; the result is the uninterrupted run's.
            self._log(
                f"{self.run_dir} has no checkpoint yet (its first session stopped before writing one): "
                "starting the run over from its recorded config."
            )
            self.config = self._merge_resume_config(recorded, config)
            self.resume, self.overwrite = False, True
        elif resume:
            self.folder_config = read_run_config(self.run_dir)
            self.config = self._merge_resume_config(self.folder_config, config)
        else:
            if config is None:
                raise ValueError("A fresh run needs a RunConfig (or pass resume=True to continue a run).")
            if holds_a_run(self.run_dir) and not overwrite:
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
            signal; a checkpoint was written) or ``stopped`` (a callback or ``on_episode`` returned False).
        """
        changes = {k: v for k, v in (("episodes", episodes), ("steps", steps)) if v is not None}
        if changes:
            self.config = self.config.replace(**changes)
        lock = RunLock(self.run_dir)
        created = not self.run_dir.exists()
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
            if created and not holds_a_run(self.run_dir):
                _remove_if_empty(self.run_dir)  # failed before writing anything (e.g. the env could not be made)

    def _log_failure(self, session: _Session) -> None:
        """Where training stopped when the env or agent raised (the error itself is re-raised)."""
        if not hasattr(session, "global_step"):
            return  # failed while setting up: nothing was trained or written
        where = f"episode {session.episode + 1}, global step {session.global_step}"
        latest = newest_valid_id(self.run_dir / CHECKPOINTS_DIR)
        self._log(f"Training stopped by an error in {where}; the newest checkpoint ({latest}) is intact.")

    def _disk_error(self, exc: OSError) -> CheckpointError:
        """A clear message for a full (or read-only, or failing) disk met outside the checkpoint write."""
        root = self.run_dir / CHECKPOINTS_DIR
        if newest_valid_id(root) != "none" and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return CheckpointError(  # the README's row pins this wording
                f"Could not write {exc.filename or 'the run folder'}: {exc.strerror or exc}. The newest checkpoint "
                f"({newest_valid_id(root)}) is intact; free space, then resume with: {resume_command(self.run_dir)}"
            )
        return CheckpointError(
            f"Could not write {exc.filename or 'the run folder'}: {exc.strerror or exc}. "
            f"{_after_write_failure(root, exc)}resume with: {resume_command(self.run_dir)}"
        )


def _after_write_failure(root: Path, exc: OSError) -> str:
    """What is kept and what to do after a failed write, up to "resume with: ".

    The advice follows the errno: free space only for a full disk or quota, permissions for a refused write, the
    named path for a file in the way; with no checkpoint yet, the resume starts the run over.
    """
    latest = newest_valid_id(root)
    if latest == "none":
        return f"No checkpoint was written yet (a resume starts the run over); {_advice_for(exc)}, then "
    return f"The newest valid checkpoint ({latest}) is intact; {_advice_for(exc)}, then "


def _advice_for(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free space (or fix the folder's permissions)"  # the README's disk-full row pins this wording
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "make the run folder writable"
    if exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        in_the_way = getattr(exc, "filename2", None) or exc.filename
        where = f" ({in_the_way})" if in_the_way else ""
        return f"remove or rename what is in the way{where}"
    return "check the disk"


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (the user's files, TensorBoard events) or already gone: leave it


def _is_disk_error(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_ERRNOS


@dataclass(frozen=True)
class _SingleSpaces:
    """The spaces of one env copy of a vector env: what ``build_agent`` reads from an env."""

    observation_space: Any
    action_space: Any


class _Session:
    """One ``train()`` call: the env, the agent, the logs and the loop state."""

    def __init__(self, runner: Runner, flag: StopFlag) -> None:
        self.runner = runner
        self.flag = flag
        self.writer = BackgroundWriter()
        self.run_dir = runner.run_dir
        self.ckpt_root = self.run_dir / CHECKPOINTS_DIR
        self.csv: EpisodeLog | None = None
        self.tb = None
        self.env = None
        self._config_json_of: RunConfig | None = None  # the config whose bytes _config_json_bytes holds
        self._config_json_bytes = b""

    # ------------------------------------------------------------------ setup

    def _prepare_fresh(self) -> None:
        config = self.runner.config
        if not self.runner.overwrite and holds_a_run(self.run_dir):
            raise FileExistsError(f"{str(self.run_dir)!r} already holds a run (created since this Runner was made).")
        self.seeds = config.derived_seeds()
        # The process-global RNGs start from the run seed too (recorded in runner.json with the other seeds),
        # so a library drawing from np.random / random behind our back is reproducible, and two fresh runs of
        # one seed write identical rng.json files.
        torch_was_loaded = "torch" in sys.modules
        seed_global_rng(self.seeds)
        # Env and agent before anything is written: an env or space they cannot handle leaves no half-made run
        # (and --overwrite deletes the previous run only once the new one can start).
        self.env = self._make_env(config, from_file=False)
        self.agent = self._build_agent(config)
        if not torch_was_loaded and "torch" in sys.modules:
            seed_torch_global(self.seeds)  # the agent imported torch: its global generator starts seeded too
        self.meta_static = static_meta(self.agent, config)
        if self.runner.overwrite:
            remove_run(self.run_dir)
        write_config(self.run_dir, config)
        self._init_tracker()
        self.episode = 0
        self.global_step = 0
        self.episode_step = 0
        self.in_episode = False
        self.episode_return = 0.0
        self.obs = None
        self.env_reset_done = False
        self._init_vector_counters()
        self.status = "running"
        self.csv = EpisodeLog(self.run_dir, 0, None)
        self._open_tensorboard(purge_step=0)
        if self.tb is not None:  # once, at step 0 of a fresh run: a resume purges only from its checkpoint step + 1
            self.tb.add_json_text("config", config.to_dict(), 0)

    def _make_env(self, config: RunConfig, from_file: bool) -> Any:
        """The run's env (N > 1: a ``SyncVectorEnv``) with its spaces seeded; N > 1 needs capturable episodes."""
        log = self.runner._log
        if config.n_envs == 1:
            env = env_state.make_run_env(config, from_file=from_file, log=log)
        else:
            env = env_state.make_run_vector_env(config, from_file=from_file, log=log)
            if not env_state.can_capture_episode_state(env):
                env.close()
                raise ValueError(
                    f"--n-envs {config.n_envs} needs an env whose mid-episode state sphgym can capture (N envs never "
                    f"share an episode boundary to resume from), and {config.env_id}'s cannot: use --n-envs 1."
                )
        env_state.seed_spaces(env, self.seeds["action_space"], self.seeds["observation_space"])
        return env

    def _build_agent(self, config: RunConfig) -> Any:
        """The agent for the (single) env's spaces; N > 1: switched to batched acting, or refused in one line."""
        env = self.env
        if config.n_envs == 1:
            return build_agent(config, env, self.seeds["agent"])
        from agents.registry import get_agent_spec

        if not callable(getattr(get_agent_spec(config.agent).agent_class(), "set_n_envs", None)):
            raise ValueError(
                f"the {config.agent} agent steps one env at a time, so --n-envs {config.n_envs} is not supported: "
                "use --n-envs 1, or an agent that batches envs (ppo, dqn, sac)."
            )
        single = _SingleSpaces(env.single_observation_space, env.single_action_space)
        agent = build_agent(config, single, self.seeds["agent"])
        agent.set_n_envs(config.n_envs)
        return agent

    def _init_vector_counters(self) -> None:
        """Each env copy's episode length and return so far (N > 1; one env keeps ``episode_step``/``_return``)."""
        n = self.runner.config.n_envs
        self.episode_steps = np.zeros(n, dtype=np.int64)
        self.episode_returns = np.zeros(n, dtype=np.float64)

    def _restore_vector_counters(self, ckpt: Any) -> None:
        """``vector.*`` of ``runner.safetensors`` into the per-copy counters, checked (N > 1 only)."""
        self._init_vector_counters()
        n = self.runner.config.n_envs
        with loading(ckpt.path / RUNNER_ARRAYS, "per-env episode counters"):
            arrays = ckpt.arrays(RUNNER_ARRAYS)
            steps, returns = arrays["vector.episode_steps"], arrays["vector.episode_returns"]
            if steps.shape != (n,) or steps.dtype != np.int64 or returns.shape != (n,) or returns.dtype != np.float64:
                raise ValueError(f"vector.episode_steps/returns must be {n} int64 / float64 values")
            if (steps < 0).any() or int(steps.max()) > self.global_step or not np.isfinite(returns).all():
                raise ValueError("vector.episode_steps/returns hold negative, too large or non-finite values")
            self.episode_steps[:] = steps
            self.episode_returns[:] = returns

    def _init_tracker(self) -> None:
        config = self.runner.config
        threshold = config.reward_threshold
        spec = env_state.env_spec(self.env)
        if threshold is None and spec is not None:
            threshold = spec.reward_threshold
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
        for path in stray_entries(self.ckpt_root):
            kind = "a symbolic link" if path.is_symlink() else "a file"
            self.runner._warn(
                f"{path} is {kind}, not a checkpoint folder: ignored (sphgym replaces it if it writes a checkpoint "
                "of that name). Remove it if it is not yours to keep."
            )
        for path, _ in problems:  # newer but broken: they would shadow the checkpoints this session writes
            remove_tree(path)
        self.loaded = ckpt
        where = ckpt.path
        with loading(where / CONFIG_JSON, "run config"):
            saved_config = RunConfig.from_dict(ckpt.json(CONFIG_JSON))
        diffs = config_differences(saved_config, config, ignore=RESUME_MUTABLE_FIELDS | {"seed"})
        if diffs:
            raise IncompatibleCheckpointError(
                f"Checkpoint {ckpt.path} was made with a different config: " + "; ".join(diffs)
            )
        config = self._adopt_checkpoint_targets(saved_config)
        with loading(where / RUNNER_JSON, "counters"):
            saved = RunState.from_dict(ckpt.json(RUNNER_JSON))
            if parse_checkpoint_id(ckpt.id) != (saved.episode, saved.global_step):
                raise ValueError(
                    f"its counters (episode {saved.episode}, step {saved.global_step}) contradict the "
                    f"checkpoint's name {ckpt.id}"
                )
        self.seeds = dict(saved.seeds)
        self.episode, self.global_step, self.episode_step = saved.episode, saved.global_step, saved.episode_step
        self.in_episode, self.episode_return = saved.in_episode, saved.episode_return
        self.env_reset_done, self.status = saved.env_reset_done, saved.status
        self.env = self._make_env(config, from_file=True)
        self.agent = self._build_agent(config)
        # After the agent exists: a torch agent has imported torch and pinned its threads by now.
        self.meta_static = static_meta(self.agent, config)
        runtime_diffs = version_differences(ckpt.meta.get("versions", {}), self.meta_static["versions"])
        runtime_diffs += runtime_differences(ckpt.meta.get("agent_runtime", {}), self.meta_static["agent_runtime"])
        if runtime_diffs:
            self.runner._warn(
                "Library versions or thread settings differ from the checkpoint's ("
                + "; ".join(runtime_diffs)
                + "): the resumed run may not be bit-identical."
            )
        with loading(where / WEIGHTS, "agent weights"):
            self.agent.set_weights(ckpt.arrays(WEIGHTS))
        with loading(where / STATE, "agent state"):
            self.agent.set_state(ckpt.arrays(STATE))
        self._init_tracker()
        self.obs = restore_runner_arrays(ckpt, saved, self.tracker, self.env.observation_space)
        self.env_reset_done = restore_env(self.env, ckpt, saved, config.env_id, self.runner._warn)
        if config.n_envs > 1:
            self._restore_vector_counters(ckpt)
        self.csv = EpisodeLog(self.run_dir, self.episode, saved.episodes_csv_sha256)
        restore_global_rngs(ckpt, self.runner._warn)  # last: building the env and agent may have drawn from them
        return not self._already_finished()

    def _adopt_checkpoint_targets(self, saved: RunConfig) -> RunConfig:
        """The newest checkpoint's targets where this resume does not set its own.

        A resume that raised the target (``--episodes 60``) and was interrupted wrote checkpoints with the new
        target. A later plain ``resume`` reads ``config.json``; if that still held the old target (a folder written
        before ``config.json`` was updated on resume), the newest checkpoint's value is the run's latest choice.
        """
        runner = self.runner
        folder = getattr(runner, "folder_config", None)
        if folder is None:
            return runner.config
        adopted = {
            name: getattr(saved, name)
            for name in RESUME_MUTABLE_FIELDS
            if getattr(runner.config, name) == getattr(folder, name) and getattr(saved, name) != getattr(folder, name)
        }
        if adopted:
            runner.config = runner.config.replace(**adopted)
        return runner.config

    def _record_resume_config(self) -> None:
        """Write ``config.json`` when this resume changed a target, so the printed resume command continues it."""
        folder = getattr(self.runner, "folder_config", None)
        if folder is not None and folder.to_dict() != self.runner.config.to_dict():
            write_config(self.run_dir, self.runner.config)

    def _already_finished(self) -> bool:
        """True if the checkpoint ended the run: a final status and nothing left to do under this config.

        A checkpoint at the target whose status is not final (written by a signal that landed as the last
        episode ended) is not finished: the loop ends it at once and writes the final checkpoint it lacks.
        """
        config = self.runner.config
        if self.status == "stopped_early":
            return True
        if self.status == "solved" and config.stop_when_solved:
            return True
        return self.status in FINAL_STATUSES and self._target_reached()

    def _target_reached(self) -> bool:
        config = self.runner.config
        if config.steps is not None and self.global_step >= config.steps:
            return True
        # N envs: at the episode target the other copies' unfinished episodes are left (never a common boundary)
        finished = not self.in_episode or config.n_envs > 1
        return config.episodes is not None and self.episode >= config.episodes and finished

    def _open_tensorboard(self, purge_step: int) -> None:
        if self.runner.config.tensorboard:
            from agents.runner.tensorboard_log import ScalarWriter

            self.tb = ScalarWriter(self.run_dir, purge_step)

    # ------------------------------------------------------------------ snapshots and checkpoints

    def _check_finite(self, arrays: Any, what: str) -> None:
        """``TrainingDivergedError`` if any float value in ``arrays`` (name -> array or number) is NaN or inf.

        Checked before anything non-finite is written: the newest checkpoint stays the last good one.
        """
        for name, value in arrays.items():
            values = np.asarray(value)
            if values.dtype.kind in "fc" and not np.isfinite(values).all():
                bad = "NaN" if np.isnan(values).any() else "inf"
                self.writer.wait()  # a periodic checkpoint still being written is a good one: name it
                latest = newest_valid_id(self.ckpt_root)
                raise TrainingDivergedError(
                    f"Training diverged: the agent's {what} {name!r} holds {bad} after {self.episode} episodes, "
                    f"global step {self.global_step}; nothing non-finite was saved and the newest checkpoint "
                    f"({latest}) is the last good one. Resuming would repeat this: check the agent's "
                    "hyperparameters (learning rate, clipping, discount) and the env's rewards, then start a new "
                    "run (--overwrite or another --run-dir)."
                )

    def _snapshot_files(self) -> dict[str, bytes]:
        """Everything needed to continue from this step boundary, as file bytes (the weights checked finite)."""
        weights = self.agent.get_weights()
        self._check_finite(weights, "weights")
        obs_kind, obs_arrays = obs_to_arrays(self.obs if self.in_episode else None)
        runner_arrays = dict(self.tracker.state_arrays())
        runner_arrays.update(obs_arrays)
        if self.runner.config.n_envs > 1:
            runner_arrays["vector.episode_steps"] = self.episode_steps.copy()
            runner_arrays["vector.episode_returns"] = self.episode_returns.copy()
        state = RunState(
            episode=self.episode,
            global_step=self.global_step,
            episode_step=self.episode_step,
            in_episode=self.in_episode,
            episode_return=self.episode_return,
            env_reset_done=self.env_reset_done,
            status=self.status,
            seeds=self.seeds,
            obs_kind=obs_kind,
            tracker=self.tracker.state_json(),
            reward_threshold=self.reward_threshold,
            episodes_csv_rows=self.csv.rows,
            episodes_csv_sha256=self.csv.sha256,
        )
        return {
            WEIGHTS: arrays_to_bytes(weights),
            STATE: arrays_to_bytes(self.agent.get_state()),
            RUNNER_ARRAYS: arrays_to_bytes(runner_arrays),
            RUNNER_JSON: json_bytes(state.to_dict()),
            RNG_JSON: json_bytes(capture_global_rng(), pretty=False),
            ENV_JSON: json_bytes(
                env_state.capture_env_state(self.env) if self.env_reset_done else None, pretty=False
            ),
            CONFIG_JSON: self._config_json(),
        }

    def _config_json(self) -> bytes:
        """``config.json``'s bytes, made once per config object: a frozen RunConfig never changes, and envs whose
        episode state cannot be captured take a snapshot at every episode boundary (Blackjack: almost every step)."""
        config = self.runner.config
        if self._config_json_of is not config:
            self._config_json_bytes = json_bytes(config.to_dict())
            self._config_json_of = config
        return self._config_json_bytes

    def _checkpoint(
        self, kind: str, files: dict[str, bytes] | None = None, wait: bool = True, final: bool = False
    ) -> Path:
        """Write a checkpoint of the current state (or of ``files``, a prepared boundary snapshot).

        The state is serialised here, in the training thread; the disk work (fsyncs of the logs, the ``best/``
        copy, the checkpoint directory, rotation) runs in a background thread, one write at a time. ``wait``
        blocks until it is durable (final and signal checkpoints); periodic ones overlap with training.
        A failed write raises ``CheckpointError`` at the next checkpoint or at the end of ``train()``.
        """
        if files is None:
            files = self._snapshot_files()
        info = json.loads(files[RUNNER_JSON])
        ckpt_id = checkpoint_id(info["episode"], info["global_step"])
        # Logs first: a checkpoint must never be ahead of episodes.csv or the TensorBoard events it covers.
        # Their buffers are handed to the OS now; the background job fsyncs them before the checkpoint.
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
        resume = resume_command(self.run_dir)

        def write() -> None:
            try:
                for fd in log_fds:
                    os.fsync(fd)
                if best is not None:
                    write_best(self.run_dir, *best, self.runner.config)
                path = write_checkpoint(root, ckpt_id, files, meta)
                rotate(root, keep, protect=path)
            except OSError as exc:
                raise CheckpointError(
                    f"Could not write checkpoint {ckpt_id}: {exc.strerror or exc}. {_after_write_failure(root, exc)}"
                    f"resume with: {resume}"
                ) from exc

        if self.undelivered:
            self.writer.wait()  # submit() would wait anyway: the earlier writes are durable now
            self._deliver_checkpoints()
        self.writer.submit(write)
        if wait:
            self.writer.wait()
        self.last_checkpoint = root / ckpt_id
        self.last_files = files
        self.last_checkpoint_episode = info["episode"]
        self.last_checkpoint_time = time.monotonic()
        if self.runner.callbacks.callbacks:
            self.undelivered.append((self.last_checkpoint, kind, files, final))
        return self.last_checkpoint

    def _deliver_checkpoints(self) -> None:
        """Tell callbacks about checkpoints that are durable now; one returning False sets ``stop_requested``.

        Call only when the background writer is idle and has not failed (every submitted write is on disk).
        """
        for path, kind, files, final in self.undelivered:
            info = json.loads(files[RUNNER_JSON])
            event = CheckpointEvent(
                path=path,
                kind=kind,
                final=final,
                episode=info["episode"],
                global_step=info["global_step"],
                status=info["status"],
                best_metric=info["tracker"]["best_metric"],
                weights_sha256=sha256_bytes(files[WEIGHTS]),
                state_sha256=sha256_bytes(files[STATE]),
            )
            if self.runner.callbacks.on_checkpoint(event) is False:
                self.stop_requested = True
        self.undelivered = []

    def _log_episode(self, episode_return: float, length: int, update: Any, fps: float) -> None:
        """TensorBoard scalars of a finished episode, then the agent's own ``metrics()`` (tag = key)."""
        tb, step, tracker = self.tb, self.global_step, self.tracker
        tb.add_scalar("charts/episodic_return", episode_return, step)
        tb.add_scalar("charts/episodic_length", length, step)
        tb.add_scalar("rollout/ep_rew_mean", update.rolling_mean, step)
        tb.add_scalar("rollout/ep_len_mean", update.rolling_length, step)
        if tracker.best_metric is not None:  # none until the first full window
            tb.add_scalar("charts/best_mean_return", tracker.best_metric, step)
        tb.add_scalar("time/fps", fps, step)
        if self.agent_metrics is not None:
            metrics = self.agent_metrics()
            self._check_finite(metrics, "metric")  # a NaN loss is divergence, not a value to plot
            for tag, value in metrics.items():
                tb.add_scalar(str(tag), float(value), step)
        tb.maybe_flush()

    def _note_best(self, metric: float) -> None:
        self.pending_best = (
            arrays_to_bytes(self.agent.get_weights()),
            {"episode": self.episode, "global_step": self.global_step, "metric": metric},
        )

    # ------------------------------------------------------------------ the loop

    def run(self) -> TrainResult:
        runner = self.runner
        config = runner.config
        callbacks = runner.callbacks
        clean_temporaries(self.ckpt_root)
        self.pending_best = None
        self.last_checkpoint = None
        self.last_files = None
        self.last_checkpoint_episode = 0
        self.last_checkpoint_time = time.monotonic()
        self.undelivered: list[tuple[Path, str, dict[str, bytes], bool]] = []
        self.stop_requested = False  # by on_step or on_checkpoint: honoured at the next step boundary
        if runner.resume:
            if not self._prepare_resume():
                runner._log(f"{self.run_dir} already finished ({self.status}); nothing to do.")
                return self._result(self.status, None, already_finished=True)
            self._record_resume_config()
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
        self.agent_metrics = agent_metrics_hook(self.agent)

        env, agent = self.env, self.agent
        vector = config.n_envs > 1
        session_start_step, session_start_time = self.global_step, time.perf_counter()
        watch_steps = bool(callbacks.step_callbacks)
        if callbacks.on_start(self.global_step) is False:
            self.stop_requested = True
        status, signal_name = "running", None
        while True:
            # ---- step boundary: the only place where the run stops or is checkpointed. A run that has ended
            # ends with its final status even if a signal arrived meanwhile: the status is part of the run.
            if self.status in ("solved", "stopped_early"):
                status = self.status
                break
            if self._target_reached():
                status = "completed"
                break
            if self.flag.raised:
                status, signal_name = "interrupted", self.flag.signal_name
                break
            if self.stop_requested:
                status = "stopped"
                break
            if vector:
                finished = self._vector_step(watch_steps)
                if not finished:
                    continue
            else:
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
                if watch_steps and callbacks.on_step(self.global_step) is False:
                    self.stop_requested = True
                if not (terminated or truncated):
                    continue
                finished = [(self.episode_return, self.episode_step)]
                self.in_episode, self.obs, self.episode_return, self.episode_step = False, None, 0.0, 0

            # ---- episode ends (N envs: every copy whose episode ended in this step, in env index order)
            elapsed = time.perf_counter() - session_start_time
            fps = (self.global_step - session_start_step) / elapsed if elapsed > 0 else 0.0
            keep_going = True
            for episode_return, length in finished:
                keep_going = self._end_episode(episode_return, length, fps) and keep_going
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
            if self.undelivered and not self.writer.busy and not self.writer.failed:
                self._deliver_checkpoints()
            if not keep_going:
                status = "stopped"
                break
            self.csv.flush()

        # ---- final checkpoint
        if status in FINAL_STATUSES:
            self.status = status
        if self.in_episode and not capture_mid_episode:
            # The env's mid-episode state cannot be saved: save the last episode boundary; resume replays from it.
            path = self._checkpoint(
                status if status != "interrupted" else "signal-boundary", boundary_files, final=True
            )
            runner._log(
                f"Note: {config.env_id}'s mid-episode state cannot be captured; the checkpoint is the last "
                f"episode boundary (episode {self.episode}), and a resume replays the current episode exactly."
            )
        else:
            path = self._checkpoint("signal" if status == "interrupted" else "final", final=True)
        self._deliver_checkpoints()  # the final checkpoint waited for every write: all are durable
        result = self._result(status, signal_name)
        if status == "interrupted":
            runner._log(
                f"Interrupted by {signal_name}: checkpoint {path.name} written. Resume with: {result.resume_command}"
            )
        return result

    def _vector_step(self, watch_steps: bool) -> list[tuple[float, int]]:
        """One step of the N env copies (reset with the run's env seed first: copy i gets seed + i); returns
        (return, length) of each episode that ended in it, in env index order, and zeroes those counters.

        Gymnasium 1.x next-step autoreset: a copy whose previous step ended its episode is reset by this step
        (``active`` False: its action is ignored, it earns nothing and counts no episode step, and the agent
        stores no transition for it).
        """
        env, agent = self.env, self.agent
        if not self.env_reset_done:
            self.obs, _ = env.reset(seed=self.seeds["env"])
            self.env_reset_done = self.in_episode = True
            agent.clear_state()
        active = ~env_state.autoresetting(env)
        actions = agent.act_batch(self.obs, active)
        self.obs, rewards, terminated, truncated, _ = env.step(actions)
        agent.observe_batch(self.obs, rewards, terminated, truncated)
        self.global_step += env.num_envs
        self.episode_steps[active] += 1
        self.episode_returns[active] += np.asarray(rewards, dtype=np.float64)[active]
        if watch_steps and self.runner.callbacks.on_step(self.global_step) is False:
            self.stop_requested = True
        finished = []
        for i in np.flatnonzero(np.logical_or(terminated, truncated)):
            finished.append((float(self.episode_returns[i]), int(self.episode_steps[i])))
            self.episode_returns[i], self.episode_steps[i] = 0.0, 0
        return finished

    def _end_episode(self, episode_return: float, length: int, fps: float) -> bool:
        """Account one finished episode (episodes.csv, tracker, best/, TensorBoard, status, callbacks); returns
        False if a callback asked to stop."""
        config, tracker = self.runner.config, self.tracker
        self.episode += 1
        self.csv.append(self.episode, self.global_step, episode_return, length)
        update = tracker.update(episode_return, length, self.episode, self.global_step)
        if self.episode % config.best_every == 0 and tracker.offer_saved_best(self.episode):
            self._note_best(update.rolling_mean)
        if self.tb is not None:
            self._log_episode(episode_return, length, update, fps)
        if update.solved and config.stop_when_solved:
            self.status = "solved"
        elif update.stop_early:
            self.status = "stopped_early"
        event = EpisodeEvent(
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
        return self.runner.callbacks.on_episode_end(event) is not False

    def _snapshot_files_if_boundary(self) -> dict[str, bytes] | None:
        if self.in_episode:
            raise CheckpointError(
                f"The newest checkpoint is mid-episode but {self.runner.config.env_id}'s episode state "
                "cannot be captured now; it was written by a different envs/ version."
            )
        return self._snapshot_files()

    def _result(self, status: str, signal_name: str | None, already_finished: bool = False) -> TrainResult:
        files = self.last_files if self.last_files is not None else getattr(self, "loaded", None).files
        checkpoint = self.last_checkpoint if self.last_checkpoint is not None else self.loaded.path
        info = json.loads(files[RUNNER_JSON])
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
            weights_sha256=sha256_bytes(files[WEIGHTS]),
            state_sha256=sha256_bytes(files[STATE]),
            resume_command=resume_command(self.run_dir),
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
