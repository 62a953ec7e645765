"""Evaluate a trained agent with learning disabled; reads the run folder, never writes to it.

With ``video_dir`` the first evaluated episodes are also recorded to MP4 there (Gymnasium's ``RecordVideo``,
``render_mode="rgb_array"``; it needs moviepy, the ``video`` extra). Rendering reads the env and draws no random
numbers, so the episodes, and the returns, are those of an evaluation without video: the same seed records the
same frames.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym

from agents.runner import env_state
from agents.runner.callbacks import EpisodeEvent
from agents.runner.checkpoint import (
    CONFIG_JSON,
    MARKER,
    META,
    RUNNER_JSON,
    WEIGHTS,
    find_latest_valid,
    loading,
    read_checkpoint,
)
from agents.runner.config import RunConfig, build_agent, derive_seeds
from agents.runner.fsutil import refuse_symlink
from agents.runner.errors import RunnerError
from agents.runner.run_folder import BEST_DIR, CHECKPOINTS_DIR, is_best_dir, read_best, read_config

EVAL_SEED_PURPOSE = 0xE7A1  # keeps evaluation seeds apart from the training seeds of the same number
VIDEO_EXTRA_HINT = 'pip install -e ".[video]"'
VIDEO_PREFIX = "eval"  # file names: eval-episode-0.mp4, eval-episode-1.mp4, ...


class VideoUnavailableError(RunnerError):
    """Recording was asked for but moviepy (or the env's renderer, e.g. pygame) is not installed."""


class VideoLocationError(RunnerError):
    """The video folder is inside the evaluated run folder (eval never writes there)."""


@dataclass(frozen=True)
class EvalResult:
    """Per-episode returns and lengths of an evaluation, with summary statistics (population std)."""

    returns: tuple[float, ...]
    lengths: tuple[int, ...]
    mean_return: float
    std_return: float
    min_return: float
    max_return: float
    mean_length: float
    std_length: float
    min_length: int
    max_length: int
    episodes: int
    seed: int
    checkpoint: Path
    checkpoint_episode: int
    checkpoint_global_step: int
    videos: tuple[Path, ...] = ()  # the MP4 files written (``video_dir`` only)

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["returns"], out["lengths"] = list(self.returns), list(self.lengths)
        out["checkpoint"] = str(self.checkpoint)
        out["videos"] = [str(v) for v in self.videos]
        return out


def _no_best_yet(run_dir: Path) -> str:
    """Why a run has no ``best/`` yet, in the run's own numbers (best_every, metric_window)."""
    try:
        config = read_config(run_dir)
    except (OSError, RunnerError):
        config = None
    rule = (
        f"best/ is written at episodes that are multiples of best_every ({config.best_every}) once a full window "
        f"of metric_window ({config.metric_window}) episodes has finished"
        if config is not None
        else "best/ is written every best_every episodes once a full window of metric_window episodes has finished"
    )
    return f"{str(run_dir)!r} has no best/ weights yet: {rule}. Evaluate the newest checkpoint: --checkpoint latest"


def load_weights_for_eval(path: str | Path, checkpoint: str = "latest") -> tuple[RunConfig, dict, Path, int, int]:
    """Resolve ``path``/``checkpoint`` to (config, weights, source dir, episode, global step), verified."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{str(path)!r} does not exist (expected a run folder or a checkpoint directory).")
    if not isinstance(checkpoint, str) or not checkpoint.strip():
        raise ValueError(
            f"checkpoint is empty ({checkpoint!r}): give latest, best, a checkpoint id or a checkpoint folder's path"
        )
    if is_best_dir(path):
        checkpoint, path = str(path), path.parent
    if checkpoint == "best":
        source = path / BEST_DIR
    elif checkpoint == "latest":
        source = None
    else:
        source = Path(checkpoint)
    if checkpoint == "best":
        refuse_symlink(source, "best/ folder")
    if source is not None and is_best_dir(source):
        best = read_best(source)
        return best.config, best.weights, source, best.episode, best.global_step
    if source is None:
        if (path / MARKER).exists() or (path / META).exists():
            ckpt = read_checkpoint(path)
        else:
            ckpt, problems = find_latest_valid(path / CHECKPOINTS_DIR)
            if ckpt is None:
                detail = "; ".join(f"{p.name}: {m}" for p, m in problems) or "no checkpoints"
                raise FileNotFoundError(f"No valid checkpoint in {str(path)!r} ({detail}).")
    else:
        if checkpoint == "best":
            raise FileNotFoundError(_no_best_yet(path))
        ckpt = read_checkpoint(source)
    with loading(ckpt.path, "config and counters"):
        info = ckpt.json(RUNNER_JSON)
        config = RunConfig.from_dict(ckpt.json(CONFIG_JSON))
        return (
            config,
            ckpt.arrays(WEIGHTS),
            ckpt.path,
            int(info["episode"]),
            int(info["global_step"]),
        )


def evaluate(
    path: str | Path,
    episodes: int = 100,
    seed: int = 0,
    checkpoint: str = "latest",
    on_episode: Callable[[EpisodeEvent], bool] | None = None,
    video_dir: str | Path | None = None,
    video_episodes: int = 1,
) -> EvalResult:
    """Run ``episodes`` episodes with learning disabled and return their statistics.

    Args:
        path: A run folder, a checkpoint directory, or a ``best/`` folder.
        episodes: Number of evaluation episodes (>= 1).
        seed: Evaluation seed: the agent's sampling RNG and the env are seeded from it, so equal seeds give
            equal results.
        checkpoint: ``"latest"`` (newest valid checkpoint), ``"best"`` (the weights in ``best/``) or a path.
        on_episode: Progress callback; return False to stop early.
        video_dir: Record MP4s of the first ``video_episodes`` episodes into this folder (created if needed;
            never inside the run folder evaluated).
        video_episodes: How many episodes to record (>= 1; at most ``episodes`` are).

    The agent is built fresh from the run's config, gets the checkpoint's weights (its temporal state starts
    empty and ``clear_state()`` runs before every episode), and ``learn_enabled`` is False. Nothing is
    written, except the videos into ``video_dir``.

    Raises:
        VideoUnavailableError: ``video_dir`` given and moviepy or the env's renderer is not installed.
        VideoLocationError: ``video_dir`` is inside the run folder.
    """
    if not isinstance(episodes, int) or isinstance(episodes, bool) or episodes < 1:
        raise ValueError(f"episodes must be an integer >= 1, got {episodes!r}.")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}.")
    if not isinstance(video_episodes, int) or isinstance(video_episodes, bool) or video_episodes < 1:
        raise ValueError(f"video_episodes must be an integer >= 1, got {video_episodes!r}.")
    config, weights, source, ckpt_episode, ckpt_step = load_weights_for_eval(path, checkpoint)
    if video_dir is not None:
        video_dir = check_video_dir(video_dir, path, source)  # a wrong folder is wrong with or without the extra
        require_video()
        config = config.replace(env_kwargs={**config.env_kwargs, "render_mode": "rgb_array"})
    seeds = derive_seeds(seed, purpose=EVAL_SEED_PURPOSE)
    env = env_state.make_run_env(config, from_file=True)
    if video_dir is not None:
        env = _record_video(env, video_dir, video_episodes)
    try:
        env.action_space.seed(seeds["action_space"])
        env.observation_space.seed(seeds["observation_space"])
        agent = build_agent(config, env, seeds["agent"])
        with loading(source, "agent weights"):
            agent.set_weights(weights)
        agent.learn_enabled = False
        returns: list[float] = []
        lengths: list[int] = []
        steps, start = 0, time.perf_counter()
        for index in range(episodes):
            obs, _ = env.reset(seed=seeds["env"]) if index == 0 else env.reset()
            agent.clear_state()
            total, length = 0.0, 0
            while True:
                action = agent.act(obs)
                obs, reward, terminated, truncated, _ = env.step(action)
                agent.observe(obs, reward, terminated, truncated)
                total += float(reward)
                length += 1
                if terminated or truncated:
                    break
            steps += length
            returns.append(total)
            lengths.append(length)
            if on_episode is not None:
                elapsed = time.perf_counter() - start
                event = EpisodeEvent(
                    episode=index + 1,
                    global_step=steps,
                    episode_return=total,
                    episode_length=length,
                    rolling_mean=math.fsum(returns) / len(returns),
                    best_metric=None,
                    is_best=False,
                    steps_per_second=steps / elapsed if elapsed > 0 else 0.0,
                    target_episodes=episodes,
                    target_steps=None,
                )
                if on_episode(event) is False:
                    break
    except gym.error.DependencyNotInstalled as exc:
        if video_dir is None:
            raise
        raise VideoUnavailableError(_video_message(exc)) from None  # the renderer (e.g. pygame) is missing
    finally:
        try:
            with warnings.catch_warnings():  # a renderer that failed left nothing to save: the error says why
                warnings.filterwarnings("ignore", message=".*Ignored saving a video.*")
                env.close()  # RecordVideo writes the last recording here
        except gym.error.DependencyNotInstalled as exc:
            raise VideoUnavailableError(_video_message(exc)) from None
    videos = ()
    if video_dir is not None:
        recorded = min(video_episodes, len(returns))
        videos = tuple(video_dir / f"{VIDEO_PREFIX}-episode-{i}.mp4" for i in range(recorded))
    return _summarise(returns, lengths, seed, source, ckpt_episode, ckpt_step, videos)


# ------------------------------------------------------------------------------------------------- video
def _video_message(exc: BaseException) -> str:
    detail = " ".join(str(exc).split())
    return f"--video needs the video extra ({detail}): {VIDEO_EXTRA_HINT}"


def require_video() -> None:
    """Raise ``VideoUnavailableError`` (naming the ``video`` extra) unless moviepy, which writes the MP4s, is
    installed."""
    try:
        import moviepy  # noqa: F401
    except ImportError as exc:
        raise VideoUnavailableError(_video_message(exc)) from None


def _run_root(path: Path, source: Path) -> Path:
    """The run folder the evaluated checkpoint or best/ folder ``source`` belongs to (else ``path``)."""
    if source.parent.name == CHECKPOINTS_DIR:
        return source.parent.parent
    return source.parent if is_best_dir(source) else path


def check_video_dir(video_dir: str | Path, path: str | Path, source: Path) -> Path:
    """``video_dir`` resolved, unless it is inside (or is) the run folder being evaluated: eval keeps the run
    folder byte-identical, so videos go elsewhere.

    Raises:
        VideoLocationError: It is inside the run folder.
    """
    target = Path(video_dir).resolve()
    for folder in {Path(path).resolve(), _run_root(Path(path), Path(source)).resolve()}:
        if target == folder or folder in target.parents:
            raise VideoLocationError(
                f"--video {str(video_dir)!r} is inside the run folder {str(folder)!r}; eval never writes there "
                "(the run folder stays byte-identical): give a folder outside it, e.g. --video videos/"
            )
    if target.exists() and not target.is_dir():
        raise VideoLocationError(f"--video {str(video_dir)!r} is a file, not a folder: give a folder for the MP4s")
    return target


def _record_video(env: gym.Env, video_dir: Path, video_episodes: int) -> gym.Env:
    """``env`` wrapped in ``RecordVideo``: episodes ``0..video_episodes-1``, quietly, as ``eval-episode-I.mp4``.

    Raises:
        VideoUnavailableError: The env does not render ``rgb_array`` frames.
    """
    if env.render_mode != "rgb_array":
        env.close()
        modes = env.metadata.get("render_modes", [])
        raise VideoUnavailableError(
            f"--video: env {env.spec.id if env.spec else env!r} does not render rgb_array frames (its render modes: "
            f"{', '.join(map(str, modes)) or 'none'}); record an env that does, or evaluate without --video"
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Overwriting existing videos.*")
        return gym.wrappers.RecordVideo(
            env,
            video_folder=str(video_dir),
            episode_trigger=lambda episode: episode < video_episodes,
            name_prefix=VIDEO_PREFIX,
            disable_logger=True,
        )


def _summarise(returns, lengths, seed, source, ckpt_episode, ckpt_step, videos=()) -> EvalResult:
    n = len(returns)
    mean_r = math.fsum(returns) / n
    mean_l = math.fsum(lengths) / n
    std_r = math.sqrt(math.fsum((r - mean_r) ** 2 for r in returns) / n)
    std_l = math.sqrt(math.fsum((x - mean_l) ** 2 for x in lengths) / n)
    return EvalResult(
        returns=tuple(returns),
        lengths=tuple(lengths),
        mean_return=mean_r,
        std_return=std_r,
        min_return=min(returns),
        max_return=max(returns),
        mean_length=mean_l,
        std_length=std_l,
        min_length=min(lengths),
        max_length=max(lengths),
        episodes=n,
        seed=seed,
        checkpoint=Path(source),
        checkpoint_episode=ckpt_episode,
        checkpoint_global_step=ckpt_step,
        videos=videos,
    )
