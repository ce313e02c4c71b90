"""svertka.load on files written by torch.save: values, dtypes, views, byte order, and hostile
files (code that must never run, truncated and bit-flipped files, sizes the file cannot hold).

torch writes the honest files; hostile ones are torch's files rewritten member by member
(``_rewrite``) or pickles written by ``_craft`` with the very globals torch writes.
"""

import collections
import io
import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest
import torch

import svertka
from svertka import nn
from svertka.models.resnet import BasicBlock, ResNet


def _save(tmp_path, obj, name="w.pt", **kwargs):
    path = tmp_path / name
    torch.save(obj, path, **kwargs)
    return path


def _rewrite(src, dst, change):
    """Copy the zip ``src`` to ``dst``, member ``name``'s bytes replaced by ``change(name,
    data)`` (stored, as torch writes)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, change(info.filename, zin.read(info.filename)))
    return dst


class _Rec:
    """A tensor record for ``_craft``: what ``_rebuild_tensor_v2`` gets."""

    def __init__(self, key, numel, offset, size, stride, storage=torch.FloatStorage):
        self.pid = ("storage", storage, key, "cpu", numel)
        self.args = (offset, size, stride, False, collections.OrderedDict())


class _CraftPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, _Pid) else None

    def reducer_override(self, obj):
        if isinstance(obj, _Rec):
            return torch._utils._rebuild_tensor_v2, (_Pid(obj.pid),) + obj.args
        return NotImplemented


class _Pid:
    def __init__(self, pid):
        self.pid = pid


def _craft(tmp_path, obj, members=None, name="crafted.pt"):
    """A torch zip whose data.pkl pickles ``obj`` (``_Rec`` as tensor records), with
    ``members`` (key -> bytes) as storages."""
    buf = io.BytesIO()
    _CraftPickler(buf, protocol=2).dump(obj)
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/byteorder", b"little")
        for key, data in (members or {}).items():
            z.writestr(f"archive/data/{key}", data)
        z.writestr("archive/version", b"3\n")
    return path


def _np(t):
    return t._data if isinstance(t, svertka.Tensor) else t.detach().numpy()


# ------------------------------------------------------------------------ honest files
class _TorchBlock(torch.nn.Module):
    """torchvision's BasicBlock, by hand (torchvision does not load with this torch)."""

    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(planes)
        self.relu = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(inplanes, planes, 1, stride, bias=False),
                torch.nn.BatchNorm2d(planes))

    def forward(self, x):
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class _TorchResNet(torch.nn.Module):
    """torchvision's ResNet layout with one BasicBlock per stage."""

    def __init__(self, num_classes):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(64)
        self.relu = torch.nn.ReLU()
        self.maxpool = torch.nn.MaxPool2d(3, 2, 1)
        widths = [64, 128, 256, 512]
        for i, w in enumerate(widths):
            setattr(self, f"layer{i + 1}", torch.nn.Sequential(
                _TorchBlock(widths[max(i - 1, 0)], w, 1 if i == 0 else 2)))
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(512, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _randomize_bn_statistics(model):
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)


def test_load_torch_resnet_state_dict_gives_torchs_outputs(tmp_path):
    torch.manual_seed(0)
    tm = _TorchResNet(10).float().eval()  # float32 whatever default dtype other tests left
    _randomize_bn_statistics(tm)
    path = _save(tmp_path, {"model": tm.state_dict(), "epoch": 3}, "resnet.pth")
    ckpt = svertka.load(path)
    assert ckpt["epoch"] == 3 and isinstance(ckpt["model"], collections.OrderedDict)
    sm = ResNet(BasicBlock, [1, 1, 1, 1], num_classes=10).eval()
    sm.load_state_dict(ckpt["model"])
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    got = sm(svertka.tensor(x))._data
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * max(1, np.abs(want).max()))


def _lecture_cnn(nn_):
    return nn_.Sequential(nn_.Conv2d(3, 8, 3, padding=1), nn_.BatchNorm2d(8), nn_.ReLU(),
                          nn_.MaxPool2d(2), nn_.Conv2d(8, 16, 3), nn_.ReLU(), nn_.Flatten(),
                          nn_.Linear(16 * 2 * 2, 5))


