"""Reductions (sum mean var std prod logsumexp max min amax amin argmax argmin) against torch.

Values and gradients in float64 with a random upstream gradient, for ``dim`` as None, an int,
a negative int and a tuple, with and without ``keepdim``, on contiguous and non-contiguous
inputs; ties for max/min/amax/amin (torch's rules differ between them); var/std corrections;
prod with zeros.
"""

import numpy as np
import pytest
import torch
from tests._oracle import assert_close, compare_with_torch

import svertka


def _rand(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


DIMS = [
    ("all", {}),
    ("dim0", {"dim": 0}),
    ("dim1_keep", {"dim": 1, "keepdim": True}),
    ("neg", {"dim": -1}),
    ("tuple", {"dim": (0, 2)}),
    ("tuple_keep", {"dim": (2, 0), "keepdim": True}),
    ("tuple_neg", {"dim": (-1, 1)}),
]

LAYOUTS = {
    "contiguous": ((2, 3, 4), lambda x: x),
    "transposed": ((4, 3, 2), lambda x: x.permute(2, 1, 0)),
    "strided": ((2, 6, 8), lambda x: x[:, ::2, 1::2]),
}

REDUCTIONS = {
    "sum": lambda x, **k: x.sum(**k),
    "mean": lambda x, **k: x.mean(**k),
    "var": lambda x, **k: x.var(**k),
    "std": lambda x, **k: x.std(**k),
    "amax": lambda x, **k: x.amax(**k),
    "amin": lambda x, **k: x.amin(**k),
    "logsumexp": lambda x, **k: x.logsumexp(**k),
    "prod": lambda x, **k: x.prod(**k),
}


def _ok(name, kwargs):
    dim = kwargs.get("dim")
    if name == "logsumexp" and dim is None:
        return False  # torch requires dim
    if name == "prod" and isinstance(dim, tuple):
        return False  # torch.prod takes one int dim
    return True


# every reduction x dim variant x layout (strided on a subset), where torch has the call
CASES = [pytest.param(name, kwargs, layout, id=f"{name}-{kid}-{layout}")
         for name in REDUCTIONS for kid, kwargs in DIMS for layout in LAYOUTS
         if _ok(name, kwargs) and (layout != "strided" or kid in ("all", "tuple_keep", "neg"))]


@pytest.mark.parametrize("name,kwargs,layout", CASES)
def test_reduction_grads_match_torch(name, kwargs, layout):
    shape, prep = LAYOUTS[layout]
    a = _rand(shape, 1)
    if name == "prod":
        a = a * 0.5 + np.sign(a)  # away from 0, moderate products
    fn = REDUCTIONS[name]
    compare_with_torch(lambda x: fn(prep(x), **kwargs), lambda x: fn(prep(x), **kwargs), a)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "std", "amax", "amin", "prod"])
def test_reduction_float32_forward_matches_torch(name):
    a = _rand((3, 5), 2).astype(np.float32)
    s = REDUCTIONS[name](svertka.tensor(a), dim=1)
    t = REDUCTIONS[name](torch.tensor(a), dim=1)
    assert s.dtype == svertka.float32
    assert_close(s, t, rtol=1e-4)


def test_reduction_of_0d_tensor_grads_match_torch():
    a = np.array(1.5)
    for fn in (lambda x: x.sum(), lambda x: x.mean(), lambda x: x.sum(0), lambda x: x.amax(),
               lambda x: x.max(), lambda x: x.sum(dim=-1, keepdim=True)):
        compare_with_torch(fn, fn, a)


def test_sum_of_empty_tensor_matches_torch():
    a = np.zeros((0, 3))
    compare_with_torch(lambda x: x.sum(0), lambda x: x.sum(0), a)
    compare_with_torch(lambda x: x.sum(), lambda x: x.sum(), a)


def test_sum_int_and_bool_give_int64():
    assert svertka.tensor([1, 2, 3], dtype=svertka.int32).sum().dtype == svertka.int64
    s = svertka.tensor([True, True, False]).sum()
    assert s.dtype == svertka.int64 and s.item() == 2


# ---------------------------------------------------------------------- var / std
VAR = [
    ("default", {}),
    ("unbiased_false", {"unbiased": False}),
    ("correction0", {"correction": 0}),
    ("correction2", {"correction": 2}),
    ("dim_unbiased_false", {"dim": 1, "unbiased": False}),
    ("dim_correction0_keep", {"dim": 0, "correction": 0, "keepdim": True}),
    ("tuple_correction2", {"dim": (0, 1), "correction": 2}),
]


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("kid,kwargs", VAR, ids=[v[0] for v in VAR])
def test_var_std_corrections_match_torch(name, kid, kwargs):
    a = _rand((4, 5), 3)
    fn = REDUCTIONS[name]
    compare_with_torch(lambda x: fn(x, **kwargs), lambda x: fn(x, **kwargs), a)


