"""Actor kernels against their numpy references, and the episode-boundary rules of the replay."""

import numpy as np
import pytest

from hierarchy.actor import (
    BOUNDARY,
    MID,
    TERMINATED,
    actor_learn,
    actor_policy,
    actor_step,
    actor_value,
    lambda_returns,
)
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc
from hierarchy.reference import actor_forward_reference, actor_learn_reference, lambda_returns_reference
from hierarchy.topology import VisibleSpec, build_connections

AZ, DV, DP = 3, 6, 4


def _setup(seed):
    rng = np.random.default_rng(seed)
    con = build_connections((2, 1, AZ), [VisibleSpec((3, 3, 7), 1), VisibleSpec((3, 3, 7), 1)], 1)
    vw = rng.uniform(-0.5, 0.5, con.num_weights * DV).astype(np.float32)
    pw = rng.uniform(-0.5, 0.5, con.num_weights * AZ * DP).astype(np.float32)
    pwd = (pw + rng.uniform(-0.05, 0.05, pw.size)).astype(np.float32)
    inp = rng.integers(0, 7, 18).astype(np.uint8)
    return con, vw, pw, pwd, inp, rng


def test_forward_matches_reference():
    con, vw, pw, _, inp, _ = _setup(0)
    for c in range(2):
        v = actor_value(inp, c, con.col_ptr, con.ent_vcol, con.ent_wbase, vw, DV, np.zeros(DV))
        probs = np.zeros(AZ)
        actor_policy(inp, c, con.col_ptr, con.ent_vcol, con.ent_wbase, pw, AZ, DP, np.zeros(AZ * DP), probs, 0)
        rv, rp = actor_forward_reference(inp, c, con.col_ptr, con.ent_vcol, con.ent_wbase, vw, pw, AZ, DV, DP)
        assert v == pytest.approx(rv, rel=1e-9, abs=1e-12)
        np.testing.assert_allclose(probs, rp, rtol=1e-9)