def test_load_torch_cnn_state_dict_float64_gives_torchs_outputs(tmp_path):
    torch.manual_seed(0)
    tm = _lecture_cnn(torch.nn).double().eval()
    _randomize_bn_statistics(tm)
    path = _save(tmp_path, tm.state_dict())
    sm = _lecture_cnn(nn).to(svertka.float64).eval()
    sm.load_state_dict(svertka.load(path))
    x = np.random.default_rng(1).standard_normal((3, 3, 8, 8))
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sm(svertka.tensor(x))._data, want, rtol=0, atol=1e-12)


_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8,
           torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool]


def _every_dtype():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(3, 4, generator=g, dtype=torch.float64) * 50
    return {str(d): base.to(d) for d in _DTYPES}


def test_load_torch_tensors_of_every_dtype(tmp_path):
    obj = _every_dtype()
    got = svertka.load(_save(tmp_path, obj))
    for k, t in obj.items():
        want = t.float() if t.dtype == torch.bfloat16 else t  # widened, exactly
        assert got[k].dtype == svertka.from_numpy(want.numpy()).dtype, k
        np.testing.assert_array_equal(got[k]._data, want.numpy(), err_msg=k)


def test_load_torch_views_with_offsets_and_strides(tmp_path):
    x = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    obj = {"x": x, "t": x.t(), "slice": x[1:, ::2], "row": x[2], "scalar": x[3, 5],
           "overlap": torch.as_strided(x, (3, 4), (1, 2), 5),
           "expand": torch.arange(3.0).expand(4, 3), "empty": x[:0, 2:], "0d": torch.tensor(7)}
    path = _save(tmp_path, obj)
    want = torch.load(path, weights_only=True)
    got = svertka.load(path)
    for k in obj:
        assert got[k].shape == tuple(want[k].shape), k
        np.testing.assert_array_equal(got[k]._data, want[k].numpy(), err_msg=k)
        assert got[k]._data.flags.owndata or got[k]._data.base is None or \
            got[k]._data.base.flags.owndata, k
    got["x"]._data[0, 0] = -1.0  # copies: a change to one leaves the others as they were
    assert got["t"]._data[0, 0] == 0.0 and got["overlap"]._data[0, 0] == 5.0


def test_load_torch_keeps_parameters_and_requires_grad(tmp_path):
    obj = {"p": torch.nn.Parameter(torch.ones(2)),
           "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
           "leaf": torch.ones(3, requires_grad=True), "plain": torch.ones(1),
           "nested": [(torch.zeros(1), {"deep": [torch.ones(2, 2)]})], "size": torch.Size([2, 3]),
           "dtype": torch.float16, "od": collections.OrderedDict(a=1)}
    path = _save(tmp_path, obj)
    want = torch.load(path, weights_only=True)
    got = svertka.load(path, map_location="cpu")
    for k in ("p", "frozen", "leaf", "plain"):
        assert got[k].requires_grad == want[k].requires_grad, k
        assert isinstance(got[k], nn.Parameter) == isinstance(want[k], torch.nn.Parameter), k
    np.testing.assert_array_equal(got["nested"][0][1]["deep"][0]._data, np.ones((2, 2)))
    assert isinstance(got["nested"][0], tuple)
    assert got["size"] == (2, 3) and got["dtype"] == svertka.float16
    assert got["od"] == {"a": 1}


def _swap_storages(name, data, itemsizes):
    if name.endswith("/byteorder"):
        return b"big"
    key = name.rpartition("/data/")[2]
    if "/data/" in name and key in itemsizes:
        return np.frombuffer(data, np.dtype(f"<u{itemsizes[key]}")
                             if itemsizes[key] > 1 else np.uint8).byteswap().tobytes()
    return data


