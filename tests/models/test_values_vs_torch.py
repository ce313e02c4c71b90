"""Whole models against their torch references in float64: the same weights (a torch
state_dict loaded with strict=True), the same input; outputs, input gradients, every parameter
gradient and the batch norm running statistics must agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close, compare_with_torch
from tests.models._torch_ref import TBasicBlock, TBottleneck, TCifarResNet, TResNet

import svertka
from svertka import models
from svertka.models.resnet import BasicBlock, Bottleneck, ResNet

# id: (svertka builder, torch builder, input shape, mode)
CASES = {
    "resnet18_train": (lambda: models.resnet18(num_classes=10),
                       lambda: TResNet(TBasicBlock, [2, 2, 2, 2], 10), (2, 3, 16, 16), "train"),
    "resnext_tiny_groups4_train": (
        lambda: ResNet(Bottleneck, [1, 1, 1, 1], 10, groups=4, width_per_group=8),
        lambda: TResNet(TBottleneck, [1, 1, 1, 1], 10, groups=4, width_per_group=8),
        (2, 3, 16, 16), "train"),
    "resnet_basic_1111_odd_size_eval": (
        lambda: ResNet(BasicBlock, [1, 1, 1, 1], 7), lambda: TResNet(TBasicBlock, [1, 1, 1, 1], 7),
        (3, 3, 19, 23), "eval"),
    "resnet_bottleneck_1111_eval": (
        lambda: ResNet(Bottleneck, [1, 1, 1, 1], 5), lambda: TResNet(TBottleneck, [1, 1, 1, 1], 5),
        (1, 3, 32, 32), "eval"),
    "resnet20_option_a_train": (lambda: models.resnet20(), lambda: TCifarResNet(20),
                                (2, 3, 16, 16), "train"),
    "resnet20_option_a_eval_odd_size": (lambda: models.resnet20(), lambda: TCifarResNet(20),
                                        (1, 3, 9, 11), "eval"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_model_matches_torch_reference(name):
    build_sv, build_torch, shape, mode = CASES[name]
    torch.manual_seed(0)
    tm = build_torch().double()
    for m in tm.modules():   # non-trivial batch norm parameters and statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    sm = build_sv().double()
    sm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()}, strict=True)
    tm.train(mode == "train")
    sm.train(mode == "train")
    x = np.random.default_rng(1).standard_normal(shape)
    compare_with_torch(sm, tm, x, rtol=1e-7)
    t_params = dict(tm.named_parameters())
    for key, p in sm.named_parameters():
        assert_close(p.grad, t_params[key].grad, 1e-7, what=f"gradient of {key}")
    t_state = tm.state_dict()
    for key, v in sm.state_dict().items():
        assert_close(v, t_state[key], 1e-7, what=key)


def test_resnet18_float32_forward_matches_torch():
    torch.manual_seed(0)
    tm = TResNet(TBasicBlock, [2, 2, 2, 2], 10).float().eval()
    sm = models.resnet18(num_classes=10).eval()
    sm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()}, strict=True)
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    out = sm(svertka.tensor(x))
    assert out.dtype == svertka.float32
    assert_close(out, tm(torch.from_numpy(x)), 1e-4)
