"""F.pad against torch 2.13 (float64, random upstream gradient) and its adjoint property."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F
from svertka.kernels.pad import pad as kpad
from svertka.kernels.pad import pad_backward, pairs_from_torch


def _rand(shape, seed=0, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# (id, input shape, pad, mode)
PAD_CASES = [
    # constant: any number of dims, negative pads crop
    ("constant_3d_last1", (2, 3, 5), (1, 2), "constant"),
    ("constant_4d_last2_asym", (2, 3, 4, 5), (0, 2, 3, 1), "constant"),
    ("constant_5d_last3", (1, 2, 3, 4, 2), (1, 1, 2, 0, 0, 1), "constant"),
    ("constant_all_dims", (2, 3, 4), (1, 0, 0, 1, 2, 1), "constant"),
    ("constant_zero_pads", (2, 3, 4), (0, 0, 0, 0), "constant"),
    ("constant_negative_crop", (2, 3, 6, 5), (-1, -2, 1, -3), "constant"),
    ("constant_negative_to_empty", (2, 3, 4), (-2, -2), "constant"),
    ("constant_1d", (5,), (2, 3), "constant"),
    ("constant_empty_batch", (0, 3, 4), (1, 1), "constant"),
    # reflect
    ("reflect_2d_unbatched", (3, 6), (2, 3), "reflect"),
    ("reflect_3d", (2, 3, 6), (1, 5), "reflect"),
    ("reflect_3d_unbatched_2d_pad", (3, 5, 4), (3, 0, 1, 4), "reflect"),
    ("reflect_4d_asym", (2, 3, 5, 6), (2, 1, 0, 4), "reflect"),
    ("reflect_4d_unbatched_3d_pad", (2, 4, 5, 3), (1, 2, 2, 1, 3, 0), "reflect"),
    ("reflect_5d", (1, 2, 4, 3, 5), (1, 1, 2, 0, 3, 2), "reflect"),
    ("reflect_zero_pads", (2, 3, 4), (0, 0), "reflect"),
    ("reflect_negative", (2, 3, 6), (-1, 3), "reflect"),
    ("reflect_negative_far", (2, 3, 6), (4, -4), "reflect"),
    ("reflect_size_2", (2, 1, 2), (1, 1), "reflect"),
    # replicate
    ("replicate_2d_unbatched", (3, 4), (3, 1), "replicate"),
    ("replicate_3d_wide", (2, 3, 2), (5, 7), "replicate"),
    ("replicate_4d", (2, 3, 4, 5), (1, 2, 3, 0), "replicate"),
    ("replicate_5d", (1, 2, 3, 4, 2), (2, 1, 0, 3, 1, 1), "replicate"),
    ("replicate_size_1", (2, 3, 1), (2, 2), "replicate"),
    ("replicate_negative", (2, 3, 6, 4), (-1, 2, 3, -2), "replicate"),
    # circular
    ("circular_2d_unbatched", (3, 5), (2, 1), "circular"),
    ("circular_3d_full_wrap", (2, 3, 4), (4, 4), "circular"),
    ("circular_4d_asym", (2, 3, 4, 5), (0, 3, 2, 1), "circular"),
    ("circular_4d_unbatched_3d_pad", (3, 4, 5, 2), (1, 2, 0, 3, 2, 2), "circular"),
    ("circular_5d", (1, 2, 3, 4, 5), (1, 2, 3, 1, 2, 0), "circular"),
    ("circular_negative", (2, 3, 6), (-2, 3), "circular"),
    ("circular_negative_both_sides", (2, 3, 7, 5), (2, -1, -2, 3), "circular"),
]


@pytest.mark.parametrize("shape, pad, mode", [c[1:] for c in PAD_CASES],
                         ids=[c[0] for c in PAD_CASES])
def test_pad_matches_torch(shape, pad, mode):
    compare_with_torch(lambda x: F.pad(x, pad, mode=mode),
                       lambda x: TF.pad(x, pad, mode=mode), _rand(shape))


@pytest.mark.parametrize("shape, pad, mode", [c[1:] for c in PAD_CASES[::3]],
                         ids=[c[0] for c in PAD_CASES[::3]])
def test_pad_float32_forward_matches_torch(shape, pad, mode):
    x = _rand(shape, dtype=np.float32)
    y = F.pad(svertka.tensor(x), pad, mode=mode)
    assert y.dtype == svertka.float32
    assert_close(y, TF.pad(torch.tensor(x), pad, mode=mode), rtol=1e-4)


@pytest.mark.parametrize("value", [None, 0.0, 2.5, -1], ids=["none", "zero", "float", "int"])
def test_pad_constant_value_matches_torch(value):
    compare_with_torch(lambda x: F.pad(x, (1, 2, 0, 1), value=value),
                       lambda x: TF.pad(x, (1, 2, 0, 1), value=value), _rand((2, 3, 4)))


def test_pad_constant_value_keeps_float32():
    y = F.pad(svertka.ones(2, 3, dtype=svertka.float32), (1, 1), value=np.float64(2.0))
    assert y.dtype == svertka.float32
    assert y.tolist()[0] == [2.0, 1.0, 1.0, 1.0, 2.0]


def test_pad_zero_pads_returns_a_copy():
    x = svertka.ones(2, 3)
    y = F.pad(x, (0, 0))
    y.add_(1.0)
    assert x.tolist() == [[1.0] * 3] * 2


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [((2, 3, 6, 5), (2, 1, -1, 3)),
                                        ((2, 5, 4, 3, 5), (0, 2, 1, 1, -2, 2)),
                                        ((3, 7), (3, -2))],
                         ids=["4d", "5d", "2d"])
def test_pad_adjoint_property(shape, pad, mode):
    """<pad(x), y> == <x, pad_backward(y)>: the backward is the forward's transpose."""
    pairs = pairs_from_torch(pad)
    x = _rand(shape, 1)
    px = kpad(x, pairs, mode)
    y = _rand(px.shape, 2)
    gx = pad_backward(y, x.shape, pairs, mode)
    assert gx.shape == x.shape
    lhs, rhs = np.vdot(px, y), np.vdot(x, gx)
    assert abs(lhs - rhs) <= 1e-12 * max(1.0, abs(lhs))


