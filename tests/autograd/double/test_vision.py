"""Second derivatives of pixel (un)shuffle and interpolate against torch (float64).

Each op is linear, so the output is squared: the first gradient then depends on the input
through the op and through its recorded backward.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import compare_double_backward

import svertka
import svertka.nn.functional as F


def _r(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _sq(op):
    def f(x):
        y = op(x)
        return y * y
    return f


def test_pixel_shuffle_unshuffle_second_derivatives_match_torch():
    compare_double_backward(_sq(lambda x: F.pixel_shuffle(x, 2)),
                            _sq(lambda x: TF.pixel_shuffle(x, 2)), _r(1, 8, 2, 3))
    compare_double_backward(_sq(lambda x: F.pixel_unshuffle(x, 2)),
                            _sq(lambda x: TF.pixel_unshuffle(x, 2)), _r(2, 4, 6))


_CASES = [
    ("nearest_1d_up", (1, 2, 3), dict(size=7, mode="nearest")),
    ("nearest_2d_scale", (1, 2, 3, 4), dict(scale_factor=1.7, mode="nearest")),
    ("nearest_2d_down", (1, 1, 6, 5), dict(size=(4, 3), mode="nearest")),
    ("nearest_exact_3d", (1, 1, 3, 2, 4), dict(size=(5, 3, 2), mode="nearest-exact")),
    ("linear", (1, 2, 4), dict(size=7, mode="linear", align_corners=False)),
    ("linear_corners", (1, 2, 4), dict(size=7, mode="linear", align_corners=True)),
    ("bilinear", (1, 2, 3, 4), dict(scale_factor=(2.0, 0.75), mode="bilinear",
                                    align_corners=False)),
    ("bilinear_corners_one_axis_kept", (1, 1, 3, 4), dict(size=(6, 4), mode="bilinear",
                                                          align_corners=True)),
    ("trilinear", (1, 1, 2, 3, 4), dict(size=(3, 5, 2), mode="trilinear",
                                        align_corners=False)),
    ("trilinear_corners", (1, 1, 2, 3, 2), dict(size=(4, 2, 3), mode="trilinear",
                                                align_corners=True)),
]


@pytest.mark.parametrize("shape,kw", [c[1:] for c in _CASES], ids=[c[0] for c in _CASES])
def test_interpolate_second_derivatives_match_torch(shape, kw):
    compare_double_backward(_sq(lambda x: F.interpolate(x, **kw)),
                            _sq(lambda x: TF.interpolate(x, **kw)), _r(*shape))


def test_interpolate_third_derivative_matches_torch():
    def third(mod, fn, x):
        y = fn(x, size=(5, 3), mode="bilinear", align_corners=False)
        (g,) = mod.autograd.grad((y * y * y).sum(), x, create_graph=True)
        (h,) = mod.autograd.grad((g * g).sum(), x, create_graph=True)
        return mod.autograd.grad((h * h).sum(), x)[0]

    x = _r(1, 1, 3, 4)
    a = third(svertka, F.interpolate, svertka.tensor(x, requires_grad=True))
    b = third(torch, TF.interpolate, torch.tensor(x, requires_grad=True))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10)
