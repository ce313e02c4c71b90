"""Second derivatives of every pooling against torch (float64).

Max pooling is linear in its upstream gradient (a scatter to the argmax): its second
derivative w.r.t. the input is zero and w.r.t. the upstream gradient a gather at the argmax;
``compare_double_backward`` checks both (``_plain``). Squaring the output (``_sq``) makes the
first gradient depend on the input too.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import compare_double_backward

import svertka
import svertka.nn.functional as F
from svertka.ops.elementwise import Pow


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _sq(op):
    def f(*xs):
        y = op(*xs)
        return y * y
    return f


def _both(name, *args, **kwargs):
    """``name`` of svertka's and torch's functional, called with the same arguments."""
    return (lambda x: getattr(F, name)(x, *args, **kwargs),
            lambda x: getattr(TF, name)(x, *args, **kwargs))


_MAX = [
    ("1d", "max_pool1d", (2, 3, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("2d_2x2_tiles", "max_pool2d", (2, 2, 4, 6), dict(kernel_size=2)),
    ("2d_overlap_dilated", "max_pool2d", (1, 2, 7, 6),
     dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    ("2d_ceil", "max_pool2d", (1, 2, 5, 5), dict(kernel_size=2, ceil_mode=True)),
    ("3d", "max_pool3d", (1, 2, 4, 4, 5), dict(kernel_size=2, stride=(1, 2, 2))),
]


@pytest.mark.parametrize("indices", [False, True], ids=["values", "with_indices"])
@pytest.mark.parametrize("name,shape,kw", [c[1:] for c in _MAX], ids=[c[0] for c in _MAX])
def test_max_pool_second_derivatives_match_torch(name, shape, kw, indices):
    sv, th = _both(name, return_indices=indices, **kw)
    if indices:
        sv, th = (lambda f: lambda x: f(x)[0])(sv), (lambda f: lambda x: f(x)[0])(th)
    x = _r(*shape)
    compare_double_backward(sv, th, x)                # zero w.r.t. x; a gather w.r.t. v
    compare_double_backward(_sq(sv), _sq(th), x)


def test_max_pool_second_derivative_wrt_upstream_is_a_gather_at_the_argmax():
    x = svertka.tensor(_r(1, 1, 4, 4), requires_grad=True)
    v = svertka.tensor(_r(1, 1, 2, 2, seed=1), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    (g,) = svertka.autograd.grad(y, x, v, create_graph=True)
    u = _r(1, 1, 4, 4, seed=2)
    gx, gv = svertka.autograd.grad((g * svertka.tensor(u)).sum(), [x, v], allow_unused=True)
    assert gx is None or not gx.numpy().any()
    want = np.take_along_axis(u.reshape(1, 1, 16), idx.numpy().reshape(1, 1, 4), axis=-1)
    np.testing.assert_array_equal(gv.numpy(), want.reshape(1, 1, 2, 2))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_adaptive_max_pool_second_derivatives_match_torch(n):
    x = _r(*(1, 2) + (5, 4, 3)[:n])
    sv, th = _both(f"adaptive_max_pool{n}d", (3, 2, 2)[:n])
    compare_double_backward(_sq(sv), _sq(th), x)


def test_max_unpool_second_derivatives_match_torch():
    x = _r(1, 2, 4, 6)
    _, idx = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    idx = idx.numpy()
    compare_double_backward(
        _sq(lambda a: F.max_unpool2d(a, svertka.tensor(idx), 2)),
        _sq(lambda a: TF.max_unpool2d(a, torch.tensor(idx), 2)), _r(1, 2, 2, 3, seed=1))


_AVG = [
    ("1d", "avg_pool1d", (2, 2, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("2d", "avg_pool2d", (1, 2, 6, 6), dict(kernel_size=2)),
    ("2d_ceil_no_pad_count", "avg_pool2d", (1, 2, 5, 6),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("2d_ceil_pad_count", "avg_pool2d", (1, 1, 5, 5),
     dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ("2d_divisor", "avg_pool2d", (1, 2, 5, 5), dict(kernel_size=3, divisor_override=4)),
    ("3d", "avg_pool3d", (1, 1, 4, 5, 4), dict(kernel_size=2, stride=(1, 2, 2), padding=1)),
]


@pytest.mark.parametrize("name,shape,kw", [c[1:] for c in _AVG], ids=[c[0] for c in _AVG])
def test_avg_pool_second_derivatives_match_torch(name, shape, kw):
    sv, th = _both(name, **kw)
    compare_double_backward(_sq(sv), _sq(th), _r(*shape))


@pytest.mark.parametrize("shape,out", [((1, 2, 6, 4), (3, 2)), ((1, 2, 7, 5), (3, 2)),
                                       ((2, 3, 4, 5), (1, 1)), ((1, 2, 5), (3,)),
                                       ((1, 1, 4, 5, 3), (2, 3, 2))],
                         ids=["uniform", "uneven", "global", "1d", "3d"])
def test_adaptive_avg_pool_second_derivatives_match_torch(shape, out):
    sv, th = _both(f"adaptive_avg_pool{len(out)}d", out)
    compare_double_backward(_sq(sv), _sq(th), _r(*shape))


@pytest.mark.skipif(Pow.backward_graph is None,
                    reason="lp_pool goes through pow/sign/abs/relu, whose backward_graph "
                           "comes with the elementwise family")
@pytest.mark.parametrize("p", [2.0, 3.0, float("inf")])
@pytest.mark.parametrize("n", [1, 2])
def test_lp_pool_second_derivatives_match_torch(n, p):
    x = np.abs(_r(*(1, 2) + (5, 6)[:n])) + 0.5       # away from the root's kink at 0
    sv, th = _both(f"lp_pool{n}d", p, 2, ceil_mode=True)
    compare_double_backward(sv, th, x)


def _third(mod, f, x):
    """``d/dx sum(h^2)`` with ``h = d/dx sum(g^2)``, ``g = d/dx sum(f(x)^3)``: the recorded
    backward of each pooling's backward op runs in the middle step."""
    y = f(x)
    (g,) = mod.autograd.grad((y * y * y).sum(), x, create_graph=True)
    (h,) = mod.autograd.grad((g * g).sum(), x, create_graph=True)
    return mod.autograd.grad((h * h).sum(), x)[0]


@pytest.mark.parametrize("name,args", [
    ("max_pool2d", (3, 2, 1)), ("avg_pool2d", (3, 2, 1, True, False)),
    ("avg_pool2d", (2, 1, 0, False, True, 3)), ("adaptive_avg_pool2d", ((3, 2),)),
    ("adaptive_avg_pool2d", ((2, 3),)), ("adaptive_max_pool2d", ((3, 2),))],
    ids=["max", "avg_ceil_no_pad_count", "avg_divisor", "adaptive_avg_uneven",
         "adaptive_avg_uniform", "adaptive_max"])
def test_pooling_third_derivatives_match_torch(name, args):
    x = _r(1, 2, 4, 6)
    sv, th = _both(name, *args)
    a = _third(svertka, sv, svertka.tensor(x, requires_grad=True))
    b = _third(torch, th, torch.tensor(x, requires_grad=True))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-9)
