"""Helpers that compare svertka with the reference, torch 2.13 on the CPU, in float64."""

from __future__ import annotations

import numpy as np
import torch

import svertka

torch.set_default_dtype(torch.float64)


def rel_err(actual, expected):
    """max |a - e| / max |e|: the relative error of the issue texts (0 when both are 0)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    if actual.size == 0:
        return 0.0
    err = np.abs(actual - expected).max()
    scale = np.abs(expected).max()
    if err == 0:
        return 0.0
    return err / max(scale, 1e-300)


def assert_close(actual, expected, rtol=1e-7, what="value", atol=0.0):
    """Relative error under ``rtol`` (max-norm), or absolute error under ``atol`` (for
    quantities that are mathematically zero and differ only by rounding noise)."""
    if isinstance(actual, svertka.Tensor):
        actual = actual.detach().numpy()
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape, (
        f"{what}: shape {actual.shape} != torch's {expected.shape}")
    if expected.dtype == np.bool_ or expected.dtype.kind in "iu":
        np.testing.assert_array_equal(actual, expected, err_msg=what)
        return
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected), err_msg=f"{what}: NaNs")
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(actual[~finite], expected[~finite], err_msg=f"{what}: infs")
    if atol and (actual[finite].size == 0 or
                 np.abs(actual[finite] - expected[finite]).max() <= atol):
        return
    e = rel_err(actual[finite], expected[finite])
    assert e < rtol, f"{what}: relative error {e:.3g} >= {rtol:g}"


def compare_with_torch(sv_fn, torch_fn, *arrays, rtol=1e-7, grad=None, seed=0):
    """Run ``sv_fn`` and ``torch_fn`` on the same arrays and compare values and gradients.

    ``arrays`` are NumPy arrays (float arrays become differentiable inputs unless ``grad``, a
    list of bools, says otherwise; other dtypes are passed as constants). The output is pulled
    back with a random upstream gradient (not ``.sum()``, which hides some bugs) and every
    input's gradient is compared. Returns the svertka output.
    """
    if grad is None:
        grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    sv_in = [svertka.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    th_in = [torch.tensor(a, requires_grad=g) for a, g in zip(arrays, grad)]
    sv_out = sv_fn(*sv_in)
    th_out = torch_fn(*th_in)
    assert_close(sv_out, th_out, rtol, what="forward")
    if any(grad) and th_out.requires_grad:
        rng = np.random.default_rng(seed + 12345)
        gy = rng.standard_normal(tuple(th_out.shape)).astype(np.asarray(arrays[0]).dtype)
        th_out.backward(torch.tensor(gy))
        sv_out.backward(svertka.tensor(gy))
        for i, (s, t, g) in enumerate(zip(sv_in, th_in, grad)):
            if not g:
                continue
            if t.grad is None:
                assert s.grad is None or not np.any(s.grad.numpy()), f"input {i}: grad"
                continue
            assert s.grad is not None, f"input {i}: svertka gave no gradient, torch did"
            assert_close(s.grad, t.grad, rtol, what=f"gradient of input {i}")
    return sv_out
