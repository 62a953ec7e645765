"""ImageEncoder: kernels against their numpy references, learning, determinism, errors, buffers."""

from __future__ import annotations

import copy
import json
import pickle
import struct
import zlib

import numpy as np
import pytest

from benchmarks.image_encoder_quality import bars as _bars  # the benchmark's image set
from hierarchy import Hierarchy, IODesc, IOType, LayerDesc, MergeMode
from hierarchy import serialization as ser
from hierarchy.image_encoder import ImageEncoder, ImageEncoderParams, ImageVisibleLayerDesc
from hierarchy.image_kernels import (
    image_encoder_step,
    image_encoder_step_reference,
    image_reconstruct,
    image_reconstruct_reference,
    image_weight_stats,
    image_weight_stats_reference,
)


def _two_layer(seed: int = 0) -> ImageEncoder:
    """Two images (one RGB, one grey) of different sizes: every indexing path of the kernels."""
    return ImageEncoder(
        (3, 4, 7), [ImageVisibleLayerDesc((6, 5, 3), 2), ImageVisibleLayerDesc((4, 4, 1), 1)], seed=seed
    )


def _images(enc: ImageEncoder, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, int(np.prod(d.size)), dtype=np.uint8) for d in enc.visible_layer_descs]


# ------------------------------------------------------------------------------------------- kernels


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("learn", "learn_recon"), [(False, False), (True, False), (True, True), (False, True)])
def test_step_kernel_matches_reference(seed, learn, learn_recon):
    enc = _two_layer(seed)
    rng = np.random.default_rng(seed + 10)
    enc._rw[:] = rng.integers(0, 256, enc._rw.size)  # half-trained: arbitrary recon weights and resources
    enc._resource[:] = rng.random(enc._resource.size).astype(np.float32)
    in_px = np.concatenate(_images(enc, seed))
    hz = enc.hidden_size[2]
    args = (enc._col_fptr, enc._fld_px, hz)
    ref = [a.copy() for a in (enc._w, enc._rw, enc._resource, enc._hidden_cis, enc._rng)]
    image_encoder_step_reference(in_px, *args, *ref[:4], learn, learn_recon, 0.8, 0.3, 0.1, 2, ref[4])
    image_encoder_step(
        in_px, *args, enc._w, enc._rw, enc._resource, enc._wsum, enc._wnorm2, enc._hidden_cis, learn, learn_recon,
        0.8, 0.3, 0.1, 2, enc._rng, enc._fp,
    )  # fmt: skip
    for got, want in zip((enc._w, enc._rw, enc._resource, enc._hidden_cis, enc._rng), ref, strict=True):
        assert got.tobytes() == want.tobytes()
    # The kernel keeps its per-cell weight statistics up to date as cells learn.
    wsum, wnorm2 = image_weight_stats_reference(enc._w, enc._col_fptr, hz)
    assert enc._wsum.tobytes() == wsum.tobytes() and enc._wnorm2.tobytes() == wnorm2.tobytes()
    if learn:
        assert (enc._resource < 1).any()


def test_weight_stats_kernel_matches_reference():
    enc = _two_layer(0)
    hz = enc.hidden_size[2]
    wsum, wnorm2 = np.zeros_like(enc._wsum), np.zeros_like(enc._wnorm2)
    image_weight_stats(enc._w, enc._col_fptr, hz, wsum, wnorm2)
    want = image_weight_stats_reference(enc._w, enc._col_fptr, hz)
    assert wsum.tobytes() == want[0].tobytes() and wnorm2.tobytes() == want[1].tobytes()


@pytest.mark.parametrize("seed", [0, 1])
def test_reconstruct_kernel_matches_reference(seed):
    enc = _two_layer(seed)
    rng = np.random.default_rng(seed)
    enc._rw[:] = rng.integers(0, 256, enc._rw.size)
    cis = rng.integers(0, enc.hidden_size[2], enc._hidden_cis.size)
    args = (cis, enc._col_fptr, enc._fld_px, enc.hidden_size[2], enc._rw, 1.7)
    want = np.zeros_like(enc._recon)
    image_reconstruct_reference(*args, want)
    image_reconstruct(*args, enc._sums, enc._counts, enc._recon)
    assert enc._recon.tobytes() == want.tobytes()
    assert len(np.unique(want)) > 5


