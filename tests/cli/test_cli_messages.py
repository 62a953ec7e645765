"""The "Messages" list of issue 15: argparse errors in one line, resume of a checkpoint folder, an empty
--checkpoint, plot --out without an extension."""

from __future__ import annotations

import shutil

from tests.cli.cli_helpers import sphgym, tree_digest
from tests.reliability.reliability_stats import count


def test_argument_errors_are_one_line():
    for args in (["train", "--bogus"], [], ["train", "--episodes", "x"]):
        result = sphgym(*args)
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and ": error: " in lines[0] and "usage:" not in result.stderr, result.stderr
    count("messages", "argparse one line")


def test_resume_of_a_checkpoint_folder_asks_for_the_run_folder(trained_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    before = tree_digest(run)
    ckpt = sorted((run / "checkpoints").iterdir())[-1]
    result = sphgym("resume", str(ckpt), "--no-progress")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "is a checkpoint folder, not a run folder: pass the run folder" in line and str(run) in line
    assert tree_digest(run) == before  # nothing was trained into the checkpoint
    count("messages", "resume of a checkpoint folder")


def test_eval_with_an_empty_checkpoint_says_so(trained_run):
    result = sphgym("eval", str(trained_run), "--checkpoint", "")
    assert result.returncode == 1 and "--checkpoint is empty" in result.stderr and "COMPLETE" not in result.stderr
    count("messages", "empty --checkpoint")


def test_plot_out_without_an_extension_names_the_file_written(trained_run, tmp_path):
    result = sphgym("plot", str(trained_run), "--out", str(tmp_path / "curves"))
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'curves.png'} " in result.stdout and (tmp_path / "curves.png").exists()
    count("messages", "plot --out without extension")


def test_a_lock_taken_an_instant_ago_names_its_owner_not_question_marks(tmp_path):
    import fcntl
    import json
    import os
    import threading

    import pytest

    from agents.runner.errors import RunLockedError
    from agents.runner.lock import RunLock

    fd = os.open(tmp_path / "run.lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the other trainer holds the lock, its pid not yet written
    timer = threading.Timer(0.2, lambda: os.write(fd, json.dumps({"pid": 4242, "host": "elsewhere"}).encode()))
    timer.start()
    try:
        with pytest.raises(RunLockedError, match=r"pid 4242 on elsewhere"):
            RunLock(tmp_path).acquire()
    finally:
        timer.join()
        os.close(fd)
    count("messages", "lock owner named")


def test_verify_errors_carry_the_prefix(trained_run):
    result = sphgym("verify", str(trained_run), "--start", "nope")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("sphgym verify: error: Cannot verify from 'nope'"), result.stderr
    assert result.stdout == ""
    count("messages", "verify prefix")


def test_an_unknown_flag_is_reported_under_the_commands_name():
    result = sphgym("train", "--bogus")
    assert result.returncode == 1
    assert result.stderr.strip() == "sphgym train: error: unrecognized arguments: --bogus (see 'sphgym train --help')"
    count("messages", "argparse program name")


def test_set_without_equals_suggests_keys_that_exist():
    """The example in the `--set KEY=VALUE` error names a run field and a field the default agent has."""
    import re

    from agents.hierarchy_config import HierarchyAgentConfig
    from agents.runner import RunConfig

    result = sphgym("train", "--set", "foo", "--print-config")
    assert result.returncode == 1
    examples = re.findall(r"--set ([a-z_.]+)=", result.stderr)
    assert examples, result.stderr
    for key in examples:
        owner, _, name = key.rpartition(".")
        fields = HierarchyAgentConfig.__dataclass_fields__ if owner == "agent" else RunConfig.__dataclass_fields__
        assert name in fields, key
