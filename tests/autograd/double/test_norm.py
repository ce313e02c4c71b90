"""Second (and third) derivatives of the normalisations against torch in float64."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_double_backward

import svertka
import svertka.nn.functional as F


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _var(*shape, seed=5):
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def _affine(affine, c, arrays):
    return arrays + ([_r(*c, seed=1), _r(*c, seed=2)] if affine else [])


def _cube(f):
    """``f(x, ...) ** 3``: a nonlinear head, so the second derivatives go through the norm's
    backward twice (the input and its upstream gradient both matter)."""
    return lambda *a: f(*a) * f(*a) * f(*a)


@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 3)], ids=["1d", "2d", "3d"])
def test_batch_norm_train_second_derivatives_match_torch(shape, affine):
    C = shape[1]
    compare_double_backward(
        _cube(lambda x, *wb: F.batch_norm(x, None, None, *wb, training=True)),
        _cube(lambda x, *wb: TF.batch_norm(x, None, None, *wb, training=True)),
        *_affine(affine, (C,), [_r(*shape)]))


@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_batch_norm_eval_second_derivatives_match_torch(affine):
    rm, rv = _r(3, seed=3), _var(3)
    kw = dict(training=False)
    compare_double_backward(
        _cube(lambda x, *wb: F.batch_norm(x, svertka.tensor(rm), svertka.tensor(rv), *wb, **kw)),
        _cube(lambda x, *wb: TF.batch_norm(x, torch.tensor(rm), torch.tensor(rv), *wb, **kw)),
        *_affine(affine, (3,), [_r(2, 3, 4)]))


@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_layer_norm_second_derivatives_match_torch(affine):
    compare_double_backward(_cube(lambda x, *wb: F.layer_norm(x, (3, 4), *wb)),
                            _cube(lambda x, *wb: TF.layer_norm(x, (3, 4), *wb)),
                            *_affine(affine, (3, 4), [_r(2, 3, 4)]))


@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_group_norm_second_derivatives_match_torch(affine):
    compare_double_backward(_cube(lambda x, *wb: F.group_norm(x, 2, *wb)),
                            _cube(lambda x, *wb: TF.group_norm(x, 2, *wb)),
                            *_affine(affine, (4,), [_r(2, 4, 3)]))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_instance_norm_second_derivatives_match_torch(affine, train):
    rm, rv = _r(3, seed=3), _var(3)

    def run(f, lib):
        stats = (None, None) if train else (lib.tensor(rm), lib.tensor(rv))
        return lambda x, *wb: f(x, *stats, *wb, use_input_stats=train)

    compare_double_backward(_cube(run(F.instance_norm, svertka)),
                            _cube(run(TF.instance_norm, torch)),
                            *_affine(affine, (3,), [_r(2, 3, 5)]))


def test_local_response_norm_second_derivatives_match_torch():
    kw = dict(size=3, alpha=0.5, beta=0.75, k=1.5)
    compare_double_backward(_cube(lambda x: F.local_response_norm(x, **kw)),
                            _cube(lambda x: TF.local_response_norm(x, **kw)), _r(2, 5, 3))


@pytest.mark.parametrize("affine", [False, True], ids=["plain", "affine"])
def test_rms_norm_second_derivatives_match_torch(affine):
    arrays = [_r(3, 2, 4)] + ([_r(2, 4, seed=1)] if affine else [])
    compare_double_backward(_cube(lambda x, *w: F.rms_norm(x, (2, 4), *w, eps=1e-6)),
                            _cube(lambda x, *w: TF.rms_norm(x, (2, 4), *w, eps=1e-6)), *arrays)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 0.5, float("inf"), 0.0])
def test_normalize_second_derivatives_match_torch(p):
    x = _r(3, 4)
    if p not in (2.0, 0.5):
        x[2] = 0.0                               # a zero row: the eps clamp
    compare_double_backward(_cube(lambda a: F.normalize(a, p=p, dim=1)),
                            _cube(lambda a: TF.normalize(a, p=p, dim=1)), x)


@pytest.mark.parametrize("p", [2.0, 0.5])
def test_normalize_second_derivatives_at_a_zero_row_are_those_of_x_over_eps(p):
    """Below ``eps`` the map is ``x / eps``; torch's double backward of the norm gives NaN
    there for these ``p`` (svertka departs on purpose: the derivative of the norm at 0 is
    taken as 0, as in the first-order backward)."""
    eps = 1e-3
    compare_double_backward(_cube(lambda a: F.normalize(a, p=p, dim=1, eps=eps)),
                            _cube(lambda a: a / eps), np.zeros((2, 3)))


def _torch_batch_norm_composite(x, w):
    """torch's batch norm from its elementary ops: torch's native batch/layer norm give
    wrong third derivatives (they disagree with finite differences of their own second
    derivatives), its composite ops do not."""
    m = x.mean(dim=(0, 2), keepdim=True)
    v = x.var(dim=(0, 2), unbiased=False, keepdim=True)
    return (x - m) / torch.sqrt(v + 1e-5) * w.reshape(1, -1, 1)


def _third_derivatives(f, *arrays):
    """``d/dx [sum(h^2)]`` with ``h = d/dx sum(g^3)``, ``g = d/dx sum(f(x)^3)``, per library."""
    out = []
    for lib, fn in zip((svertka, torch), f):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        y = fn(*xs)
        g = lib.autograd.grad((y * y * y).sum(), xs, create_graph=True)
        h = lib.autograd.grad(sum((a * a * a).sum() for a in g), xs, create_graph=True)
        out.append(lib.autograd.grad(sum((a * a).sum() for a in h), xs))
    for a, b in zip(*out):
        assert_close(a, b, 1e-7, "third derivative")


def test_batch_norm_third_derivatives_match_torch():
    """``_Standardized`` and ``_Rstd`` record their own backward: any order works."""
    _third_derivatives((lambda x, w: F.batch_norm(x, None, None, w, training=True),
                        _torch_batch_norm_composite), _r(3, 2, 4), _r(2, seed=1))


def test_layer_norm_third_derivatives_match_torch():
    def th(x, w):
        m = x.mean(dim=-1, keepdim=True)
        v = x.var(dim=-1, unbiased=False, keepdim=True)
        return (x - m) / torch.sqrt(v + 1e-5) * w

    _third_derivatives((lambda x, w: F.layer_norm(x, (4,), w), th), _r(3, 4), _r(4, seed=1))


def test_rms_norm_and_local_response_norm_third_derivatives_match_torch():
    def th_rms(x):
        return x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + 1e-6)

    _third_derivatives((lambda x: F.rms_norm(x, (4,), eps=1e-6), th_rms), _r(3, 4))
    kw = dict(size=2, alpha=0.5, beta=0.75, k=1.5)
    _third_derivatives((lambda x: F.local_response_norm(x, **kw),
                        lambda x: TF.local_response_norm(x, **kw)), _r(1, 3, 2))


def test_sync_batchnorm_fn_double_backward_error_names_it():
    from svertka.nn.parallel.sync_batchnorm import _SyncBatchNormFn
    x = svertka.tensor(_r(3, 2), requires_grad=True)
    y = _SyncBatchNormFn.apply(x, None, None, mean=np.zeros(2), invstd=np.ones(2), count=6,
                               shape=(1, 2))
    with pytest.raises(RuntimeError, match="SyncBatchNorm: create_graph=True"):
        svertka.autograd.grad((y * y).sum(), [x], create_graph=True)