def test_load_torch_big_endian_file(tmp_path):
    obj = _every_dtype()  # one storage per tensor, keys "0", "1", ... in this order
    itemsizes = {str(i): t.element_size() for i, t in enumerate(obj.values())}
    path = _rewrite(_save(tmp_path, obj), tmp_path / "big.pt",
                    lambda n, d: _swap_storages(n, d, itemsizes))
    want = torch.load(path, weights_only=True)  # torch reads big-endian files: the oracle
    got = svertka.load(path)
    for k, t in want.items():
        want_k = t.float() if t.dtype == torch.bfloat16 else t
        np.testing.assert_array_equal(got[k]._data, want_k.numpy(), err_msg=k)
        np.testing.assert_array_equal(got[k]._data, svertka.load(_save(tmp_path, obj))[k]._data)


def test_load_torch_detects_format_by_content_not_name(tmp_path):
    path = _save(tmp_path, {"w": torch.ones(2)}, name="weights.bin")
    np.testing.assert_array_equal(svertka.load(path)["w"]._data, [1.0, 1.0])
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(svertka.load(io.BytesIO(fh.read()))["w"]._data, [1, 1])


def test_load_torch_legacy_format_gives_torchs_values(tmp_path):
    x = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    obj = {"sd": collections.OrderedDict(w=x, t=x.t(), row=x[1]), "p": torch.nn.Parameter(
        torch.ones(2)), "bf": torch.ones(2, dtype=torch.bfloat16), "n": [1, "a"], **_every_dtype()}
    path = _save(tmp_path, obj, "old.pth", _use_new_zipfile_serialization=False)
    with open(path, "rb") as fh:
        assert fh.read(2) == b"\x80\x02" and not zipfile.is_zipfile(path)
    want = torch.load(path, weights_only=True)
    got = svertka.load(path)
    for k in ("w", "t", "row"):
        np.testing.assert_array_equal(got["sd"][k]._data, want["sd"][k].numpy(), err_msg=k)
    for k in obj:
        if isinstance(want[k], torch.Tensor):
            w = want[k].detach()
            w = (w.float() if w.dtype == torch.bfloat16 else w).numpy()
            np.testing.assert_array_equal(got[k]._data, w, err_msg=k)
    assert isinstance(got["p"], nn.Parameter) and got["p"].requires_grad and got["n"] == [1, "a"]


