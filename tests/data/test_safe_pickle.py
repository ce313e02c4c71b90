"""The restricted unpickler of the CIFAR reader on crafted pickles: bounded work ("billion
laughs"), only NumPy's own array, dtype and scalar recipes, no code reached."""

import pickle
import struct
import tracemalloc

import numpy as np
import pytest

from svertka.data.datasets import CIFAR10, _pickle
from svertka.data.datasets.cifar import safe_load


def _put(i):
    return b"r" + struct.pack("<I", i)  # LONG_BINPUT


def _get(i):
    return b"j" + struct.pack("<I", i)  # LONG_BINGET


def _array_ops(shape=(2, 3072)):
    """The opcodes of a uint8 array (protocol 2), without PROTO and STOP."""
    return pickle.dumps(np.zeros(shape, np.uint8), protocol=2)[2:-1]


def _laughs(levels, fan, open_op=b"]", close_op=b"e", first=1000):
    """A container of ``fan ** levels`` items described in ``~6 * fan * levels`` bytes: each
    level holds ``fan`` references to the one below."""
    ops = open_op + _put(first) + b"(" + b"K\x01" * fan + close_op
    for i in range(1, levels):
        ops += b"0" + open_op + b"(" + _get(first + i - 1) * fan + close_op + _put(first + i)
    return ops


def _tuples(levels, fan, first=1000):
    ops = b"(" + b"K\x01" * fan + b"t" + _put(first)
    for i in range(1, levels):
        ops += b"0(" + _get(first + i - 1) * fan + b"t" + _put(first + i)
    return ops


def _batch(labels_ops=b"]", extra=b""):
    """A CIFAR batch dict {'data': uint8 (2, 3072), 'labels': <labels_ops>, <extra>}."""
    return (b"\x80\x02}(U\x04data" + _array_ops() + b"U\x06labels" + labels_ops + extra +
            b"u.")


def _refused(data, match):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"^CIFAR10: batch: " + match):
            safe_load(data, "batch", "CIFAR10")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, peak  # nothing was expanded


_LAUGHS = "the pickle refers to its objects again and again"


@pytest.mark.parametrize("data", [
    _batch(_laughs(9, 10)),                                        # 10**9 labels
    _batch(b"]", b"U\x01x" + _laughs(30, 2, b"]", b"e")),          # 2**30 items
    _batch(b"]", _tuples(9, 10) + b"K\x00"),                       # a key hashed 10**9 times
    _batch(b"]", b"U\x01y" + _tuples(12, 6)),                     # 6**12 items
], ids=["list_10e9", "list_2e30", "dict_key_tuple", "tuple_6e12"])
def test_safe_load_refuses_billion_laughs_in_bounded_memory(data):
    assert len(data) - len(_array_ops()) < 1000
    _refused(data, _LAUGHS)


def test_safe_load_bounds_copies_of_large_objects():
    big = b"B" + struct.pack("<I", 100_000) + b"\0" * 100_000  # BINBYTES, 100 kB
    copies = b"(" + big + _put(2000) + b"0" + _get(2000) * 64 + b"l"
    _refused(_batch(b"]", b"U\x01z" + copies), _LAUGHS)
    # one copy is fine: the budget is the file's size
    once = b"(" + big + _put(2000) + _get(2000) + b"l"
    d = safe_load(_batch(b"]", b"U\x01z" + once), "batch", "CIFAR10")
    assert len(d[b"z"]) == 2 and d[b"z"][0] is d[b"z"][1]


