"""``sphgym eval --video``: MP4s of the evaluated episodes, the same frames for the same seed, never inside the run
folder, a one-line error naming the ``video`` extra when it is missing."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from agents.cli.main import main
from agents.runner import evaluate
from tests.cli.cli_helpers import sphgym, tree_digest


def _frame_digests(mp4: Path) -> list[str]:
    """sha256 of every decoded frame (the container's bytes could differ for equal pictures, e.g. a timestamp)."""
    import imageio_ffmpeg

    frames = imageio_ffmpeg.read_frames(str(mp4))
    next(frames)  # metadata
    return [hashlib.sha256(frame).hexdigest() for frame in frames]


def test_video_records_the_same_frames_for_the_same_seed_and_leaves_the_run_folder_alone(
    trained_run, tmp_path, monkeypatch
):
    pytest.importorskip("moviepy", reason='the video extra is not installed (pip install -e ".[video]")')
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")  # as the CLI sets it, for the in-process recordings below
    before = tree_digest(trained_run)
    cli = sphgym("eval", str(trained_run), "--episodes", "3", "--seed", "3", "--json",
                 "--video", str(tmp_path / "a"), "--video-episodes", "2")
    assert cli.returncode == 0, cli.stderr
    assert cli.stderr == ""  # no SDL display complaint, no moviepy progress bar
    data = json.loads(cli.stdout)
    assert data["videos"] == [str(tmp_path / "a" / f"eval-episode-{i}.mp4") for i in (0, 1)]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["eval-episode-0.mp4", "eval-episode-1.mp4"]
    first = [_frame_digests(Path(v)) for v in data["videos"]]
    assert [len(f) for f in first] == [n + 1 for n in data["lengths"][:2]]  # the reset frame, then every step

    again = evaluate(trained_run, episodes=2, seed=3, video_dir=tmp_path / "b", video_episodes=5)
    assert [_frame_digests(v) for v in again.videos] == first  # at most --episodes episodes are recorded
    plain = evaluate(trained_run, episodes=3, seed=3)
    assert list(plain.returns) == data["returns"]  # recording changes no episode
    other = evaluate(trained_run, episodes=1, seed=4, video_dir=tmp_path / "c")
    assert [_frame_digests(v) for v in other.videos] != first[:1]
    assert tree_digest(trained_run) == before


def test_video_inside_the_run_folder_is_refused(trained_run, capsys):
    before = tree_digest(trained_run)
    for inside in (trained_run, trained_run / "videos", trained_run / "checkpoints" / "x"):
        assert main(["eval", str(trained_run), "--episodes", "1", "--video", str(inside), "--no-progress"]) == 1
        err = capsys.readouterr().err
        assert "is inside the run folder" in err and "--video" in err and len(err.strip().splitlines()) == 1
    assert tree_digest(trained_run) == before


def test_missing_video_extra_is_one_line_naming_it(trained_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "moviepy", None)  # import moviepy -> ImportError
    code = main(["eval", str(trained_run), "--episodes", "1", "--video", str(tmp_path / "v"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert 'pip install -e ".[video]"' in err and "moviepy" in err
    assert not (tmp_path / "v").exists()


def test_missing_renderer_is_one_line_naming_the_extra(trained_run, tmp_path, capsys, monkeypatch):
    pytest.importorskip("moviepy", reason='the video extra is not installed (pip install -e ".[video]")')
    monkeypatch.setitem(sys.modules, "pygame", None)  # CartPole's rgb_array renderer
    code = main(["eval", str(trained_run), "--episodes", "1", "--video", str(tmp_path / "v"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert 'pip install -e ".[video]"' in err and "pygame" in err


def test_video_episodes_needs_video(trained_run, capsys):
    assert main(["eval", str(trained_run), "--video-episodes", "2", "--no-progress"]) == 1
    assert "--video-episodes only applies with --video" in capsys.readouterr().err
