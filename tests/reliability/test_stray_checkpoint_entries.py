"""Files or links named like checkpoints inside checkpoints/ (issue 15 item 6): reported, replaced when a checkpoint
of that name is written, and never a reason for a resume to fail; trash left by earlier deletes goes away."""

from __future__ import annotations

import warnings

from agents.runner import RunConfig, Runner
from tests.runner.runner_helpers import assert_same_run, run_fingerprint
from tests.reliability.reliability_stats import count

CONFIG = RunConfig(agent="random", episodes=12, checkpoint_every=4, checkpoint_min_interval=0.0, keep=3, seed=8)


def test_stray_files_and_links_named_like_checkpoints(tmp_path):
    reference = tmp_path / "reference"
    Runner(reference, CONFIG.replace(episodes=20), log=None).train()
    later_ids = sorted(p.name for p in (reference / "checkpoints").iterdir())[-2:]  # episodes 16 and 20

    run = tmp_path / "run"
    Runner(run, CONFIG, log=None).train()
    ckpts = run / "checkpoints"
    (ckpts / later_ids[0]).write_text("not a checkpoint")
    (ckpts / later_ids[1]).symlink_to(tmp_path / "nowhere")  # dangling
    (ckpts / ".trash-ep00000001-st0000000010-123").write_text("left by a crash")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = Runner(run, resume=True, log=None).train(episodes=20)
    messages = " ".join(str(w.message) for w in caught)
    assert "is a file, not a checkpoint folder" in messages
    assert "is a symbolic link, not a checkpoint folder" in messages
    assert result.status == "completed" and result.episode == 20
    assert all(p.is_dir() and not p.is_symlink() for p in ckpts.iterdir())
    assert not [p for p in ckpts.iterdir() if p.name.startswith(".")]  # no .trash-* or .tmp-* left
    assert not (tmp_path / "nowhere").exists()  # the link's target was never created
    assert_same_run(run_fingerprint(reference), run_fingerprint(run))
    count("stray checkpoint entries", "file, dangling link, trash file")


def test_removing_a_folder_clears_a_trash_folder_an_earlier_crash_left(tmp_path):
    """``remove_tree`` renames a folder to ``.trash-<name>-<pid>`` before deleting it; a process killed between the
    two leaves that trash behind, and a later process with the same pid must still be able to remove the name."""
    import os

    from agents.runner.fsutil import remove_tree

    folder = tmp_path / "ep00000001-st0000000010"
    folder.mkdir()
    (folder / "weights.safetensors").write_bytes(b"new")
    leftover = tmp_path / f".trash-{folder.name}-{os.getpid()}"
    leftover.mkdir()
    (leftover / "weights.safetensors").write_bytes(b"old")
    remove_tree(folder)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    count("stray entries", "trash of an earlier crash cleared")
