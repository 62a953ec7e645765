"""The buffer format itself: framing, endianness, exact sizes, named errors."""

import struct
import zlib

import numpy as np
import pytest

from hierarchy import serialization as ser


def _arrays():
    return [
        ("a", np.arange(5, dtype=np.int32)),
        ("b.c", np.ones((2, 3), np.float32)),
        ("rng", np.array([2**64 - 1], np.uint64)),
    ]


def test_round_trip_and_exact_size():
    arrays = _arrays()
    desc = ser.canonical_json({"x": 1})
    buf = ser.write_buffer(ser.KIND_STATE, desc, arrays)
    assert len(buf) == ser.buffer_size(desc, [(n, a.dtype, a.shape) for n, a in arrays])
    got_desc, got = ser.read_buffer(buf, ser.KIND_STATE)
    assert got_desc == desc and list(got) == ["a", "b.c", "rng"]
    for name, a in arrays:
        np.testing.assert_array_equal(got[name], a)
        assert got[name].dtype == a.dtype
    assert buf.flags.writeable


def test_fixed_little_endian_layout():
    big = np.arange(3, dtype=">i4")
    buf = ser.write_buffer(ser.KIND_WEIGHTS, b"{}", [("x", big)]).tobytes()
    assert buf[:8] == ser.MAGIC
    assert struct.unpack_from("<III", buf, 8) == (ser.FORMAT_VERSION, ser.KIND_WEIGHTS, 2)
    assert buf[-4 - 12 : -4] == np.arange(3, dtype="<i4").tobytes()
    assert struct.unpack("<I", buf[-4:])[0] == zlib.crc32(buf[:-4])
    _, got = ser.read_buffer(buf, ser.KIND_WEIGHTS)
    np.testing.assert_array_equal(got["x"], [0, 1, 2])


def test_check_arrays_names_the_problem():
    specs = [("a", np.dtype(np.int32), (5,)), ("b", np.dtype(np.float32), (2,))]
    with pytest.raises(ValueError, match="lacks array 'b'"):
        ser.check_arrays("state", {"a": np.zeros(5, np.int32)}, specs)
    with pytest.raises(ValueError, match="'a' has dtype int64 and shape \\(5,\\), expected int32"):
        ser.check_arrays("state", {"a": np.zeros(5, np.int64), "b": np.zeros(2, np.float32)}, specs)
    with pytest.raises(ValueError, match="unexpected arrays \\['z'\\]"):
        ser.check_arrays("state", {"a": np.zeros(5, np.int32), "b": np.zeros(2, np.float32), "z": np.zeros(1)}, specs)


def test_describe_mismatch():
    got = {"io_descs": [{"size": [1, 2, 3]}], "layer_descs": []}
    want = {"io_descs": [{"size": [1, 2, 4]}], "layer_descs": []}
    assert ser.describe_mismatch(got, want) == "io_descs[0].size[2] is 3 in the buffer but 4 in this hierarchy"


def test_rejects_garbage_inputs():
    with pytest.raises(ValueError, match="uint8 numpy array or bytes"):
        ser.read_buffer("hello", ser.KIND_STATE)
    with pytest.raises(ValueError, match="truncated"):
        ser.read_buffer(b"", ser.KIND_STATE)
    # A well-formed frame whose array table lies about its length (checksum recomputed to get past it).
    body = bytearray(ser.write_buffer(ser.KIND_STATE, b"{}", _arrays()).tobytes()[:-4])
    body = body[:-8]
    body += struct.pack("<I", zlib.crc32(body))
    with pytest.raises(ValueError, match="malformed"):
        ser.read_buffer(bytes(body), ser.KIND_STATE)


@pytest.mark.parametrize("excess", [1, 2**31])
def test_a_descriptor_length_past_the_end_is_refused_by_name(excess):
    """A re-signed buffer (valid CRC) whose header claims a longer descriptor than the buffer holds: a named
    ValueError, not a struct.error from reading past the end."""
    buf = ser.write_buffer(ser.KIND_STATE, ser.canonical_json({"x": 1}), _arrays()).copy()
    magic, version, kind, dlen = struct.unpack_from("<8sIII", buf, 0)
    rest = len(buf) - struct.calcsize("<8sIII") - 4  # what follows the header, before the CRC
    struct.pack_into("<8sIII", buf, 0, magic, version, kind, min(rest - 3 + excess, 2**32 - 1))
    struct.pack_into("<I", buf, len(buf) - 4, zlib.crc32(bytes(buf[:-4])))
    with pytest.raises(ValueError, match="descriptor runs past the end"):
        ser.read_buffer(buf, ser.KIND_STATE)


def test_an_array_running_past_the_end_is_refused_by_name():
    """A re-signed buffer cut inside its last array: the error names the array, not some later symptom."""
    body = bytearray(ser.write_buffer(ser.KIND_STATE, b"{}", _arrays()).tobytes()[:-4])[:-8]
    body += struct.pack("<I", zlib.crc32(body))
    with pytest.raises(ValueError, match=r"buffer is malformed: array '\w+' runs past the end"):
        ser.read_buffer(bytes(body), ser.KIND_STATE)


def test_trailing_bytes_after_the_last_array_are_refused():
    """A re-signed buffer with bytes appended after its arrays: refused, not read as if they were not there."""
    body = bytearray(ser.write_buffer(ser.KIND_STATE, b"{}", _arrays()).tobytes()[:-4]) + b"\x00\x01\x02"
    body += struct.pack("<I", zlib.crc32(body))
    with pytest.raises(ValueError, match="buffer is malformed: 3 unexpected trailing bytes"):
        ser.read_buffer(bytes(body), ser.KIND_STATE)


def test_an_array_name_that_is_not_utf8_is_refused_as_such():
    body = bytearray(ser.write_buffer(ser.KIND_STATE, b"{}", _arrays()).tobytes()[:-4])
    body[body.index(b"b.c")] = 0xFF
    body += struct.pack("<I", zlib.crc32(body))
    with pytest.raises(ValueError, match="buffer is malformed: 'utf-8' codec can't decode byte 0xff"):
        ser.read_buffer(bytes(body), ser.KIND_STATE)


def test_read_arrays_are_writable_copies_independent_of_the_buffer():
    buf = ser.write_buffer(ser.KIND_STATE, b"{}", _arrays()).copy()
    _, arrays = ser.read_buffer(buf, ser.KIND_STATE)
    expected = {name: array.copy() for name, array in arrays.items()}
    buf[:] = 0  # the caller reuses its buffer
    assert all(np.array_equal(arrays[name], expected[name]) for name in expected)
    arrays["a"][0] = 7  # and the arrays are the caller's to change
    assert arrays["a"][0] == 7