def test_var_single_element_unbiased_is_nan_like_torch():
    a = np.array([1.5])
    s = svertka.tensor(a).var()
    with pytest.warns(UserWarning):
        t = torch.tensor(a).var()
    assert_close(s, t)


# ---------------------------------------------------------------------- prod with zeros
PROD_ZEROS = [
    ("one_zero_all", np.array([[2.0, 0.0, 3.0], [1.5, -1.0, 2.0]]), {}),
    ("two_zeros_all", np.array([[2.0, 0.0, 3.0], [0.0, -1.0, 2.0]]), {}),
    ("one_zero_dim", np.array([[2.0, 0.0, 3.0], [1.5, -1.0, 2.0]]), {"dim": 1}),
    ("two_zeros_dim", np.array([[0.0, 0.0, 3.0], [1.5, 0.0, 2.0]]), {"dim": 1}),
    ("zero_dim0_keep", np.array([[0.0, 4.0], [5.0, 0.0], [2.0, 3.0]]),
     {"dim": 0, "keepdim": True}),
]


@pytest.mark.parametrize("kid,a,kwargs", PROD_ZEROS, ids=[p[0] for p in PROD_ZEROS])
def test_prod_grads_match_torch_with_zeros(kid, a, kwargs):
    compare_with_torch(lambda x: x.prod(**kwargs), lambda x: x.prod(**kwargs), a)


def test_prod_over_several_dims_gradcheck():
    # torch.prod has no tuple dim; check svertka's own backward numerically
    x = svertka.tensor(_rand((2, 3, 2), 4), requires_grad=True)
    assert svertka.autograd.gradcheck(lambda t: t.prod(dim=(0, 2)), (x,))


# ---------------------------------------------------------------------- max / min
TIES = np.array([[1.0, 3.0, 3.0, 0.0],
                 [2.0, 2.0, 2.0, 2.0],
                 [-1.0, 5.0, -1.0, 5.0]])


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim,keepdim", [(0, False), (1, False), (1, True), (-1, True)])
def test_max_min_dim_grads_go_to_returned_index_with_ties(name, dim, keepdim):
    a = TIES if name == "max" else -TIES

    def run(lib_x):
        r = getattr(lib_x, name)(dim, keepdim)
        return r
    xs = svertka.tensor(a, requires_grad=True)
    xt = torch.tensor(a, requires_grad=True)
    vs, is_ = run(xs)
    vt, it = run(xt)
    assert_close(vs, vt)
    assert_close(is_, it)
    assert is_.dtype == svertka.int64
    named = getattr(xs, name)(dim, keepdim)
    assert named.values.shape == vs.shape and named.indices.shape == is_.shape
    gy = _rand(tuple(vt.shape), 5)
    vs.backward(svertka.tensor(gy))
    vt.backward(torch.tensor(gy))
    assert_close(xs.grad, xt.grad, what="gradient")


@pytest.mark.parametrize("name", ["max", "min", "amax", "amin"])
def test_full_max_min_grads_spread_evenly_over_ties(name):
    a = np.array([[1.0, 5.0, 5.0], [5.0, -2.0, 0.0]])
    a = a if name in ("max", "amax") else -a
    compare_with_torch(lambda x: getattr(x, name)(), lambda x: getattr(x, name)(), a)


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, 1, (0, 1), -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_amax_amin_grads_spread_evenly_over_ties(name, dim, keepdim):
    a = TIES if name == "amax" else -TIES
    fn = REDUCTIONS[name]
    compare_with_torch(lambda x: fn(x, dim=dim, keepdim=keepdim),
                       lambda x: fn(x, dim=dim, keepdim=keepdim), a)


def test_max_dim_grads_match_torch_non_contiguous():
    a = _rand((5, 3, 4), 6)
    compare_with_torch(lambda x: x.transpose(0, 2)[:, ::2].max(1)[0],
                       lambda x: x.transpose(0, 2)[:, ::2].max(1)[0], a)


def test_max_with_tensor_is_elementwise_maximum():
    a, b = _rand((3,), 7), _rand((3,), 8)
    compare_with_torch(lambda x, y: svertka.max(x, y), lambda x, y: torch.max(x, y), a, b)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": 1}, {"dim": -1, "keepdim": True},
                                    {"keepdim": True}], ids=str)
def test_argmax_argmin_match_torch_first_index_on_ties(name, kwargs):
    s = getattr(svertka.tensor(TIES), name)(**kwargs)
    t = getattr(torch.tensor(TIES), name)(**kwargs)
    assert s.dtype == svertka.int64
    assert_close(s, t)


