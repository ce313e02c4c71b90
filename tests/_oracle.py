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


def compare_double_backward(sv_fn, torch_fn, *arrays, rtol=1e-7, grad=None, seed=0, atol=0.0):
    """Second derivatives against torch: ``grad(<grad(f(x), x, v, create_graph=True), u>)``.

    ``arrays`` as in :func:`compare_with_torch` (float arrays differentiable unless ``grad``
    says otherwise). With a random upstream ``v`` (itself differentiable) the first
    gradients are taken with ``create_graph=True`` and compared; then the random projection
    ``sum(g_i * u_i)`` of those gradients is differentiated with respect to every input and
    to ``v``, and compared too (a gradient that torch reports as unused counts as zero).
    Returns the svertka output.
    """
    if grad is None:
        grad = [np.asarray(a).dtype.kind == "f" for a in arrays]
    rng = np.random.default_rng(seed)
    sv_in = [svertka.tensor(a, requires_grad=bool(g)) if np.asarray(a).dtype.kind == "f"
             else svertka.tensor(a) for a, g in zip(arrays, grad)]
    th_in = [torch.tensor(np.asarray(a), requires_grad=bool(g)) for a, g in zip(arrays, grad)]
    sv_out, th_out = sv_fn(*sv_in), torch_fn(*th_in)
    assert_close(sv_out, th_out, rtol, "output", atol=atol)
    v = rng.standard_normal(tuple(th_out.shape))
    sv_v = svertka.tensor(v, requires_grad=True)
    th_v = torch.tensor(v, requires_grad=True)
    sv_x = [t for t, g in zip(sv_in, grad) if g]
    th_x = [t for t, g in zip(th_in, grad) if g]
    sv_g = svertka.autograd.grad(sv_out, sv_x, sv_v, create_graph=True, allow_unused=True)
    th_g = torch.autograd.grad(th_out, th_x, th_v, create_graph=True, allow_unused=True)
    sv_z, th_z = None, None
    for k, (a, b) in enumerate(zip(sv_g, th_g)):
        if b is None:
            assert a is None or not np.any(a.detach().numpy()), f"gradient {k}: torch has none"
            continue
        assert a is not None, f"gradient {k}: svertka has none, torch does"
        assert_close(a, b, rtol, f"first gradient {k}", atol=atol)
        u = rng.standard_normal(tuple(b.shape))
        if a.requires_grad:
            term = (a * svertka.tensor(u)).sum()
            sv_z = term if sv_z is None else sv_z + term
        if b.requires_grad:
            term = (b * torch.tensor(u)).sum()
            th_z = term if th_z is None else th_z + term
    if th_z is None:
        return sv_out
    assert sv_z is not None, "svertka's first gradients do not depend on anything"
    sv_h = svertka.autograd.grad(sv_z, sv_x + [sv_v], allow_unused=True)
    th_h = torch.autograd.grad(th_z, th_x + [th_v], allow_unused=True)
    for k, (a, b) in enumerate(zip(sv_h, th_h)):
        what = "second derivative w.r.t. " + ("the upstream gradient" if k == len(sv_x)
                                              else f"input {k}")
        if b is None:
            assert a is None or not np.any(a.numpy()), f"{what}: torch has none"
            continue
        if a is None:
            assert not b.detach().numpy(force=True).any(), f"{what}: svertka has none"
            continue
        assert_close(a, b, rtol, what, atol=atol)
    return sv_out
