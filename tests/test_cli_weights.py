"""``svertka predict --model NAME --weights W``: a pretrained zoo model on an image, no network
(the weights file is placed in torch's cache under torchvision's name)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from tests.models._torch_ref import TORCH_REFS

import svertka
from svertka import cli
from svertka.models import weights as W


@pytest.fixture
def torch_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(W.ENV_HOME, str(tmp_path / "svertka-home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv(W.ENV_URL, "http://127.0.0.1:9/")  # nobody listens: no download
    folder = W.checkpoint_dirs()[1]
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    """A torchvision-layout ResNet-18 with random weights (a stronger last layer, so that the
    top classes stand apart), saved by torch: ``(path, torch model)``."""
    torch.manual_seed(0)
    ref = TORCH_REFS["resnet18"]().float()  # whatever default dtype another test left
    with torch.no_grad():
        ref.fc.weight.mul_(40.0)
    ref.eval()
    path = tmp_path_factory.mktemp("w") / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    return path, ref


def _image(path):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    if str(path).endswith(".npy"):
        np.save(path, img)
    else:
        from PIL import Image

        Image.fromarray(img).save(path)
    return img


@pytest.mark.parametrize("ext", [".npy", ".png"])
def test_predict_pretrained_prints_top5_class_names_as_torch(tmp_path, torch_cache,
                                                             resnet18_file, capsys, ext):
    if ext == ".png":
        pytest.importorskip("PIL")
    src, ref = resnet18_file
    shutil.copy(src, torch_cache / "resnet18-f37072fd.pth")
    img = _image(tmp_path / f"cat{ext}")
    assert cli.main(["predict", "--model", "resnet18", "--weights", "IMAGENET1K_V1",
                     str(tmp_path / f"cat{ext}")]) == 0
    lines = capsys.readouterr().out.splitlines()
    x = W.ResNet18_Weights.IMAGENET1K_V1.transforms()(img).numpy()[None]
    with torch.no_grad():
        probs = torch.softmax(ref(torch.from_numpy(x)), 1).numpy()[0]
    top = np.argsort(-probs)[:5]
    names = W.imagenet_categories()
    assert lines == [f"{names[i]} {probs[i]:.3f}" for i in top]
    assert probs[top[0]] > 10 / 1000  # a real ranking, not a flat one


def test_predict_pretrained_offline_is_one_line_naming_the_file(tmp_path, torch_cache, capsys):
    _image(tmp_path / "cat.npy")
    assert cli.main(["predict", "--model", "mobilenet_v2", "--weights", "DEFAULT",
                     str(tmp_path / "cat.npy")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("svertka predict: --weights DEFAULT: ") and err.count("\n") == 1
    assert "mobilenet_v2-7ebf99e0.pth" in err and str(torch_cache) in err


@pytest.mark.parametrize("argv, message", [
    (["--model", "resnet18", "x.npy"], "--model needs --weights"),
    (["--weights", "DEFAULT", "ckpt.svk", "x.npy"], "--weights needs --model"),
    (["--model", "nosuch", "--weights", "DEFAULT", "x.npy"], "unknown model 'nosuch'"),
    (["--model", "resnet18", "--weights", "IMAGENET1K_V9", "x.npy"],
     "neither a weights name of model 'resnet18'"),
    (["ckpt.svk"], "give the image files after the checkpoint"),
])
def test_predict_pretrained_rejects_bad_flags_in_one_line(argv, message, capsys):
    assert cli.main(["predict", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_predict_pretrained_with_a_weights_file(tmp_path, capsys):
    svertka.manual_seed(0)
    model = svertka.models.lenet5(num_classes=10)
    svertka.save(model.state_dict(), tmp_path / "w.svk")
    np.save(tmp_path / "digit.npy", np.zeros((32, 32), np.uint8))
    assert cli.main(["predict", "--model", "lenet5", "--weights", str(tmp_path / "w.svk"),
                     str(tmp_path / "digit.npy"), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    with svertka.no_grad():
        probs = svertka.nn.functional.softmax(model.eval()(svertka.zeros(1, 1, 32, 32)),
                                              dim=1).numpy()[0]
    assert lines == [f"{i} {probs[i]:.3f}" for i in np.argsort(-probs, kind="stable")[:2]]
