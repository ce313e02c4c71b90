"""Second derivatives of the elementwise ops against torch (float64)."""

import functools

import numpy as np
import pytest
import torch
from tests._oracle import compare_double_backward

import svertka


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _pos(*shape, seed=0):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def _fill(m, a):
    b = a * 2.0
    b.fill_(3.0)
    return b * a


def _cast(m, a):
    return (a * a).to(m.float32).to(m.float64) * a


# (id, f(module, *inputs), inputs): f is written once for both libraries
CASES = [
    ("pow_tensor_tensor", lambda m, a, b: m.pow(a, b), (_pos(2, 3), _r(1, 3, seed=1))),
    ("pow_scalar_exponent", lambda m, a: a ** 3.0, (_r(2, 3),)),
    ("pow_scalar_base", lambda m, b: 2.0 ** b, (_r(2, 3),)),
    ("abs", lambda m, a: a.abs() * a, (_r(2, 3),)),
    ("log", lambda m, a: a.log(), (_pos(2, 3),)),
    ("sqrt", lambda m, a: a.sqrt(), (_pos(2, 3),)),
    ("sin", lambda m, a: a.sin(), (_r(2, 3),)),
    ("cos", lambda m, a: a.cos(), (_r(2, 3),)),
    ("tanh", lambda m, a: a.tanh(), (_r(2, 3),)),
    ("sigmoid", lambda m, a: a.sigmoid(), (_r(2, 3),)),
    ("relu", lambda m, a: a.relu() * a, (_r(2, 3),)),
    ("sign", lambda m, a: a.sign() * a * a, (_r(2, 3),)),
    ("floor", lambda m, a: (a * 3).floor() + a * a, (_r(2, 3),)),
    ("ceil", lambda m, a: (a * 3).ceil() * a, (_r(2, 3),)),
    ("round", lambda m, a: (a * 3).round() * a, (_r(2, 3),)),
    ("fill", _fill, (_r(2, 3),)),
    ("clamp_both", lambda m, a: a.clamp(-0.5, 0.5) * a, (_r(3, 4),)),
    ("clamp_min", lambda m, a: a.clamp(min=0.1) * a, (_r(3, 4),)),
    ("clamp_at_bound", lambda m, a: a.clamp(-1.0, 0.0) * a, (np.array([-1.0, 0.0, 0.5, -2.0]),)),
    ("maximum_broadcast", lambda m, a, b: m.maximum(a, b) * a, (_r(2, 3), _r(3, seed=1))),
    ("minimum_broadcast", lambda m, a, b: m.minimum(a, b) * b, (_r(2, 3), _r(3, seed=1))),
    ("maximum_ties", lambda m, a, b: m.maximum(a, b) * a * b,
     (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0]))),
    ("where_broadcast", lambda m, a, b: m.where(a > 0, a * a, b * b), (_r(2, 3), _r(3, seed=1))),
    ("cast", _cast, (_r(2, 3),)),
    ("clone", lambda m, a: a.clone() * a, (_r(2, 3),)),
    ("log1p", lambda m, a: a.log1p(), (_pos(2, 3),)),
    ("expm1", lambda m, a: a.expm1(), (_r(2, 3),)),
    ("erf", lambda m, a: a.erf(), (_r(2, 3),)),
    ("atan2_broadcast", lambda m, a, b: m.atan2(a, b), (_r(2, 3), _r(1, 3, seed=1))),
]


@pytest.mark.parametrize("f, inputs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_elementwise_second_derivatives_match_torch(f, inputs):
    compare_double_backward(functools.partial(f, svertka), functools.partial(f, torch), *inputs,
                            atol=1e-12)


def test_relu_third_derivative_of_product_matches_torch():
    # a chain through several orders: d3/dx3 of sum(relu(x) * x^3)
    x = _r(5)
    sx = svertka.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    outs = []
    for lib, t in ((svertka, sx), (torch, tx)):
        y = (t.relu() * t ** 3).sum()
        (g,) = lib.autograd.grad(y, t, create_graph=True)
        (h,) = lib.autograd.grad(g.sum(), t, create_graph=True)
        (k,) = lib.autograd.grad(h.sum(), t)
        outs.append(k.detach().numpy())
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-7)
