"""Grad-CAM against the same formula written with torch 2.13's hooks (float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka import nn, viz


def _pair(seed=0):
    rng = np.random.default_rng(seed)

    def build(lib):
        L = lib.nn
        return L.Sequential(L.Conv2d(1, 4, 3, padding=1), L.ReLU(), L.MaxPool2d(2),
                            L.Conv2d(4, 6, 3, padding=1), L.ReLU(), L.AdaptiveAvgPool2d(1),
                            L.Flatten(), L.Linear(6, 3))

    sv, th = build(svertka).double(), build(torch).double()
    state = {k: rng.standard_normal(tuple(v.shape)) for k, v in th.state_dict().items()}
    sv.load_state_dict(state)
    th.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    return sv, th, rng.standard_normal((3, 1, 8, 8))


def _torch_grad_cam(model, x, layer, target):
    """Selvaraju et al. 2017 with torch's hooks: the reference."""
    acts, grads = [], []
    module = dict(model.named_modules())[layer]

    def keep(m, args, out):
        acts.append(out)
        out.register_hook(grads.append)

    h = module.register_forward_hook(keep)
    scores = model(torch.tensor(x))
    h.remove()
    t = scores.argmax(1) if target is None else torch.as_tensor(target).expand(len(x))
    scores.gather(1, t[:, None]).sum().backward()
    a, g = acts[0].detach(), grads[0]
    cam = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=x.shape[2:], mode="bilinear",
                                          align_corners=False)[:, 0]
    lo = cam.amin(dim=(1, 2), keepdim=True)
    hi = cam.amax(dim=(1, 2), keepdim=True)
    # a map that ReLU zeroes everywhere stays zero
    return torch.where(hi > lo, (cam - lo) / (hi - lo).clamp_min(1e-300), 0.0).numpy()


@pytest.mark.parametrize("layer", ["0", "3", "4"])
@pytest.mark.parametrize("target", [None, 1, [2, 0, 1]], ids=["predicted", "one", "each"])
def test_grad_cam_matches_torch_formula(layer, target):
    sv, th, x = _pair()
    got = viz.grad_cam(sv, x, layer, target=target)
    assert_close(got, _torch_grad_cam(th, x, layer, target), rtol=1e-7)
    assert got.shape == (3, 8, 8) and got.min() == 0 and got.max() <= 1


def test_grad_cam_unbatched_image_and_model_state_kept():
    sv, _, x = _pair()
    sv.train()
    cam = viz.grad_cam(sv, svertka.tensor(x[1]), "3", target=2)
    assert sv.training and cam.shape == (8, 8)
    assert_close(cam, viz.grad_cam(sv, x, "3", target=2)[1], rtol=1e-12)
    assert all(p.grad is not None for p in sv.parameters())  # as torch: backward ran


def test_grad_cam_rejects_unknown_layer_and_bad_target():
    sv, _, x = _pair()
    with pytest.raises(ValueError, match=r"grad_cam: model has no module named 'conv9'"):
        viz.grad_cam(sv, x, "conv9")
    with pytest.raises(ValueError, match=r"grad_cam: target must be class indices in \[0, 3\)"):
        viz.grad_cam(sv, x, "3", target=3)
    with pytest.raises(ValueError, match=r"grad_cam: the output of module '7'"):
        viz.grad_cam(sv, x, "7")


def test_save_grad_cam_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    sv, _, x = _pair()
    path = str(tmp_path / "cam.png")
    assert viz.save_grad_cam(sv, x, viz.default_cam_layer(sv), path, target=1) == [path]
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_default_cam_layer_is_last_convolution():
    sv, _, _ = _pair()
    assert viz.default_cam_layer(sv) == "3"
    assert viz.default_cam_layer(nn.Sequential(nn.Linear(2, 2))) is None
