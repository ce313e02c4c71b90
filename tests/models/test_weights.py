"""Pretrained weights without network: torchvision-layout checkpoints written with torch, served
by a local HTTP server or a file:// mirror, or placed in svertka's or torch's cache."""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil

import numpy as np
import pytest
import torch
from tests.data.test_download import closed_port_url, server  # noqa: F401  (fixtures)
from tests.models._torch_ref import TORCH_REFS

import svertka
from svertka import models
from svertka.data.datasets.download import DownloadError
from svertka.models import weights as W


@pytest.fixture(autouse=True)
def homes(tmp_path, monkeypatch):
    """Empty svertka and torch caches in tmp_path; no mirror set."""
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path / "svertka-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.delenv(W.ENV_URL, raising=False)
    dirs = W.checkpoint_dirs()
    return {"svertka": dirs[0], "torch": dirs[1]}


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _named_by_hash(path, stem):
    """Rename ``path`` to ``<stem>-<first 8 hex digits of its SHA-256>.pth`` (torchvision's
    naming) in its folder; returns the new path."""
    new = path.with_name(f"{stem}-{_sha256(path)[:8]}.pth")
    path.rename(new)
    return new


def _entry(url, model, n_classes=1000, sha256=None):
    return W.Weights(url=url, transforms=W.ImageClassification, model=model, sha256=sha256,
                     meta={"categories": [f"class {i}" for i in range(n_classes)]})


@pytest.fixture(scope="module")
def resnet18_checkpoint(tmp_path_factory):
    """``(path, torch model)``: a torchvision-layout ResNet-18 with random weights and
    running statistics, saved by ``torch.save(model.state_dict())``."""
    torch.manual_seed(0)
    ref = TORCH_REFS["resnet18"]().float()  # whatever default dtype another test left
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ref.eval()
    path = tmp_path_factory.mktemp("ckpt") / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    return path, ref


@pytest.fixture
def lenet_checkpoint(tmp_path):
    """A small state dict (LeNet-5, 10 classes) saved by torch: ``(path, svertka model)``."""
    svertka.manual_seed(1)
    model = models.lenet5(num_classes=10).eval()
    path = tmp_path / "lenet5.pth"
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in model.state_dict().items()},
               path)
    return path, model