def test_pad_gradcheck_reflect_twice():
    x = svertka.tensor(_rand((1, 2, 4, 3)), requires_grad=True)
    assert svertka.autograd.gradcheck(
        lambda t: F.pad(F.pad(t, (2, 1, 1, 3), mode="reflect"), (1, 1, 1, 1), mode="circular"),
        (x,))


# (id, call, exception, message)
ERROR_CASES = [
    ("odd_length", lambda x: F.pad(x, (1,)), ValueError, "divisible by 2"),
    ("too_long", lambda x: F.pad(x, (1, 1) * 4), ValueError, "more than two times"),
    ("not_ints", lambda x: F.pad(x, (1.0, 1)), TypeError, "pad must be a tuple of ints"),
    ("not_a_tuple", lambda x: F.pad(x, 1), TypeError, "pad must be a tuple of ints"),
    ("unknown_mode", lambda x: F.pad(x, (1, 1), mode="mirror"), ValueError,
     "mode must be one of"),
    ("mode_not_str", lambda x: F.pad(x, (1, 1), mode=1), TypeError, "mode must be a str"),
    ("reflect_pad_equal_size", lambda x: F.pad(x, (5, 0), mode="reflect"), ValueError,
     r"reflect padding must be less than the size 5 of dim 2, got padding \(5, 0\)"),
    ("reflect_pad_larger", lambda x: F.pad(x, (1, 1, 0, 4), mode="reflect"), ValueError,
     "less than the size 4 of dim 1"),
    ("circular_wraps_twice", lambda x: F.pad(x, (6, 0), mode="circular"), ValueError,
     "wraps around more than once"),
    ("circular_wraps_cropped", lambda x: F.pad(x, (3, -3), mode="circular"), ValueError,
     "more than the 2 element"),
    ("replicate_1d_input", lambda x: F.pad(x[0, 0], (1, 1), mode="replicate"), ValueError,
     "got pad of length 2 for a 1-D input"),
    ("reflect_5d_input_1d_pad", lambda x: F.pad(x.reshape(1, 3, 1, 4, 5), (1, 1),
                                                 mode="reflect"), ValueError,
     "got pad of length 2 for a 5-D input"),
    ("circular_4d_pad_on_3d", lambda x: F.pad(x, (1, 1) * 3, mode="circular"), ValueError,
     "got pad of length 6 for a 3-D input"),
    ("value_with_reflect", lambda x: F.pad(x, (1, 1), mode="reflect", value=1.0), ValueError,
     "does not take a value"),
    ("value_not_number", lambda x: F.pad(x, (1, 1), value="0"), TypeError,
     "value must be a number"),
    ("negative_output", lambda x: F.pad(x, (-3, -3)), ValueError, r"crops 6 element\(s\)"),
    # torch: crops beyond the input are an error even when the other side pads them back
    ("crop_beyond_input", lambda x: F.pad(x, (7, -6)), ValueError,
     r"crops 6 element\(s\) of dim 2, which has only 5"),
    ("huge_pad", lambda x: F.pad(x, (2**40, 0)), ValueError, "would have"),
    ("pad_beyond_int64", lambda x: F.pad(x, (2**63, 0)), ValueError, "fit in int64"),
    ("replicate_empty_output", lambda x: F.pad(x, (-5, 0), mode="replicate"), ValueError,
     "output size of 0"),
    ("not_a_tensor", lambda x: F.pad(x.numpy(), (1, 1)), TypeError, "input must be a Tensor"),
]


@pytest.mark.parametrize("call, exc, match", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_pad_rejects_bad_arguments(call, exc, match):
    x = svertka.tensor(_rand((3, 4, 5)))
    with pytest.raises(exc, match=match):
        call(x)


def test_pad_error_names_the_function():
    with pytest.raises(ValueError, match=r"^pad: "):
        F.pad(svertka.ones(2, 3), (1, 2, 3))


@pytest.mark.parametrize("mode, pad, value", [("constant", (1, 2, 1, 0), 2.7),
                                              ("replicate", (2, 1), None),
                                              ("circular", (1, 1, 2, 0), None)],
                         ids=["constant_float_value", "replicate", "circular"])
def test_pad_integer_input_matches_torch(mode, pad, value):
    x = np.arange(24).reshape(2, 3, 4)
    y = F.pad(svertka.tensor(x), pad, mode=mode, value=value)
    assert y.dtype == svertka.int64
    assert_close(y, TF.pad(torch.tensor(x), pad, mode=mode, value=value))


def test_pad_float32_gradient_stays_float32():
    x = svertka.ones(2, 3, 4, dtype=svertka.float32, requires_grad=True)
    F.pad(x, (2, 1, 1, 1), mode="reflect").sum().backward()
    assert x.grad.dtype == svertka.float32