# ------------------------------------------------------------------------------------------ learning


def _bars_report(enc: ImageEncoder, imgs: list[np.ndarray]) -> tuple[float, int]:
    """(mean absolute reconstruction error in bytes, number of distinct codes) without learning."""
    err, codes = 0.0, set()
    for x in imgs:
        enc.step([x], learn_enabled=False)
        cis = enc.get_hidden_cis()
        codes.add(cis.tobytes())
        enc.reconstruct(cis)
        err += float(np.abs(enc.get_reconstruction(0).astype(np.int64) - x).mean())
    return err / len(imgs), len(codes)


def test_learns_bars_error_falls_and_codes_differ():
    imgs = _bars()
    enc = ImageEncoder((4, 4, 16), [ImageVisibleLayerDesc((16, 16, 1), 3)], seed=0)
    err0, _ = _bars_report(enc, imgs)
    order = np.random.default_rng(1)
    errs = []
    for _ in range(3):
        for _ in range(8):
            for i in order.permutation(len(imgs)):
                enc.step([imgs[i]], learn_enabled=True, learn_recon=True)
        errs.append(_bars_report(enc, imgs))
    assert errs[0][0] < err0 and errs[1][0] < errs[0][0] and errs[2][0] < errs[1][0]
    assert errs[2][0] < 0.3 * err0, (err0, errs)
    assert errs[2][1] == len(imgs)  # every bar image has its own code


def test_same_seed_same_codes_other_seed_other_weights():
    runs = []
    for seed in (3, 3, 4):
        enc = _two_layer(seed)
        codes = []
        for t in range(6):
            enc.step(_images(enc, t), learn_recon=True)
            codes.append(enc.get_hidden_cis())
        runs.append((np.concatenate(codes).tobytes(), enc.serialize_to_buffer().tobytes()))
    assert runs[0] == runs[1]
    assert runs[0][1] != runs[2][1]


def test_learning_disabled_leaves_weights_byte_identical():
    enc = _two_layer(0)
    enc.step(_images(enc, 0), learn_recon=True)
    weights = enc.serialize_weights_to_buffer().tobytes()
    rng_before = enc._rng.copy()
    codes = set()
    for t in range(1, 6):
        enc.step(_images(enc, t), learn_enabled=False, learn_recon=False)
        codes.add(enc.get_hidden_cis().tobytes())
    assert enc.serialize_weights_to_buffer().tobytes() == weights
    assert enc._rng.tobytes() == rng_before.tobytes()  # the RNG only moves when the reconstruction learns
    assert len(codes) > 1  # the state still moved


def test_recon_learning_alone_changes_only_recon_weights():
    enc = _two_layer(0)
    w, res, rw = enc._w.copy(), enc._resource.copy(), enc._rw.copy()
    enc.step(_images(enc, 0), learn_enabled=False, learn_recon=True)
    assert enc._w.tobytes() == w.tobytes() and enc._resource.tobytes() == res.tobytes()
    assert enc._rw.tobytes() != rw.tobytes()


def test_shaped_and_flat_inputs_agree():
    a, b = _two_layer(0), _two_layer(0)
    imgs = _images(a, 0)
    a.step(imgs)
    b.step([imgs[0].reshape(6, 5, 3), imgs[1].reshape(4, 4)])
    assert a.serialize_to_buffer().tobytes() == b.serialize_to_buffer().tobytes()


def test_receptive_field_shapes_and_values():
    enc = ImageEncoder((4, 4, 8), [ImageVisibleLayerDesc((16, 12, 2), 2)], seed=0)
    corner, corner_size = enc.get_receptive_field(0, (0, 0, 5))
    centre, centre_size = enc.get_receptive_field(0, (2, 1, 5))
    assert corner_size == (5, 4, 2) and centre_size == (5, 5, 2)
    assert corner.shape == (40,) and centre.shape == (50,) and corner.dtype == np.uint8
    # Column (0,0) has 40 field values, cell-major: cell 5's weights are w[5*40 : 6*40], in field order.
    assert corner.tobytes() == enc._w[5 * 40 : 6 * 40].tobytes()
    # The field of column (2,1) is pixels x 8..12, y 2..6: its value (x=9, y=4, channel 1) is input byte
    # (4 + 9*12)*2 + 1, and the same offset within the field.
    f0, f1 = enc._col_fptr[2 * 4 + 1], enc._col_fptr[2 * 4 + 2]
    k = (1 * 5 + 2) * 2 + 1
    assert enc._fld_px[f0 + k] == (4 + 9 * 12) * 2 + 1
    assert centre[k] == enc._w[8 * f0 + 5 * (f1 - f0) + k]


