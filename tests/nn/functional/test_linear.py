"""linear, bilinear and flatten against torch 2.13 (float64, random upstream gradient)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from tests._oracle import assert_close, compare_with_torch

import svertka
import svertka.nn.functional as F


def _rand(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


# (id, input shape, weight shape, bias shape or None)
LINEAR_CASES = [
    ("2d", (5, 4), (3, 4), (3,)),
    ("2d_no_bias", (5, 4), (3, 4), None),
    ("1d_input", (4,), (3, 4), (3,)),
    ("3d_input", (2, 5, 4), (3, 4), (3,)),
    ("4d_input", (2, 3, 2, 4), (6, 4), (6,)),
    ("1x1", (7, 1), (1, 1), (1,)),
    ("scalar_bias", (5, 4), (3, 4), ()),
    ("bias_of_one", (5, 4), (3, 4), (1,)),
    ("empty_batch", (0, 4), (3, 4), (3,)),
    ("empty_batch_3d", (2, 0, 4), (3, 4), (3,)),
    ("zero_out_features", (5, 4), (0, 4), (0,)),
    ("zero_in_features", (5, 0), (3, 0), (3,)),
    ("wide", (3, 17), (11, 17), (11,)),
]
LINEAR_IDS = [c[0] for c in LINEAR_CASES]


def _linear_arrays(x_shape, w_shape, b_shape, seed=0):
    arrays = [_rand(x_shape, seed), _rand(w_shape, seed + 1)]
    if b_shape is not None:
        arrays.append(_rand(b_shape, seed + 2))
    return arrays


@pytest.mark.parametrize("name, x_shape, w_shape, b_shape", LINEAR_CASES, ids=LINEAR_IDS)
def test_linear_matches_torch(name, x_shape, w_shape, b_shape):
    compare_with_torch(F.linear, TF.linear, *_linear_arrays(x_shape, w_shape, b_shape))


@pytest.mark.parametrize("name, x_shape, w_shape, b_shape", LINEAR_CASES[:5], ids=LINEAR_IDS[:5])
def test_linear_float32_forward_matches_torch(name, x_shape, w_shape, b_shape):
    arrays = [a.astype(np.float32) for a in _linear_arrays(x_shape, w_shape, b_shape)]
    out = F.linear(*[svertka.tensor(a) for a in arrays])
    assert out.dtype == svertka.float32
    expected = TF.linear(*[torch.tensor(a) for a in arrays])
    assert_close(out, expected, rtol=1e-4)


@pytest.mark.parametrize("x_shape", [(6, 4), (2, 3, 4)], ids=["2d", "3d"])
def test_linear_grads_match_matmul_formulas(x_shape):
    """The lecture's formulas for y = x W^T + b: dL/dx = dL/dy @ W and dL/dW = dL/dy^T @ x
    (torch's weight is (out, in); for y = x @ A with A = W^T: dL/dx = dL/dy @ A^T and
    dL/dA = x^T @ dL/dy), dL/db = the sum of dL/dy over the batch."""
    x_np, w_np, b_np = _rand(x_shape, 0), _rand((3, 4), 1), _rand((3,), 2)
    gy = _rand(x_shape[:-1] + (3,), 3)
    x, w, b = (svertka.tensor(a, requires_grad=True) for a in (x_np, w_np, b_np))
    F.linear(x, w, b).backward(svertka.tensor(gy))
    x2, gy2 = x_np.reshape(-1, 4), gy.reshape(-1, 3)
    a = w_np.T                                   # (in, out): y = x @ A + b
    assert_close(x.grad, (gy2 @ a.T).reshape(x_shape), what="dL/dx = dL/dy @ A^T")
    assert_close(w.grad, (x2.T @ gy2).T, what="dL/dA = x^T @ dL/dy, transposed to W's shape")
    assert_close(w.grad, gy2.T @ x2, what="dL/dW = dL/dy^T @ x")
    assert_close(b.grad, gy2.sum(axis=0), what="dL/db")


def test_linear_grads_accumulate_for_reused_weight():
    x_np, w_np = _rand((4, 3), 0), _rand((3, 3), 1)
    compare_with_torch(lambda x, w: F.linear(F.linear(x, w), w),
                       lambda x, w: TF.linear(TF.linear(x, w), w), x_np, w_np)


def test_linear_skips_grads_not_required():
    x = svertka.tensor(_rand((4, 3), 0))
    w = svertka.tensor(_rand((2, 3), 1), requires_grad=True)
    F.linear(x, w).sum().backward()
    assert x.grad is None and w.grad is not None


# (id, input1 shape, input2 shape, weight shape, bias shape or None)
BILINEAR_CASES = [
    ("2d", (5, 3), (5, 4), (2, 3, 4), (2,)),
    ("2d_no_bias", (5, 3), (5, 4), (2, 3, 4), None),
    ("1d_inputs", (3,), (4,), (2, 3, 4), (2,)),
    ("3d_inputs", (2, 3, 3), (2, 3, 4), (5, 3, 4), (5,)),
    ("1x1x1", (4, 1), (4, 1), (1, 1, 1), (1,)),
    ("empty_batch", (0, 3), (0, 4), (2, 3, 4), (2,)),
]
BILINEAR_IDS = [c[0] for c in BILINEAR_CASES]


@pytest.mark.parametrize("name, s1, s2, sw, sb", BILINEAR_CASES, ids=BILINEAR_IDS)
def test_bilinear_matches_torch(name, s1, s2, sw, sb):
    arrays = [_rand(s1, 0), _rand(s2, 1), _rand(sw, 2)]
    if sb is not None:
        arrays.append(_rand(sb, 3))
    compare_with_torch(F.bilinear, TF.bilinear, *arrays)


def test_bilinear_float32_forward_matches_torch():
    arrays = [_rand(s, i).astype(np.float32) for i, s in enumerate([(5, 3), (5, 4), (2, 3, 4),
                                                                      (2,)])]
    out = F.bilinear(*[svertka.tensor(a) for a in arrays])
    assert out.dtype == svertka.float32
    assert_close(out, TF.bilinear(*[torch.tensor(a) for a in arrays]), rtol=1e-4)


@pytest.mark.parametrize("shape, start, end", [((2, 3, 4), 0, -1), ((2, 3, 4), 1, -1),
                                               ((2, 3, 4, 5), 1, 2), ((3,), 0, 0)],
                         ids=["all", "from_1", "middle", "1d"])
def test_flatten_matches_torch(shape, start, end):
    compare_with_torch(lambda x: F.flatten(x, start, end), lambda x: torch.flatten(x, start, end),
                       _rand(shape, 0))


def _t(*shape, dtype=np.float64):
    return svertka.tensor(np.zeros(shape, dtype=dtype))


# (id, call, exception, message)
ERRORS = [
    ("linear_in_features", lambda: F.linear(_t(2, 5), _t(3, 4)), ValueError,
     r"linear: input has 5 features, weight expects 4 \(weight \(3, 4\)\)"),
    ("linear_weight_1d", lambda: F.linear(_t(2, 4), _t(4)), ValueError,
     r"linear: weight must be 2-D \(out_features, in_features\), got weight of shape \(4,\)"),
    ("linear_input_0d", lambda: F.linear(_t(), _t(3, 4)), ValueError,
     "linear: input must be at least 1-D"),
    ("linear_bias_shape", lambda: F.linear(_t(2, 4), _t(3, 4), _t(5)), ValueError,
     r"linear: bias must have shape \(3,\) to match weight \(3, 4\), got bias of shape \(5,\)"),
    ("linear_bias_2d", lambda: F.linear(_t(2, 4), _t(3, 4), _t(1, 3)), ValueError,
     r"linear: bias must have shape \(3,\)"),
    ("linear_int_input", lambda: F.linear(_t(2, 4, dtype=np.int64), _t(3, 4)), TypeError,
     "linear: input must be a floating-point tensor, got input of dtype int64"),
    ("linear_dtype_mismatch", lambda: F.linear(_t(2, 4), _t(3, 4, dtype=np.float32)), TypeError,
     "linear: input and weight must have the same dtype, got input of dtype float64 and "
     "weight of dtype float32"),
    ("linear_not_tensor", lambda: F.linear(np.zeros((2, 4)), _t(3, 4)), TypeError,
     "linear: input must be a Tensor, got ndarray"),
    ("bilinear_batch_mismatch", lambda: F.bilinear(_t(2, 3), _t(3, 4), _t(2, 3, 4)), ValueError,
     r"bilinear: input batch dimensions do not match: got \(2,\) and \(3,\)"),
    ("bilinear_features", lambda: F.bilinear(_t(2, 3), _t(2, 5), _t(2, 3, 4)), ValueError,
     r"bilinear: inputs have 3 and 5 features, weight expects 3 and 4 \(weight \(2, 3, 4\)\)"),
    ("bilinear_weight_2d", lambda: F.bilinear(_t(2, 3), _t(2, 4), _t(3, 4)), ValueError,
     "bilinear: weight must be 3-D"),
    ("bilinear_bias_shape", lambda: F.bilinear(_t(2, 3), _t(2, 4), _t(2, 3, 4), _t(3)),
     ValueError, r"bilinear: bias must have shape \(2,\)"),
    ("bilinear_0d", lambda: F.bilinear(_t(), _t(4), _t(2, 3, 4)), ValueError,
     "bilinear: inputs must be at least 1-D"),
    ("flatten_not_tensor", lambda: F.flatten([1.0, 2.0]), TypeError,
     "flatten: input must be a Tensor, got list"),
    ("flatten_bad_dims", lambda: F.flatten(_t(2, 3, 4), 2, 1), ValueError,
     "flatten: start_dim cannot come after end_dim"),
]


@pytest.mark.parametrize("name, call, exc, match", ERRORS, ids=[e[0] for e in ERRORS])
def test_linear_rejects_bad_arguments(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()
