"""Activation maps and saliency: values against torch, PNG files written."""

import sys

import numpy as np
import pytest
import torch
from PIL import Image
from tests._oracle import assert_close

import svertka
from svertka import nn, viz
from svertka.viz import activation_maps, saliency_map, save_activation_maps, save_saliency


def _net(seed=0):
    svertka.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(6, 4, 3), nn.Flatten(), nn.Linear(16, 5)).double()


def _torch_net(net):
    t = torch.nn.Sequential(torch.nn.Conv2d(3, 6, 3, padding=1), torch.nn.ReLU(),
                            torch.nn.MaxPool2d(2), torch.nn.Conv2d(6, 4, 3), torch.nn.Flatten(),
                            torch.nn.Linear(16, 5)).double()
    t.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in net.state_dict().items()})
    return t


def test_activation_maps_equal_torch_layer_output():
    net = _net()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    got = activation_maps(net, x, "1")
    expected = _torch_net(net)[:2](torch.tensor(x)).detach().numpy()
    assert_close(got, expected)
    assert net.training


@pytest.mark.parametrize("target", [None, 3, [0, 4]], ids=["predicted", "one", "per-sample"])
def test_saliency_map_equals_torch_input_gradient(target):
    net = _net(1)
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    got = saliency_map(net, svertka.tensor(x), target)
    tx = torch.tensor(x, requires_grad=True)
    scores = _torch_net(net)(tx)
    t = scores.argmax(1).numpy() if target is None else np.broadcast_to(target, (2,))
    scores[torch.arange(2), torch.tensor(t)].sum().backward()
    assert_close(got, tx.grad.abs().amax(1).numpy())
    one = saliency_map(net, x[1], None if target is None else t[1])     # unbatched
    assert_close(one, got[1])


def test_saliency_map_of_a_1d_model():
    svertka.manual_seed(2)
    net = nn.Sequential(nn.Conv1d(2, 3, 3), nn.Flatten(), nn.Linear(18, 4))
    assert saliency_map(net, svertka.randn(5, 2, 8), 1).shape == (5, 8)


def test_save_activation_maps_writes_pngs(tmp_path):
    net = _net()
    x = svertka.randn(1, 3, 8, 8).double()
    for layer, name in (("0", "conv.png"), ("3", "conv2.png"), ("5", "logits.png")):
        paths = save_activation_maps(net, x, layer, str(tmp_path / name), max_maps=4)
        assert paths == [str(tmp_path / name)]
        with Image.open(paths[0]) as img:
            assert img.format == "PNG" and img.size[0] > 100
    svertka.manual_seed(0)
    net1d = nn.Sequential(nn.Conv1d(1, 3, 3))
    assert save_activation_maps(net1d, svertka.randn(1, 1, 20), "0", str(tmp_path / "1d.png"))


def test_save_saliency_writes_png(tmp_path):
    paths = save_saliency(_net(), svertka.randn(3, 8, 8).double(), str(tmp_path / "s.png"),
                          target=2)
    with Image.open(paths[0]) as img:
        assert img.format == "PNG"


def test_pictures_without_matplotlib_return_no_paths(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib fails
    assert not viz.available()
    net = _net()
    x = svertka.randn(1, 3, 8, 8).double()
    assert save_activation_maps(net, x, "0", str(tmp_path / "a.png")) == []
    assert save_saliency(net, x, str(tmp_path / "b.png")) == []
    assert viz.animate_convolution(4, 3, path=str(tmp_path / "c.gif")) == []
    assert not list(tmp_path.iterdir())


def test_activation_pictures_reject_bad_arguments(tmp_path):
    net = _net()
    x = svertka.randn(1, 3, 8, 8).double()
    with pytest.raises(ValueError, match="activation_maps: model has no module named 'conv9'"):
        activation_maps(net, x, "conv9")
    with pytest.raises(TypeError, match="activation_maps: x must be a Tensor or an ndarray"):
        activation_maps(net, [[1.0]], "0")
    with pytest.raises(ValueError, match="save_activation_maps: max_maps must be a positive int"):
        save_activation_maps(net, x, "0", str(tmp_path / "a.png"), max_maps=0)
    with pytest.raises(ValueError, match=r"saliency_map: target must be class indices in \[0, 5\)"):
        saliency_map(net, x, target=7)
    with pytest.raises(ValueError, match=r"the model must return class scores \(N, classes\)"):
        saliency_map(nn.Sequential(nn.Conv2d(3, 1, 3)).double(), x)
    with pytest.raises(ValueError, match=r"save_saliency: x must be an image \(C, H, W\)"):
        save_saliency(net, svertka.randn(8, 8), str(tmp_path / "s.png"))
