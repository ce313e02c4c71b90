"""svertka.save / svertka.load: round trips, no code on load, refusal of broken files."""

import io
import json
import os
import zipfile

import numpy as np
import pytest

import svertka
from svertka import nn


def _checkpoint():
    return {
        "model": {"w": svertka.randn(3, 4), "b": svertka.zeros(4, dtype=svertka.float64),
                  "n": svertka.tensor(5), "mask": svertka.tensor([True, False])},
        "optimizer": {"state": {0: {"step": 3.0, "exp_avg": svertka.ones(2)}},
                      "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "params": [0, 1],
                                        "nesterov": False, "foreach": None}]},
        "epoch": 7, "loss": float("inf"), "name": "run-1", "array": np.arange(3),
    }


def _equal(a, b):
    if isinstance(a, svertka.Tensor):
        return (isinstance(b, svertka.Tensor) and a.dtype == b.dtype
                and np.array_equal(a.numpy(), b.numpy()))
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return (isinstance(b, dict) and list(a) == list(b)
                and all(_equal(a[k], b[k]) for k in a))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_equal, a, b))
    return type(a) is type(b) and a == b


def test_save_load_round_trip_keeps_types_keys_and_dtypes(tmp_path):
    obj = _checkpoint()
    svertka.save(obj, tmp_path / "ckpt.svk")
    assert _equal(obj, svertka.load(tmp_path / "ckpt.svk"))


def test_checkpoint_is_readable_with_numpy_alone(tmp_path):
    path = tmp_path / "ckpt.svk"
    svertka.save({"w": svertka.ones(2, 2)}, path)
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["__svertka__"]))
        key = meta["object"]["__dict__"][0][1]["__tensor__"]
        assert z[key].tolist() == [[1.0, 1.0], [1.0, 1.0]]


def test_load_refuses_truncated_file_naming_it(tmp_path):
    path = tmp_path / "ckpt.svk"
    svertka.save(_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(svertka.CheckpointError, match=r"ckpt\.svk.* is not a valid svertka "
                                                      r"checkpoint"):
        svertka.load(path)


def test_load_refuses_corrupted_array_bytes(tmp_path):
    path = tmp_path / "ckpt.svk"
    svertka.save({"w": svertka.zeros(1000)}, path)
    data = bytearray(path.read_bytes())
    i = data.index(b"\x00" * 64)  # inside the stored array
    data[i:i + 8] = b"\x01" * 8
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a valid svertka checkpoint"):
        svertka.load(path)


def test_load_refuses_foreign_npz_and_pickles(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="__svertka__"):
        svertka.load(tmp_path / "other.npz")
    with zipfile.ZipFile(tmp_path / "evil.svk", "w") as z:
        z.writestr("__svertka__.npy", b"\x80\x04not a numpy file")
    with pytest.raises(ValueError, match="not a valid svertka checkpoint"):
        svertka.load(tmp_path / "evil.svk")


def test_save_refuses_arbitrary_objects():
    with pytest.raises(TypeError, match="cannot save an object of type Linear at "
                                        r"obj\['model'\]"):
        svertka.save({"model": nn.Identity() and object.__new__(nn.Linear)}, io.BytesIO())


def test_failed_save_leaves_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "ckpt.svk"
    svertka.save({"epoch": 1}, path)
    with pytest.raises(TypeError):
        svertka.save({"epoch": 2, "bad": object()}, path)
    assert svertka.load(path) == {"epoch": 1}
    assert sorted(os.listdir(tmp_path)) == ["ckpt.svk"]  # no temporary file left behind


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        svertka.load(tmp_path / "nope.svk")


def test_parameters_come_back_as_parameters(tmp_path):
    p = nn.Parameter(svertka.ones(2))
    svertka.save({"p": p}, tmp_path / "p.svk")
    q = svertka.load(tmp_path / "p.svk")["p"]
    assert isinstance(q, nn.Parameter) and q.requires_grad


def test_load_reads_fortran_order_big_endian_and_empty_arrays(tmp_path):
    # numpy may write these layouts; load reads each straight into its buffer, then fixes it up
    structure = {"format": "svertka-checkpoint", "version": 1, "object": [
        {"__tensor__": "t0"}, {"__tensor__": "t1"}, {"__ndarray__": "t2"}, {"__tensor__": "t3"}]}
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    big = np.arange(4, dtype=">i4")
    both = np.asfortranarray(np.arange(6, dtype=">f8").reshape(3, 2))
    with open(tmp_path / "layouts.svk", "wb") as fh:
        np.savez(fh, __svertka__=np.array(json.dumps(structure)), t0=f, t1=big, t2=both,
                 t3=np.zeros((0, 5), np.float32))
    a, b, c, d = svertka.load(tmp_path / "layouts.svk")
    assert a.tolist() == f.tolist() and a.dtype == svertka.float64
    assert b.tolist() == [0, 1, 2, 3] and b.dtype == svertka.int32
    assert c.tolist() == both.tolist() and c.dtype == np.float64 and c.dtype.isnative
    assert d.shape == (0, 5)
