"""Every ``--help`` teaches with an example (in-process: argparse only, nothing runs)."""

from __future__ import annotations

import pytest

from agents.cli.main import main


@pytest.mark.parametrize("command", [[], ["train"], ["resume"], ["eval"], ["inspect"], ["verify"], ["plot"]])
def test_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*command, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert "examples:" in text and "sphgym " + (command[0] if command else "train") in text


def test_top_level_help_lists_exit_codes_and_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    words = ("train", "resume", "eval", "inspect", "verify", "plot", "130/143", "tensorboard --logdir runs")
    assert all(word in text for word in words)


def test_train_help_lists_the_agents_and_the_config_schema(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    for word in ("hierarchy", "dqn", "ppo", "random", "[agent]", "--set KEY=VALUE", "--print-config"):
        assert word in text
