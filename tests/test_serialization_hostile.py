"""svertka.load on hostile files: CheckpointError naming the file, memory bounded by the file.

Each hostile checkpoint is written by hand (``_zip`` lays out local headers, the central
directory and the end record byte by byte; ``_npy`` writes a ``.npy`` header), so a test can
declare what no honest writer would: sizes, dtypes, shapes, flags and compression methods.
"""

import json
import os
import re
import signal
import stat
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib

import numpy as np
import pytest

import svertka
from svertka import serialization


def _npy(descr, shape, data=b"", fortran=False, header=None):
    """A version 1.0 ``.npy`` file declaring ``descr`` and ``shape`` (or the text ``header``),
    followed by ``data``."""
    if header is None:
        header = repr({"descr": descr, "fortran_order": fortran, "shape": tuple(shape)})
    header += " " * (-(len(header) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


class _Raw(str):
    """JSON text to put into a structure as it is (json.dumps would recurse on deep nesting)."""


def _structure(obj, **meta):
    """The ``__svertka__`` member holding ``meta`` (format, version, object) as NumPy would."""
    fields = {"format": serialization.FORMAT, "version": 1, "object": obj}
    fields.update(meta)
    raw = {k: v for k, v in fields.items() if isinstance(v, _Raw)}
    text = json.dumps({k: (f"@{k}@" if k in raw else v) for k, v in fields.items()
                       if v is not _ABSENT})
    for k, v in raw.items():
        text = text.replace(f'"@{k}@"', v)
    return _npy(f"<U{max(len(text), 1)}", (), text.encode("utf-32-le"))


_ABSENT = object()


def _local(name, data, method=0, flags=0, declared=None):
    """A member's local header and its bytes (deflated when ``method`` is 8), and its CRC."""
    stored = data
    if method == 8:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        stored = packer.compress(data) + packer.flush()
    size = len(data) if declared is None else declared
    head = (b"PK\x03\x04", 20, 0, flags, method, 0, 0x21, zlib.crc32(data), len(stored), size)
    record = struct.pack("<4s2B4HL2L2H", *head, len(name), 0) + name.encode() + stored
    return record, head


def _central(name, head, offset):
    sig, _, _, flags, method, time_, date, crc, csize, size = head
    return struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, flags, method, time_,
                       date, crc, csize, size, len(name), 0, 0, 0, 0, 0, offset) + name.encode()


def _zip(path, members, method=0, flags=0, declared=None, only=None, directory=None):
    """Write a zip of ``members`` (a dict or a list of (name, bytes) pairs) by hand.

    ``method`` (8 deflates) and ``flags`` go into the headers of every member (or of member
    ``only``); ``declared`` overrides the uncompressed size they declare; ``directory``
    replaces the central directory.
    """
    out, central = bytearray(), bytearray()
    for name, data in (members.items() if isinstance(members, dict) else members):
        odd = only in (None, name)
        record, head = _local(name, data, method if odd else 0, flags if odd else 0,
                              declared if odd else None)
        central += _central(name, head, len(out))
        out += record
    if directory is not None:
        central = directory
    start = len(out)
    out += central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                                 len(central), start, 0)
    path.write_bytes(bytes(out))
    return path


def _tensor_ref(key="t0", **flags):
    return {"__dict__": [["w", {"__tensor__": key, **flags}]]}


_F4 = _npy("<f4", (2,), np.ones(2, "<f4").tobytes())

