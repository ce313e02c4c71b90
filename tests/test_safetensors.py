"""safetensors files: svertka.save/load by extension, svertka.safetensors, and round trips with
the files of safetensors.torch."""

import io
import sys

import numpy as np
import pytest
import safetensors.torch
import torch

import svertka
from svertka import safetensors as sst

_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8,
           torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool]


def _torch_tensors():
    base = torch.randn(3, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return {str(d): (base * 50).to(d) for d in _DTYPES}


def test_load_safetensors_from_safetensors_torch_every_dtype(tmp_path):
    path = tmp_path / "m.safetensors"
    tensors = _torch_tensors()
    safetensors.torch.save_file(tensors, path, metadata={"framework": "pt"})
    for got in (svertka.load(path), sst.load_file(path)):
        assert sorted(got) == sorted(tensors)  # the file orders them by dtype and size
        for k, t in tensors.items():
            want = (t.float() if t.dtype == torch.bfloat16 else t).numpy()
            assert got[k]._data.dtype == want.dtype, k
            np.testing.assert_array_equal(got[k]._data, want, err_msg=k)
    with sst.safe_open(path) as f:
        assert f.metadata() == {"framework": "pt"} and sorted(f.keys()) == sorted(tensors)
        np.testing.assert_array_equal(f.get_tensor("torch.bfloat16")._data,
                                      tensors["torch.bfloat16"].float().numpy())
        np.testing.assert_array_equal(f.get_tensor("torch.float16")._data,
                                      tensors["torch.float16"].numpy())


def test_save_safetensors_reads_back_in_safetensors_torch_with_metadata(tmp_path):
    sd = {"w": svertka.randn(3, 2), "b": svertka.tensor([1, 2], dtype=svertka.int64),
          "h": svertka.ones(2, dtype=svertka.float16), "m": svertka.tensor([True, False])}
    path = tmp_path / "x.safetensors"
    svertka.save(sd, path, metadata={"epoch": "3"})
    got = safetensors.torch.load_file(path)
    for k, t in sd.items():
        np.testing.assert_array_equal(got[k].numpy(), t._data, err_msg=k)
    with safetensors.safe_open(path, framework="pt") as f:
        assert f.metadata() == {"epoch": "3"}
    back = svertka.load(path)
    assert sorted(back) == sorted(sd)
    for k, t in sd.items():
        np.testing.assert_array_equal(back[k]._data, t._data)


def test_save_safetensors_by_format_and_to_a_file_object(tmp_path):
    buf = io.BytesIO()
    svertka.save({"w": svertka.ones(2)}, buf, format="safetensors")
    buf.seek(0)
    np.testing.assert_array_equal(svertka.load(buf)["w"]._data, [1.0, 1.0])
    sst.save_file({"w": svertka.zeros(1)}, tmp_path / "noext", metadata={"a": "b"})
    np.testing.assert_array_equal(svertka.load(tmp_path / "noext")["w"]._data, [0.0])


def test_load_state_dict_from_safetensors_gives_the_same_model(tmp_path):
    model = svertka.nn.Sequential(svertka.nn.Conv2d(1, 2, 3), svertka.nn.BatchNorm2d(2))
    svertka.save(model.state_dict(), tmp_path / "m.safetensors")
    other = svertka.nn.Sequential(svertka.nn.Conv2d(1, 2, 3), svertka.nn.BatchNorm2d(2))
    other.load_state_dict(svertka.load(tmp_path / "m.safetensors"))
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        np.testing.assert_array_equal(a._data, b._data, err_msg=k)


@pytest.mark.parametrize("obj,match", [
    ({"model": {"w": svertka.ones(1)}}, r"flat dict of tensors, got dict at 'model'"),
    ({"w": np.ones(1)}, r"got ndarray at 'w'"),
    ([svertka.ones(1)], r"flat dict of tensors, got list"),
    ({1: svertka.ones(1)}, r"tensor names must be str"),
])
def test_save_safetensors_refuses_what_the_format_cannot_hold(tmp_path, obj, match):
    with pytest.raises(TypeError, match=match):
        svertka.save(obj, tmp_path / "x.safetensors")


def test_save_safetensors_refuses_non_text_metadata(tmp_path):
    with pytest.raises(TypeError, match="metadata must be a dict of str to str"):
        sst.save_file({"w": svertka.ones(1)}, tmp_path / "x.safetensors", metadata={"e": 3})
    with pytest.raises(ValueError, match="metadata is kept by safetensors files only"):
        svertka.save({"w": svertka.ones(1)}, tmp_path / "x.ckpt", metadata={"e": "3"})


def test_load_safetensors_corrupted_file_is_checkpoint_error(tmp_path):
    path = tmp_path / "m.safetensors"
    safetensors.torch.save_file({"w": torch.ones(4)}, path)
    data = path.read_bytes()
    for n in (len(data) - 1, 20):
        cut = tmp_path / "cut.safetensors"
        cut.write_bytes(data[:n])
        with pytest.raises(svertka.CheckpointError, match=r"cut\.safetensors"):
            svertka.load(cut)
    other = tmp_path / "other.pt"
    svertka.save({"w": svertka.ones(1)}, other)
    with pytest.raises(svertka.CheckpointError, match=r"other\.pt.*not a valid safetensors"):
        sst.load_file(other)


def test_load_safetensors_refuses_dtypes_svertka_lacks(tmp_path):
    path = tmp_path / "u.safetensors"
    safetensors.torch.save_file({"u": torch.ones(2, dtype=torch.uint32)}, path)
    with pytest.raises(svertka.CheckpointError, match=r"u\.safetensors.*'u' has dtype U32"):
        svertka.load(path)


def test_safetensors_without_the_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r'pip install "svertka\[safetensors\]"'):
        svertka.save({"w": svertka.ones(1)}, tmp_path / "x.safetensors")
    with pytest.raises(ImportError, match=r'pip install "svertka\[safetensors\]"'):
        sst.load_file(tmp_path / "x.safetensors")
