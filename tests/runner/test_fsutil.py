"""The durable file operations' own promises that the fault suites cannot see: no descriptor left open, and a
folder taken away from its name even when deleting its contents fails."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from agents.runner.fsutil import fsync_dir, remove_tree


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors through /proc")
def test_fsync_dir_closes_its_descriptor(tmp_path):
    before = _open_descriptors()
    for _ in range(20):
        fsync_dir(tmp_path)
    assert _open_descriptors() == before


def test_remove_tree_takes_the_folder_away_even_if_its_contents_cannot_be_deleted(tmp_path, monkeypatch):
    """The rename to ``.trash-*`` is what counts (atomic, durable); deleting the trash is best effort, retried by the
    next ``remove_tree`` of that name."""
    folder = tmp_path / "ep00000001-st0000000001"
    folder.mkdir()
    (folder / "meta.json").write_bytes(b"{}")

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    with monkeypatch.context() as patch:
        patch.setattr(os, "unlink", refuse)
        patch.setattr(os, "rmdir", refuse)
        remove_tree(folder)
    assert not folder.exists()
    assert [p.name for p in tmp_path.iterdir()] == [f".trash-{folder.name}-{os.getpid()}"]
    folder.mkdir()
    remove_tree(folder)  # the next removal of that name clears the old trash too
    assert list(tmp_path.iterdir()) == []