def test_reconstruction_is_uint8_of_the_image_size():
    enc = _two_layer(0)
    enc.reconstruct(np.zeros(12, np.int32))
    assert enc.get_reconstruction(0).dtype == np.uint8 and enc.get_reconstruction(0).shape == (90,)
    assert enc.get_reconstruction(1).shape == (16,)
    # Fresh recon weights sit at mid-scale, so the stretched reconstruction is mid-grey.
    assert set(np.unique(enc.get_reconstruction(1))) == {129}


# -------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        ([np.zeros(90, np.uint8)], "list of 2 uint8 image arrays"),
        (np.zeros(90, np.uint8), "list of 2 uint8 image arrays"),
        ([np.zeros(90, np.float32), np.zeros(16, np.uint8)], r"inputs\[0\] has dtype float32.*astype\(np.uint8\)"),
        ([np.zeros(90, np.uint8), [0] * 16], r"inputs\[1\] has dtype int64"),
        ([np.zeros(91, np.uint8), np.zeros(16, np.uint8)], r"inputs\[0\] has shape \(91,\).*flat array of 90"),
        ([np.zeros((5, 6, 3), np.uint8), np.zeros(16, np.uint8)], r"shape \(5, 6, 3\).*6x5 with 3 channel"),
    ],
)
def test_bad_inputs_are_refused_and_change_nothing(inputs, match):
    enc = _two_layer(0)
    before = enc.serialize_to_buffer().tobytes()
    with pytest.raises(ValueError, match=match):
        enc.step(inputs)
    assert enc.serialize_to_buffer().tobytes() == before


def test_bad_construction_and_params():
    with pytest.raises(ValueError, match="hidden_size must be a tuple of three positive ints"):
        ImageEncoder((4, 4), [ImageVisibleLayerDesc()], seed=0)
    with pytest.raises(ValueError, match="needs visible_layer_descs"):
        ImageEncoder((4, 4, 4))
    with pytest.raises(ValueError, match="non-empty list of ImageVisibleLayerDesc"):
        ImageEncoder((4, 4, 4), [], seed=0)
    with pytest.raises(ValueError, match=r"visible_layer_descs\[0\] must be an ImageVisibleLayerDesc"):
        ImageEncoder((4, 4, 4), [IODesc()], seed=0)
    with pytest.raises(ValueError, match=r"fields of up to 8396802 values \(pixels x channels\) are too large"):
        ImageEncoder((1, 1, 2), [ImageVisibleLayerDesc((4096, 4096, 2), 1024)], seed=0)  # refused before allocating
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        ImageEncoder((4, 4, 4), [ImageVisibleLayerDesc()], seed=-1)
    d = ImageVisibleLayerDesc()
    with pytest.raises(ValueError, match="ImageVisibleLayerDesc.size"):
        d.size = (0, 4, 1)
    with pytest.raises(ValueError, match="ImageVisibleLayerDesc.radius must be in"):
        d.radius = -1
    with pytest.raises(AttributeError, match="no field 'radus'"):
        d.radus = 3
    enc = _two_layer(0)
    with pytest.raises(ValueError, match=r"ImageEncoderParams.falloff must be in \[0.0, 1.0\]"):
        enc.params.falloff = 1.5
    with pytest.raises(ValueError, match="n_radius must be an int"):
        enc.params.n_radius = 1.5
    with pytest.raises(ValueError, match="params must be an ImageEncoderParams"):
        enc.params = {"lr": 0.1}
    with pytest.raises(ValueError, match="hidden_cis must be 12 integer column indices"):
        enc.reconstruct(np.zeros(11, np.int32))
    with pytest.raises(ValueError, match=r"hidden_cis\[3\] = 7 is out of range: valid indices are 0..6"):
        enc.reconstruct(np.array([0, 0, 0, 7] + [0] * 8))
    with pytest.raises(ValueError, match="visible layer 2 does not exist"):
        enc.get_reconstruction(2)
    with pytest.raises(ValueError, match="outside the hidden size"):
        enc.get_receptive_field(0, (3, 0, 0))