@pytest.mark.parametrize("target,mimic", [(3.0, 0.0), (-2.0, 0.0), (0.1, 0.5), (50.0, 0.0)])
def test_learn_matches_reference(target, mimic):
    con, vw, pw, pwd, inp, _ = _setup(1)
    r_vw, r_pw, td, r_td = (
        vw.copy(),
        pw.copy(),
        np.array([0.5, 0.0], np.float32),
        np.array([0.5, 0.0], np.float32),
    )
    for c in range(2):
        s = [
            np.zeros(DV),
            np.zeros(AZ * DP),
            np.zeros(AZ * DP),
            np.zeros(AZ),
            np.zeros(AZ),
            np.zeros(DV),
            np.zeros(AZ * DP),
        ]
        actor_learn(
            inp,
            c,
            1,
            target,
            con.col_ptr,
            con.ent_vcol,
            con.ent_wbase,
            vw,
            pw,
            pwd,
            td,
            AZ,
            DV,
            DP,
            0.01,
            0.1,
            0.2,
            0.99,
            mimic,
            *s,
        )
        actor_learn_reference(
            inp,
            c,
            1,
            target,
            con.col_ptr,
            con.ent_vcol,
            con.ent_wbase,
            r_vw,
            r_pw,
            pwd,
            r_td,
            AZ,
            DV,
            DP,
            0.01,
            0.1,
            0.2,
            0.99,
            mimic,
        )
    np.testing.assert_allclose(vw, r_vw, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(pw, r_pw, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(td, r_td, rtol=1e-6)
    assert not np.array_equal(vw, _setup(1)[1])
    # The value moved toward the target.
    v0, _ = actor_forward_reference(inp, 0, con.col_ptr, con.ent_vcol, con.ent_wbase, _setup(1)[1], pw, AZ, DV, DP)
    v1, _ = actor_forward_reference(inp, 0, con.col_ptr, con.ent_vcol, con.ent_wbase, vw, pw, AZ, DV, DP)
    assert abs(target - v1) < abs(target - v0)


def test_lambda_returns_match_reference_on_a_rotated_ring():
    rng = np.random.default_rng(0)
    cap, n = 20, 2
    values = rng.normal(size=(cap, n)).astype(np.float32)
    rewards = rng.normal(size=cap).astype(np.float32)
    flags = rng.choice([MID, MID, MID, TERMINATED, BOUNDARY], cap).astype(np.uint8)
    start = 13
    order = (start + np.arange(cap)) % cap  # newest first
    rets = np.zeros((cap, n))
    lambda_returns(values, rewards, flags, start, cap - 1, 0.1, 0.9, rets)
    ref = lambda_returns_reference(
        values[order].astype(np.float64), rewards[order].astype(np.float64), flags[order], 0.1, 0.9
    )
    np.testing.assert_allclose(rets, ref, rtol=1e-12)


def test_returns_do_not_leak_across_an_episode_boundary():
    # Newest first: [new episode: 2 samples] [terminated final sample] [old episode: 3 samples]
    values = np.array([[5.0], [5.0], [7.0], [1.0], [1.0], [1.0]])
    rewards = np.array([100.0, 100.0, 1.0, 1.0, 1.0, 1.0])  # huge rewards in the new episode
    flags = np.array([MID, MID, TERMINATED, MID, MID, MID])
    s, g = 0.0, 0.5  # plain n-step discounted returns
    rets = lambda_returns_reference(values, rewards, flags, s, g)
    assert rets[2, 0] == 0.0  # terminal: no future value
    assert rets[3, 0] == 1.0 + 0.5 * 0.0  # reward of the final transition, then nothing
    assert rets[5, 0] == pytest.approx(1 + 0.5 * (1 + 0.5 * 1))
    # Changing anything in the new episode does not change the old episode's returns.
    values2, rewards2 = values.copy(), rewards.copy()
    values2[:2] = -50.0
    rewards2[:2] = -50.0
    np.testing.assert_array_equal(lambda_returns_reference(values2, rewards2, flags, s, g)[2:], rets[2:])
    # Truncated / clear_state boundary: bootstrap from the stored value of the final sample.
    flags[2] = BOUNDARY
    rets = lambda_returns_reference(values, rewards, flags, s, g)
    assert rets[2, 0] == 7.0 and rets[3, 0] == 1.0 + 0.5 * 7.0
    # Without any boundary the new episode leaks in.
    flags[2] = MID
    assert lambda_returns_reference(values, rewards, flags, s, g)[3, 0] > 40


def _actor_arrays(seed, cap=24):
    con, vw, pw, _, _, rng = _setup(seed)
    ncols = 2
    n_in = int(con.vl_offset[-1])
    ring = dict(
        h_inputs=np.zeros((cap, n_in), np.uint8),
        h_actions=np.zeros((cap, ncols), np.uint8),
        h_values=np.zeros((cap, ncols), np.float32),
        h_rewards=np.zeros(cap, np.float32),
        h_flags=np.zeros(cap, np.uint8),
        h_meta=np.zeros(2, np.int64),
    )
    return con, vw, pw, pw.copy(), ring, rng


def _step(con, vw, pw, pwd, ring, rng_state, inp, taken, learn, reward, flag, iters=8, min_steps=4, td=None):
    cap = ring["h_flags"].shape[0]
    cis, acts = np.zeros(2, np.int32), np.zeros(2 * AZ, np.float32)
    td = np.zeros(2, np.float32) if td is None else td
    actor_step(
        inp,
        taken,
        con.col_ptr,
        con.ent_vcol,
        con.ent_wbase,
        vw,
        pw,
        pwd,
        td,
        cis,
        acts,
        ring["h_inputs"],
        ring["h_actions"],
        ring["h_values"],
        ring["h_rewards"],
        ring["h_flags"],
        ring["h_meta"],
        rng_state,
        AZ,
        DV,
        DP,
        0.01,
        0.1,
        0.02,
        0.01,
        0.2,
        0.99,
        0.999,
        min_steps,
        iters,
        learn,
        reward,
        0.0,
        flag,
        np.zeros(DV),
        np.zeros(AZ * DP),
        np.zeros(AZ * DP),
        np.zeros(AZ),
        np.zeros(AZ),
        np.zeros(DV),
        np.zeros(AZ * DP),
        np.zeros((cap, 2)),
        np.zeros(2),
    )
    return cis, acts


def test_ring_push_and_sampling():
    con, vw, pw, pwd, ring, _ = _actor_arrays(0, cap=5)
    r = np.array([1], np.uint64)
    for t in range(7):
        inp = np.full(18, t % 7, np.int32)
        cis, acts = _step(con, vw, pw, pwd, ring, r, inp, np.array([t % 3, 0], np.int32), False, float(t), MID)
        assert ((0 <= cis) & (cis < AZ)).all()
        np.testing.assert_allclose(acts.reshape(2, AZ).sum(axis=1), 1.0, rtol=1e-6)
    start, size = ring["h_meta"]
    assert size == 5
    assert ring["h_rewards"][start] == 6.0 and ring["h_inputs"][start, 0] == 6
    assert ring["h_rewards"][(start + 4) % 5] == 2.0


def test_boundary_samples_are_never_reinforced():
    # A ring whose every sample is flagged: learning must not change the value or policy weights.
    for flag, expect_change in ((TERMINATED, False), (BOUNDARY, False), (MID, True)):
        con, vw, pw, pwd, ring, rng = _actor_arrays(2)
        r = np.array([3], np.uint64)
        vw0, pw0 = vw.copy(), pw.copy()
        for t in range(20):
            inp = rng.integers(0, 7, 18).astype(np.int32)
            _step(con, vw, pw, pwd, ring, r, inp, np.array([t % 3, 1], np.int32), True, 1.0, flag)
        changed = not (np.array_equal(vw, vw0) and np.array_equal(pw, pw0))
        assert changed == expect_change, flag


def test_learning_off_changes_no_weight():
    """Value, policy and delayed-policy weights and the TD scales stay put with learning off. The delayed policy
    starts away from the policy (equal, its EMA step would be a no-op) and the TD scales persist across
    steps and start non-zero, so a move of either is visible."""
    con, vw, pw, pwd, ring, rng = _actor_arrays(4)
    pwd[:] = pw * np.float32(0.5) + np.float32(0.25)
    td = np.array([0.75, 1.5], np.float32)
    r = np.array([3], np.uint64)
    w = (vw.copy(), pw.copy(), pwd.copy(), td.copy())
    for _ in range(20):
        _step(
            con,
            vw,
            pw,
            pwd,
            ring,
            r,
            rng.integers(0, 7, 18).astype(np.int32),
            np.array([1, 1], np.int32),
            False,
            1.0,
            MID,
            td=td,
        )
    names = ("value", "policy", "delayed policy", "td scales")
    for name, before, after in zip(names, w, (vw, pw, pwd, td), strict=True):
        np.testing.assert_array_equal(after, before, err_msg=f"{name} moved with learning off")
    assert int(ring["h_meta"][1]) == 20  # the steps ran (samples are still recorded with learning off)


def test_actor_step_matches_reference_over_many_steps():
    from hierarchy.reference import actor_step_reference
    from hierarchy.params import ActorParams

    p = ActorParams(min_steps=3, history_iters=5, plr=0.05, vlr=0.01)
    con, vw, pw, pwd, ring, rng = _actor_arrays(5, cap=16)
    r_vw, r_pw, r_pwd = vw.copy(), pw.copy(), pwd.copy()
    r_ring = {k: v.copy() for k, v in ring.items()}
    td, r_td = np.zeros(2, np.float32), np.zeros(2, np.float32)
    r, r_r = np.array([11], np.uint64), np.array([11], np.uint64)
    cis, acts = np.zeros(2, np.int32), np.zeros(2 * AZ, np.float32)
    for t in range(40):
        inp = rng.integers(0, 7, 18).astype(np.int32)
        taken = cis.copy()
        flag = TERMINATED if t % 11 == 10 else (BOUNDARY if t % 13 == 12 else MID)
        reward, mimic = float(rng.normal()), (0.3 if t % 17 == 16 else 0.0)
        actor_step(
            inp,
            taken,
            con.col_ptr,
            con.ent_vcol,
            con.ent_wbase,
            vw,
            pw,
            pwd,
            td,
            cis,
            acts,
            ring["h_inputs"],
            ring["h_actions"],
            ring["h_values"],
            ring["h_rewards"],
            ring["h_flags"],
            ring["h_meta"],
            r,
            AZ,
            DV,
            DP,
            p.vlr,
            p.plr,
            p.smoothing,
            p.delay_rate,
            p.policy_clip,
            p.discount,
            p.td_scale_decay,
            p.min_steps,
            p.history_iters,
            True,
            reward,
            mimic,
            flag,
            np.zeros(DV),
            np.zeros(AZ * DP),
            np.zeros(AZ * DP),
            np.zeros(AZ),
            np.zeros(AZ),
            np.zeros(DV),
            np.zeros(AZ * DP),
            np.zeros((16, 2)),
            np.zeros(2),
        )
        r_cis, r_acts = actor_step_reference(
            inp,
            taken,
            con.col_ptr,
            con.ent_vcol,
            con.ent_wbase,
            r_vw,
            r_pw,
            r_pwd,
            r_td,
            r_ring,
            r_r,
            AZ,
            DV,
            DP,
            p,
            True,
            reward,
            mimic,
            flag,
        )
        np.testing.assert_array_equal(cis, r_cis)
        np.testing.assert_allclose(acts, r_acts, rtol=1e-5)
        for k in ("h_inputs", "h_actions", "h_rewards", "h_flags", "h_meta"):
            np.testing.assert_array_equal(ring[k], r_ring[k])
        np.testing.assert_allclose(ring["h_values"], r_ring["h_values"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(vw, r_vw, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pw, r_pw, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(pwd, r_pwd, rtol=1e-5, atol=1e-6)
    assert r[0] == r_r[0]
    assert not np.array_equal(vw, _actor_arrays(5, cap=16)[1])


def _bandit(skip_radius: int, seed: int = 0, steps: int = 1500) -> float:
    """A contextual bandit the actor can solve only if it sees the observation: layer 0 has one cell (its hidden
    state carries nothing), the reward is 1 when the action equals the observed bit. Returns the fraction of the
    last 300 actions that were right."""
    h = Hierarchy(
        [
            IODesc((1, 1, 2), IOType.NONE, up_radius=0),
            IODesc((1, 1, 2), IOType.ACTION, down_radius=0, history_capacity=64, skip_radius=skip_radius),
        ],
        [LayerDesc((1, 1, 1), recurrent_radius=-1)],
        seed=seed,
    )
    p = h.params.ios[1].actor
    p.discount, p.min_steps, p.history_iters, p.plr = 0.0, 1, 8, 0.1
    rng = np.random.default_rng(seed)
    obs = action = 0
    right = []
    for _ in range(steps):
        reward = float(action == obs)
        obs = int(rng.integers(2))
        h.step([np.array([obs], np.int32), np.array([action], np.int32)], reward=reward)
        action = int(h.get_prediction_cis(1)[0])
        right.append(action == obs)
    return float(np.mean(right[-300:]))


def test_skip_radius_lets_the_actor_see_the_observation():
    """With ``skip_radius`` the actor reads the observation port directly; without it, through a one-cell layer,
    it cannot tell the contexts apart."""
    assert _bandit(skip_radius=0) > 0.9
    assert _bandit(skip_radius=-1) < 0.65


def test_skip_radius_is_only_for_action_ports():
    with pytest.raises(ValueError, match=r"io_descs\[0\].skip_radius = 1, but only an ACTION port"):
        Hierarchy(
            [IODesc((1, 1, 2), IOType.NONE, skip_radius=1), IODesc((1, 1, 2), IOType.ACTION)],
            [LayerDesc((2, 2, 4))],
            seed=0,
        )
