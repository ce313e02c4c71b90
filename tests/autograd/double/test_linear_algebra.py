"""Second derivatives of cumsum/cumprod, einsum, tril/triu, matmul, linear, bilinear and
dropout against torch (float64)."""

import functools

import numpy as np
import pytest
import torch
from tests._oracle import compare_double_backward

import svertka
import svertka.nn.functional as F


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _zeros_at(a, *idx):
    a = a.copy()
    for i in idx:
        a[i] = 0.0
    return a


def _lin(m, x, w, b):
    return m.nn.functional.linear(x, w, b)


def _bil(m, x1, x2, w, b):
    return m.nn.functional.bilinear(x1, x2, w, b)


CASES = [
    ("cumsum_dim1", lambda m, a: a.cumsum(dim=1) * a, (_r(2, 4),)),
    ("cumsum_dim0_neg", lambda m, a: a.cumsum(dim=-3), (_r(3, 2, 2),)),
    ("cumprod", lambda m, a: a.cumprod(dim=1), (_r(2, 4),)),
    ("cumprod_one_zero", lambda m, a: a.cumprod(dim=1), (_zeros_at(_r(2, 4), (0, 1)),)),
    ("cumprod_two_zeros_dim0", lambda m, a: a.cumprod(dim=0),
     (_zeros_at(_r(4, 2), (1, 0), (2, 0)),)),
    ("einsum_matmul", lambda m, a, b: m.einsum("ij,jk->ik", a, b) ** 2,
     (_r(2, 3), _r(3, 4, seed=1))),
    ("einsum_batch_sum", lambda m, a, b: m.einsum("bij,bj->b", a, b) * b.sum(dim=1),
     (_r(2, 3, 4), _r(2, 4, seed=1))),
    ("einsum_trace", lambda m, a: m.einsum("ii->", a) * a, (_r(3, 3),)),
    ("einsum_diag_broadcast", lambda m, a, b: m.einsum("iji,k->jk", a, b) ** 2,
     (_r(3, 2, 3), _r(2, seed=1))),
    ("einsum_three_operands", lambda m, a, b, c: m.einsum("ij,jk,k->i", a, b, c) ** 2,
     (_r(2, 3), _r(3, 4, seed=1), _r(4, seed=2))),
    ("einsum_sum_only_here", lambda m, a, b: m.einsum("ij,k->k", a, b) * b,
     (_r(2, 3), _r(4, seed=1))),
    ("tril", lambda m, a: a.tril(-1) * a, (_r(3, 4),)),
    ("triu", lambda m, a: a.triu(1) * a, (_r(2, 3, 3),)),
    ("matmul_2d", lambda m, a, b: (a @ b) ** 2, (_r(2, 3), _r(3, 4, seed=1))),
    ("matmul_batch_broadcast", lambda m, a, b: (a @ b) ** 2, (_r(2, 1, 2, 3), _r(3, 3, 2, seed=1))),
    ("matmul_vec_mat", lambda m, a, b: (a @ b) ** 2, (_r(3), _r(2, 3, 4, seed=1))),
    ("matmul_mat_vec", lambda m, a, b: (a @ b) ** 2, (_r(2, 3), _r(3, seed=1))),
    ("matmul_dot", lambda m, a, b: (a @ b) ** 2, (_r(3), _r(3, seed=1))),
    ("linear_bias", _lin, (_r(2, 3, 4), _r(5, 4, seed=1), _r(5, seed=2))),
    ("linear_squared", lambda m, x, w, b: _lin(m, x, w, b) ** 2,
     (_r(3, 4), _r(2, 4, seed=1), _r(2, seed=2))),
    ("linear_no_bias_tanh", lambda m, x, w: _lin(m, x, w, None).tanh(), (_r(4), _r(2, 4, seed=1))),
    ("bilinear", lambda m, x1, x2, w, b: _bil(m, x1, x2, w, b) ** 2,
     (_r(2, 3), _r(2, 4, seed=1), _r(5, 3, 4, seed=2), _r(5, seed=3))),
    ("bilinear_batch_dims", lambda m, x1, x2, w: _bil(m, x1, x2, w, None).tanh(),
     (_r(2, 2, 3), _r(2, 2, 2, seed=1), _r(2, 3, 2, seed=2))),
]


@pytest.mark.parametrize("f, inputs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_linear_algebra_second_derivatives_match_torch(f, inputs):
    compare_double_backward(functools.partial(f, svertka), functools.partial(f, torch), *inputs,
                            atol=1e-12)


@pytest.mark.parametrize("kind", ["dropout", "dropout2d", "alpha_dropout"])
def test_dropout_second_derivatives_use_the_same_mask(kind):
    x = _r(2, 3, 4, 4)
    fn = getattr(F, kind)
    kw = {"p": 0.4, "training": True}
    svertka.manual_seed(3)
    shift = fn(svertka.zeros(*x.shape), **kw).numpy()
    svertka.manual_seed(3)
    noise = fn(svertka.ones(*x.shape), **kw).numpy() - shift

    def sv(t):
        svertka.manual_seed(3)
        return fn(t * t, **kw) * t

    compare_double_backward(sv, lambda t: ((t * t) * torch.tensor(noise) + torch.tensor(shift)) * t,
                            x, atol=1e-12)