def test_descriptors_are_assignable_and_copied_at_build():
    d = ImageVisibleLayerDesc()
    d.size = [8, 8, 3]
    d.radius = 1
    enc = ImageEncoder((2, 2, 4), [d], seed=0)
    d.radius = 5  # later edits do not reach the built encoder
    assert enc.get_visible_size(0) == (8, 8, 3) and enc.visible_layer_descs[0].radius == 1
    assert copy.deepcopy(d) == ImageVisibleLayerDesc((8, 8, 3), 5)
    p = ImageEncoderParams()
    assert (p.falloff, p.lr, p.scale, p.rr, p.n_radius) == (0.9, 0.1, 2.0, 0.02, 1)
    assert ImageVisibleLayerDesc() == ImageVisibleLayerDesc((5, 5, 16), 4)  # PyAOgmaNeo's defaults


# ------------------------------------------------------------------------------------------- buffers


def _driven(seed: int = 0, steps: int = 4) -> ImageEncoder:
    enc = _two_layer(seed)
    for t in range(steps):
        enc.step(_images(enc, t), learn_recon=True)
    enc.reconstruct(enc.get_hidden_cis())
    return enc


def _continue(enc: ImageEncoder, start: int, steps: int = 4) -> bytes:
    out = []
    for t in range(start, start + steps):
        enc.step(_images(enc, t), learn_recon=True)
        enc.reconstruct(enc.get_hidden_cis())
        out += [enc.get_hidden_cis().tobytes(), enc.get_reconstruction(0).tobytes()]
    return b"".join(out) + enc.serialize_to_buffer().tobytes()


def test_state_and_weights_restore_exactly():
    a = _driven(0)
    b = _two_layer(99)  # another seed: everything that matters must come from the buffers
    b.set_state_from_buffer(a.serialize_state_to_buffer())
    b.set_weights_from_buffer(a.serialize_weights_to_buffer())
    assert b.get_reconstruction(0).tobytes() == a.get_reconstruction(0).tobytes()
    b.seed = a.seed  # the seed is recorded in full buffers only
    assert _continue(b, 4) == _continue(a, 4)


def test_full_buffer_file_copy_and_pickle_round_trips(tmp_path):
    a = _driven(0)
    a.params.rr = 0.05
    buf = a.serialize_to_buffer()
    assert len(buf) == a.get_size()
    assert len(a.serialize_state_to_buffer()) == a.get_state_size()
    assert len(a.serialize_weights_to_buffer()) == a.get_weights_size()
    path = tmp_path / "enc.bin"
    a.save_to_file(path)
    loaded = [
        ImageEncoder.from_buffer(buf),
        ImageEncoder(buffer=buf),
        ImageEncoder((1, 1, 1), [], str(path)),  # PyAOgmaNeo's positional file name
        ImageEncoder.from_file(path),
        copy.copy(a),
        copy.deepcopy(a),
        pickle.loads(pickle.dumps(a)),
    ]
    want = _continue(copy.deepcopy(a), 4)
    for b in loaded:
        assert b.serialize_to_buffer().tobytes() == buf.tobytes()
        assert b.params.rr == 0.05 and b.seed == 0
        assert _continue(b, 4) == want


def _rewrite(buf: np.ndarray, kind: int, change) -> np.ndarray:
    """Re-serialise ``buf`` (valid CRC) after ``change(descriptor_dict, arrays)``."""
    desc, arrays = ser.read_buffer(buf, kind)
    d = json.loads(desc)
    change(d, arrays)
    return ser.write_buffer(kind, ser.canonical_json(d), list(arrays.items()))


