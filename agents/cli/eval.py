"""``sphgym eval``: run a trained agent with learning disabled and print return/length statistics.

Results go to stdout only (a table, or JSON with ``--json``); nothing is written anywhere, so the run folder
stays byte-identical. Save them with a shell redirect: ``sphgym eval DIR --json > eval.json``. ``--video DIR``
records the first episodes to MP4 in DIR (outside the run folder; needs the ``video`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from agents.cli.common import CLIError, HelpFormatter, non_negative_int, positive_int

DESCRIPTION = """\
Evaluate a run's agent with learning disabled: a fresh agent gets the checkpoint's weights, clear_state() runs
before every episode (temporal state still moves within an episode), and the env is seeded from --seed, so the
same --seed gives the same numbers. Prints mean/std/min/max of the return and the episode length.

Writes nothing: the run folder stays byte-identical (it is safe to evaluate a run that is still training).
Results go to stdout; keep them with a redirect (--json > eval.json). The progress bar goes to stderr.
--video DIR records the first --video-episodes episodes as MP4 files (eval-episode-0.mp4, ...) into DIR, a
folder outside the run folder; the episodes and numbers are the same as without --video. It needs moviepy
(and pygame for the classic-control envs): pip install -e ".[video]".
"""

EPILOG = """\
examples:
  sphgym eval runs/CartPole-v1__hierarchy__s0__20250101-120000
  sphgym eval runs/my-run --episodes 20 --seed 7 --checkpoint best
  sphgym eval runs/my-run/checkpoints/ep00000100-st0000012345  # one checkpoint directly
  sphgym eval runs/my-run --json > eval.json                   # machine-readable, with per-episode lists
  sphgym eval runs/my-run --episodes 5 --video videos/my-run --video-episodes 2   # MP4s of episodes 1-2

--checkpoint: latest = newest valid checkpoint; best = the weights saved at the best rolling mean (best/);
or the path of a checkpoint directory.
"""


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a run with learning disabled (writes nothing)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("path", metavar="DIR", help="run folder, checkpoint directory or best/ folder")
    parser.add_argument("--episodes", type=positive_int, default=100, metavar="N", help="evaluation episodes")
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="S", help="evaluation seed")
    parser.add_argument(
        "--checkpoint", default="latest", metavar="latest|best|PATH", help="which weights to evaluate"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON (stdout)")
    parser.add_argument(
        "--video", metavar="DIR", help="record MP4s of the first episodes into DIR (outside the run folder)"
    )
    parser.add_argument(
        "--video-episodes", type=positive_int, default=1, metavar="N", help="episodes recorded with --video"
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="no progress bar (also off when stderr is not a terminal)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from agents.cli.common import existing_run_dir
    from agents.cli.progress import EpisodeProgress, progress_enabled

    path = Path(args.path)
    existing_run_dir(path, "run folder or checkpoint")
    if not args.checkpoint.strip():
        raise CLIError("--checkpoint is empty: give latest, best, a checkpoint id or a checkpoint folder's path")
    if args.checkpoint not in ("latest", "best"):
        checkpoint_path = Path(args.checkpoint)
        from agents.runner.run_folder import CHECKPOINTS_DIR

        if not checkpoint_path.exists() and (path / CHECKPOINTS_DIR / args.checkpoint).is_dir():
            checkpoint_path = path / CHECKPOINTS_DIR / args.checkpoint  # a bare checkpoint id
        if not checkpoint_path.is_dir():
            raise CLIError(
                f"--checkpoint {args.checkpoint!r} is neither 'latest', 'best' nor a checkpoint directory"
            )
        args.checkpoint = str(checkpoint_path)

    if args.video is not None and not args.video.strip():
        raise CLIError("--video is empty: give the folder for the MP4 files, e.g. --video videos/")
    if args.video is None and args.video_episodes != 1:
        raise CLIError("--video-episodes only applies with --video DIR (the folder for the MP4 files)")
    if args.video is not None:
        import os

        # rgb_array rendering needs no display: SDL's dummy driver keeps pygame from asking for one (and from
        # printing "XDG_RUNTIME_DIR is invalid" on a headless machine). An explicit choice is kept.
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    from agents.runner import evaluate

    bar = EpisodeProgress(
        total=args.episodes, enabled=progress_enabled(args.no_progress), description="eval"
    )

    def on_episode(event: Any) -> bool:
        bar.episode_done(event.episode_return, event.episode_length, event.global_step,
                         rolling=event.rolling_mean, steps_per_second=event.steps_per_second)
        return True

    try:
        result = evaluate(path, episodes=args.episodes, seed=args.seed, checkpoint=args.checkpoint,
                          on_episode=on_episode, video_dir=args.video, video_episodes=args.video_episodes)
    finally:
        bar.close()
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(format_result(result))
    return 0


def format_result(result: Any) -> str:
    source = (
        f"{result.checkpoint} (trained for {result.checkpoint_episode} episodes, "
        f"{result.checkpoint_global_step} steps)"
    )
    videos = [f"video: {len(result.videos)} MP4 file(s) in {result.videos[0].parent}"] if result.videos else []
    return "\n".join(
        [
            f"evaluated {source}",
            f"{result.episodes} episodes, seed {result.seed}, learning disabled",
            f"{'':8s} {'mean':>10s} {'std':>10s} {'min':>10s} {'max':>10s}",
            f"{'return':8s} {result.mean_return:10.4g} {result.std_return:10.4g} "
            f"{result.min_return:10.4g} {result.max_return:10.4g}",
            f"{'length':8s} {result.mean_length:10.4g} {result.std_length:10.4g} "
            f"{result.min_length:10d} {result.max_length:10d}",
            *videos,
        ]
    )
