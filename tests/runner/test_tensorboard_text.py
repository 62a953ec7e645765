"""The run's resolved config as TensorBoard text: written once at the start of a fresh run, never again on resume."""

from __future__ import annotations

import json
import logging

from agents.runner import RunConfig, Runner
from tests.runner.runner_helpers import tb_scalars_plugin_reader


def _config_texts(run_dir) -> list[tuple[int, str]]:
    from tensorboard.backend.event_processing import plugin_event_accumulator as pea
    from tensorboard.util import tensor_util

    logging.getLogger("tensorboard").setLevel(logging.ERROR)  # purge notices after a resume are expected
    acc = pea.EventAccumulator(str(run_dir), size_guidance={pea.TENSORS: 0}).Reload()
    assert acc.SummaryMetadata("config").plugin_data.plugin_name == "text"
    return [(e.step, tensor_util.make_ndarray(e.tensor_proto).item().decode()) for e in acc.Tensors("config")]


def test_resolved_config_is_logged_once_and_not_again_on_resume(tmp_path):
    config = RunConfig(agent="random", episodes=3, checkpoint_every=1, checkpoint_min_interval=0.0, seed=5)
    Runner(tmp_path, config, log=None).train()
    as_started = json.loads((tmp_path / "config.json").read_text())
    Runner(tmp_path, config.replace(episodes=6), resume=True, log=None).train()
    texts = _config_texts(tmp_path)
    assert [step for step, _ in texts] == [0]
    logged = json.loads("\n".join(line[4:] for line in texts[0][1].splitlines()))  # a 4-space Markdown code block
    assert logged == as_started  # the config the run started with (a resume records its raised target in
    assert json.loads((tmp_path / "config.json").read_text())["episodes"] == 6  # config.json, not as new text)
    scalars = tb_scalars_plugin_reader(tmp_path)
    assert "config" not in scalars and "charts/episodic_return" in scalars  # the scalar reader skips the text