def test_damaged_buffers_are_refused_and_change_nothing():
    a = _driven(0)
    b = _two_layer(1)
    before = b.serialize_to_buffer().tobytes()
    state, weights, full = a.serialize_state_to_buffer(), a.serialize_weights_to_buffer(), a.serialize_to_buffer()
    flipped = weights.copy()
    flipped[len(flipped) // 2] ^= 1

    def set_array(name, value):
        def change(_d, arrays):
            arrays[name] = arrays[name].copy()
            arrays[name].flat[0] = value

        return change

    cases = [
        (b.set_weights_from_buffer, flipped, "CRC32 checksum does not match"),
        (b.set_weights_from_buffer, weights[:-9], "corrupt or truncated"),
        (b.set_state_from_buffer, weights, "expected a state buffer, got a weights buffer"),
        (b.set_state_from_buffer, np.zeros(3, np.float32), "1-D uint8 array"),
        (b.set_state_from_buffer, _rewrite(state, ser.KIND_STATE, set_array("hidden_cis", 7)), "'hidden_cis' holds"),
        (b.set_weights_from_buffer, _rewrite(weights, ser.KIND_WEIGHTS, set_array("resources", np.nan)), "'resou"),
        (b.set_weights_from_buffer, _rewrite(weights, ser.KIND_WEIGHTS, set_array("resources", 2.0)), "'resou"),
        (b.set_weights_from_buffer, _driven(0).serialize_weights_to_buffer()[:-4], "truncated"),
    ]
    for method, buf, match in cases:
        with pytest.raises(ValueError, match=match):
            method(buf)
        assert b.serialize_to_buffer().tobytes() == before
    other = ImageEncoder((3, 4, 8), [ImageVisibleLayerDesc((6, 5, 3), 2), ImageVisibleLayerDesc((4, 4, 1), 1)])
    with pytest.raises(ValueError, match=r"another shape: hidden_size\[2\] is 8 in the buffer but 7"):
        b.set_weights_from_buffer(other.serialize_weights_to_buffer())
    h = Hierarchy([IODesc((2, 2, 4), IOType.NONE)], [LayerDesc((2, 2, 4))], seed=0)
    with pytest.raises(ValueError, match="is a Hierarchy's buffer, not an ImageEncoder's"):
        b.set_state_from_buffer(h.serialize_state_to_buffer())
    with pytest.raises(ValueError, match="is a Hierarchy's buffer, not an ImageEncoder's"):
        ImageEncoder.from_buffer(h.serialize_to_buffer())
    with pytest.raises(ValueError, match="CRC32"):
        ImageEncoder.from_buffer(np.concatenate([full[:-1], full[-1:] ^ 1]))


def test_crafted_full_descriptors_are_refused_before_allocating():
    full = _driven(0).serialize_to_buffer()

    def huge(d, _arrays):
        d["image_encoder"]["hidden_size"] = [4096, 4096, 1024]

    def bad_param(d, _arrays):
        d["image_encoder"]["params"]["falloff"] = 7.0

    def extra_key(d, _arrays):
        d["image_encoder"]["extra"] = 1

    def missing_array(_d, arrays):
        del arrays["weights/resources"]

    for change, match in [
        (huge, "needing at least .* bytes of arrays"),
        (bad_param, "invalid descriptor: ImageEncoderParams.falloff"),
        (extra_key, "invalid descriptor: unexpected keys"),
        (missing_array, "lacks array 'resources'"),
    ]:
        with pytest.raises(ValueError, match=match):
            ImageEncoder.from_buffer(_rewrite(full, ser.KIND_FULL, change))


def test_resigned_damage_is_refused_or_loads_a_working_encoder():
    """Flip one byte anywhere and fix the checksum: loading either refuses it or gives an encoder that runs."""
    full = _driven(0).serialize_to_buffer().tobytes()
    rng = np.random.default_rng(0)
    outcomes = {"refused": 0, "loaded": 0}
    for pos in rng.choice(len(full) - 4, 150, replace=False):
        body = bytearray(full[:-4])
        body[pos] ^= 1 << int(rng.integers(8))
        damaged = bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))
        try:
            enc = ImageEncoder.from_buffer(damaged)
        except ValueError:
            outcomes["refused"] += 1
            continue
        outcomes["loaded"] += 1
        enc.step(_images(enc, 1), learn_recon=True)
        enc.reconstruct(enc.get_hidden_cis())
        assert np.isfinite(enc._resource).all()
    assert outcomes["refused"] > 0 and outcomes["loaded"] > 0, outcomes


