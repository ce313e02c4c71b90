"""Tensor.register_post_accumulate_grad_hook: torch's hook, fired as soon as a leaf's gradient
is complete during backward (what DistributedDataParallel starts its all-reduces from)."""

import numpy as np
import pytest
import torch

import svertka
from svertka import nn


def _mlp(seed=0):
    svertka.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()


def test_post_accumulate_grad_hook_sees_complete_grad_matching_torch():
    x = np.random.default_rng(0).standard_normal((6, 4))
    w = svertka.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.numpy().copy()))
    # w is used twice: the hook must wait for both contributions
    y = (svertka.tensor(x) @ w.T).tanh() + (svertka.tensor(x) @ w.T) * 2.0
    y.sum().backward()
    wt = torch.tensor(w.detach().numpy(), requires_grad=True)
    yt = (torch.tensor(x) @ wt.T).tanh() + (torch.tensor(x) @ wt.T) * 2.0
    yt.sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], wt.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_post_accumulate_grad_hook_fires_before_earlier_layers_are_reached():
    model = _mlp()
    first, last = model[0].weight, model[2].weight
    state = {}
    last.register_post_accumulate_grad_hook(lambda t: state.setdefault("first", first.grad))
    model(svertka.randn(2, 4).double()).sum().backward()
    assert "first" in state and state["first"] is None   # last layer's hook ran first
    assert first.grad is not None


def test_post_accumulate_grad_hook_accumulates_and_removes():
    w = svertka.tensor([1.0, 2.0], requires_grad=True)
    calls = []
    handle = w.register_post_accumulate_grad_hook(lambda t: calls.append(t.grad.tolist()))
    (w * 3.0).sum().backward()
    (w * 3.0).sum().backward()
    assert calls == [[3.0, 3.0], [6.0, 6.0]]
    handle.remove()
    (w * 3.0).sum().backward()
    assert len(calls) == 2


def test_post_accumulate_grad_hook_rejects_non_leaf():
    w = svertka.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensors that require grad"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