def _same_outputs(a, b, x):
    with svertka.no_grad():
        return np.allclose(a(svertka.tensor(x)).numpy(), b(svertka.tensor(x)).numpy(),
                           rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------- the table
def test_weights_table_names_torchvision_files_for_every_published_zoo_model():
    published = W.list_weights()
    assert set(published) == {
        "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
        "vgg19_bn", "googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
        "resnext50_32x4d", "mobilenet_v2"}
    assert set(published) <= set(models.list_models())
    for name in published:
        cls = W.get_model_weights(name)
        assert cls is getattr(models, cls.__name__)
        assert cls.DEFAULT in list(cls)
        for member in cls:
            assert member.url == "https://download.pytorch.org/models/" + member.file_name
            assert re.fullmatch(r"[a-z0-9_-]+-[0-9a-f]{8}\.pth", member.file_name)
            assert member.hash_prefix == member.file_name[-12:-4]
            t = member.transforms()
            assert (t.crop_size, t.mean, t.std) == (224, W.IMAGENET_MEAN, W.IMAGENET_STD)
            assert t.resize_size == (232 if member.name == "IMAGENET1K_V2" else 256)
            assert len(member.meta["categories"]) == 1000
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.AlexNet_Weights.DEFAULT.file_name == "alexnet-owt-7be5be79.pth"
    assert models.AlexNet_Weights.DEFAULT.hash_prefix == "7be5be79"


def test_imagenet_categories_are_torchvisions_list():
    c = W.imagenet_categories()
    assert len(c) == 1000 and len(set(c)) == 998  # 'crane' and 'maillot' twice, as torchvision
    assert (c[0], c[1], c[281], c[282], c[285], c[999]) == (
        "tench", "goldfish", "tabby", "tiger cat", "Egyptian cat", "toilet tissue")
    assert c[134] == c[517] == "crane" and c[638] == c[639] == "maillot"


def test_weights_enum_verify_get_weight_and_pickle():
    cls = models.ResNet18_Weights
    assert cls.verify(None) is None
    assert cls.verify("DEFAULT") is cls.IMAGENET1K_V1
    assert cls.verify("ResNet18_Weights.IMAGENET1K_V1") is cls.IMAGENET1K_V1
    assert W.get_weight("ResNet50_Weights.IMAGENET1K_V1").file_name == "resnet50-0676ba61.pth"
    assert pickle.loads(pickle.dumps(cls.IMAGENET1K_V1)) is cls.IMAGENET1K_V1
    with pytest.raises(ValueError, match="no weights named 'IMAGENET1K_V9'.*IMAGENET1K_V1"):
        cls.verify("IMAGENET1K_V9")
    with pytest.raises(TypeError, match="ResNet18_Weights"):
        cls.verify(3)
    with pytest.raises(ValueError, match="no pretrained weights .* 'lenet5'"):
        W.get_model_weights("lenet5")


# ---------------------------------------------------------------------------- downloads
def test_get_model_weights_downloads_checks_and_loads_a_torch_checkpoint(
        server, homes, resnet18_checkpoint):  # noqa: F811
    base, folder, requests = server
    src, ref = resnet18_checkpoint
    served = _named_by_hash(shutil.copy(src, folder / "r.pth") and folder / "r.pth", "resnet18")
    w = _entry(base + served.name, "resnet18")
    model = models.get_model("resnet18", weights=w).eval()
    assert (homes["svertka"] / served.name).is_file()
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with svertka.no_grad():
        got = model(svertka.tensor(x)).numpy()
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert requests == ["/" + served.name]


def test_weights_download_rejects_a_hash_prefix_mismatch(server, homes, lenet_checkpoint):  # noqa: F811
    base, folder, _ = server
    path, _ = lenet_checkpoint
    shutil.copy(path, folder / "lenet5-deadbeef.pth")
    assert not _sha256(path).startswith("deadbeef")
    with pytest.raises(ValueError, match="checksum mismatch, expected a digest starting "
                                         "deadbeef"):
        models.get_model("lenet5", weights=_entry(base + "lenet5-deadbeef.pth", "lenet5", 10))
    assert not homes["svertka"].exists() or os.listdir(homes["svertka"]) == []


def test_weights_full_sha256_is_checked_on_download_and_in_the_cache(
        server, homes, lenet_checkpoint):  # noqa: F811
    base, folder, requests = server
    path, model = lenet_checkpoint
    served = _named_by_hash(shutil.copy(path, folder / "l.pth") and folder / "l.pth", "lenet5")
    digest = _sha256(served)
    wrong = ("0" if digest[-1] != "0" else "1") * 64
    with pytest.raises(ValueError, match="checksum mismatch"):
        models.get_model("lenet5", weights=_entry(base + served.name, "lenet5", 10, wrong))
    got = models.get_model("lenet5", weights=_entry(base + served.name, "lenet5", 10, digest))
    assert _same_outputs(got.eval(), model, np.ones((1, 1, 32, 32), np.float32))
    with pytest.raises(ValueError, match=f"{served.name}: sha256 checksum mismatch"):
        models.get_model("lenet5", weights=_entry(base + served.name, "lenet5", 10, wrong))
    models.get_model("lenet5", weights=_entry(base + served.name, "lenet5", 10))
    assert len(requests) == 2  # the cached file is used, and checked when a digest is given


def test_weights_offline_error_says_which_file_to_put_where(homes, closed_port_url):  # noqa: F811
    with pytest.raises(DownloadError) as e:
        models.get_model("resnet18", weights=_entry(closed_port_url + "resnet18-f37072fd.pth",
                                                    "resnet18"))
    msg = str(e.value)
    assert "resnet18-f37072fd.pth" in msg and str(homes["svertka"]) in msg
    assert str(homes["torch"]) in msg and W.ENV_URL in msg


def test_weights_mirror_env_var_replaces_the_server(tmp_path, monkeypatch, homes,
                                                    lenet_checkpoint):
    path, model = lenet_checkpoint
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    served = _named_by_hash(shutil.copy(path, mirror / "l.pth") and mirror / "l.pth", "lenet5")
    monkeypatch.setenv(W.ENV_URL, mirror.as_uri())
    w = _entry("https://download.invalid/models/" + served.name, "lenet5", 10)
    got = models.get_model("lenet5", weights=w).eval()
    assert _same_outputs(got, model, np.ones((1, 1, 32, 32), np.float32))
    assert (homes["svertka"] / served.name).is_file()


def test_published_weights_are_read_from_torchs_cache_without_download(
        monkeypatch, homes, resnet18_checkpoint, closed_port_url):  # noqa: F811
    src, ref = resnet18_checkpoint
    homes["torch"].mkdir(parents=True)
    shutil.copy(src, homes["torch"] / "resnet18-f37072fd.pth")
    monkeypatch.setenv(W.ENV_URL, closed_port_url)  # a download would fail
    model = models.get_model("resnet18", weights="IMAGENET1K_V1").eval()
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        want = ref(torch.from_numpy(x)).numpy()
    with svertka.no_grad():
        np.testing.assert_allclose(model(svertka.tensor(x)).numpy(), want, rtol=1e-4,
                                   atol=1e-4)
    assert not homes["svertka"].exists()


# ---------------------------------------------------------------------------- weights=path
@pytest.mark.parametrize("kind", ["pth", "pth-in-dict", "svk", "safetensors"])
def test_get_model_weights_path_loads_a_state_dict_file(tmp_path, lenet_checkpoint, kind):
    path, model = lenet_checkpoint
    if kind == "pth-in-dict":
        path = tmp_path / "ckpt.pth"
        torch.save({"model": torch.load(lenet_checkpoint[0]), "epoch": 3}, path)
    elif kind == "svk":
        path = tmp_path / "w.svk"
        svertka.save(model.state_dict(), path)
    elif kind == "safetensors":
        pytest.importorskip("safetensors")
        path = tmp_path / "w.safetensors"
        svertka.save(dict(model.state_dict()), path, format="safetensors")
    got = models.get_model("lenet5", weights=str(path), num_classes=10).eval()
    assert _same_outputs(got, model, np.ones((1, 1, 32, 32), np.float32))
    got = models.get_model("lenet5", weights=path, num_classes=10).eval()  # a PathLike
    assert _same_outputs(got, model, np.ones((1, 1, 32, 32), np.float32))


def test_get_model_weights_path_of_another_model_names_the_file(lenet_checkpoint):
    path, _ = lenet_checkpoint
    with pytest.raises(ValueError, match=r"lenet5\.pth does not fit model 'lenet5'"):
        models.get_model("lenet5", weights=str(path), num_classes=7)


def test_get_model_rejects_bad_weights_arguments(tmp_path):
    with pytest.raises(ValueError, match="neither a weights name of model 'resnet18'"):
        models.get_model("resnet18", weights="IMAGENET1K_V9")
    with pytest.raises(ValueError, match="1000 classes, got num_classes=10"):
        models.get_model("resnet18", weights="DEFAULT", num_classes=10)
    with pytest.raises(ValueError, match="weights for model 'resnet34' given to model "
                                         "'resnet18'"):
        models.get_model("resnet18", weights=models.ResNet34_Weights.DEFAULT)
    with pytest.raises(TypeError, match="weights must be None"):
        models.get_model("resnet18", weights=3)
    with pytest.raises(FileNotFoundError):
        models.get_model("lenet5", weights=str(tmp_path / "missing.pth"))
    (tmp_path / "list.pth").write_bytes(b"")
    torch.save([torch.zeros(1)], tmp_path / "list.pth")
    with pytest.raises(ValueError, match="holds no state dict"):
        models.get_model("lenet5", weights=str(tmp_path / "list.pth"))


# ---------------------------------------------------------------------------- model details
def test_googlenet_transform_input_matches_torchvisions_formula():
    svertka.manual_seed(0)
    model = models.googlenet(num_classes=5, transform_input=True).double().eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32))
    t = torch.from_numpy(x)
    want = torch.cat([t[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5,
                      t[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5,
                      t[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5], 1).numpy()
    with svertka.no_grad():
        shifted = model(svertka.tensor(x)).numpy()
        model.transform_input = False
        plain = model(svertka.tensor(want)).numpy()
    np.testing.assert_allclose(shifted, plain, rtol=1e-10, atol=1e-12)
    assert models.GoogLeNet_Weights.DEFAULT.builder_kwargs == {"transform_input": True}


def test_googlenet_weights_drop_the_auxiliary_heads_as_torchvision(tmp_path):
    svertka.manual_seed(0)
    with_aux = models.googlenet(num_classes=3, aux_logits=True)
    path = tmp_path / "g.svk"
    svertka.save(with_aux.state_dict(), path)
    model = models.get_model("googlenet", weights=str(path), num_classes=3)
    assert model.aux1 is None
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(),
                                  with_aux.fc.weight.detach().numpy())


def test_image_classification_resizes_crops_and_normalises():
    pytest.importorskip("PIL")
    t = W.ImageClassification(crop_size=8, resize_size=10)
    img = np.zeros((20, 30, 3), np.uint8)
    img[..., 0] = 255
    x = t(img).numpy()
    assert x.shape == (3, 8, 8)
    want = (np.array([1.0, 0.0, 0.0]) - W.IMAGENET_MEAN) / W.IMAGENET_STD
    np.testing.assert_allclose(x, np.broadcast_to(want[:, None, None], x.shape), rtol=1e-6)
    assert t(np.zeros((20, 30), np.uint8)).shape == (3, 8, 8)  # grey: three channels
    with pytest.raises(TypeError, match="ImageClassification: expected a uint8 array"):
        t(np.zeros((20, 30, 3), np.float32))


def test_first_layer_filters_draw_from_loaded_weights(tmp_path, monkeypatch, homes,
                                                      resnet18_checkpoint):
    from svertka import viz

    src, ref = resnet18_checkpoint
    homes["torch"].mkdir(parents=True)
    shutil.copy(src, homes["torch"] / "resnet18-f37072fd.pth")
    model = models.get_model("resnet18", weights="DEFAULT")
    w = viz.first_conv_weight(model)
    np.testing.assert_array_equal(w.detach().numpy(), ref.conv1.weight.detach().numpy())
    grid = viz.filter_grid(w.detach().numpy())
    assert grid.shape == (8 * 7 + 9, 8 * 7 + 9, 3)  # 64 RGB 7x7 filters, 8 by 8, 1-pixel gaps
    if viz.available():
        assert viz.save_first_layer_filters(model, tmp_path / "filters.png")
        assert (tmp_path / "filters.png").stat().st_size > 0