# id -> (members of the crafted zip, options of _zip, what the message must say)
_HOSTILE = {
    "deep_nesting_over_recursion_limit": (
        {"__svertka__.npy": _structure(_Raw("[" * 5000 + "]" * 5000))}, {},
        "nested deeper than 100 levels"),
    "nesting_just_over_the_limit": (
        {"__svertka__.npy": _structure(_Raw("[" * 101 + "]" * 101))}, {},
        "nested deeper than 100 levels"),
    "dict_item_not_a_pair": (
        {"__svertka__.npy": _structure({"__dict__": [[1]]})}, {}, r"\[key, value\] pair"),
    "dict_key_a_list": (
        {"__svertka__.npy": _structure({"__dict__": [[[1], 2]]})}, {}, "a dict key must be"),
    "version_a_string": (
        {"__svertka__.npy": _structure([], version="1")}, {}, "format version must be"),
    "version_zero": (
        {"__svertka__.npy": _structure([], version=0)}, {}, "format version must be"),
    "object_missing": (
        {"__svertka__.npy": _structure(_ABSENT)}, {}, "has no 'object'"),
    "float_not_inf_or_nan": (
        {"__svertka__.npy": _structure({"__float__": "1e9999x"})}, {}, "'__float__' must be"),
    "unknown_node": (
        {"__svertka__.npy": _structure({"__set__": [1]})}, {}, "unknown node"),
    "reference_not_a_key": (
        {"__svertka__.npy": _structure(_tensor_ref(5))}, {}, "invalid array reference"),
    "reference_to_a_path": (
        {"__svertka__.npy": _structure(_tensor_ref("../t0")), "../t0.npy": _F4}, {},
        "invalid array reference"),
    "requires_grad_not_bool": (
        {"__svertka__.npy": _structure(_tensor_ref(requires_grad="yes")), "t0.npy": _F4}, {},
        "flags must be booleans"),
    "integer_tensor_requires_grad": (
        {"__svertka__.npy": _structure(_tensor_ref(requires_grad=True)),
         "t0.npy": _npy("<i8", (1,), b"\0" * 8)}, {}, "marked as requiring grad"),
    "array_referenced_twice": (
        {"__svertka__.npy": _structure([{"__ndarray__": "t0"}, {"__ndarray__": "t0"}]),
         "t0.npy": _F4}, {}, "referenced twice"),
    "member_not_npy": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0": b"\0" * 8}, {},
        "'t0' is missing"),
    "encrypted_flag": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0.npy": _F4},
        {"flags": 1, "only": "t0.npy"}, "'t0.npy' is encrypted"),
    "compression_method_99": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0.npy": _F4},
        {"method": 99, "only": "t0.npy"}, r"'t0.npy' is compressed \(method 99\)"),
    "structure_not_a_string": (
        {"__svertka__.npy": _npy("<f8", (), b"\0" * 8)}, {}, "has dtype float64"),
    "structure_not_json": (
        {"__svertka__.npy": _npy("<U3", (), "{{{".encode("utf-32-le"))}, {}, "not valid JSON"),
    "duplicate_member_names": (
        [("__svertka__.npy", _structure([])), ("__svertka__.npy", _structure([]))], {},
        "occurs twice"),
    "deflated_member": (  # a 1 MB array in a 1 kB file
        {"__svertka__.npy": _structure(_tensor_ref()),
         "t0.npy": _npy("<f4", (2 ** 18,), bytes(2 ** 20))}, {"method": 8, "only": "t0.npy"},
        r"'t0.npy' is compressed \(method 8\)"),
    "npy_header_garbage": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0.npy": b"\x93NUMPY\x01\x00\x04\x00{{{{"},
        {}, "not a valid .npy array"),
    "npy_header_nested": (
        {"__svertka__.npy": _structure(_tensor_ref()),
         "t0.npy": _npy(None, None, header="{'descr': " + "(" * 4000 + ")" * 4000 + "}")}, {},
        "not a valid .npy array"),
    "npy_negative_shape": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0.npy": _npy("<f4", (-1,))}, {},
        "invalid shape"),
    "npy_shape_larger_than_stored": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0.npy": _npy("<f4", (3,), b"\0" * 8)},
        {}, r"declares shape \(3,\) and dtype float32 \(12 bytes\), but its member stores 8 bytes"),
    "npy_fortran_shape_larger_than_stored": (
        {"__svertka__.npy": _structure(_tensor_ref()),
         "t0.npy": _npy("<f4", (2, 2), b"\0" * 8, fortran=True)}, {}, "stores 8 bytes"),
    "declared_size_beyond_the_file": (
        {"__svertka__.npy": _structure(_tensor_ref()), "t0.npy": _F4},
        {"declared": 10 ** 9, "only": "t0.npy"}, "'t0.npy' declares 1000000000 bytes"),
}
for _name, _descr in [("string", "<U3"), ("bytes", "|S4"), ("complex", "<c16"),
                      ("datetime", "<M8[s]"), ("timedelta", "<m8[s]"), ("object", "|O"),
                      ("structured", [("a", "<f4")]), ("subarray", ("<f4", (2,))),
                      ("uint16", "<u2"), ("float128", "<f16")]:
    _HOSTILE[f"tensor_of_dtype_{_name}"] = (
        {"__svertka__.npy": _structure(_tensor_ref()),
         "t0.npy": _npy(_descr, (1,), b"\0" * 16)}, {}, "has dtype .*which it may not have")