def test_unseeded_encoders_follow_the_module_default_rng_state():
    """PyAOgmaNeo scripts never pass a seed: after `set_global_state(s)` the same encoders are built again."""
    import hierarchy

    def build_two() -> list[bytes]:
        descs = [ImageVisibleLayerDesc((8, 8, 1), 2)]
        return [bytes(ImageEncoder((3, 3, 8), descs).serialize_weights_to_buffer()) for _ in range(2)]

    saved = hierarchy.get_global_state()
    try:
        hierarchy.set_global_state(1234)
        first = build_two()
        hierarchy.set_global_state(1234)
        again = build_two()
    finally:
        hierarchy.set_global_state(saved)
    assert first == again
    assert first[0] != first[1]  # each unseeded build takes the next seed


# ------------------------------------------------------------------------------------------- threads


@pytest.mark.parametrize("threads", [2, 4])
def test_every_thread_count_gives_the_same_bytes(threads):
    """The parallel twins (hierarchy.parallel) run and change nothing: codes, reconstructions and buffers are
    byte-identical to one thread's, for learning, reconstruction learning and loading (the weight-stats twin).
    4 threads runs on numba's pool (the cores), which is what `set_num_threads` promises."""
    from hierarchy import get_num_threads, set_num_threads
    from hierarchy.image_kernels import image_encoder_step_parallel, image_weight_stats_parallel

    def run() -> bytes:
        enc = _driven(3)
        loaded = ImageEncoder(buffer=enc.serialize_to_buffer())
        return _continue(enc, 4) + _continue(loaded, 4)

    before = get_num_threads()
    one = run()
    set_num_threads(threads)
    try:
        assert run() == one
    finally:
        set_num_threads(before)
    for twin in (image_encoder_step_parallel, image_weight_stats_parallel):
        assert twin.signatures, f"{twin.__name__} never ran: set_num_threads({threads}) did not reach the kernels"


# --------------------------------------------------------------------------------------------- merge


def test_merge_average_and_random():
    encs = [_driven(seed) for seed in (0, 1, 2)]
    weights = [{n: a.copy() for n, a in e._weight_arrays()} for e in encs]
    avg = _two_layer(5)
    avg.merge(encs, "average")
    for name, merged in avg._weight_arrays():
        mean = np.mean([w[name].astype(np.float64) for w in weights], axis=0)
        expected = np.rint(mean) if merged.dtype == np.uint8 else mean
        np.testing.assert_array_equal(merged, expected.astype(merged.dtype))

    rnd = _two_layer(5)
    rnd_state = rnd.serialize_state_to_buffer().tobytes()
    rnd.merge(encs, MergeMode.RANDOM)
    assert rnd.serialize_state_to_buffer().tobytes() != rnd_state  # the pick drew from the encoder's RNG
    for name, merged in rnd._weight_arrays():
        stack = np.stack([w[name] for w in weights])
        assert ((stack == merged[None]).any(axis=0)).all()  # every value comes from one of them
        assert all((merged != w[name]).any() for w in weights)  # ... and not all from the same one

    # The merged encoders run on their merged weights (the per-cell sums were rebuilt), like a loaded copy.
    for merged in (avg, rnd):
        loaded = ImageEncoder(buffer=merged.serialize_to_buffer())
        assert _continue(merged, 4) == _continue(loaded, 4)


def test_merge_refuses_other_shapes_types_and_modes():
    enc = _two_layer(0)
    with pytest.raises(ValueError, match="at least one"):
        enc.merge([])
    with pytest.raises(ValueError, match=r"encoders\[1\] must be an ImageEncoder"):
        enc.merge([enc, "x"])
    other = ImageEncoder((3, 4, 8), [ImageVisibleLayerDesc((6, 5, 3), 2), ImageVisibleLayerDesc((4, 4, 1), 1)])
    with pytest.raises(ValueError, match=r"encoders\[0\] has another shape"):
        enc.merge([other])
    with pytest.raises(ValueError, match="merge mode"):
        enc.merge([enc], "median")
