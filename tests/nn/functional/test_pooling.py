"""Pooling against torch 2.13 (float64, random upstream gradient), and gradcheck where torch
has no counterpart (average pooling with dilation)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F
from svertka.autograd import gradcheck


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _ints(shape, seed=0, high=3):
    """Small integers as floats: many ties inside windows."""
    return np.random.default_rng(seed).integers(0, high, shape).astype(np.float64)


# ----------------------------------------------------------------------------- max pooling

# (id, input shape, kwargs); the rank is len(kernel) (ints: the shape's rank - 2)
MAX_CASES = [
    ("1d_default", (2, 3, 8), dict(kernel_size=2)),
    ("1d_stride1_overlap", (2, 3, 7), dict(kernel_size=3, stride=1)),
    ("1d_pad_dil", (2, 2, 9), dict(kernel_size=3, stride=2, padding=1, dilation=2)),
    ("1d_ceil", (1, 2, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("1d_ceil_pad", (1, 2, 7), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ("1d_unbatched", (3, 6), dict(kernel_size=2, stride=1)),
    ("1d_global", (2, 3, 5), dict(kernel_size=5)),
    ("1d_stride_gt_kernel", (2, 2, 11), dict(kernel_size=2, stride=3)),
    ("2d_default", (2, 3, 6, 6), dict(kernel_size=2)),
    ("2d_k3_s2_p1", (2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("2d_overlap_s1", (1, 2, 5, 5), dict(kernel_size=3, stride=1)),
    ("2d_asym", (2, 2, 7, 9), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
    ("2d_dilation", (1, 2, 9, 8), dict(kernel_size=3, stride=1, padding=1, dilation=2)),
    ("2d_dilation_asym", (1, 2, 9, 8), dict(kernel_size=(2, 3), dilation=(3, 1))),
    ("2d_ceil", (2, 2, 7, 7), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("2d_ceil_pad", (1, 2, 6, 5), dict(kernel_size=2, stride=2, padding=1, ceil_mode=True)),
    ("2d_ceil_dil", (1, 1, 8, 9), dict(kernel_size=2, stride=3, dilation=2, ceil_mode=True)),
    ("2d_global", (2, 3, 4, 5), dict(kernel_size=(4, 5))),
    ("2d_1x1", (2, 3, 4, 4), dict(kernel_size=1)),
    ("2d_unbatched", (3, 6, 5), dict(kernel_size=2, stride=1, padding=1)),
    ("2d_empty_batch", (0, 2, 4, 4), dict(kernel_size=2)),
    ("3d_default", (1, 2, 4, 4, 4), dict(kernel_size=2)),
    ("3d_pad_stride", (2, 1, 5, 4, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("3d_asym_dil", (1, 2, 6, 5, 7), dict(kernel_size=(2, 1, 3), stride=(1, 2, 2),
                                           dilation=(2, 1, 2))),
    ("3d_ceil", (1, 2, 5, 5, 5), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ("3d_unbatched", (2, 4, 3, 5), dict(kernel_size=(2, 3, 2), stride=1)),
]


def _rank_of(case_id):
    return int(case_id[0])


@pytest.mark.parametrize("case_id,shape,kwargs", MAX_CASES, ids=[c[0] for c in MAX_CASES])
@pytest.mark.parametrize("data", ["normal", "ties"])
def test_max_pool_matches_torch(case_id, shape, kwargs, data):
    n = _rank_of(case_id)
    x = _rand(shape, seed=1) if data == "normal" else _ints(shape, seed=2)
    sv = getattr(F, f"max_pool{n}d")
    th = getattr(TF, f"max_pool{n}d")
    compare_with_torch(lambda t: sv(t, **kwargs), lambda t: th(t, **kwargs), x)


@pytest.mark.parametrize("case_id,shape,kwargs", MAX_CASES, ids=[c[0] for c in MAX_CASES])
def test_max_pool_indices_match_torch_with_ties(case_id, shape, kwargs):
    n = _rank_of(case_id)
    x = _ints(shape, seed=3, high=2)
    y, i = getattr(F, f"max_pool{n}d")(svertka.tensor(x), **kwargs, return_indices=True)
    ty, ti = getattr(TF, f"max_pool{n}d")(torch.tensor(x), **kwargs, return_indices=True)
    assert i.dtype == svertka.int64
    assert_close(i, ti, what="indices")
    assert_close(y, ty, what="values")


def test_max_pool_indices_match_torch_with_nan_and_inf():
    x = np.array([[[1., np.nan, 2., np.nan, -np.inf, -np.inf, np.inf, 3.]]])
    for k in (2, 3, 4):
        y, i = F.max_pool1d(svertka.tensor(x), k, stride=1, padding=k // 2,
                            return_indices=True)
        ty, ti = TF.max_pool1d(torch.tensor(x), k, stride=1, padding=k // 2,
                               return_indices=True)
        assert_close(i, ti, what=f"indices k={k}")
        assert_close(y, ty, what=f"values k={k}")


def test_max_pool_window_of_padding_only_matches_torch_forward():
    # Dilation can make a window hold padding only: torch gives -inf and an index past the
    # plane. Its backward then writes into the next plane (out of bounds); ours drops it.
    x = _rand((1, 2, 2), seed=4)
    y, i = F.max_pool1d(svertka.tensor(x), 2, stride=1, padding=1, dilation=3,
                        return_indices=True)
    ty, ti = TF.max_pool1d(torch.tensor(x), 2, stride=1, padding=1, dilation=3,
                           return_indices=True)
    assert_close(i, ti, what="indices")
    assert_close(y, ty, what="values")
    t = svertka.tensor(x, requires_grad=True)
    F.max_pool1d(t, 2, stride=1, padding=1, dilation=3).backward(svertka.ones(1, 2, 1))
    assert t.grad.tolist() == [[[0.0, 0.0], [0.0, 0.0]]]


def test_max_pool_window_empty_along_last_axis_is_minus_inf_as_torch():
    # The empty windows' torch index h * W + W points into the next row: still -inf.
    x = _rand((1, 3, 2), seed=21)
    kw = dict(kernel_size=(1, 2), padding=(0, 1), dilation=(1, 3), return_indices=True)
    y, i = F.max_pool2d(svertka.tensor(x), **kw)
    ty, ti = TF.max_pool2d(torch.tensor(x), **kw)
    assert_close(i, ti, what="indices")
    assert_close(y, ty, what="values")


def test_max_pool_backward_routes_gradient_to_argmax_only():
    # The lecture example: 2x2 windows, stride 2; each upstream gradient lands on its max.
    x = svertka.tensor([[[1., 5., 2., 0.],
                         [3., 4., 6., 1.],
                         [0., 2., 1., 1.],
                         [7., 1., 3., 2.]]], requires_grad=True)
    y = F.max_pool2d(x, 2)
    assert y.tolist() == [[[5., 6.], [7., 3.]]]
    y.backward(svertka.tensor([[[10., 20.], [30., 40.]]]))
    assert x.grad.tolist() == [[[0., 10., 0., 0.],
                                [0., 0., 20., 0.],
                                [0., 0., 0., 0.],
                                [30., 0., 40., 0.]]]


def test_max_pool_backward_adds_up_over_overlapping_windows():
    x = svertka.tensor([[[0., 9., 1., 2.]]], requires_grad=True)
    F.max_pool1d(x, 2, stride=1).backward(svertka.tensor([[[1., 2., 4.]]]))
    assert x.grad.tolist() == [[[0., 3., 0., 4.]]]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_max_pool_float32_forward_matches_torch(n):
    x = _rand((2, 3) + (7,) * n, seed=5, dtype=np.float32)
    y = getattr(F, f"max_pool{n}d")(svertka.tensor(x), 3, stride=2, padding=1)
    assert y.dtype == svertka.float32
    assert_close(y, getattr(TF, f"max_pool{n}d")(torch.tensor(x), 3, stride=2, padding=1),
                 rtol=1e-4)


# ----------------------------------------------------------------------------- max unpooling

# (id, input shape, pool kwargs, output_size)
UNPOOL_CASES = [
    ("1d", (2, 3, 8), dict(kernel_size=2), None),
    ("1d_odd_output_size", (2, 2, 9), dict(kernel_size=2), (9,)),
    ("1d_overlap", (1, 2, 7), dict(kernel_size=3, stride=1), None),
    ("2d", (2, 2, 6, 6), dict(kernel_size=2), None),
    ("2d_pad_stride", (1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1), (7, 7)),
    ("2d_full_output_size", (2, 1, 5, 7), dict(kernel_size=2), (2, 1, 5, 7)),
    ("2d_unbatched", (3, 4, 4), dict(kernel_size=2), None),
    ("3d", (1, 2, 4, 4, 6), dict(kernel_size=2), None),
    ("3d_stride", (1, 1, 5, 5, 5), dict(kernel_size=3, stride=2, padding=1), (5, 5, 5)),
]


@pytest.mark.parametrize("case_id,shape,kwargs,output_size", UNPOOL_CASES,
                         ids=[c[0] for c in UNPOOL_CASES])
def test_max_unpool_matches_torch(case_id, shape, kwargs, output_size):
    n = _rank_of(case_id)
    x = _rand(shape, seed=6)
    # Unpool the pooled values themselves: where overlapping windows share a maximum, the
    # repeated index then carries the same value (torch's write order is nondeterministic).
    ty, ti = getattr(TF, f"max_pool{n}d")(torch.tensor(x), **kwargs, return_indices=True)
    y_in = ty.numpy()
    idx = ti.numpy()
    ukw = {k: v for k, v in kwargs.items() if k in ("kernel_size", "stride", "padding")}
    sv = getattr(F, f"max_unpool{n}d")
    th = getattr(TF, f"max_unpool{n}d")
    compare_with_torch(
        lambda t: sv(t, svertka.tensor(idx), **ukw, output_size=output_size),
        lambda t: th(t, torch.tensor(idx), **ukw, output_size=output_size), y_in)


def test_max_unpool_puts_the_maxima_back_and_zeros_elsewhere():
    x = _rand((2, 3, 6, 4), seed=8)
    y, i = F.max_pool2d(svertka.tensor(x), 2, return_indices=True)
    z = F.max_unpool2d(y, i, 2).numpy().reshape(2, 3, -1)
    flat = i.numpy().reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(z, flat, axis=2), y.numpy().reshape(2, 3, -1))
    np.put_along_axis(z, flat, 0.0, axis=2)
    assert not z.any()


# ----------------------------------------------------------------------------- average pooling

# (id, input shape, kwargs)
AVG_CASES = [
    ("1d_default", (2, 3, 8), dict(kernel_size=2)),
    ("1d_overlap", (2, 2, 7), dict(kernel_size=3, stride=1)),
    ("1d_pad", (2, 2, 7), dict(kernel_size=3, stride=2, padding=1)),
    ("1d_pad_exclude", (2, 2, 7), dict(kernel_size=3, stride=2, padding=1,
                                        count_include_pad=False)),
    ("1d_ceil", (1, 2, 8), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ("1d_ceil_pad_include", (1, 2, 5), dict(kernel_size=2, stride=2, padding=1,
                                             ceil_mode=True)),
    ("1d_ceil_pad_exclude", (1, 2, 6), dict(kernel_size=3, stride=2, padding=1,
                                             ceil_mode=True, count_include_pad=False)),
    ("1d_global", (2, 3, 5), dict(kernel_size=5)),
    ("1d_unbatched", (3, 6), dict(kernel_size=2, stride=1, padding=1)),
    ("2d_default", (2, 3, 6, 6), dict(kernel_size=2)),
    ("2d_k3_s2_p1", (2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("2d_k3_s2_p1_exclude", (2, 2, 7, 6), dict(kernel_size=3, stride=2, padding=1,
                                                count_include_pad=False)),
    ("2d_asym", (1, 2, 7, 9), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
    ("2d_ceil_include", (2, 1, 7, 6), dict(kernel_size=3, stride=2, padding=1,
                                            ceil_mode=True)),
    ("2d_ceil_exclude", (2, 1, 6, 7), dict(kernel_size=(2, 3), stride=2, padding=1,
                                            ceil_mode=True, count_include_pad=False)),
    ("2d_divisor", (2, 2, 6, 5), dict(kernel_size=2, stride=1, divisor_override=3)),
    ("2d_divisor_pad_ceil", (1, 2, 5, 5), dict(kernel_size=3, stride=2, padding=1,
                                                ceil_mode=True, divisor_override=-2)),
    ("2d_global", (2, 3, 4, 5), dict(kernel_size=(4, 5))),
    ("2d_unbatched", (3, 5, 6), dict(kernel_size=2)),
    ("2d_empty_batch", (0, 2, 4, 4), dict(kernel_size=2)),
    ("3d_default", (1, 2, 4, 4, 4), dict(kernel_size=2)),
    ("3d_pad_stride", (2, 1, 5, 4, 6), dict(kernel_size=3, stride=2, padding=1)),
    ("3d_pad_exclude_ceil", (1, 2, 5, 6, 5), dict(kernel_size=(2, 3, 2), stride=2,
                                                   padding=1, ceil_mode=True,
                                                   count_include_pad=False)),
    ("3d_divisor", (1, 1, 4, 5, 4), dict(kernel_size=2, stride=1, divisor_override=5)),
    ("3d_unbatched", (2, 4, 3, 5), dict(kernel_size=(2, 3, 2), stride=1)),
]


@pytest.mark.parametrize("case_id,shape,kwargs", AVG_CASES, ids=[c[0] for c in AVG_CASES])
def test_avg_pool_matches_torch(case_id, shape, kwargs):
    n = _rank_of(case_id)
    sv = getattr(F, f"avg_pool{n}d")
    th = getattr(TF, f"avg_pool{n}d")
    compare_with_torch(lambda t: sv(t, **kwargs), lambda t: th(t, **kwargs),
                       _rand(shape, seed=9))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_avg_pool_float32_forward_matches_torch(n):
    x = _rand((2, 3) + (7,) * n, seed=10, dtype=np.float32)
    kw = dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)
    y = getattr(F, f"avg_pool{n}d")(svertka.tensor(x), **kw)
    assert y.dtype == svertka.float32
    assert_close(y, getattr(TF, f"avg_pool{n}d")(torch.tensor(x), **kw), rtol=1e-4)


def _avg_reference(x, kernel, stride, pad, dilation, ceil_mode, count_include_pad, divisor):
    """Slow explicit average pooling, one output element at a time (the definition)."""
    n = len(kernel)
    spatial = x.shape[-n:]
    outs = []
    for i, k, s, p, d in zip(spatial, kernel, stride, pad, dilation):
        span = d * (k - 1) + 1
        room = i + 2 * p - span
        o = (room + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (o - 1) * s >= i + p:
            o -= 1
        outs.append(o)
    y = np.zeros(x.shape[:-n] + tuple(outs))
    for o in itertools.product(*(range(v) for v in outs)):
        total = np.zeros(x.shape[:-n])
        in_padded = inside = 0
        for k in itertools.product(*(range(v) for v in kernel)):
            pos = [oi * s + ki * d - p for oi, ki, s, d, p in zip(o, k, stride, dilation, pad)]
            if all(q < i + p for q, i, p in zip(pos, spatial, pad)):
                in_padded += 1
            if all(0 <= q < i for q, i in zip(pos, spatial)):
                inside += 1
                total += x[(Ellipsis,) + tuple(pos)]
        div = divisor or (in_padded if count_include_pad else inside) or 1
        y[(Ellipsis,) + o] = total / div
    return y


# (id, input shape, kernel, stride, padding, dilation, ceil_mode, count_include_pad, divisor)
DILATED_AVG_CASES = [
    ("1d_d2", (2, 2, 9), (3,), (1,), (0,), (2,), False, True, None),
    ("1d_d3_pad_exclude", (1, 2, 10), (3,), (2,), (1,), (3,), False, False, None),
    ("1d_d2_ceil", (1, 1, 10), (2,), (3,), (1,), (2,), True, True, None),
    ("2d_d2", (1, 2, 7, 8), (2, 3), (1, 2), (1, 1), (2, 2), False, True, None),
    ("2d_d2_ceil_exclude", (2, 1, 8, 7), (3, 2), (2, 2), (1, 1), (2, 3), True, False, None),
    ("2d_d2_divisor", (1, 2, 6, 6), (2, 2), (1, 1), (0, 0), (2, 1), False, True, 7),
    ("3d_d2", (1, 1, 5, 6, 5), (2, 2, 2), (1, 2, 1), (1, 0, 1), (2, 2, 1), False, False, None),
]


@pytest.mark.parametrize("case", DILATED_AVG_CASES, ids=[c[0] for c in DILATED_AVG_CASES])
def test_avg_pool_dilation_matches_reference_and_gradcheck(case):
    case_id, shape, kernel, stride, pad, dil, ceil, incl, div = case
    n = len(kernel)
    x = _rand(shape, seed=11)
    kw = dict(stride=stride, padding=pad, ceil_mode=ceil, count_include_pad=incl,
              dilation=dil)
    if n > 1:
        kw["divisor_override"] = div
    fn = getattr(F, f"avg_pool{n}d")
    y = fn(svertka.tensor(x), kernel, **kw)
    assert_close(y, _avg_reference(x, kernel, stride, pad, dil, ceil, incl, div))
    t = svertka.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: fn(a, kernel, **kw), (t,))


def test_avg_pool_dilation_1_equals_default():
    x = svertka.tensor(_rand((2, 3, 7, 7), seed=12))
    assert_close(F.avg_pool2d(x, 3, 2, 1, dilation=1), F.avg_pool2d(x, 3, 2, 1), rtol=1e-15)


# ----------------------------------------------------------------------------- adaptive pooling

# (id, input shape, output_size)
ADAPTIVE_CASES = [
    ("1d_divides", (2, 3, 8), 4),
    ("1d_overlapping_bins", (2, 3, 7), 3),
    ("1d_upsample", (1, 2, 3), 5),
    ("1d_global", (2, 3, 6), 1),
    ("1d_same", (2, 2, 5), 5),
    ("1d_tuple", (1, 2, 10), (4,)),
    ("1d_unbatched", (3, 7), 2),
    ("2d_divides", (2, 3, 8, 6), (4, 3)),
    ("2d_uneven", (2, 2, 7, 5), (3, 2)),
    ("2d_global", (2, 3, 5, 4), 1),
    ("2d_none", (1, 2, 7, 5), (None, 3)),
    ("2d_upsample", (1, 2, 3, 2), (5, 3)),
    ("2d_unbatched", (2, 5, 6), 4),
    ("2d_empty_batch", (0, 2, 5, 5), 2),
    ("3d_divides", (1, 2, 4, 4, 6), 2),
    ("3d_uneven", (1, 2, 5, 7, 3), (2, 3, 2)),
    ("3d_none", (2, 1, 4, 5, 6), (None, 2, None)),
    ("3d_unbatched", (2, 3, 5, 4), (2, 2, 3)),
]


@pytest.mark.parametrize("case_id,shape,output_size", ADAPTIVE_CASES,
                         ids=[c[0] for c in ADAPTIVE_CASES])
def test_adaptive_avg_pool_matches_torch(case_id, shape, output_size):
    n = _rank_of(case_id)
    sv = getattr(F, f"adaptive_avg_pool{n}d")
    th = getattr(TF, f"adaptive_avg_pool{n}d")
    compare_with_torch(lambda t: sv(t, output_size), lambda t: th(t, output_size),
                       _rand(shape, seed=13))


@pytest.mark.parametrize("case_id,shape,output_size", ADAPTIVE_CASES,
                         ids=[c[0] for c in ADAPTIVE_CASES])
@pytest.mark.parametrize("data", ["normal", "ties"])
def test_adaptive_max_pool_matches_torch(case_id, shape, output_size, data):
    n = _rank_of(case_id)
    x = _rand(shape, seed=14) if data == "normal" else _ints(shape, seed=15, high=2)
    sv = getattr(F, f"adaptive_max_pool{n}d")
    th = getattr(TF, f"adaptive_max_pool{n}d")
    compare_with_torch(lambda t: sv(t, output_size), lambda t: th(t, output_size), x)
    y, i = sv(svertka.tensor(x), output_size, return_indices=True)
    ty, ti = th(torch.tensor(x), output_size, return_indices=True)
    assert_close(i, ti, what="indices")


@pytest.mark.parametrize("n", [1, 2, 3])
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool_float32_forward_matches_torch(n, kind):
    x = _rand((2, 3) + (7,) * n, seed=16, dtype=np.float32)
    name = f"adaptive_{kind}_pool{n}d"
    y = getattr(F, name)(svertka.tensor(x), 3)
    assert y.dtype == svertka.float32
    assert_close(y, getattr(TF, name)(torch.tensor(x), 3), rtol=1e-4)


# ----------------------------------------------------------------------------- lp pooling

# (id, input shape, norm_type, kernel_size, stride, ceil_mode, positive input)
LP_CASES = [
    ("1d_p2", (2, 3, 8), 2, 2, None, False, False),
    ("1d_p3_overlap", (2, 2, 7), 3, 3, 1, False, True),
    ("1d_p1.5_ceil", (1, 2, 8), 1.5, 3, 2, True, True),
    ("1d_p2_unbatched", (3, 6), 2, 2, None, False, False),
    ("2d_p2", (2, 3, 6, 6), 2, 2, None, False, False),
    ("2d_p4_asym", (1, 2, 7, 9), 4, (2, 3), (1, 2), False, False),
    ("2d_p2_ceil", (2, 1, 7, 7), 2, 3, 2, True, True),
    ("2d_p0.5", (1, 2, 6, 6), 0.5, 2, None, False, True),
    ("3d_p2", (1, 2, 4, 4, 4), 2, 2, None, False, False),
    ("3d_p3_ceil", (1, 1, 5, 5, 5), 3, 2, 2, True, True),
]


@pytest.mark.parametrize("case", LP_CASES, ids=[c[0] for c in LP_CASES])
def test_lp_pool_matches_torch(case):
    case_id, shape, p, k, s, ceil, positive = case
    n = _rank_of(case_id)
    x = _rand(shape, seed=17)
    if positive:
        x = np.abs(x) + 0.1
    sv = getattr(F, f"lp_pool{n}d")
    th = getattr(TF, f"lp_pool{n}d")
    compare_with_torch(lambda t: sv(t, p, k, s, ceil), lambda t: th(t, p, k, s, ceil), x)


def test_lp_pool_float32_forward_matches_torch():
    x = np.abs(_rand((2, 3, 6, 6), seed=18, dtype=np.float32))
    y = F.lp_pool2d(svertka.tensor(x), 2, 3, 1)
    assert y.dtype == svertka.float32
    assert_close(y, TF.lp_pool2d(torch.tensor(x), 2, 3, 1), rtol=1e-4)


# ----------------------------------------------------------------------------- float32

# (id, svertka call, torch call): gradients stay float32 and match torch's float32 ones
F32_GRAD_CASES = [
    ("max_pool2d", lambda f, t: f.max_pool2d(t, 3, 2, 1)),
    ("max_pool3d_ceil", lambda f, t: f.max_pool3d(t, 2, 2, ceil_mode=True)),
    ("avg_pool2d_exclude", lambda f, t: f.avg_pool2d(t, 3, 2, 1, count_include_pad=False)),
    ("avg_pool1d_ceil", lambda f, t: f.avg_pool1d(t.flatten(2), 3, 2, 1, ceil_mode=True)),
    ("adaptive_avg_pool2d", lambda f, t: f.adaptive_avg_pool2d(t, (3, 4))),
    ("adaptive_max_pool2d", lambda f, t: f.adaptive_max_pool2d(t, (3, 4))),
    ("lp_pool2d", lambda f, t: f.lp_pool2d(t, 2, 2)),
]


@pytest.mark.parametrize("case_id,call", F32_GRAD_CASES, ids=[c[0] for c in F32_GRAD_CASES])
def test_pooling_float32_grads_stay_float32_and_match_torch(case_id, call):
    shape = (2, 3, 4, 7, 6) if "3d" in case_id else (2, 3, 7, 6)
    x = _rand(shape, seed=19, dtype=np.float32)
    s = svertka.tensor(x, requires_grad=True)
    t = torch.tensor(x, requires_grad=True)
    y, ty = call(F, s), call(TF, t)
    gy = _rand(tuple(ty.shape), seed=20, dtype=np.float32)
    y.backward(svertka.tensor(gy))
    ty.backward(torch.tensor(gy))
    assert y.dtype == svertka.float32 and s.grad.dtype == svertka.float32
    assert_close(y, ty, rtol=1e-4)
    assert_close(s.grad, t.grad, rtol=1e-4, what="gradient")


# ----------------------------------------------------------------------------- argument checks

X1 = svertka.zeros(1, 2, 6)
X2 = svertka.zeros(1, 2, 6, 6)
X3 = svertka.zeros(1, 2, 4, 4, 4)

# (id, call, exception, message pattern)
ERROR_CASES = [
    ("max_padding_gt_half", lambda: F.max_pool2d(X2, 3, padding=2), ValueError,
     r"max_pool2d: padding must be at most half of kernel_size .*got padding=2"),
    ("avg_padding_gt_half", lambda: F.avg_pool1d(X1, 2, padding=(2,)), ValueError,
     r"avg_pool1d: padding must be at most half of kernel_size"),
    ("max_kernel_too_large", lambda: F.max_pool2d(X2, 7), ValueError,
     r"max_pool2d: output size \(0, 0\) is too small: kernel size \(7, 7\)"),
    ("max_dilated_kernel_too_large", lambda: F.max_pool1d(X1, 3, dilation=3), ValueError,
     r"max_pool1d: output size \(0,\) is too small: kernel size \(7,\) \(with dilation\)"),
    ("avg_kernel_too_large", lambda: F.avg_pool3d(X3, (2, 5, 2)), ValueError,
     r"avg_pool3d: output size .* is too small"),
    ("max_stride_zero", lambda: F.max_pool2d(X2, 2, stride=0), ValueError,
     r"max_pool2d: stride must be a positive int .*got stride=0"),
    ("avg_stride_zero", lambda: F.avg_pool2d(X2, 2, stride=(1, 0)), ValueError,
     r"avg_pool2d: stride must be .*got stride=\(1, 0\)"),
    ("max_kernel_zero", lambda: F.max_pool1d(X1, 0), ValueError,
     r"max_pool1d: kernel_size must be a positive int"),
    ("max_dilation_zero", lambda: F.max_pool1d(X1, 2, dilation=0), ValueError,
     r"max_pool1d: dilation must be a positive int"),
    ("max_negative_padding", lambda: F.max_pool1d(X1, 2, padding=-1), ValueError,
     r"max_pool1d: padding must be a non-negative int"),
    ("max_kernel_wrong_length", lambda: F.max_pool2d(X2, (2, 2, 2)), ValueError,
     r"max_pool2d: kernel_size must be a positive int or a tuple of 2"),
    ("max_kernel_type", lambda: F.max_pool2d(X2, 2.5), TypeError,
     r"max_pool2d: kernel_size must be"),
    ("max_wrong_rank", lambda: F.max_pool2d(X1[0, 0], 2), ValueError,
     r"max_pool2d: input must be 3-D or 4-D .*got input of shape \(6,\)"),
    ("avg_wrong_rank", lambda: F.avg_pool1d(X2, 2), ValueError,
     r"avg_pool1d: input must be 2-D or 3-D"),
    ("adaptive_wrong_rank", lambda: F.adaptive_avg_pool3d(X2[0, 0], 2), ValueError,
     r"adaptive_avg_pool3d: input must be 4-D or 5-D"),
    ("max_not_tensor", lambda: F.max_pool1d(np.zeros((1, 2, 6)), 2), TypeError,
     r"max_pool1d: input must be a Tensor, got ndarray"),
    ("max_int_input", lambda: F.max_pool1d(svertka.zeros(1, 2, 6, dtype=svertka.int64), 2),
     TypeError, r"max_pool1d: input must be a floating-point tensor, got input of dtype int64"),
    ("max_empty_plane", lambda: F.max_pool1d(svertka.zeros(1, 2, 0), 1), ValueError,
     r"max_pool1d: input must have non-zero channel and spatial sizes"),
    ("avg_divisor_zero", lambda: F.avg_pool2d(X2, 2, divisor_override=0), ValueError,
     r"avg_pool2d: divisor_override must be a non-zero int or None, got divisor_override=0"),
    ("avg_divisor_float", lambda: F.avg_pool3d(X3, 2, divisor_override=1.5), TypeError,
     r"avg_pool3d: divisor_override must be a non-zero int or None"),
    ("adaptive_zero", lambda: F.adaptive_avg_pool2d(X2, 0), ValueError,
     r"adaptive_avg_pool2d: output_size must be a positive int, None, or a tuple of 2"),
    ("adaptive_negative", lambda: F.adaptive_max_pool1d(X1, (-1,)), ValueError,
     r"adaptive_max_pool1d: output_size must be .*got output_size=\(-1,\)"),
    ("adaptive_wrong_length", lambda: F.adaptive_max_pool2d(X2, (2, 2, 2)), ValueError,
     r"adaptive_max_pool2d: output_size must be .*got output_size=\(2, 2, 2\)"),
    ("adaptive_type", lambda: F.adaptive_avg_pool1d(X1, 2.0), TypeError,
     r"adaptive_avg_pool1d: output_size must be"),
    ("unpool_indices_dtype",
     lambda: F.max_unpool1d(X1, svertka.zeros(1, 2, 6), 2), TypeError,
     r"max_unpool1d: indices must be an integer \(int64\) tensor, got indices of dtype"),
    ("unpool_indices_shape",
     lambda: F.max_unpool1d(X1, svertka.zeros(1, 2, 5, dtype=svertka.int64), 2), ValueError,
     r"max_unpool1d: indices must have the shape of input \(1, 2, 6\), got indices of shape"),
    ("unpool_indices_range",
     lambda: F.max_unpool1d(X1, svertka.full((1, 2, 6), 12, dtype=svertka.int64), 2),
     ValueError, r"max_unpool1d: indices must lie in \[0, 12\)"),
    ("unpool_output_size_range",
     lambda: F.max_unpool2d(X2, svertka.zeros(1, 2, 6, 6, dtype=svertka.int64), 2,
                            output_size=(14, 12)), ValueError,
     r"max_unpool2d: output_size must lie strictly between 10 and 14"),
    ("unpool_output_size_length",
     lambda: F.max_unpool2d(X2, svertka.zeros(1, 2, 6, 6, dtype=svertka.int64), 2,
                            output_size=(1, 12, 12)), ValueError,
     r"max_unpool2d: output_size must have 2 or 4 elements"),
    ("unpool_output_size_type",
     lambda: F.max_unpool2d(X2, svertka.zeros(1, 2, 6, 6, dtype=svertka.int64), 2,
                            output_size=12), TypeError,
     r"max_unpool2d: output_size must be a tuple of 2 or 4 ints"),
    ("lp_norm_zero", lambda: F.lp_pool2d(X2, 0, 2), ValueError,
     r"lp_pool2d: norm_type must be non-zero"),
    ("lp_norm_type", lambda: F.lp_pool1d(X1, "2", 2), TypeError,
     r"lp_pool1d: norm_type must be a real number"),
    ("lp_kernel_too_large", lambda: F.lp_pool1d(X1, 2, 7), ValueError,
     r"lp_pool1d: output size \(0,\) is too small"),
]


@pytest.mark.parametrize("case_id,call,exc,pattern", ERROR_CASES,
                         ids=[c[0] for c in ERROR_CASES])
def test_pooling_rejects_bad_arguments(case_id, call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


@pytest.mark.parametrize("fn", ["max_pool2d", "avg_pool2d"])
def test_pool2d_ceil_mode_window_larger_than_input_matches_torch(fn):
    # torch's ceil-mode rule keeps one window that starts inside the input (GoogLeNet on 8x8)
    x = np.random.default_rng(0).standard_normal((1, 2, 2, 2))
    compare_with_torch(lambda t: getattr(svertka.nn.functional, fn)(t, 3, 2, ceil_mode=True),
                       lambda t: getattr(torch.nn.functional, fn)(t, 3, 2, ceil_mode=True), x)


@pytest.mark.parametrize("special", [np.nan, -np.inf, np.inf], ids=["nan", "-inf", "inf"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1), (3, 1, 0)])
def test_max_pool2d_backward_without_indices_handles_special_values_like_torch(
        special, kernel, stride, padding):
    # the fast path (no return_indices) must fall back to torch's index rules
    x = np.random.default_rng(4).standard_normal((2, 2, 6, 6))
    x[0, 0, 1, 1] = special
    x[1, 1, 2:4, 2:4] = special
    x[1, 0, 0, :] = 1.0  # ties
    compare_with_torch(lambda t: F.max_pool2d(t, kernel, stride, padding),
                       lambda t: TF.max_pool2d(t, kernel, stride, padding), x)


@pytest.mark.parametrize("special", [None, np.nan, -np.inf], ids=["finite", "nan", "-inf"])
def test_max_pool2d_2x2_split_over_threads_matches_torch(special, monkeypatch):
    # big enough for the batch to be split over threads; the special value sits in the
    # worker thread's part, the ties in both
    from svertka.kernels import pool as KP
    monkeypatch.setattr(KP, "POOL_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(svertka.kernels.parallel, "NUM_THREADS", 2)
    x = np.random.default_rng(5).standard_normal((6, 3, 8, 10))
    x[:, :, :2, :2] = 0.5
    if special is not None:
        x[5, 2, 3, 4] = special
    compare_with_torch(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), x)


@pytest.mark.parametrize("kernel,stride,padding", [(2, 2, 0), (3, 2, 1)])
def test_max_pool2d_values_split_over_threads_match_torch(kernel, stride, padding,
                                                          monkeypatch):
    from svertka.kernels import pool as KP
    monkeypatch.setattr(KP, "POOL_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(svertka.kernels.parallel, "NUM_THREADS", 2)
    x = np.random.default_rng(6).standard_normal((5, 3, 9, 8))
    x[4, 1, 2, 3] = np.nan
    with svertka.no_grad():
        y = F.max_pool2d(svertka.tensor(x), kernel, stride, padding)
    yt = TF.max_pool2d(torch.tensor(x), kernel, stride, padding)
    np.testing.assert_array_equal(y.numpy(), yt.numpy())


# ----------------------------------------------------------------------------- issue 19

def _with_infs(shape, seed=0):
    a = _rand(shape, seed)
    flat = a.reshape(-1)
    flat[3] = np.inf
    flat[flat.size // 2] = -np.inf
    return a


@pytest.mark.parametrize("shape, out", [
    ((2, 3, 7), 3), ((2, 3, 7), 5), ((2, 3, 5), 9), ((1, 2, 7, 5), (3, 4)),
    ((1, 2, 4, 7, 5), (3, 2, 4)), ((1, 1, 4), 8),
], ids=["1d_uneven", "1d_overlapping", "1d_upsample", "2d", "3d", "1d_upsample_exact"])
def test_adaptive_avg_pool_keeps_inf_in_its_bins(shape, out):
    """An inf adds to its own bins only (not NaN over the row, as a 0/1 matrix product gave);
    values and gradients match torch."""
    n = len(shape) - 2
    fn = f"adaptive_avg_pool{n}d"
    compare_with_torch(lambda x: getattr(F, fn)(x, out),
                       lambda x: getattr(TF, fn)(x, out), _with_infs(shape))


def test_adaptive_avg_pool1d_inf_example_matches_torch():
    x = svertka.tensor([[[1.0, np.inf, 2, 3, 4, 5, 6]]])
    assert F.adaptive_avg_pool1d(x, 3).tolist() == [[[np.inf, 3.0, 5.0]]]


@pytest.mark.parametrize("fn, n", [("lp_pool1d", 1), ("lp_pool2d", 2), ("lp_pool3d", 3)])
@pytest.mark.parametrize("p", [np.inf, -np.inf])
def test_lp_pool_infinite_norm_is_max_of_abs_as_torch(fn, n, p):
    shape = (2, 3) + (5,) * n
    compare_with_torch(lambda x: getattr(F, fn)(x, p, 2, ceil_mode=True),
                       lambda x: getattr(TF, fn)(x, p, 2, ceil_mode=True), _rand(shape))


@pytest.mark.parametrize("call, match", [
    (lambda x: F.adaptive_avg_pool1d(x[0], 2**63), "output_size must be"),
    (lambda x: F.adaptive_avg_pool2d(x, 2**40), "would have"),
    (lambda x: F.adaptive_max_pool2d(x, 2**63), "output_size must be"),
    (lambda x: F.adaptive_max_pool2d(x, (2**20, 2**20)), "would have"),
    (lambda x: F.avg_pool1d(x[0], 2, stride=2**63), "stride must fit in int64"),
    (lambda x: F.max_pool2d(x, 2**63), "kernel_size must fit in int64"),
    (lambda x: F.avg_pool2d(x, 3, padding=2**62, ceil_mode=True), "padding must be at most"),
], ids=["adaptive_avg_2pow63", "adaptive_avg_huge", "adaptive_max_2pow63",
        "adaptive_max_huge", "avg_stride_2pow63", "max_kernel_2pow63", "avg_huge_padding"])
def test_pooling_rejects_huge_integers_with_own_message(call, match):
    x = svertka.ones(1, 2, 4, 4)
    with pytest.raises(ValueError, match=match):
        call(x)


@pytest.mark.parametrize("fn, kw", [("avg_pool2d", dict(ceil_mode=True, stride=1)),
                                    ("max_pool2d", dict(ceil_mode=True, stride=1)),
                                    ("max_pool2d", dict(return_indices=True))])
def test_pool_backward_of_empty_batch_skips_kernel_taps(fn, kw, monkeypatch):
    """An empty batch costs nothing whatever the kernel (the tap loops ran 9e6 times for a
    3000x3000 kernel); counted by the tap-slice helper, not timed."""
    from svertka.kernels import pool as K

    calls = []
    real = K._tap_slices
    monkeypatch.setattr(K, "_tap_slices", lambda *a: calls.append(1) or real(*a))
    x = svertka.zeros(0, 1, 3000, 3000, requires_grad=True)
    y = getattr(F, fn)(x, 3000, **kw)
    y = y[0] if isinstance(y, tuple) else y
    y.sum().backward()
    assert x.grad.shape == x.shape and len(calls) < 10


@pytest.mark.parametrize("kernel_size, exc", [(2.0, TypeError), (True, TypeError),
                                              ((2, 2.0), ValueError)])
def test_max_pool2d_rejects_a_non_int_kernel_after_an_equal_int_kernel(kernel_size, exc):
    # the checked arguments are remembered per shape; 2.0, True and (2, 2.0) compare equal to
    # 2 and (2, 2) and must still be refused
    x = svertka.randn(1, 2, 8, 8)
    F.max_pool2d(x, 2)
    F.max_pool2d(x, (2, 2))
    with pytest.raises(exc, match="kernel_size must be a positive int"):
        F.max_pool2d(x, kernel_size)


def test_max_pool2d_repeated_call_matches_torch_on_a_new_shape():
    # the same arguments on another input shape are checked (and sized) again
    a = np.random.default_rng(3).standard_normal((1, 1, 6, 6))
    b = np.random.default_rng(4).standard_normal((2, 1, 9, 7))
    for arr in (a, b, a):
        out = F.max_pool2d(svertka.tensor(arr), 3, stride=2, padding=1)
        ref = torch.nn.functional.max_pool2d(torch.tensor(arr), 3, stride=2, padding=1)
        assert_close(out, ref)