for _name, _descr in [("string", "<U3"), ("complex", "<c8"), ("object", "|O")]:
    _HOSTILE[f"array_of_dtype_{_name}"] = (
        {"__svertka__.npy": _structure({"__ndarray__": "t0"}),
         "t0.npy": _npy(_descr, (1,), b"\0" * 16)}, {}, "has dtype .*which it may not have")


@pytest.mark.parametrize("case", list(_HOSTILE), ids=list(_HOSTILE))
def test_load_refuses_hostile_checkpoint_naming_file_and_fault(tmp_path, case):
    members, options, fault = _HOSTILE[case]
    path = _zip(tmp_path / "hostile.svk", members, **options)
    with pytest.raises(svertka.CheckpointError, match=r"load: '.*hostile\.svk' is not a valid "
                                                      r"svertka checkpoint \(.*" + fault):
        svertka.load(path)


def test_load_refuses_declared_size_before_allocating(tmp_path):
    # 10**12 float64 elements (8 TB) declared in a 200-byte file: refused, nothing allocated
    members = {"__svertka__.npy": _structure(_tensor_ref()),
               "t0.npy": _npy("<f8", (10 ** 6, 10 ** 6))}
    path = _zip(tmp_path / "huge.svk", members)
    with pytest.raises(svertka.CheckpointError, match=r"huge\.svk.*8000000000000 bytes"):
        svertka.load(path)


def test_load_refuses_arrays_declaring_more_than_the_file(tmp_path):
    # t1's local header and data lie inside t0's data: each member fits in the file, but the
    # two arrays together declare more bytes than it has
    structure = _structure([{"__ndarray__": "t0"}, {"__ndarray__": "t1"}])
    first, first_head = _local("__svertka__.npy", structure)
    inner, inner_head = _local("t1.npy", _npy("<u1", (10 ** 4,), bytes(10 ** 4)))
    header = _npy("<u1", (len(inner),))
    outer, outer_head = _local("t0.npy", header + inner)
    inner_at = len(first) + len(outer) - len(inner)
    central = (_central("__svertka__.npy", first_head, 0)
               + _central("t0.npy", outer_head, len(first))
               + _central("t1.npy", inner_head, inner_at))
    body = first + outer
    path = tmp_path / "overlap.svk"
    path.write_bytes(body + central + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 3, 3,
                                                  len(central), len(body), 0))
    with pytest.raises(svertka.CheckpointError, match=r"overlap\.svk.*than the file holds"):
        svertka.load(path)


def test_load_refuses_huge_zip_directory_before_parsing_it(tmp_path):
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0x21, 0, 0, 0,
                        1, 0, 0, 0, 0, 0, 0) + b"a"
    count = serialization._MAX_DIRECTORY_BYTES // len(entry) + 1
    path = _zip(tmp_path / "table.svk", {"a": b""}, directory=entry * count)
    with pytest.raises(svertka.CheckpointError, match=r"table\.svk.*zip directory takes"):
        svertka.load(path)


def test_load_refuses_non_regular_files(tmp_path):
    fifo = tmp_path / "pipe.svk"
    os.mkfifo(fifo)  # opening it the ordinary way would wait for a writer forever
    for path, kind in [("/dev/zero", "a device"), (fifo, "a FIFO"), (tmp_path, "a directory")]:
        with pytest.raises(svertka.CheckpointError,
                           match=re.escape(repr(os.fspath(path))) + f".*not a regular file but "
                                                                    f"{kind}"):
            svertka.load(path)


def test_load_memory_peak_is_about_the_file_size(tmp_path):
    path = tmp_path / "ckpt.svk"
    svertka.save({"w": svertka.ones(3 * 2 ** 20), "b": svertka.zeros(2 ** 10)}, path)
    size = path.stat().st_size
    tracemalloc.start()
    try:
        state = svertka.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert state["w"].sum().item() == 3 * 2 ** 20
    assert peak < 1.1 * size  # the arrays themselves, and a read buffer


def test_save_and_load_share_the_depth_limit(tmp_path):
    nested = []
    for _ in range(serialization.MAX_DEPTH - 1):
        nested = [nested]
    svertka.save(nested, tmp_path / "deep.svk")
    assert svertka.load(tmp_path / "deep.svk") == nested
    with pytest.raises(ValueError, match=r"save: containers may be nested at most 100 deep"):
        svertka.save([nested], tmp_path / "deeper.svk")
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"save: containers may be nested at most 100 deep"):
        svertka.save(loop, tmp_path / "loop.svk")


