"""Envs whose episode state cannot be captured are snapshotted at every episode boundary: keep that cheap."""

from __future__ import annotations

import json

from agents.runner import Runner
from agents.runner.config import RunConfig


def test_config_json_is_serialised_once_per_session_not_at_every_boundary(tmp_path, monkeypatch):
    """Blackjack's episodes last 1-3 steps and its state cannot be captured mid-episode, so the runner snapshots
    the run at almost every step; ``config.json`` never changes within a session and is made once."""
    calls = []
    original = RunConfig.to_dict

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(RunConfig, "to_dict", counting)
    config = RunConfig(env_id="Blackjack-v1", agent="random", seed=0, episodes=60, tensorboard=False)
    Runner(tmp_path / "run", config, log=lambda _: None).train()
    episodes = (tmp_path / "run" / "episodes.csv").read_text().count("\n") - 1
    assert episodes == 60
    assert len(calls) < 10, f"config serialised {len(calls)} times for {episodes} episode boundaries"
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["env_id"] == "Blackjack-v1" and saved["episodes"] == 60
