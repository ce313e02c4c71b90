"""pixel_shuffle, pixel_unshuffle and interpolate against torch 2.13 (float64, random
upstream gradient)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ------------------------------------------------------------------------------ pixel shuffle

# (id, input shape, factor)
SHUFFLE_CASES = [
    ("r2", (2, 8, 3, 4), 2),
    ("r3", (1, 18, 2, 3), 3),
    ("r1_identity", (2, 3, 4, 5), 1),
    ("unbatched", (12, 2, 3), 2),
    ("two_batch_dims", (2, 3, 4, 2, 2), 2),
]


@pytest.mark.parametrize("shape, r", [c[1:] for c in SHUFFLE_CASES],
                         ids=[c[0] for c in SHUFFLE_CASES])
def test_pixel_shuffle_matches_torch(shape, r):
    compare_with_torch(lambda x: F.pixel_shuffle(x, r), lambda x: TF.pixel_shuffle(x, r),
                       _rand(shape))


@pytest.mark.parametrize("shape, r", [c[1:] for c in SHUFFLE_CASES],
                         ids=[c[0] for c in SHUFFLE_CASES])
def test_pixel_unshuffle_matches_torch(shape, r):
    shape = shape[:-3] + (shape[-3] // (r * r), shape[-2] * r, shape[-1] * r)
    compare_with_torch(lambda x: F.pixel_unshuffle(x, r), lambda x: TF.pixel_unshuffle(x, r),
                       _rand(shape))


@pytest.mark.parametrize("shape, r", [c[1:] for c in SHUFFLE_CASES],
                         ids=[c[0] for c in SHUFFLE_CASES])
def test_pixel_shuffle_round_trip(shape, r):
    x = svertka.tensor(_rand(shape))
    assert F.pixel_unshuffle(F.pixel_shuffle(x, r), r).equal(x)
    y = F.pixel_shuffle(x, r)
    assert F.pixel_shuffle(F.pixel_unshuffle(y, r), r).equal(y)


def test_pixel_shuffle_empty_batch_shapes():
    # torch 2.13's pixel_unshuffle returns an empty input unchanged, so no oracle here
    x = svertka.zeros(0, 8, 2, 3, requires_grad=True)
    y = F.pixel_shuffle(x, 2)
    assert y.shape == (0, 2, 4, 6)
    assert F.pixel_unshuffle(y, 2).shape == (0, 8, 2, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 8, 2, 3)


def test_pixel_shuffle_float32_forward_matches_torch():
    x = _rand((2, 8, 3, 4), dtype=np.float32)
    y = F.pixel_shuffle(svertka.tensor(x), 2)
    assert y.dtype == svertka.float32
    assert_close(y, TF.pixel_shuffle(torch.tensor(x), 2), rtol=1e-4)


# ------------------------------------------------------------------------------ interpolate

# (id, input shape, kwargs)
INTERP_CASES = [
    ("nearest_1d_up_size", (2, 3, 5), dict(size=11)),
    ("nearest_1d_down_size", (2, 3, 11), dict(size=4)),
    ("nearest_1d_double", (2, 3, 5), dict(scale_factor=2)),
    ("nearest_2d_sf_1.7", (2, 3, 5, 7), dict(scale_factor=1.7)),
    ("nearest_2d_sf_0.6", (2, 3, 9, 7), dict(scale_factor=0.6)),
    ("nearest_2d_sf_1.7_recompute", (2, 3, 5, 7), dict(scale_factor=1.7,
                                                       recompute_scale_factor=True)),
    ("nearest_2d_sf_tuple", (1, 2, 4, 6), dict(scale_factor=(3, 0.5))),
    ("nearest_2d_size_tuple_mixed", (2, 2, 5, 6), dict(size=(9, 4))),
    ("nearest_2d_sf_1.1_same_size", (1, 2, 5, 6), dict(scale_factor=1.1)),
    ("nearest_2d_sf_1.1_one_axis_same", (1, 2, 5, 6), dict(scale_factor=(1.1, 1.7))),
    ("nearest_3d_sf_1.6", (1, 2, 3, 2, 4), dict(scale_factor=1.6)),
    ("nearest_3d_size", (1, 2, 3, 4, 5), dict(size=(5, 3, 7))),
    ("nearest_3d_sf_2", (1, 2, 2, 3, 2), dict(scale_factor=2.0)),
    ("nearest_exact_1d_up", (2, 3, 5), dict(size=13, mode="nearest-exact")),
    ("nearest_exact_2d_sf_0.6", (2, 2, 9, 8), dict(scale_factor=0.6, mode="nearest-exact")),
    ("nearest_exact_2d_sf_1.7", (2, 2, 5, 4), dict(scale_factor=1.7, mode="nearest-exact")),
    ("nearest_exact_3d", (1, 2, 3, 5, 4), dict(size=(4, 2, 7), mode="nearest-exact")),
    ("linear_up_size", (2, 3, 5), dict(size=12, mode="linear")),
    ("linear_up_size_aligned", (2, 3, 5), dict(size=12, mode="linear", align_corners=True)),
    ("linear_down_size", (2, 3, 12), dict(size=5, mode="linear")),
    ("linear_down_aligned", (2, 3, 12), dict(size=5, mode="linear", align_corners=True)),
    ("linear_sf_1.7", (2, 3, 7), dict(scale_factor=1.7, mode="linear")),
    ("linear_sf_0.6_aligned", (2, 3, 9), dict(scale_factor=0.6, mode="linear",
                                              align_corners=True)),
    ("linear_sf_1.7_recompute", (2, 3, 7), dict(scale_factor=1.7, mode="linear",
                                                recompute_scale_factor=True)),
    ("linear_sf_1.1_same_size", (2, 3, 6), dict(scale_factor=1.1, mode="linear")),
    ("linear_to_size_1", (2, 3, 6), dict(size=1, mode="linear")),
    ("linear_to_size_1_aligned", (2, 3, 6), dict(size=1, mode="linear", align_corners=True)),
    ("linear_from_size_1", (2, 3, 1), dict(size=4, mode="linear")),
    ("bilinear_up", (2, 3, 4, 5), dict(size=(7, 9), mode="bilinear")),
    ("bilinear_up_aligned", (2, 3, 4, 5), dict(size=(7, 9), mode="bilinear",
                                               align_corners=True)),
    ("bilinear_sf_1.7", (2, 2, 5, 6), dict(scale_factor=1.7, mode="bilinear")),
    ("bilinear_sf_0.6", (2, 2, 9, 10), dict(scale_factor=0.6, mode="bilinear")),
    ("bilinear_sf_0.6_aligned", (2, 2, 9, 10), dict(scale_factor=0.6, mode="bilinear",
                                                    align_corners=True)),
    ("bilinear_sf_2", (1, 3, 4, 4), dict(scale_factor=2, mode="bilinear")),
    ("bilinear_mixed_up_down", (2, 2, 6, 5), dict(size=(3, 11), mode="bilinear")),
    ("bilinear_same_size", (2, 2, 4, 5), dict(size=(4, 5), mode="bilinear")),
    ("bilinear_sf_1.1_one_axis_same", (2, 2, 6, 5), dict(scale_factor=(1.1, 1.7),
                                                         mode="bilinear", align_corners=True)),
    ("trilinear_up", (1, 2, 3, 4, 3), dict(size=(5, 6, 4), mode="trilinear")),
    ("trilinear_aligned", (1, 2, 3, 4, 3), dict(size=(5, 3, 6), mode="trilinear",
                                                align_corners=True)),
    ("trilinear_sf_tuple", (1, 2, 4, 5, 3), dict(scale_factor=(0.6, 1.7, 2.0),
                                                 mode="trilinear")),
]


@pytest.mark.parametrize("shape, kwargs", [c[1:] for c in INTERP_CASES],
                         ids=[c[0] for c in INTERP_CASES])
def test_interpolate_matches_torch(shape, kwargs):
    compare_with_torch(lambda x: F.interpolate(x, **kwargs),
                       lambda x: TF.interpolate(x, **kwargs), _rand(shape))


@pytest.mark.parametrize("shape, kwargs", [c[1:] for c in INTERP_CASES[::2]],
                         ids=[c[0] for c in INTERP_CASES[::2]])
def test_interpolate_float32_forward_matches_torch(shape, kwargs):
    x = _rand(shape, dtype=np.float32)
    y = F.interpolate(svertka.tensor(x), **kwargs)
    assert y.dtype == svertka.float32
    assert_close(y, TF.interpolate(torch.tensor(x), **kwargs), rtol=1e-4)


SWEEP_FACTORS = [0.3, 0.6, 0.7, 1 / 3, 0.999, 1.1, 1.3, 1.55, 1.7, 2.5, 3.0, 4.1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_interpolate_nearest_indices_match_torch_sweep(mode, rank, dtype):
    """The source index of every output for many sizes and scale factors, in both dtypes
    (torch rounds the source position to float32 in its nearest kernels)."""
    for n in range(1, 24, 1 if rank == 1 else 3):
        x = np.arange(n, dtype=dtype).reshape((1, 1) + (1,) * (rank - 1) + (n,))
        calls = [dict(size=(1,) * (rank - 1) + (o,)) for o in range(1, 60)]
        calls += [dict(scale_factor=(1.0,) * (rank - 1) + (s,), recompute_scale_factor=r)
                  for s in SWEEP_FACTORS for r in (None, True) if math.floor(n * s) >= 1]
        for kw in calls:
            want = TF.interpolate(torch.tensor(x), mode=mode, **kw).numpy()
            got = F.interpolate(svertka.tensor(x), mode=mode, **kw).numpy()
            np.testing.assert_array_equal(got, want, err_msg=f"n={n}, {kw}")


@pytest.mark.parametrize("align_corners", [False, True], ids=["edges", "aligned"])
def test_interpolate_linear_matches_torch_sweep(align_corners):
    """Values and gradients of 1-D linear interpolation for many sizes and scale factors."""
    for n in range(1, 12, 2):
        calls = [dict(size=o) for o in range(1, 25, 2)]
        calls += [dict(scale_factor=s, recompute_scale_factor=r) for s in SWEEP_FACTORS
                  for r in (None, True) if math.floor(n * s) >= 1]
        for i, kw in enumerate(calls):
            kw = dict(kw, mode="linear", align_corners=align_corners)
            compare_with_torch(lambda x, kw=kw: F.interpolate(x, **kw),
                               lambda x, kw=kw: TF.interpolate(x, **kw), _rand((1, 2, n), i),
                               seed=i)


@pytest.mark.parametrize("shape", [(1, 2, 6), (1, 2, 6, 3, 2)], ids=["1d", "3d"])
def test_interpolate_nearest_same_size_scale_forward_matches_torch(shape):
    """scale_factor=1.1 keeps a size of 6, but torch's 1-D and 3-D nearest kernels still read
    floor(o / 1.1) (o = 5 reads 4). torch's backward there copies the gradient as if the
    forward were the identity, so it is not the adjoint of its own forward: the forward is
    compared with torch, the gradient checked numerically."""
    x = _rand(shape)
    y = F.interpolate(svertka.tensor(x), scale_factor=1.1)
    assert_close(y, TF.interpolate(torch.tensor(x), scale_factor=1.1))
    t = svertka.tensor(x, requires_grad=True)
    assert svertka.autograd.gradcheck(lambda a: F.interpolate(a, scale_factor=1.1), (t,))


@pytest.mark.parametrize("mode", ["linear", "nearest"])
def test_interpolate_gradcheck(mode):
    x = svertka.tensor(_rand((1, 2, 4)), requires_grad=True)
    assert svertka.autograd.gradcheck(
        lambda t: F.interpolate(t, scale_factor=1.7, mode=mode) * 2.0, (x,))


def test_upsample_aliases_match_torch():
    x = _rand((1, 2, 3, 4))
    compare_with_torch(lambda t: F.upsample_bilinear(t, size=(5, 7)),
                       lambda t: TF.interpolate(t, size=(5, 7), mode="bilinear",
                                                align_corners=True), x)
    compare_with_torch(lambda t: F.upsample_nearest(t, scale_factor=2),
                       lambda t: TF.interpolate(t, scale_factor=2), x)
    compare_with_torch(lambda t: F.upsample(t, size=(2, 9), mode="bilinear"),
                       lambda t: TF.interpolate(t, size=(2, 9), mode="bilinear"), x)


# ------------------------------------------------------------------------------ errors

def _x(*shape):
    return svertka.tensor(_rand(shape))


# (id, call, exception, message)
ERROR_CASES = [
    ("shuffle_channels_not_divisible", lambda: F.pixel_shuffle(_x(1, 6, 2, 2), 2), ValueError,
     r"the 6 channels of input \(dim -3\) must be divisible by upscale_factor\*\*2 = 4"),
    ("shuffle_2d_input", lambda: F.pixel_shuffle(_x(4, 4), 2), ValueError,
     "at least 3 dimensions"),
    ("shuffle_factor_zero", lambda: F.pixel_shuffle(_x(1, 4, 2, 2), 0), ValueError,
     "upscale_factor must be a positive int, got upscale_factor=0"),
    ("shuffle_factor_float", lambda: F.pixel_shuffle(_x(1, 4, 2, 2), 2.0), TypeError,
     "upscale_factor must be a positive int"),
    ("unshuffle_height", lambda: F.pixel_unshuffle(_x(1, 1, 3, 4), 2), ValueError,
     "input height 3 must be divisible by downscale_factor"),
    ("unshuffle_width", lambda: F.pixel_unshuffle(_x(1, 1, 4, 5), 2), ValueError,
     "input width 5 must be divisible by downscale_factor"),
    ("unshuffle_factor_negative", lambda: F.pixel_unshuffle(_x(1, 1, 4, 4), -2), ValueError,
     "downscale_factor must be a positive int"),
    ("interp_both_size_and_scale", lambda: F.interpolate(_x(1, 1, 4), size=3, scale_factor=2),
     ValueError, "only one of size or scale_factor should be defined"),
    ("interp_neither", lambda: F.interpolate(_x(1, 1, 4)), ValueError,
     "either size or scale_factor should be defined"),
    ("interp_align_corners_with_nearest",
     lambda: F.interpolate(_x(1, 1, 4), size=3, align_corners=True), ValueError,
     "align_corners can only be set with the linear modes"),
    ("interp_align_corners_with_nearest_exact",
     lambda: F.interpolate(_x(1, 1, 4), size=3, mode="nearest-exact", align_corners=False),
     ValueError, "align_corners can only be set"),
    ("interp_unknown_mode", lambda: F.interpolate(_x(1, 1, 4), size=3, mode="bicubic"),
     ValueError, "mode must be one of"),
    ("interp_mode_not_str", lambda: F.interpolate(_x(1, 1, 4), size=3, mode=None), TypeError,
     "mode must be a str"),
    ("interp_linear_on_4d", lambda: F.interpolate(_x(1, 1, 4, 4), size=3, mode="linear"),
     ValueError, "mode='linear' needs a 3-D input"),
    ("interp_bilinear_on_3d", lambda: F.interpolate(_x(1, 1, 4), size=3, mode="bilinear"),
     ValueError, "mode='bilinear' needs a 4-D input"),
    ("interp_trilinear_on_4d", lambda: F.interpolate(_x(1, 1, 4, 4), size=3,
                                                     mode="trilinear"),
     ValueError, "mode='trilinear' needs a 5-D input"),
    ("interp_2d_input", lambda: F.interpolate(_x(1, 4), size=3), ValueError,
     "input must be 3-D, 4-D or 5-D"),
    ("interp_size_length", lambda: F.interpolate(_x(1, 1, 4, 4), size=(3, 3, 3)), ValueError,
     "size must have 2 entries"),
    ("interp_scale_length", lambda: F.interpolate(_x(1, 1, 4, 4), scale_factor=(2.0,)),
     ValueError, "scale_factor must have 2 entries"),
    ("interp_size_zero", lambda: F.interpolate(_x(1, 1, 4), size=0), ValueError,
     "sizes must be greater than 0"),
    ("interp_scale_to_zero", lambda: F.interpolate(_x(1, 1, 4), scale_factor=0.2), ValueError,
     r"got input \(4,\) and output \(0,\)"),
    ("interp_scale_negative", lambda: F.interpolate(_x(1, 1, 4), scale_factor=-2.0),
     ValueError, "scale_factor must be positive"),
    ("interp_size_float", lambda: F.interpolate(_x(1, 1, 4), size=2.5), TypeError,
     "size must be an int or a tuple"),
    ("interp_scale_str", lambda: F.interpolate(_x(1, 1, 4), scale_factor="2"), TypeError,
     "scale_factor must be a float or a tuple"),
    ("interp_recompute_with_size",
     lambda: F.interpolate(_x(1, 1, 4), size=3, recompute_scale_factor=True), ValueError,
     "recompute_scale_factor is not meaningful with an explicit size"),
    ("interp_align_corners_not_bool",
     lambda: F.interpolate(_x(1, 1, 4), size=3, mode="linear", align_corners=1), TypeError,
     "align_corners must be a bool"),
    ("interp_antialias", lambda: F.interpolate(_x(1, 1, 4, 4), size=3, mode="bilinear",
                                               antialias=True), ValueError,
     "antialias=True is not supported"),
    ("interp_linear_int_input",
     lambda: F.interpolate(svertka.ones(1, 1, 4, dtype=svertka.int64), size=3, mode="linear"),
     TypeError, "needs a floating-point input"),
    ("interp_not_tensor", lambda: F.interpolate(np.ones((1, 1, 4)), size=3), TypeError,
     "input must be a Tensor"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_vision_rejects_bad_arguments(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("mode, n, size", [("nearest-exact", 2, 41), ("nearest", 14, 46)],
                         ids=["nearest_exact_2_to_41", "nearest_14_to_46"])
def test_interpolate_nearest_grad_is_adjoint_where_torch_differs(mode, n, size):
    """torch's 1-D/3-D nearest forward rounds the source position from float64 math, its
    backward from float32 math; in rare cases (these) they pick different inputs and torch's
    gradient is not the transpose of its forward. svertka's gradient is: <y, g> = <x, gx>."""
    x = _rand((1, 2, n))
    y = F.interpolate(svertka.tensor(x), size=size, mode=mode)
    assert_close(y, TF.interpolate(torch.tensor(x), size=size, mode=mode))
    t = svertka.tensor(x, requires_grad=True)
    g = _rand((1, 2, size), 1)
    out = F.interpolate(t, size=size, mode=mode)
    out.backward(svertka.tensor(g))
    assert np.isclose(np.vdot(out.detach().numpy(), g), np.vdot(x, t.grad.numpy()), rtol=1e-12)


@pytest.mark.parametrize("shape", [(1, 2, 15), (1, 2, 3, 5), (1, 1, 2, 3, 5)],
                         ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_interpolate_nearest_integer_input_matches_torch(mode, shape):
    x = np.arange(30, dtype=np.uint8).reshape(shape)
    y = F.interpolate(svertka.tensor(x), scale_factor=1.7, mode=mode)
    assert y.dtype == svertka.uint8
    assert_close(y, TF.interpolate(torch.tensor(x), scale_factor=1.7, mode=mode))


def test_interpolate_float32_gradient_stays_float32():
    x = svertka.ones(1, 2, 3, 4, dtype=svertka.float32, requires_grad=True)
    F.interpolate(x, scale_factor=0.6, mode="bilinear").sum().backward()
    assert x.grad.dtype == svertka.float32
