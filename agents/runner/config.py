"""``RunConfig``: everything that defines a training run, as plain data.

The resolved config (agent config with every default filled in) is written into the run folder and into every
checkpoint; resuming compares it field by field.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agents.suggest import close_matches

# Fields that may differ between the original run and a resume: they change where the run stops or how often
# it is saved, never the trajectory itself.
# Steps after which an episode of an env without its own limit is truncated (RunConfig.episode_step_limit).
DEFAULT_EPISODE_STEP_LIMIT = 10_000

# Most env copies a run may step together (RunConfig.n_envs): bounds memory and the per-env state in checkpoints.
MAX_N_ENVS = 256

RESUME_MUTABLE_FIELDS = frozenset(
    {"episodes", "steps", "checkpoint_every", "checkpoint_min_interval", "keep", "stop_when_solved"}
)

# Seeds derived from the run seed, in SeedSequence.spawn order (never reorder: it would change every run; new
# names go at the end, which leaves the earlier children unchanged). The last three seed the process-global
# RNGs (Python ``random``, numpy's legacy global ``RandomState``, torch's default CPU generator if loaded) at
# the start of a fresh run, so a stray draw from them is reproducible too.
SEED_NAMES = (
    "agent",
    "env",
    "action_space",
    "observation_space",
    "python_random",
    "numpy_global",
    "torch_global",
)
GLOBAL_SEED_NAMES = ("python_random", "numpy_global", "torch_global")


@dataclass(frozen=True)
class RunConfig:
    """A training run: env, agent, seed, budget, checkpointing, best metric and early stopping.

    Args:
        env_id: Gymnasium id, made with ``envs.make_env(env_id, **env_kwargs)``.
        env_kwargs: Extra keyword arguments for the env (plain values).
        agent: Name in ``agents.registry.AGENTS``.
        agent_config: Fields of the agent's config dataclass; missing fields take the dataclass defaults.
        seed: Run seed (>= 0). Agent, env and space seeds are derived from it with ``SeedSequence.spawn``.
        episodes: Episode budget; ``None`` for no episode limit (then ``steps`` must be set).
        steps: Env-step budget; ``None`` for no step limit. With both set the first one reached stops the run.
            With ``n_envs`` = N a vector step is N env steps, so the run stops at the first multiple of N that
            is >= ``steps``.
        checkpoint_every: A periodic checkpoint is written at the first episode boundary where at least this
            many episodes and at least ``checkpoint_min_interval`` seconds have passed since the last
            checkpoint.
        checkpoint_min_interval: Seconds; bounds the checkpoint cost when episodes are very short, and when >
            0 a periodic checkpoint is also postponed while the previous one is still being written (so
            training never waits for the disk). 0 = exactly every ``checkpoint_every`` episodes. Checkpoint
            timing never changes the trajectory. The defaults cost < 2 % of training time on CartPole
            (benchmarks/resume_overhead.py).
        keep: How many most recent checkpoints to keep (the ``best/`` weights are kept in addition).
        metric_window: Best metric = mean return over the last this many episodes (Gymnasium's "solved" uses
            100).
        best_every: ``best/`` (weights-only copy) is refreshed at episodes that are multiples of this, when
            the rolling mean there beats every earlier such point (a snapshot every episode would cost more
            than all checkpoints together while the agent improves).
        stop_when_solved: Stop once the mean over a full window reaches the reward threshold.
        reward_threshold: ``None`` = the env spec's ``reward_threshold`` (an env without one is never
            "solved").
        early_stopping_patience: Stop after this many episodes without the best metric improving by more than
            ``early_stopping_min_delta``; ``None`` disables early stopping.
        early_stopping_min_delta: Minimum improvement that resets the patience counter.
        early_stopping_mode: ``"max"`` (higher is better) or ``"min"``; also decides what "best" means.
        tensorboard: Write TensorBoard scalars into the run folder.
        episode_step_limit: Episodes of an env WITHOUT a step limit of its own (no ``TimeLimit``, e.g.
            CliffWalking-v1) are truncated after this many steps, so training and checkpoints make progress;
            the runner says so when it applies it. 0 = no limit. An env with its own limit (or
            ``env_kwargs.max_episode_steps``) keeps it. A config read from a run folder written before this
            field existed has no limit, as then (``from_dict`` of values without the key).
        n_envs: Copies of the env stepped together through Gymnasium's ``SyncVectorEnv`` (1..``MAX_N_ENVS``;
            1 = one plain env, the default). Only agents that batch (ppo, dqn, sac) accept N > 1, and only on
            envs whose mid-episode state can be captured (exact resume). Env steps count N per vector step.
    """

    env_id: str = "CartPole-v1"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent: str = "hierarchy"
    agent_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    episodes: int | None = 1000
    steps: int | None = None
    checkpoint_every: int = 10
    checkpoint_min_interval: float = 2.0
    keep: int = 3
    metric_window: int = 100
    best_every: int = 10
    stop_when_solved: bool = True
    reward_threshold: float | None = None
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    early_stopping_mode: str = "max"
    tensorboard: bool = True
    episode_step_limit: int = DEFAULT_EPISODE_STEP_LIMIT
    n_envs: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.env_id, str) or not self.env_id:
            raise ValueError(f"env_id must be a non-empty string, got {self.env_id!r}.")
        if not isinstance(self.agent, str) or not self.agent:
            raise ValueError(f"agent must be a non-empty string, got {self.agent!r}.")
        for name in ("env_kwargs", "agent_config"):
            value = getattr(self, name)
            if not isinstance(value, dict):
                raise ValueError(f"{name} must be a table/dict of plain values, got {value!r}.")
            _check_plain(name, value)
        _check_int("seed", self.seed, minimum=0, fix="use a seed >= 0")
        if self.episodes is not None:
            _check_int("episodes", self.episodes, minimum=1, fix="give a positive episode budget")
        if self.steps is not None:
            _check_int("steps", self.steps, minimum=1, fix="give a positive step budget")
        if self.episodes is None and self.steps is None:
            raise ValueError("episodes and steps are both None: set at least one budget (e.g. episodes=500).")
        _check_int("checkpoint_every", self.checkpoint_every, minimum=1, fix="checkpoint at least every episode (1)")
        if not _is_finite_number(self.checkpoint_min_interval) or self.checkpoint_min_interval < 0:
            raise ValueError(
                f"checkpoint_min_interval must be a number of seconds >= 0, got {self.checkpoint_min_interval!r}."
            )
        _check_int("keep", self.keep, minimum=1, fix="keep at least the latest checkpoint (1)")
        _check_int("metric_window", self.metric_window, minimum=1, fix="use a window of at least 1 episode")
        _check_int("best_every", self.best_every, minimum=1, fix="refresh best/ at most every episode (1)")
        _check_int(
            "episode_step_limit", self.episode_step_limit, minimum=0,
            fix=f"give a step count (default {DEFAULT_EPISODE_STEP_LIMIT}) or 0 for no limit",
        )
        if not isinstance(self.n_envs, int) or isinstance(self.n_envs, bool) or not 1 <= self.n_envs <= MAX_N_ENVS:
            raise ValueError(
                f"n_envs must be an integer from 1 to {MAX_N_ENVS}, got {self.n_envs!r}: give the number of env "
                "copies to step together (--n-envs 8), or 1 for one env."
            )
        if not isinstance(self.stop_when_solved, bool):
            raise ValueError(f"stop_when_solved must be true or false, got {self.stop_when_solved!r}.")
        if self.reward_threshold is not None and not _is_finite_number(self.reward_threshold):
            raise ValueError(f"reward_threshold must be a finite number or None, got {self.reward_threshold!r}.")
        if self.early_stopping_patience is not None:
            _check_int(
                "early_stopping_patience",
                self.early_stopping_patience,
                minimum=1,
                fix="use a patience of at least 1 episode, or None to disable early stopping",
            )
        if not _is_finite_number(self.early_stopping_min_delta) or self.early_stopping_min_delta < 0:
            raise ValueError(
                f"early_stopping_min_delta must be a finite number >= 0, got {self.early_stopping_min_delta!r}."
            )
        if self.early_stopping_mode not in ("max", "min"):
            raise ValueError(f"early_stopping_mode must be 'max' or 'min', got {self.early_stopping_mode!r}.")
        if not isinstance(self.tensorboard, bool):
            raise ValueError(f"tensorboard must be true or false, got {self.tensorboard!r}.")

    # ------------------------------------------------------------------ conversions

    def to_dict(self) -> dict[str, Any]:
        """Plain-data copy (JSON/TOML-able)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Build from plain values; unknown keys raise ``ValueError`` with a "did you mean"."""
        if not isinstance(values, dict):
            raise ValueError(f"A run config must be a table/dict, got {type(values).__name__}.")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(names))
        if unknown:
            hints = []
            for key in unknown:
                close = close_matches(key, names, n=1)
                hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ValueError(f"Unknown run config field(s): {', '.join(hints)}. Valid fields: {', '.join(names)}.")
        values = dict(values)
        values.setdefault("episode_step_limit", 0)  # written before the field existed: no limit, as then
        return cls(**values)

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def make_agent_config(self) -> Any:
        """The agent's config dataclass built from ``agent_config`` (the one place it is built; validates).

        Baselines with a per-env table (the RL Zoo's) take its entry for ``env_id`` under the given values.
        """
        from agents.registry import make_agent_config

        try:
            return make_agent_config(self.agent, self.agent_config, env_id=self.env_id)
        except TypeError as exc:  # a value of the wrong type compared or computed with in the agent's own checks
            wrong = {k: v for k, v in self.agent_config.items() if isinstance(v, str)}
            hint = f" (text values: {wrong})" if wrong else ""
            raise ValueError(
                f"agent_config for {self.agent!r} has a value of the wrong type{hint}: {exc}. Give numbers for "
                "numeric fields (see `sphgym train --agent NAME --print-config`)."
            ) from None

    def resolved(self) -> RunConfig:
        """Same config with ``agent_config`` completed with the agent dataclass defaults (validates it)."""
        return self.replace(agent_config=json.loads(json.dumps(dataclasses.asdict(self.make_agent_config()))))

    def derived_seeds(self) -> dict[str, int]:
        """The seeds every RNG owner of the run gets, derived from ``seed`` (deterministic, recorded)."""
        return derive_seeds(self.seed)


def derive_seeds(seed: int, purpose: int | None = None) -> dict[str, int]:
    """Split ``seed`` into one 32-bit seed per RNG owner with ``SeedSequence.spawn``.

    ``purpose`` distinguishes independent uses of the same user seed (e.g. evaluation) from training.
    """
    entropy = seed if purpose is None else [seed, purpose]
    children = np.random.SeedSequence(entropy).spawn(len(SEED_NAMES))
    return {
        name: int(child.generate_state(1, dtype=np.uint32)[0]) for name, child in zip(SEED_NAMES, children, strict=True)
    }


def build_agent(config: RunConfig, env: Any, seed: int) -> Any:
    """A fresh agent of ``config`` for ``env``'s spaces, seeded with ``seed``."""
    from agents.memory import check_agent_memory
    from agents.registry import make_agent

    agent_config = config.make_agent_config()
    # Before allocating: a config that cannot fit (typed, or read from a crafted checkpoint) is refused in one line.
    check_agent_memory(config.agent, agent_config, env.observation_space, env.action_space)
    return make_agent(config.agent, env.observation_space, env.action_space, agent_config, seed)


def config_differences(old: RunConfig, new: RunConfig, ignore: frozenset[str] = frozenset()) -> list[str]:
    """Human-readable list of fields that differ (``"agent: 'random' != 'hierarchy'"``)."""
    old_d, new_d = old.to_dict(), new.to_dict()
    diffs = []
    for key in old_d:
        if key in ignore:
            continue
        if old_d[key] != new_d[key]:
            if isinstance(old_d[key], dict) and isinstance(new_d[key], dict):
                for sub in sorted(set(old_d[key]) | set(new_d[key])):
                    a, b = old_d[key].get(sub, "<missing>"), new_d[key].get(sub, "<missing>")
                    if a != b:
                        diffs.append(f"{key}.{sub}: {a!r} (checkpoint) != {b!r} (now)")
            else:
                diffs.append(f"{key}: {old_d[key]!r} (checkpoint) != {new_d[key]!r} (now)")
    return diffs


# ---------------------------------------------------------------------- helpers


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_int(name: str, value: Any, minimum: int, fix: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}: {fix}.")


def _check_plain(name: str, value: Any) -> None:
    """Only JSON-able plain data (str, int, float, bool, None, lists and dicts of them)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check_plain(name, item)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{name} keys must be strings, got {key!r}.")
            _check_plain(f"{name}.{key}", item)
        return
    raise ValueError(f"{name} must hold plain values (str/int/float/bool/lists/tables), got {value!r}.")