def test_cifar_refuses_billion_laughs_labels_naming_the_file(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(_batch(_laughs(9, 10)))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": ["a", "b"]}))
    with pytest.raises(ValueError, match=r"^CIFAR10: .*cifar-10-batches-py.test_batch: "
                                         + _LAUGHS):
        CIFAR10(tmp_path, train=False)


def _u1_array_pickle():
    return pickle.dumps(np.zeros(2, np.uint8), protocol=2)


_FLAGS = b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00t"


@pytest.mark.parametrize("data, match", [
    # a uint8 dtype whose state claims it holds objects: NumPy would store pointers in bytes
    (_u1_array_pickle().replace(_FLAGS, _FLAGS[:-2] + b"?t"), "refusing the dtype state"),
    (_u1_array_pickle().replace(b"X\x02\x00\x00\x00u1", b"X\x02\x00\x00\x00O8"),
     r"refusing dtype arguments \('O8'"),
    (_u1_array_pickle().replace(b"K\x00\x85", b"J\x00\xe4\x0bT\x85"),
     r"refusing _reconstruct arguments"),                            # shape (10**9 * 1.4,)
    (b"\x80\x02cnumpy\nndarray\n(J\x00\xca\x9a;\x85tR.", "refusing a call"),  # ndarray(10**9)
    (b"\x80\x02c__builtin__\nbytes\nJ\x00\xca\x9a;\x85R.", r"refusing bytes\(\) arguments"),
    (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00utf-16\x86R.",
     "refusing _codecs.encode arguments"),
    (b"\x80\x02]q\x00h\x00a.", "an object is changed after it was referenced again"),  # L = [L]
    (b"\x80\x02" + b"]" * 40 + b"a" * 39 + b".", "nesting deeper than 32 levels"),
    (b"\x80\x02\x82\x01.", "refusing the opcode EXT1"),
    (b"\x80\x02cbuiltins\nlist\n)\x81.", "refusing to load global builtins.list"),
    (b"\x80\x02cnumpy\nndarray\nK\x01b.", "refusing to set the state of a global"),
], ids=["object_flags", "object_dtype", "reconstruct_shape", "ndarray_call", "bytes_size",
        "encode_utf16", "recursive", "deep", "extension", "newobj_global", "build_global"])
def test_safe_load_refuses_what_numpy_never_writes(data, match):
    _refused(data, match)


@pytest.mark.parametrize("protocol", [0, 1, 2, 3, 4, 5])
def test_safe_load_reads_numpy_data_as_pickle_writes_it(protocol):
    obj = {"u8": np.arange(6, dtype=np.uint8).reshape(2, 3), "f": np.asfortranarray(
        np.ones((2, 3), np.float32)), "be": np.arange(3, dtype=">i4"), "s": np.array(["ab"]),
        "scalars": list(np.arange(3)), "b": b"", "ba": bytearray(b"xy"), "t": (1, "a", None),
        "nested": [[1, [2]], {"k": (b"v",)}], "float": 2.5, "big": 2**70, "bool": True}
    data = pickle.dumps(obj, protocol=protocol)
    got = _pickle.safe_load(data, encoding="ASCII")
    ref = pickle.loads(data)
    assert got.keys() == obj.keys()
    for k, v in ref.items():
        if isinstance(v, np.ndarray):
            assert got[k].dtype == v.dtype and got[k].flags.f_contiguous == v.flags.f_contiguous
            np.testing.assert_array_equal(got[k], v)
        else:
            assert got[k] == v and type(got[k]) is type(v)


def test_safe_load_wrappers_check_arguments_when_called_directly():
    # the second line of defence: what find_class returns checks its arguments too
    u = _pickle.RestrictedUnpickler
    assert u.find_class(None, "numpy", "ndarray") is _pickle._NDARRAY
    with pytest.raises(TypeError):
        _pickle._NDARRAY((10**10,))
    for key, args in [(("numpy._core.multiarray", "_reconstruct"), (np.ndarray, (0,), b"b")),
                      (("numpy._core.multiarray", "_reconstruct"), (_pickle._NDARRAY, (9,), b"b")),
                      (("numpy", "dtype"), ("O8", False, True)),
                      (("builtins", "bytes"), (10**10,)),
                      (("builtins", "bytearray"), (10**10,)),
                      (("_codecs", "encode"), ("a", "rot13")),
                      (("numpy._core.multiarray", "scalar"), (np.dtype(object), [1])),
                      (("numpy._core.numeric", "_frombuffer"),
                       (b"\0" * 8, np.dtype(object), (1,), "C"))]:
        with pytest.raises(_pickle.UnsafePickleError, match="refusing"):
            u.find_class(None, *key)(*args)
