"""``svertka bench``'s models are the same architecture in svertka and torch."""

from __future__ import annotations

import pytest
import torch

import svertka
from svertka import bench


@pytest.mark.parametrize("build", [bench.resnet18_cifar, bench.resnet18_imagenet,
                                   bench.resnet20_cifar], ids=lambda b: b.__name__)
def test_bench_resnet_parameter_shapes_match_torch(build):
    sv, tm = build(svertka.nn), build(torch.nn)
    shapes = sorted(tuple(p.shape) for p in sv.parameters())
    assert shapes == sorted(tuple(p.shape) for p in tm.parameters())
    assert sum(1 for m in sv.modules() if isinstance(m, svertka.nn.BatchNorm2d)) == \
        sum(1 for m in tm.modules() if isinstance(m, torch.nn.BatchNorm2d))
