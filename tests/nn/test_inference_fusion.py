"""nn.Sequential without a graph: batch norm and ReLU after a conv or linear layer work in place
on its output (``nn/modules/_inference.py``), with the same values and nothing observable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka import nn
from svertka.ops import norm as N


def _pair(build, seed=0):
    """The same network in svertka and torch (float64), eval mode, random running stats."""
    rng = np.random.default_rng(seed)
    sv, tm = build(nn).double(), build(torch.nn).double()
    for (name, p), (_, q) in zip(sv.state_dict().items(), tm.state_dict().items()):
        if "num_batches" in name:
            continue
        a = rng.standard_normal(p.shape)
        if "running_var" in name:
            a = np.abs(a) + 0.5
        p._data[...] = a
        q.copy_(torch.from_numpy(a))
    return sv.eval(), tm.eval()


def _cbr(nn):
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4),
                         nn.ReLU6(), nn.Conv2d(4, 5, 1), nn.BatchNorm2d(5), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(20, 6), nn.ReLU())


CASES = [
    ("conv_bn_relu6_conv_bn_relu_linear_relu", _cbr, (2, 3, 4, 4)),
    ("conv1d_bn1d", lambda nn: nn.Sequential(nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3)), (2, 2, 7)),
    ("linear_bn1d_relu", lambda nn: nn.Sequential(nn.Linear(5, 4), nn.BatchNorm1d(4),
                                                  nn.ReLU()), (3, 5)),
    ("conv_unbatched", lambda nn: nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU()), (2, 5, 5)),
]


@pytest.mark.parametrize("name, build, shape", CASES, ids=[c[0] for c in CASES])
def test_sequential_no_grad_matches_torch_and_the_graph_path(name, build, shape):
    sv, tm = _pair(build)
    x = np.random.default_rng(1).standard_normal(shape)
    with svertka.no_grad():
        y = sv(svertka.tensor(x))
    with torch.no_grad():
        want = tm(torch.from_numpy(x))
    assert_close(y, want, rtol=1e-12)
    layer_by_layer = svertka.tensor(x)
    for m in sv:                                  # with grad mode on: no in-place chain
        layer_by_layer = m(layer_by_layer)
    np.testing.assert_array_equal(y.numpy(), layer_by_layer.detach().numpy())


def test_sequential_no_grad_batch_norm_runs_in_place(monkeypatch):
    calls = []
    real = N.batch_norm_fixed_
    monkeypatch.setattr(N, "batch_norm_fixed_", lambda x, *a: calls.append(x) or real(x, *a))
    sv, _ = _pair(_cbr)
    with svertka.no_grad():
        sv(svertka.randn(2, 3, 4, 4, dtype=svertka.float64))
    assert len(calls) == 2
    with svertka.enable_grad():
        sv(svertka.randn(2, 3, 4, 4, dtype=svertka.float64))
    assert len(calls) == 2                        # a graph is recorded: modules as usual


def test_sequential_no_grad_hook_sees_conv_output_unchanged():
    sv, _ = _pair(_cbr)
    seen = {}

    def hook(module, inputs, out):
        seen["conv"] = (out, out.numpy().copy())

    sv[0].register_forward_hook(hook)
    with svertka.no_grad():
        sv(svertka.randn(2, 3, 4, 4, dtype=svertka.float64))
    kept, values = seen["conv"]
    np.testing.assert_array_equal(kept.numpy(), values)


def test_sequential_no_grad_batch_norm_in_training_uses_batch_stats():
    sv, tm = _pair(_cbr)
    sv[1].train()
    tm[1].train()
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 4))
    with svertka.no_grad():
        y = sv(svertka.tensor(x))
    with torch.no_grad():
        want = tm(torch.from_numpy(x))
    assert_close(y, want, rtol=1e-10)
    assert_close(sv[1].running_mean, tm[1].running_mean, rtol=1e-12)


def test_sequential_no_grad_batch_norm_subclass_forward_is_called():
    class Doubling(nn.BatchNorm2d):
        def forward(self, input):
            return super().forward(input) * 2

    net = nn.Sequential(nn.Conv2d(1, 2, 1), Doubling(2)).eval()
    x = svertka.randn(1, 1, 2, 2)
    with svertka.no_grad():
        fused = net(x)
    plain = net[1](net[0](x))
    assert_close(fused, plain.detach(), rtol=1e-6)


def test_sequential_no_grad_batch_norm_rejects_channel_mismatch():
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(4)).eval()
    with svertka.no_grad(), pytest.raises(ValueError, match=r"batch_norm: running_mean must "
                                                            r"have shape \(3,\)"):
        net(svertka.randn(1, 1, 2, 2))