def test_argmax_on_non_contiguous_matches_torch():
    a = _rand((4, 6), 9)
    assert_close(svertka.tensor(a).T[::2].argmax(1), torch.tensor(a).T[::2].argmax(1))


# ---------------------------------------------------------------------- errors
REDUCTION_ERRORS = [
    ("sum", lambda x: x.sum(3), r"sum: dim out of range \(expected to be in range of "
                                r"\[-3, 2\]\), got dim=3"),
    ("sum_neg", lambda x: x.sum(-4), r"sum: dim out of range .*got dim=-4"),
    ("sum_tuple", lambda x: x.sum((0, 5)), r"sum: dim out of range .*got dim=5"),
    ("sum_repeated", lambda x: x.sum((1, -2)), r"sum: dim \(1, -2\) appears multiple times"),
    ("mean", lambda x: x.mean(3), r"mean: dim out of range"),
    ("var", lambda x: x.var(7), r"var: dim out of range"),
    ("amax", lambda x: x.amax(3), r"amax: dim out of range"),
    ("max", lambda x: x.max(3), r"max: dim out of range"),
    ("argmax", lambda x: x.argmax(3), r"argmax: dim out of range"),
    ("prod", lambda x: x.prod(3), r"prod: dim out of range"),
    ("mean_int", lambda x: x.long().mean(), r"mean: could not infer output dtype"),
    ("var_int", lambda x: x.long().var(), r"var: input dtype must be floating point"),
    ("std_int", lambda x: x.long().std(), r"std: input dtype must be floating point"),
    ("amin_empty_dim", lambda x: x[:, :0].amin(1),
     r"amin: expected reduction dim 1 to have non-zero size"),
    ("amax_empty", lambda x: x[:0].amax(), r"amax: expected reduction dim 0 to have non-zero"),
    ("max_dim_empty", lambda x: x[:, :0].max(1), r"max: expected reduction dim 1 to have"),
    ("max_empty", lambda x: x[:0].max(), r"max: operation does not have an identity"),
]


@pytest.mark.parametrize("kid,call,msg", REDUCTION_ERRORS, ids=[e[0] for e in REDUCTION_ERRORS])
def test_reduction_rejects_bad_dim(kid, call, msg):
    with pytest.raises(ValueError, match=msg):
        call(svertka.ones(2, 3, 4))


def test_sum_rejects_non_int_dim():
    with pytest.raises(TypeError, match=r"sum: dim must be an int, got dim=1.5"):
        svertka.ones(2, 3).sum(1.5)


# ---------------------------------------------------------------------- special values
SPECIAL = [
    ("std_zero_variance", lambda x: x.std(), [2.0, 2.0, 2.0]),
    ("std_dim_zero_variance", lambda x: x.std(1), [[2.0, 2.0], [1.0, 3.0]]),
    ("std_keepdim_correction0", lambda x: x.std(0, correction=0, keepdim=True),
     [[1.0, 5.0], [1.0, -2.0]]),
    ("norm", lambda x: x.norm(), [[3.0, 4.0], [1.0, -2.0]]),
    ("norm_zero", lambda x: x.norm(), [0.0, 0.0]),
    ("norm_dim_zero_row", lambda x: x.norm(dim=1), [[0.0, 0.0], [3.0, -4.0]]),
    ("norm_keepdim", lambda x: x.norm(dim=0, keepdim=True), [[1.0, 0.0], [3.0, -4.0]]),
    ("norm_p1", lambda x: x.norm(p=1), [[3.0, -4.0], [0.5, 1.0]]),
    ("logsumexp_neg_inf", lambda x: x.logsumexp(1), [[-np.inf, -np.inf], [0.0, 1.0]]),
    ("logsumexp_one_inf", lambda x: x.logsumexp(0), [[-np.inf, 2.0], [0.0, 1.0]]),
    ("mean_empty", lambda x: x.mean(0), np.zeros((0, 3))),
    ("amax_nan", lambda x: x.amax(), [1.0, np.nan]),
    ("max_dim_nan", lambda x: x.max(0)[0], [1.0, np.nan, 3.0]),
    ("min_dim_nan", lambda x: x.min(0)[0], [1.0, np.nan, -3.0]),
    ("prod_empty", lambda x: x.prod(), np.zeros((0,))),
    ("prod_0d", lambda x: x.prod(0), np.array(3.0)),
]


@pytest.mark.parametrize("kid,fn,a", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_reduction_special_values_match_torch(kid, fn, a):
    compare_with_torch(fn, fn, np.asarray(a, dtype=np.float64))