def test_load_torch_legacy_format_truncated_or_hostile_is_checkpoint_error(tmp_path):
    marker = tmp_path / "pwned"
    data = _save(tmp_path, {"w": torch.arange(8.0)}, "old.pth",
                 _use_new_zipfile_serialization=False).read_bytes()
    for n in range(20, len(data), max(1, len(data) // 40)):
        cut = tmp_path / "cut.pth"
        cut.write_bytes(data[:n])
        with pytest.raises(svertka.CheckpointError, match=r"cut\.pth"):
            svertka.load(cut)
    path = _save(tmp_path, {"w": torch.ones(1), "x": _Payload(os.system, (f"touch {marker}",))},
                 "evil.pth", _use_new_zipfile_serialization=False)
    with pytest.raises(svertka.CheckpointError, match=r"evil\.pth.*refusing to load global"):
        svertka.load(path)
    assert not marker.exists()


# ------------------------------------------------------------------------ hostile files
class _Payload:
    """Pickles as a call that creates the marker file."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class UserClass:
    """A class of the user's code, pickled by reference."""

    def __init__(self):
        self.x = 1


def _payloads(marker):
    return {
        "os.system": (_Payload(os.system, (f"touch {marker}",)), f"{os.system.__module__}.system"),
        # protocol 2 writes Python 2's module names: __builtin__, commands
        "exec": (_Payload(exec, (f"open({str(marker)!r}, 'w').close()",)),
                 r"(__builtin__|builtins)\.exec"),
        "eval": (_Payload(eval, (f"open({str(marker)!r}, 'w')",)), r"(__builtin__|builtins)\.eval"),
        "subprocess": (_Payload(subprocess.Popen, (["touch", str(marker)],)),
                       r"(commands|subprocess)\.Popen"),
        "user_class": (UserClass(), "UserClass"),
    }


@pytest.mark.parametrize("case", ["os.system", "exec", "eval", "subprocess", "user_class"])
def test_load_torch_never_runs_code_from_the_file(tmp_path, case):
    marker = tmp_path / "pwned"
    payload, refused = _payloads(marker)[case]
    path = _save(tmp_path, {"w": torch.ones(2), "x": [payload]}, "evil.pth")
    if case == "os.system":  # the payload is live: torch's full unpickler runs it
        torch.load(path, weights_only=False)
        assert marker.exists()
        marker.unlink()
    with pytest.raises(svertka.CheckpointError, match=rf"evil\.pth.*refusing to load global "
                                                      rf"\S*{refused}"):
        svertka.load(path)
    assert not marker.exists()


def test_load_torch_refuses_payload_hidden_in_a_tensors_arguments(tmp_path):
    marker = tmp_path / "pwned"
    rec = _Rec("0", 2, 0, (2,), (1,))
    rec.args = rec.args[:4] + (_Payload(os.system, (f"touch {marker}",)),)
    path = _craft(tmp_path, {"w": rec}, {"0": b"\0" * 8})
    with pytest.raises(svertka.CheckpointError, match="refusing to load global"):
        svertka.load(path)
    assert not marker.exists()


def test_load_torch_refuses_storage_larger_than_the_file_before_allocating(tmp_path):
    path = _craft(tmp_path, {"w": _Rec("0", 10**12, 0, (10**12,), (1,))}, {"0": b"\0" * 8})
    with pytest.raises(svertka.CheckpointError, match=r"crafted\.pt.*storage '0' declares "
                                                      r"1000000000000 elements.*more than"):
        svertka.load(path)


def test_load_torch_refuses_storage_that_does_not_match_its_member(tmp_path):
    path = _craft(tmp_path, {"w": _Rec("0", 3, 0, (3,), (1,))}, {"0": b"\0" * 8})
    with pytest.raises(svertka.CheckpointError, match=r"stores 8 bytes, but its storage "
                                                      r"declares 12"):
        svertka.load(path)


@pytest.mark.parametrize("offset,size,stride", [(1, (2,), (1,)), (0, (2, 2), (1, 1)),
                                                (5, (), ()), (0, (3,), (1,))])
def test_load_torch_refuses_views_reaching_past_their_storage(tmp_path, offset, size, stride):
    path = _craft(tmp_path, {"w": _Rec("0", 2, offset, size, stride)}, {"0": b"\0" * 8})
    with pytest.raises(svertka.CheckpointError, match="reaches past its storage"):
        svertka.load(path)


def test_load_torch_refuses_views_repeating_a_storage_beyond_the_copy_budget(tmp_path):
    path = _save(tmp_path, {"w": torch.zeros(1).expand(10**5, 10**5)})
    with pytest.raises(svertka.CheckpointError, match="more than 4 times the file's size"):
        svertka.load(path)


def test_load_torch_truncated_files_are_checkpoint_errors(tmp_path):
    data = _save(tmp_path, {"w": torch.arange(64.0), "b": torch.ones(3)}).read_bytes()
    for n in range(0, len(data), max(1, len(data) // 60)):
        cut = tmp_path / "cut.pt"
        cut.write_bytes(data[:n])
        with pytest.raises(svertka.CheckpointError, match=r"cut\.pt"):
            svertka.load(cut)


def test_load_torch_bit_flips_give_checkpoint_error_or_the_values(tmp_path):
    obj = {"w": torch.arange(64.0), "b": torch.ones(3, dtype=torch.int64)}
    data = bytearray(_save(tmp_path, obj).read_bytes())
    rng = np.random.default_rng(0)
    flipped = tmp_path / "flipped.pt"
    for pos in rng.choice(len(data), size=120, replace=False):
        bad = bytearray(data)
        bad[pos] ^= 1 << int(rng.integers(8))
        flipped.write_bytes(bytes(bad))
        try:
            got = svertka.load(flipped)
        except svertka.CheckpointError as e:
            assert "flipped.pt" in str(e)
            continue
        # a flip outside what is read (a zip comment, the serialization id) leaves the values
        for k, t in obj.items():
            np.testing.assert_array_equal(got[k]._data, t.numpy())


@pytest.mark.parametrize("byteorder", [b"middle", b""])
def test_load_torch_refuses_unknown_byteorder(tmp_path, byteorder):
    path = _rewrite(_save(tmp_path, {"w": torch.ones(1)}), tmp_path / "bo.pt",
                    lambda n, d: byteorder if n.endswith("/byteorder") else d)
    with pytest.raises(svertka.CheckpointError, match="byteorder"):
        svertka.load(path)


# ------------------------------------------------------------------------ writing
def test_save_format_torch_loads_in_torch_weights_only_with_the_same_outputs(tmp_path):
    svertka.manual_seed(0)
    sm = _lecture_cnn(nn).to(svertka.float64).eval()
    path = tmp_path / "from_svertka.pt"
    svertka.save({"model": sm.state_dict(), "epoch": 3, "hist": [0.5, None, (1, "a")]}, path,
                 format="torch")
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["epoch"] == 3 and ckpt["hist"] == [0.5, None, (1, "a")]
    tm = _lecture_cnn(torch.nn).double().eval()
    tm.load_state_dict(ckpt["model"])
    x = np.random.default_rng(2).standard_normal((2, 3, 8, 8))
    with torch.no_grad():
        want = tm(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(sm(svertka.tensor(x))._data, want, rtol=0, atol=1e-12)


def test_save_format_torch_keeps_dtypes_parameters_and_requires_grad(tmp_path):
    obj = {str(d): svertka.ones(2, 3, dtype=d) for d in (
        svertka.float16, svertka.float32, svertka.float64, svertka.int8, svertka.int16,
        svertka.int32, svertka.int64, svertka.uint8, svertka.bool_)}
    obj.update(p=nn.Parameter(svertka.ones(2)), f=nn.Parameter(svertka.ones(1), False),
               leaf=svertka.ones(2).requires_grad_(), view=svertka.arange(6.0).reshape(2, 3).T,
               scalar=svertka.tensor(2.5))
    path = tmp_path / "t.pt"
    svertka.save(obj, path, format="torch")
    want = torch.load(path, weights_only=True)
    for k, t in obj.items():
        np.testing.assert_array_equal(want[k].detach().numpy(), t._data, err_msg=k)
        assert str(want[k].dtype).replace("torch.", "svertka.") == str(t.dtype), k
        assert want[k].requires_grad == t.requires_grad, k
        assert isinstance(want[k], torch.nn.Parameter) == isinstance(t, nn.Parameter), k
    got = svertka.load(path)
    for k, t in obj.items():
        np.testing.assert_array_equal(got[k]._data, t._data, err_msg=k)


def test_save_format_torch_refuses_what_torch_load_would_refuse(tmp_path):
    with pytest.raises(TypeError, match=r"got ndarray at obj\['a'\]"):
        svertka.save({"a": np.ones(2)}, tmp_path / "x.pt", format="torch")


def test_load_torch_whole_model_is_refused_with_a_hint(tmp_path):
    path = _save(tmp_path, torch.nn.Linear(2, 1), "model.pt")
    with pytest.raises(svertka.CheckpointError, match=r"model\.pt.*torch\.nn\.modules\.linear"
                                                      r"\.Linear.*state_dict\(\) instead"):
        svertka.load(path)


def test_load_torch_memory_peak_is_about_twice_the_file_size(tmp_path):
    import tracemalloc

    path = _save(tmp_path, {"w": torch.ones(2 ** 20), "b": torch.zeros(2 ** 10)})
    size = path.stat().st_size
    tracemalloc.start()
    try:
        state = svertka.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert state["w"].sum().item() == 2 ** 20
    assert peak < 2.2 * size  # each storage once, each tensor's copy, a read buffer
