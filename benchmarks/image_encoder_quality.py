"""How well `ImageEncoder` learns a small image set, side by side with pyaogmaneo's ImageEncoder.

Eight 16x16 bar images (horizontal and vertical, 2 pixels wide, 4 positions); hidden (4, 4, 16), radius 3; both
encoders see the same shuffled order each epoch with learn_enabled and learn_recon on. After every 10 epochs,
without learning: the mean absolute reconstruction error (bytes, of ``reconstruct(get_hidden_cis())`` against
the image), the number of distinct codes among the 8 images, and how many of the 8 x 16 column codes changed
during the last epoch (how settled the encoder is). Ours also runs with ``n_radius = 0`` (no neighbours learn).

    python benchmarks/image_encoder_quality.py [--epochs 40] [--seeds 3]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hierarchy import ImageEncoder, ImageVisibleLayerDesc


def bars(n: int = 16) -> list[np.ndarray]:
    imgs = []
    for k in range(0, n, 4):
        h = np.zeros((n, n), np.uint8)
        h[k : k + 2, :] = 255
        v = np.zeros((n, n), np.uint8)
        v[:, k : k + 2] = 255
        imgs += [h.ravel(), v.ravel()]
    return imgs


def make(system: str, seed: int):
    if system.startswith("ours"):
        enc = ImageEncoder((4, 4, 16), [ImageVisibleLayerDesc((16, 16, 1), 3)], seed=seed)
        if system == "ours n_radius=0":
            enc.params.n_radius = 0
        return enc
    try:
        import pyaogmaneo as neo
    except ImportError:
        return None
    neo.set_num_threads(1)
    neo.set_global_state(seed + 1)
    return neo.ImageEncoder((4, 4, 16), [neo.ImageVisibleLayerDesc((16, 16, 1), 3)])


def codes_and_error(enc, imgs: list[np.ndarray]) -> tuple[np.ndarray, float]:
    codes, err = [], 0.0
    for x in imgs:
        enc.step([x], False, False)
        cis = enc.get_hidden_cis()
        codes.append(cis)
        enc.reconstruct(cis)
        err += float(np.abs(enc.get_reconstruction(0).astype(np.int64) - x).mean())
    return np.array(codes), err / len(imgs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    imgs = bars()
    print(f"{'system':18s} {'seed':>4s} {'epoch':>5s} {'recon error':>11s} {'distinct':>8s} {'changed':>7s}")
    for system in ("ours", "ours n_radius=0", "pyaogmaneo"):
        for seed in range(args.seeds):
            enc = make(system, seed)
            if enc is None:
                print("pyaogmaneo not installed: no side-by-side figures (pip install pyaogmaneo==2.14.4)")
                break
            order = np.random.default_rng(100 + seed)
            previous, _ = codes_and_error(enc, imgs)
            for epoch in range(1, args.epochs + 1):
                for i in order.permutation(len(imgs)):
                    enc.step([imgs[i]], True, True)
                codes, err = codes_and_error(enc, imgs)
                changed = int((codes != previous).sum())
                previous = codes
                if epoch % 10 == 0:
                    distinct = len({c.tobytes() for c in codes})
                    print(f"{system:18s} {seed:4d} {epoch:5d} {err:11.1f} {distinct:8d} {changed:7d}")


if __name__ == "__main__":
    main()
