"""Golden digests: a few hundred learning steps of fixed-seed hierarchies end in exactly these bytes.

The digests were recorded before the component/reference refactor (issue 11 part 5) and before the kernels
learnt to run on several threads (issue 13); any change to what the hierarchy computes changes them, and two
threads must give the same bytes as one. If a
change is *meant* to alter behaviour, re-record them and say so in the commit message.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from tests.hierarchy.hierarchy_helpers import cartpole_like, drive, every_kind

from hierarchy import Hierarchy, IODesc, IOType, LayerDesc

GOLDEN = {
    "every_kind": {
        "outputs": "e6fa4701286585f48138cabcd6ed596a0e22ecdfc9f8c4a24117e32926905540",
        "state": "dd0a021e7146506f4c33a67a0c7c0787db02ee787683d5c1eb9737ff29ddeb32",
        "weights": "45ca08e79d9428e2ac66c28737b7a74aa14dd51d4cbbe55e176ebb55e3e78745",
    },
    "cartpole_2_layers": {
        "outputs": "1500c4e340f1b04e5100cd7c4acd548e4d26923ea232f9efb8a16c1992aa1c50",
        "state": "228ccc45fa49d012f6f1af40fb2adada1133c989295d1f2cfcc450a244a41fd1",
        "weights": "3934755f30a09cd7707a813d2931ea9c823cec6934000cbcbad224936c0df72d",
    },
    "anchor_2_layers": {
        "outputs": "cd1178e51fd8b0efbdeeab369e2d8c92a2e5e76a63f369a2a71c593299af401c",
        "state": "dfcd1f5ae94e20df07afae31ade9e08be1828afd66cc3cdab1f044c992c4d365",
        "weights": "2f6feb3db1382c68687ef547b6278727c654c1e41a15454ebc9aa63cd2edba1f",
    },
}


def _digests(h: Hierarchy, outs: list[np.ndarray]) -> dict[str, str]:
    return {
        "outputs": hashlib.sha256(b"".join(o.astype(np.int64).tobytes() for o in outs)).hexdigest(),
        "state": hashlib.sha256(h.serialize_state_to_buffer().tobytes()).hexdigest(),
        "weights": hashlib.sha256(h.serialize_weights_to_buffer().tobytes()).hexdigest(),
    }


def run_golden(name: str) -> dict[str, str]:
    """Build and drive one golden hierarchy (learning on, episode flags, clears and mimic included)."""
    if name == "every_kind":
        h = every_kind(5)
    elif name == "cartpole_2_layers":
        h = cartpole_like(seed=11, layers=2)
    else:  # the anchor's CartPole shape, wide layers (64 cells per column), two of them
        h = Hierarchy(
            [IODesc((2, 2, 16), IOType.NONE, up_radius=2), IODesc((1, 1, 2), IOType.ACTION, history_capacity=128)],
            [LayerDesc((5, 5, 64)), LayerDesc((4, 4, 32))],
            seed=2,
        )
    outs = drive(h, 300, seed=9)
    return _digests(h, outs)


# Steps of the two-thread twin: every_kind's 40-step action history wraps and the actor learns from step 5,
# so every kernel (encode, decode, learn, replay) runs in its parallel form. Not the golden's 300 steps: on a
# loaded machine each parallel kernel call waits for a second core (300 steps took 74 s under load ~8).
THREAD_STEPS = 50


def _every_kind_digests(threads: int) -> dict[str, str]:
    from hierarchy import get_num_threads, set_num_threads

    before = get_num_threads()
    set_num_threads(threads)
    try:
        h = every_kind(5)
        return _digests(h, drive(h, THREAD_STEPS, seed=9))
    finally:
        set_num_threads(before)


@pytest.mark.slow
def test_two_threads_give_the_same_bytes():
    """The parallel kernels (hierarchy.parallel) run, and change nothing: same digests as one thread."""
    from hierarchy.actor import actor_step_parallel
    from hierarchy.decoder import decoder_step_parallel
    from hierarchy.encoder import encoder_step_parallel

    assert _every_kind_digests(2) == _every_kind_digests(1)
    for twin in (encoder_step_parallel, decoder_step_parallel, actor_step_parallel):
        assert twin.signatures, f"{twin.__name__} never ran: set_num_threads(2) did not reach the kernels"


def test_every_kind_golden():
    assert run_golden("every_kind") == GOLDEN["every_kind"]


def test_cartpole_two_layers_golden():
    assert run_golden("cartpole_2_layers") == GOLDEN["cartpole_2_layers"]


def test_anchor_two_layers_golden():
    assert run_golden("anchor_2_layers") == GOLDEN["anchor_2_layers"]


if __name__ == "__main__":  # print the digests to record
    for key in GOLDEN:
        print(key, run_golden(key))
