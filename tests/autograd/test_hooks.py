"""Tensor and module hooks against torch 2.13 (float64): call order, arguments, replacements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests._oracle import assert_close

import svertka
from svertka import nn


def _pair(seed=0):
    """The same small CNN in svertka and torch (float64), and an input batch."""
    rng = np.random.default_rng(seed)
    sv = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4))
    th = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                             torch.nn.Linear(3 * 4 * 4, 4)).double()
    sv.double()
    for (_, p), (_, q) in zip(sv.named_parameters(), th.named_parameters()):
        v = rng.standard_normal(tuple(q.shape))
        p.data = svertka.tensor(v)
        with torch.no_grad():
            q.copy_(torch.tensor(v))
    x = rng.standard_normal((2, 1, 6, 6))
    return sv, th, x


def _np(t):
    if t is None:
        return None
    return t.detach().numpy() if isinstance(t, (svertka.Tensor, torch.Tensor)) else t


def test_register_hook_replaces_gradient_like_torch_on_leaf_and_non_leaf():
    rng = np.random.default_rng(1)
    a, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    gy = rng.standard_normal((3, 2))
    results = []
    for lib in (svertka, torch):
        x = lib.tensor(a, requires_grad=True)
        W = lib.tensor(w, requires_grad=True)
        calls = []
        h = (x * 2).tanh()
        h.retain_grad()
        h.register_hook(lambda g, calls=calls: calls.append(("h", _np(g).copy())) or g * 3)
        h.register_hook(lambda g, calls=calls: calls.append(("h2", _np(g).copy())))
        W.register_hook(lambda g, calls=calls: calls.append(("W", _np(g).copy())) or g + 1)
        x.register_hook(lambda g, calls=calls: calls.append(("x", _np(g).copy())))
        (h @ W).backward(lib.tensor(gy))
        results.append((calls, x.grad, W.grad, h.grad))
    (sc, sxg, swg, shg), (tc, txg, twg, thg) = results
    assert [n for n, _ in sc] == [n for n, _ in tc]
    for (_, s), (_, t) in zip(sc, tc):
        assert_close(s, t)
    assert_close(sxg, txg, what="x.grad")
    assert_close(swg, twg, what="W.grad")
    assert_close(shg, thg, what="h.grad (retain_grad sees the hooked gradient)")


def test_register_hook_handle_removes_hook_also_as_context_manager():
    x = svertka.ones(2, requires_grad=True)
    with x.register_hook(lambda g: g * 10):
        (x * 1).sum().backward()
    assert x.grad.tolist() == [10.0, 10.0]
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_register_hook_applies_to_autograd_grad():
    for lib in (svertka, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * x
        y.register_hook(lambda g: g * 5)
        (g,) = lib.autograd.grad(y.sum(), x)
        assert g.tolist() == [10.0, 20.0]


def test_register_hook_rejects_tensor_without_grad():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        svertka.ones(2).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="callable"):
        svertka.ones(2, requires_grad=True).register_hook(3)


def test_register_hook_rejects_changed_shape():
    x = svertka.ones(2, requires_grad=True)
    x.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="changed the size"):
        (x * 2).sum().backward()


def _record(model, calls, replace):
    """Register every kind of module hook on each layer; recorded as (kind, name, arrays)."""
    handles = []
    for name, m in model.named_children():
        def fpre(mod, args, name=name):
            calls.append(("fpre", name, [_np(a) for a in args]))

        def fwd(mod, args, kwargs, out, name=name):
            calls.append(("fwd", name, [_np(out)]))

        def bpre(mod, gout, name=name):
            calls.append(("bpre", name, [_np(g) for g in gout]))
            if replace and name == "3":
                return (gout[0] * 2,)
            return None

        def bwd(mod, gin, gout, name=name):
            calls.append(("bwd", name, [_np(g) for g in gin] + [_np(g) for g in gout]))
            if replace and name == "1":
                return (gin[0] * 0.5,)
            return None

        handles += [m.register_forward_pre_hook(fpre),
                    m.register_forward_hook(fwd, with_kwargs=True),
                    m.register_full_backward_pre_hook(bpre),
                    m.register_full_backward_hook(bwd)]
    return handles


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("replace", [False, True], ids=["observe", "replace"])
@pytest.mark.parametrize("input_grad", [False, True], ids=["x_no_grad", "x_requires_grad"])
def test_module_hooks_fire_in_torch_order_with_torch_arguments(replace, input_grad):
    sv, th, x = _pair()
    gy = np.random.default_rng(2).standard_normal((2, 4))
    got = []
    for model, lib in ((sv, svertka), (th, torch)):
        calls = []
        handles = _record(model, calls, replace)
        xt = lib.tensor(x, requires_grad=input_grad)
        model(xt).backward(lib.tensor(gy))
        grads = [p.grad for p in model.parameters()] + [xt.grad]
        for h in handles:
            h.remove()
        got.append((calls, grads))
    (sc, sg), (tc, tg) = got
    assert len(tc) == 16
    assert [c[:2] for c in sc] == [c[:2] for c in tc]
    for s, t in zip(sc, tc):
        assert len(s[2]) == len(t[2]), s[:2]
        for a, b in zip(s[2], t[2]):
            assert (a is None) == (b is None), s[:2]
            if a is not None:
                assert_close(a, b, what=f"{s[0]} {s[1]}")
    for a, b in zip(sg, tg):
        assert (a is None) == (b is None)
        if a is not None:
            assert_close(a, b, what="gradient")


def test_module_hooks_removed_do_not_fire():
    sv, _, x = _pair()
    calls = []
    for h in _record(sv, calls, replace=False):
        h.remove()
    sv(svertka.tensor(x, requires_grad=True)).sum().backward()
    assert calls == []


def test_forward_hook_prepend_and_always_call_like_torch():
    orders = []
    for lib in (svertka, torch):
        class Boom(lib.nn.Module):
            def forward(self, x):
                raise ValueError("boom")

        order = []
        m = Boom()
        add = order.append
        m.register_forward_hook(lambda mod, a, o, add=add: add("late"), always_call=True)
        m.register_forward_hook(lambda mod, a, o, add=add: add("never"))
        m.register_forward_hook(lambda mod, a, o, add=add: add(("first", o)), prepend=True,
                                always_call=True)
        with pytest.raises(ValueError, match="boom"):
            m(lib.ones(1))
        orders.append(order)
    assert orders[0] == orders[1] == [("first", None), "late"]


def test_forward_pre_hook_with_kwargs_replaces_args_and_kwargs():
    outs = []
    for lib in (svertka, torch):
        class Scale(lib.nn.Module):
            def forward(self, x, scale=1.0):
                return x * scale

        m = Scale()
        m.register_forward_pre_hook(lambda mod, a, kw: ((a[0] + 1,), {"scale": 3.0}),
                                    with_kwargs=True)
        outs.append(m(lib.ones(2), scale=2.0).tolist())
    assert outs[0] == outs[1] == [6.0, 6.0]


def _residual_calls(lib):
    L = lib.nn

    class Res(L.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = L.Linear(4, 4), L.Linear(4, 4), L.Linear(4, 4)
            self.shared = L.Tanh()

        def forward(self, x):
            h = self.shared(self.a(x))
            return self.shared(self.b(h) + self.c(x)) + h

    m = Res().double()
    calls = []
    for n, mod in m.named_children():
        mod.register_full_backward_hook(lambda mm, gi, go, n=n: calls.append(("hook", n)))
        mod.register_full_backward_pre_hook(lambda mm, go, n=n: calls.append(("pre", n)))
        if hasattr(mod, "weight"):
            mod.weight.register_hook(lambda g, n=n: calls.append(("weight", n)))
    x = lib.ones(2, 4, dtype=lib.float64, requires_grad=True)
    x.register_hook(lambda g: calls.append("x"))
    m(x).sum().backward()
    return calls


def test_hooks_fire_in_torch_order_through_branches_and_a_module_called_twice():
    calls = _residual_calls(svertka)
    assert calls == _residual_calls(torch)
    assert calls.count(("hook", "shared")) == 2


@pytest.mark.parametrize("lib", [svertka, torch], ids=["svertka", "torch"])
def test_retain_grad_is_filled_by_autograd_grad(lib):
    x = lib.ones(2, requires_grad=True)
    y = x * 2
    y.retain_grad()
    lib.autograd.grad((y * y).sum(), x)
    assert y.retains_grad and not x.retains_grad
    assert y.grad.tolist() == [4.0, 4.0]


def test_module_hook_registration_rejects_non_callable():
    for method in ("register_forward_hook", "register_forward_pre_hook",
                   "register_full_backward_hook", "register_full_backward_pre_hook"):
        with pytest.raises(TypeError, match=f"{method}: hook must be callable, got int"):
            getattr(nn.Linear(1, 1), method)(3)


def _count_backward_hooks(lib):
    lin = lib.nn.Linear(3, 2)
    calls = {"hook": 0, "pre": 0}

    def hook(m, grad_input, grad_output):
        calls["hook"] += 1

    def pre_hook(m, grad_output):
        calls["pre"] += 1

    lin.register_full_backward_hook(hook)
    lin.register_full_backward_pre_hook(pre_hook)
    y = lin(lib.ones(4, 3, requires_grad=True)).sum()
    y.backward(retain_graph=True)
    y.backward()
    return calls


def test_module_full_backward_hooks_fire_on_every_backward_through_a_kept_graph():
    assert _count_backward_hooks(svertka) == _count_backward_hooks(torch) == {"hook": 2,
                                                                              "pre": 2}
