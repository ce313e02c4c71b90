"""Second derivatives of the reductions against torch (float64)."""

import functools

import numpy as np
import pytest
import torch
from tests._oracle import compare_double_backward

import svertka


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _with_zeros(*shape, seed=0, zeros=((0, 1),)):
    a = _r(*shape, seed=seed)
    for z in zeros:
        a[z] = 0.0
    return a


def _max_dim(m, a):
    v, _ = a.max(dim=1)
    return v * v


def _min_dim_keepdim(m, a):
    v, _ = a.min(dim=0, keepdim=True)
    return v * a


CASES = [
    ("var_all", lambda m, a: a.var(), (_r(3, 4),)),
    ("var_dim_keepdim", lambda m, a: a.var(dim=1, keepdim=True) * a, (_r(3, 4),)),
    ("var_correction0", lambda m, a: a.var(dim=(0, 2), correction=0), (_r(2, 3, 2),)),
    ("std_all", lambda m, a: a.std(), (_r(3, 4),)),
    ("std_dim", lambda m, a: a.std(dim=0), (_r(3, 4),)),
    ("std_dim_keepdim", lambda m, a: a.std(dim=1, keepdim=True) * a, (_r(3, 4),)),
    ("norm_all", lambda m, a: a.norm(), (_r(3, 4),)),
    ("norm_dim", lambda m, a: a.norm(dim=1), (_r(3, 4),)),
    ("norm_dim_keepdim", lambda m, a: a.norm(dim=0, keepdim=True) * a, (_r(3, 4),)),
    ("amax_dim", lambda m, a: a.amax(dim=1) * a.sum(dim=1), (_r(3, 4),)),
    ("amin_ties", lambda m, a: a.amin(dim=0) * a.sum(dim=0),
     (np.array([[1.0, 2.0], [1.0, 3.0]]),)),
    ("max_all", lambda m, a: a.max() * a, (_r(3, 4),)),
    ("min_all", lambda m, a: a.min() * a, (_r(3, 4),)),
    ("max_dim", _max_dim, (_r(3, 4),)),
    ("min_dim_keepdim", _min_dim_keepdim, (_r(3, 4),)),
    ("logsumexp_dim", lambda m, a: a.logsumexp(dim=1), (_r(3, 4),)),
    ("logsumexp_keepdim", lambda m, a: a.logsumexp(dim=0, keepdim=True) * a, (_r(3, 4),)),
    ("prod_all", lambda m, a: a.prod(), (_r(2, 3),)),
    ("prod_dim", lambda m, a: a.prod(dim=1), (_r(3, 4),)),
    ("prod_dim_keepdim", lambda m, a: a.prod(dim=0, keepdim=True) * a, (_r(3, 4),)),
    ("prod_one_zero", lambda m, a: a.prod(dim=1), (_with_zeros(3, 4),)),
    ("prod_two_zeros", lambda m, a: a.prod(dim=1), (_with_zeros(3, 4, zeros=((0, 1), (0, 2))),)),
    ("prod_all_with_zero", lambda m, a: a.prod(), (_with_zeros(2, 3),)),
    ("prod_middle_dim_zero", lambda m, a: a.prod(dim=1),
     (_with_zeros(2, 3, 2, zeros=((1, 0, 1),)),)),
]


@pytest.mark.parametrize("f, inputs", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reduction_second_derivatives_match_torch(f, inputs):
    compare_double_backward(functools.partial(f, svertka), functools.partial(f, torch), *inputs,
                            atol=1e-12)
