"""Second derivatives of every activation against torch (float64), including PReLU's weight,
softmax/softmin/log_softmax and GLU."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import compare_double_backward

import svertka
import svertka.nn.functional as F


def _r(*shape, seed=0, scale=2.0):
    return scale * np.random.default_rng(seed).standard_normal(shape)


# (name, kwargs): the same call in both libraries; the input spans the kinks of each
POINTWISE = [
    ("relu", {}), ("relu6", {}), ("leaky_relu", {"negative_slope": 0.2}),
    ("elu", {}), ("elu", {"alpha": 0.5}), ("selu", {}), ("celu", {"alpha": 1.5}),
    ("gelu", {}), ("gelu", {"approximate": "tanh"}), ("silu", {}), ("mish", {}),
    ("sigmoid", {}), ("tanh", {}), ("logsigmoid", {}),
    ("softplus", {}), ("softplus", {"beta": 2.0, "threshold": 3.0}), ("softsign", {}),
    ("hardsigmoid", {}), ("hardswish", {}), ("hardtanh", {}),
    ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("threshold", {"threshold": 0.3, "value": -1.0}),
    ("tanhshrink", {}), ("hardshrink", {}), ("softshrink", {"lambd": 0.3}),
]


def _id(case):
    name, kw = case
    return name + "".join(f"_{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("name, kw", POINTWISE, ids=[_id(c) for c in POINTWISE])
def test_activation_second_derivatives_match_torch(name, kw):
    x = _r(3, 7)
    x[0, :4] = [0.0, 3.0, -3.0, 1.0]  # kinks, where torch defines the derivatives by convention
    sv, th = getattr(F, name), getattr(TF, name)
    if name == "hardsigmoid":  # torch 2.13 has no double backward of hardsigmoid_backward:
        th = lambda t: TF.relu6(t + 3.0) / 6.0  # noqa: E731 (its composite, same kinks)
    # times x: the second derivative then also has a first-derivative term
    compare_double_backward(lambda t: sv(t, **kw) * t, lambda t: th(t, **kw) * t, x, atol=1e-12)


@pytest.mark.parametrize("name", ["elu", "selu", "silu", "hardswish"])
def test_inplace_activation_second_derivatives_match_torch(name):
    kw = {"inplace": True}
    sv, th = getattr(F, name), getattr(TF, name)
    compare_double_backward(lambda t: sv(t * 1.5, **kw) * t, lambda t: th(t * 1.5, **kw) * t,
                            _r(2, 5), atol=1e-12)


@pytest.mark.parametrize("shape, wshape", [((2, 3, 4), (3,)), ((2, 3), (1,)), ((5,), (1,))],
                         ids=["channels", "one_weight", "1d"])
def test_prelu_second_derivatives_match_torch_including_weight(shape, wshape):
    compare_double_backward(lambda t, w: F.prelu(t, w) * t, lambda t, w: TF.prelu(t, w) * t,
                            _r(*shape), _r(*wshape, seed=1, scale=0.5), atol=1e-12)


@pytest.mark.parametrize("fn, dim, shape", [
    ("softmax", -1, (3, 4)), ("softmax", 0, (3, 4)), ("softmin", 1, (2, 3, 2)),
    ("log_softmax", -1, (3, 4)), ("log_softmax", 1, (2, 3, 2)), ("softmax", 0, ()),
], ids=["softmax_last", "softmax_dim0", "softmin", "log_softmax_last", "log_softmax_mid",
        "softmax_0d"])
def test_softmax_family_second_derivatives_match_torch(fn, dim, shape):
    sv, th = getattr(F, fn), getattr(TF, fn)
    compare_double_backward(lambda t: sv(t, dim=dim) * t, lambda t: th(t, dim=dim) * t,
                            _r(*shape, scale=1.0), atol=1e-12)


@pytest.mark.parametrize("dim, shape", [(-1, (3, 4)), (1, (2, 6, 2))], ids=["last", "mid"])
def test_glu_second_derivatives_match_torch(dim, shape):
    compare_double_backward(lambda t: F.glu(t, dim=dim) ** 2, lambda t: TF.glu(t, dim=dim) ** 2,
                            _r(*shape, scale=1.0), atol=1e-12)


def test_gelu_third_derivative_matches_torch():
    x = _r(6)
    out = []
    for lib, fn in ((svertka, F.gelu), (torch, TF.gelu)):
        t = lib.tensor(x, requires_grad=True)
        (g,) = lib.autograd.grad(fn(t).sum(), t, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), t, create_graph=True)
        (k,) = lib.autograd.grad(h.sum(), t)
        out.append(k.detach().numpy())
    np.testing.assert_allclose(out[0], out[1], rtol=1e-7)