def test_save_refuses_more_arrays_than_load_accepts(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "MAX_ARRAYS", 2)
    svertka.save([svertka.ones(1), np.zeros(1)], tmp_path / "two.svk")
    with pytest.raises(ValueError, match=r"save: a checkpoint holds at most 2 tensors"):
        svertka.save([svertka.ones(1)] * 3, tmp_path / "three.svk")


def test_save_refuses_structure_longer_than_load_accepts(tmp_path, monkeypatch):
    monkeypatch.setattr(serialization, "MAX_STRUCTURE_CHARS", 1000)
    with pytest.raises(ValueError, match=r"save: the object's structure takes \d+ characters"):
        svertka.save(list(range(1000)), tmp_path / "long.svk")


def test_load_refuses_non_seekable_file_object(tmp_path):
    path = tmp_path / "ckpt.svk"
    svertka.save({"a": 1}, path)
    with open(path, "rb") as fh:
        r, w = os.pipe()
        os.write(w, fh.read())
        os.close(w)
    with os.fdopen(r, "rb") as pipe:
        with pytest.raises(ValueError, match=r"load: the file object .* is not seekable"):
            svertka.load(pipe)


# --------------------------------------------------------------- temporary files, permissions
def _stale(path, age):
    path.write_bytes(b"partial checkpoint")
    then = time.time() - age
    os.utime(path, (then, then))
    return path


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_save_removes_stale_temporaries_of_killed_writers(tmp_path):
    # a real kill -9 in the middle of a save leaves the temporary file behind
    code = ("import os, signal, numpy as np, svertka\n"
            "np.savez = lambda f, **kw: (f.write(b'PK partial'), f.flush(),"
            " os.kill(os.getpid(), signal.SIGKILL))\n"
            f"svertka.save({{'w': svertka.ones(3)}}, {str(tmp_path / 'ckpt.svk')!r})\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True)
    assert run.returncode == -signal.SIGKILL, run.stderr.decode()
    (left,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    then = time.time() - 2 * serialization._DEAD_WRITER_AGE
    os.utime(left, (then, then))
    svertka.save({"epoch": 1}, tmp_path / "ckpt.svk")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.svk"]


def test_save_keeps_temporaries_that_may_belong_to_live_writers(tmp_path):
    host = serialization._host_tag()
    dead = _dead_pid()
    keep = [
        _stale(tmp_path / f".svertka-{host}-{os.getpid()}-0123456789ab.tmp", 600),  # alive
        _stale(tmp_path / f".svertka-{host}-{dead}-0123456789ab.tmp", 5),  # just died
        _stale(tmp_path / f".svertka-otherhost-{dead}-0123456789ab.tmp", 600),  # elsewhere
        _stale(tmp_path / ".svertka-notes.tmp", 10 ** 6),  # not a name svertka writes
        _stale(tmp_path / "other-0123456789ab.tmp", 10 ** 6),
    ]
    gone = [
        _stale(tmp_path / f".svertka-{host}-{dead}-ba9876543210.tmp",
               2 * serialization._DEAD_WRITER_AGE),
        _stale(tmp_path / ".svertka-otherhost-1-0123456789ab.tmp",
               2 * serialization._ABANDONED_AGE),
        _stale(tmp_path / ".svertka-k3j_x9q2.tmp", 2 * serialization._ABANDONED_AGE),  # mkstemp
    ]
    svertka.save({"epoch": 1}, tmp_path / "ckpt.svk")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted([p.name for p in keep] + ["ckpt.svk"])
    assert not any(p.exists() for p in gone)


def test_save_gives_checkpoints_the_permissions_of_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        svertka.save({"epoch": 1}, tmp_path / "ckpt.svk")
        (tmp_path / "log.csv").write_text("epoch\n")
        mode = stat.S_IMODE((tmp_path / "ckpt.svk").stat().st_mode)
        assert mode == stat.S_IMODE((tmp_path / "log.csv").stat().st_mode) == 0o644
        os.chmod(tmp_path / "ckpt.svk", 0o640)  # a replaced checkpoint keeps its permissions
        svertka.save({"epoch": 2}, tmp_path / "ckpt.svk")
        assert stat.S_IMODE((tmp_path / "ckpt.svk").stat().st_mode) == 0o640
    finally:
        os.umask(old)
