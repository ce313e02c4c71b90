"""Lazy layers against torch 2.13: shapes inferred at the first call, the eager class after
it, state_dict loading, optimizers, and d2l-style networks written with them training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka import nn
from svertka.data.datasets.digits import load_digits_arrays

LAZY_CASES = [
    ("LazyLinear", (3,), {}, (2, 5)),
    ("LazyLinear", (3,), {"bias": False}, (2, 4, 5)),
    ("LazyConv1d", (4, 3), {"stride": 2, "padding": 1}, (2, 3, 9)),
    ("LazyConv2d", (4, 3), {"padding": 1, "groups": 2}, (2, 6, 5, 5)),
    ("LazyConv2d", (4, 3), {}, (6, 5, 5)),
    ("LazyConv3d", (2, 2), {"bias": False}, (1, 3, 4, 4, 4)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"stride": 2, "output_padding": 1}, (2, 3, 4, 4)),
    ("LazyConvTranspose3d", (2, 2), {}, (1, 3, 3, 3, 3)),
    ("LazyBatchNorm1d", (), {}, (4, 3)),
    ("LazyBatchNorm2d", (), {"affine": False}, (4, 3, 2, 2)),
    ("LazyBatchNorm3d", (), {"momentum": 0.5}, (2, 3, 2, 2, 2)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", LAZY_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LAZY_CASES)])
def test_lazy_layer_matches_torch_after_first_call(name, args, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    sv = getattr(nn, name)(*args, **kwargs).double()
    th = getattr(torch.nn, name)(*args, **kwargs).double()
    assert list(sv.state_dict()) == list(th.state_dict())
    sv(svertka.tensor(x))
    th(torch.tensor(x))
    assert type(sv).__name__ == type(th).__name__ == name[4:]
    for (k, a), (k2, b) in zip(sv.state_dict().items(), th.state_dict().items()):
        assert k == k2 and tuple(a.shape) == tuple(b.shape), k
    sv.load_state_dict(th.state_dict())
    assert_close(sv(svertka.tensor(x)), th(torch.tensor(x)))


def test_lazy_layer_initialises_as_the_eager_layer():
    svertka.manual_seed(3)
    eager = nn.Conv2d(3, 4, 3)
    svertka.manual_seed(3)
    lazy = nn.LazyConv2d(4, 3)
    lazy(svertka.ones(1, 3, 5, 5))
    np.testing.assert_array_equal(lazy.weight.detach().numpy(), eager.weight.detach().numpy())
    np.testing.assert_array_equal(lazy.bias.detach().numpy(), eager.bias.detach().numpy())


def test_lazy_parameter_keeps_its_identity_and_hooks():
    m = nn.LazyLinear(2)
    w = m.weight
    seen = []
    m.register_forward_hook(lambda mod, a, out: seen.append(out.shape))
    m(svertka.ones(3, 4))
    assert m.weight is w and type(w) is nn.Parameter and seen == [svertka.Size([3, 2])]


def test_uninitialized_parameter_shape_raises_like_torch():
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = nn.LazyLinear(2).weight.shape
    with pytest.raises(RuntimeError, match="uninitialized parameter"):
        _ = torch.nn.LazyLinear(2).weight.shape


def test_optimizer_rejects_uninitialized_parameter():
    m = nn.Sequential(nn.Linear(2, 2), nn.LazyLinear(2))
    with pytest.raises(ValueError, match=r"SGD: optimizer got an uninitialized parameter "
                                         r"\(index 2 of the group\).*dry run"):
        svertka.optim.SGD(m.parameters(), lr=0.1)
    m(svertka.ones(1, 2))
    svertka.optim.SGD(m.parameters(), lr=0.1)


def test_lazy_conv_rejects_input_of_wrong_rank():
    with pytest.raises(ValueError, match=r"LazyConv2d: expected 3D \(unbatched\) or 4D"):
        nn.LazyConv2d(2, 3)(svertka.ones(2, 3))


def _lenet(lib):
    L = lib.nn
    return L.Sequential(L.LazyConv2d(6, 3, padding=1), L.Sigmoid(), L.AvgPool2d(2),
                        L.LazyConv2d(16, 3, padding=1), L.Sigmoid(), L.AvgPool2d(2),
                        L.Flatten(), L.LazyLinear(32), L.Sigmoid(), L.LazyLinear(10))


def _vgg(lib):
    L = lib.nn

    def block(n, c):
        layers = []
        for _ in range(n):
            layers += [L.LazyConv2d(c, 3, padding=1), L.ReLU()]
        return L.Sequential(*layers, L.MaxPool2d(2))
    return L.Sequential(block(1, 8), block(2, 16), L.Flatten(), L.LazyLinear(32), L.ReLU(),
                        L.Dropout(0.0), L.LazyLinear(10))


def _nin(lib):
    L = lib.nn

    def block(c, k, s, p):
        return L.Sequential(L.LazyConv2d(c, k, s, p), L.ReLU(), L.LazyConv2d(c, 1), L.ReLU(),
                            L.LazyConv2d(c, 1), L.ReLU())
    return L.Sequential(block(16, 3, 1, 1), L.MaxPool2d(2), block(10, 3, 1, 1),
                        L.AdaptiveAvgPool2d(1), L.Flatten())


def _resnet(lib):
    L = lib.nn

    class Residual(L.Module):
        def __init__(self, c, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = L.LazyConv2d(c, 3, padding=1, stride=strides)
            self.conv2 = L.LazyConv2d(c, 3, padding=1)
            self.conv3 = L.LazyConv2d(c, 1, stride=strides) if use_1x1conv else None
            self.bn1, self.bn2 = L.LazyBatchNorm2d(), L.LazyBatchNorm2d()

        def forward(self, x):
            y = lib.nn.functional.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            if self.conv3 is not None:
                x = self.conv3(x)
            return lib.nn.functional.relu(y + x)

    return L.Sequential(L.LazyConv2d(8, 3, padding=1), L.LazyBatchNorm2d(), L.ReLU(),
                        Residual(8), Residual(16, use_1x1conv=True, strides=2),
                        L.AdaptiveAvgPool2d(1), L.Flatten(), L.LazyLinear(10))


@pytest.mark.parametrize("build", [_lenet, _vgg, _nin, _resnet],
                         ids=["lenet", "vgg", "nin", "resnet"])
def test_d2l_lazy_network_training_on_digits_matches_torch(build):
    images, labels = load_digits_arrays()
    x = images[:640, None].astype(np.float64) / 16.0    # (640, 1, 8, 8)
    y = labels[:640].astype(np.int64)
    sv, th = build(svertka).double(), build(torch).double()
    sv(svertka.tensor(x[:2]))                           # the dry run
    th(torch.tensor(x[:2]))
    assert not any(isinstance(m, nn.LazyModuleMixin) for m in sv.modules())
    th.load_state_dict({k: torch.tensor(v.numpy()) for k, v in sv.state_dict().items()})
    opt_s = svertka.optim.Adam(sv.parameters(), lr=0.01)
    opt_t = torch.optim.Adam(th.parameters(), lr=0.01)
    order = np.random.default_rng(0).permutation(len(x))
    losses = []
    for _epoch in range(1):
        for i in range(0, len(x), 32):
            idx = order[i:i + 32]
            ls = nn.functional.cross_entropy(sv(svertka.tensor(x[idx])), svertka.tensor(y[idx]))
            lt = torch.nn.functional.cross_entropy(th(torch.tensor(x[idx])), torch.tensor(y[idx]))
            for opt, loss in ((opt_s, ls), (opt_t, lt)):
                opt.zero_grad()
                loss.backward()
                opt.step()
            losses.append((ls.item(), lt.item()))
    np.testing.assert_allclose(*zip(*losses), rtol=1e-7)
    for (k, a), b in zip(sv.state_dict().items(), th.state_dict().values()):
        assert_close(a, b, rtol=1e-6, what=k)


def test_lazy_lenet_after_loading_eager_state_dict_equals_eager():
    eager = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2),
                          nn.Conv2d(6, 16, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(64, 32), nn.Sigmoid(), nn.Linear(32, 10))
    lazy = _lenet(svertka)
    lazy.load_state_dict(eager.state_dict())
    x = svertka.tensor(load_digits_arrays()[0][:5, None] / 16.0, dtype=svertka.float32)
    np.testing.assert_array_equal(lazy(x).detach().numpy(), eager(x).detach().numpy())
    assert [type(m) for m in lazy.modules()] == [type(m) for m in eager.modules()]
