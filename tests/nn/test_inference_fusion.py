"""nn.Sequential without a graph: an eval-mode batch norm after a convolution is folded into it,
batch norm and ReLU after a conv or linear layer work in place on its output
(``nn/modules/_inference.py``), with the same values (up to rounding where folded) and nothing
observable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close
from tests.models._torch_ref import TBasicBlock, TResNet

import svertka
from svertka import nn, optim
from svertka.models import resnet as R
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
    ("depthwise_bn_relu6", lambda nn: nn.Sequential(
        nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), nn.BatchNorm2d(4), nn.ReLU6()),
     (2, 4, 5, 5)),
    ("depthwise_bias_stride2_bn_single_image", lambda nn: nn.Sequential(
        nn.Conv2d(3, 6, 3, stride=2, padding=1, groups=3), nn.BatchNorm2d(6)), (1, 3, 7, 7)),
    ("conv_bias_stride2_bn_relu", lambda nn: nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2), nn.BatchNorm2d(4, affine=False), nn.ReLU()),
     (3, 3, 7, 7)),
    ("conv_reflect_bn", lambda nn: nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), nn.BatchNorm2d(3)), (2, 2, 5, 5)),
    ("conv_bias_relu_conv_bias", lambda nn: nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1)), (3, 3, 5, 5)),
    ("conv3d_bn3d", lambda nn: nn.Sequential(nn.Conv3d(2, 3, 2), nn.BatchNorm3d(3)),
     (2, 2, 3, 3, 3)),
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
    # folding rounds the products in another order: equal up to float64 rounding
    np.testing.assert_allclose(y.numpy(), layer_by_layer.detach().numpy(), rtol=1e-13,
                               atol=1e-13)


def _counting(monkeypatch, name):
    calls = []
    real = getattr(N, name)
    monkeypatch.setattr(N, name, lambda *a: calls.append(a) or real(*a))
    return calls


def test_sequential_no_grad_linear_batch_norm_runs_in_place(monkeypatch):
    calls = _counting(monkeypatch, "batch_norm_fixed_")
    sv, _ = _pair(CASES[2][1])                    # Linear, BatchNorm1d, ReLU
    with svertka.no_grad():
        sv(svertka.randn(3, 5, dtype=svertka.float64))
    assert len(calls) == 1
    with svertka.enable_grad():
        sv(svertka.randn(3, 5, dtype=svertka.float64))
    assert len(calls) == 1                        # a graph is recorded: modules as usual


def test_sequential_no_grad_conv_batch_norm_is_folded_once(monkeypatch):
    folds = _counting(monkeypatch, "fold_batch_norm")
    fixed = _counting(monkeypatch, "batch_norm_fixed_")
    sv, _ = _pair(_cbr)
    x = svertka.randn(2, 3, 4, 4, dtype=svertka.float64)
    with svertka.no_grad():
        sv(x)
        sv(x)
    assert (len(folds), len(fixed)) == (2, 0)     # two conv-BN pairs, folded on the first call
    with svertka.enable_grad():
        sv(x)
    assert (len(folds), len(fixed)) == (2, 0)     # a graph is recorded: modules as usual


def _graph_path(net, x):
    with svertka.enable_grad():
        return net(x).detach().numpy()


def _changes():
    """Ways to change a folded conv / batch norm through svertka, each a (name, fn(net))."""
    def opt_step(net):
        opt = optim.SGD(net.parameters(), lr=0.1)
        for p in net.parameters():
            p.grad = svertka.ones_like(p)
        opt.step()

    def running_stats(net):
        net[1].train()
        with svertka.no_grad():
            net(svertka.randn(4, 3, 4, 4, dtype=svertka.float64))
        net[1].eval()

    def load(net):
        sd = {k: v * 2 if v.dtype == svertka.float64 else v
              for k, v in net.state_dict().items()}
        net.load_state_dict(sd)

    def assign_data(net):
        net[0].weight.data = net[0].weight.detach() * 3

    def new_parameter(net):
        net[1].weight = nn.Parameter(svertka.full((4,), 0.5, dtype=svertka.float64))

    def copy_(net):
        with svertka.no_grad():
            net[1].running_var.copy_(net[1].running_var * 4)

    def eps(net):
        net[1].eps = 0.25

    return [("optimizer_step", opt_step), ("running_stats", running_stats),
            ("load_state_dict", load), ("assign_data", assign_data),
            ("new_parameter", new_parameter), ("copy_", copy_), ("eps", eps)]


@pytest.mark.parametrize("name, change", _changes(), ids=[c[0] for c in _changes()])
def test_sequential_no_grad_folded_conv_follows_parameter_changes(name, change):
    sv = _pair(_cbr)[0][:5]                       # conv, BN, ReLU6, conv, BN: no final ReLU
    x = svertka.tensor(np.random.default_rng(3).standard_normal((2, 3, 4, 4)))
    with svertka.no_grad():
        before = sv(x).numpy()
    change(sv)
    with svertka.no_grad():
        after = sv(x).numpy()
    want = _graph_path(sv, x)
    assert not np.allclose(before, want)          # the change matters
    np.testing.assert_allclose(after, want, rtol=1e-13, atol=1e-13)


def test_sequential_no_grad_folded_conv_keeps_input_and_parameters():
    sv, _ = _pair(_cbr)
    x = svertka.randn(2, 3, 4, 4, dtype=svertka.float64)
    x0 = x.numpy().copy()
    state = {k: v.numpy().copy() for k, v in sv.state_dict().items()}
    with svertka.no_grad():
        sv(x)
    np.testing.assert_array_equal(x.numpy(), x0)
    for k, v in sv.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), state[k])


def test_sequential_no_grad_folded_conv_float32_matches_unfolded():
    sv, _ = _pair(_cbr)
    sv = sv.float()
    x = svertka.randn(8, 3, 4, 4)
    with svertka.no_grad():
        y = sv(x)
    assert y.dtype == svertka.float32
    np.testing.assert_allclose(y.numpy(), _graph_path(sv, x), rtol=1e-5, atol=1e-5)


def test_sequential_inference_mode_fold_serves_no_grad():
    sv, _ = _pair(_cbr)
    x = svertka.randn(2, 3, 4, 4, dtype=svertka.float64)
    with svertka.inference_mode():
        a = sv(x)
    with svertka.no_grad():
        b = sv(x)
    assert not b.is_inference()
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_sequential_no_grad_batch_norm_hook_sees_conv_output():
    sv, _ = _pair(_cbr)
    seen = {}

    def hook(module, inputs):
        seen["in"] = inputs[0].detach().numpy().copy()

    sv[1].register_forward_pre_hook(hook)
    x = svertka.randn(2, 3, 4, 4, dtype=svertka.float64)
    with svertka.no_grad():
        y = sv(x)
        conv_out = sv[0](x).numpy()
    np.testing.assert_array_equal(seen["in"], conv_out)   # a hooked batch norm is not folded
    np.testing.assert_allclose(y.numpy(), _graph_path(sv, x), rtol=1e-13, atol=1e-13)


def test_sequential_no_grad_batch_norm_rejects_unbatched_conv_output():
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3)).eval()
    with svertka.no_grad(), pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input"):
        net(svertka.randn(1, 2, 2))


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


def test_sequential_no_grad_batch_norm_rejects_bad_weight_shape():
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(3)).eval()
    net[1].weight = nn.Parameter(svertka.ones(4))
    with svertka.no_grad(), pytest.raises(ValueError, match=r"batch_norm: weight must have "
                                                            r"shape \(3,\)"):
        net(svertka.randn(1, 1, 2, 2))


def test_sequential_no_grad_batch_norm_rejects_channel_mismatch():
    net = nn.Sequential(nn.Conv2d(1, 3, 1), nn.BatchNorm2d(4)).eval()
    with svertka.no_grad(), pytest.raises(ValueError, match=r"batch_norm: running_mean must "
                                                            r"have shape \(3,\)"):
        net(svertka.randn(1, 1, 2, 2))


def _random_stats(net, seed=0):
    rng = np.random.default_rng(seed)
    with svertka.no_grad():
        for name, t in net.state_dict().items():
            if "num_batches" not in name:
                a = rng.standard_normal(tuple(t.shape))
                t.copy_(svertka.tensor(np.abs(a) + 0.5 if "running_var" in name else a))
    return net.eval()


def _projection(cin, cout, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))


BLOCKS = [
    ("basic_block_projection", lambda: R.BasicBlock(3, 4, 2, _projection(3, 4, 2))),
    ("basic_block_identity", lambda: R.BasicBlock(4, 4)),
    ("bottleneck_projection", lambda: R.Bottleneck(3, 2, 1, _projection(3, 8, 1))),
    ("cifar_resnet20_shortcut_a", lambda: R.resnet20()),
]


@pytest.mark.parametrize("name, build", BLOCKS, ids=[b[0] for b in BLOCKS])
def test_resnet_block_no_grad_matches_graph_path_and_keeps_input(name, build):
    net = _random_stats(build().double())
    C = 3 if "resnet20" in name or "projection" in name else 4
    x = svertka.tensor(np.random.default_rng(4).standard_normal((2, C, 8, 8)))
    x0 = x.numpy().copy()
    with svertka.no_grad():
        y = net(x)
    np.testing.assert_array_equal(x.numpy(), x0)
    np.testing.assert_allclose(y.numpy(), _graph_path(net, x), rtol=1e-12, atol=1e-12)


def test_resnet_block_no_grad_folds_each_batch_norm(monkeypatch):
    folds = _counting(monkeypatch, "fold_batch_norm")
    block = _random_stats(R.BasicBlock(3, 4, 2, _projection(3, 4, 2)).double())
    with svertka.no_grad():
        block(svertka.randn(2, 3, 12, 12, dtype=svertka.float64))
    assert len(folds) == 3


def test_resnet_block_no_grad_keeps_one_copy_of_weights_larger_than_outputs(monkeypatch):
    # batch 1 on a 2x2 map: each weight (4*3*9, 4*4*9, 4*3 values) is larger than its conv's
    # output (4 values): no folded copy is made, the batch norms run on the outputs, same values
    folds = _counting(monkeypatch, "fold_batch_norm")
    block = _random_stats(R.BasicBlock(3, 4, 2, _projection(3, 4, 2)).double())
    x = svertka.randn(1, 3, 2, 2, dtype=svertka.float64)
    with svertka.no_grad():
        y = block(x)
    assert len(folds) == 0
    np.testing.assert_allclose(y.numpy(), _graph_path(block, x), rtol=1e-12, atol=1e-12)


def test_resnet18_no_grad_matches_torch():
    sv = _random_stats(R.resnet18(num_classes=5).double())
    tm = TResNet(TBasicBlock, [2, 2, 2, 2], num_classes=5).double().eval()
    tm.load_state_dict({k: torch.from_numpy(v.numpy().copy())
                        for k, v in sv.state_dict().items()})
    x = np.random.default_rng(5).standard_normal((2, 3, 32, 32))
    with svertka.no_grad():
        y = sv(svertka.tensor(x))
    with torch.no_grad():
        want = tm(torch.from_numpy(x))
    assert_close(y, want, rtol=1e-10)


def test_add_act_leaves_a_branch_it_did_not_make():
    from svertka.nn.modules._inference import add_act
    out, other = svertka.randn(2, 3), svertka.randn(2, 3)
    out0 = out.numpy().copy()
    with svertka.no_grad():
        y = add_act(out, False, other, nn.ReLU())
    np.testing.assert_array_equal(out.numpy(), out0)
    np.testing.assert_array_equal(y.numpy(), np.maximum(out0 + other.numpy(), 0))


def test_resnet_block_relu_hook_sees_each_call():
    block = _random_stats(R.BasicBlock(4, 4).double())
    seen = []
    block.relu.register_forward_hook(lambda m, i, o: seen.append(o.detach().numpy().copy()))
    x = svertka.tensor(np.random.default_rng(6).standard_normal((2, 4, 5, 5)))
    with svertka.no_grad():
        y = block(x)
    assert len(seen) == 2                          # the shared ReLU runs twice, hooks each time
    np.testing.assert_array_equal(seen[1], y.numpy())
    np.testing.assert_allclose(y.numpy(), _graph_path(block, x), rtol=1e-12, atol=1e-12)


def test_sequential_no_grad_repeated_conv_follows_module_settings_and_checks():
    sv, _ = _pair(_cbr)
    x = svertka.randn(2, 3, 4, 4, dtype=svertka.float64)
    with svertka.no_grad():
        first, second = sv(x).numpy(), sv(x).numpy()       # the second call skips the checks
    np.testing.assert_array_equal(first, second)
    with svertka.no_grad(), pytest.raises(ValueError, match=r"conv2d: .*channels"):
        sv(svertka.randn(2, 4, 4, 4, dtype=svertka.float64))   # new shapes: checked again
    x = svertka.randn(2, 3, 6, 6, dtype=svertka.float64)
    sv[0].stride = (2, 2)                                  # a changed setting is seen
    sv[3].padding = (1, 1)
    with svertka.no_grad():
        y = sv[:6](x)
    np.testing.assert_allclose(y.numpy(), _graph_path(sv[:6], x), rtol=1e-13, atol=1e-13)
    assert y.shape == (2, 5, 5, 5)


def test_resnet_block_subclassed_conv_forward_is_called():
    class Scaled(nn.Conv2d):
        def forward(self, input):
            return super().forward(input) * 2

    block = R.BasicBlock(4, 4).double()
    block.conv1 = Scaled(4, 4, 3, padding=1, bias=False).double()
    block = _random_stats(block)
    x = svertka.tensor(np.random.default_rng(7).standard_normal((2, 4, 5, 5)))
    with svertka.no_grad():
        y = block(x)
    np.testing.assert_allclose(y.numpy(), _graph_path(block, x), rtol=1e-12, atol=1e-12)
