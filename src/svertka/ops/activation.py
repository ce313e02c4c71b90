"""Activation functions as Functions, each with its exact analytic derivative.

Most activations act elementwise: they subclass ``Pointwise``, whose ``forward`` computes the
value and, only when a gradient is wanted, the local slope ``f'(x)`` in the same pass; backward
is then ``gy * slope``. ``Prelu``, ``Softmax``, ``LogSoftmax`` and ``Glu`` mix elements or
have a second input and write their own backward.

``erf`` and ``erfc`` (NumPy has neither) live in ``svertka.kernels.special``, re-exported here.

Conventions at the kinks follow torch (a kink's one-sided slope is the one torch's backward
uses), so gradients match torch even at ``x == 0``.
"""

from __future__ import annotations

import math

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import sum_to, vjp_by_recompute
from svertka.kernels.special import erf, erfc
from svertka.ops.elementwise import (
    Abs,
    Erf,
    Exp,
    Mul,
    Relu,
    Sigmoid,
    Tanh,
    Where,
    sigmoid_array,
    unbroadcast,
)
from svertka.ops.movement import Reshape

__all__ = ["erf", "erfc", "Pointwise", "Relu", "Sigmoid", "Tanh", "Hardtanh", "LeakyRelu",
           "Elu", "Gelu", "Silu", "Softplus", "Softsign", "Mish", "Hardsigmoid", "Hardswish",
           "LogSigmoid", "Threshold", "Tanhshrink", "Hardshrink", "Softshrink", "Prelu",
           "Softmax", "LogSoftmax", "Glu", "SELU_ALPHA", "SELU_SCALE"]

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

# ----------------------------------------------------------------------------- pointwise base

class Pointwise(Function):
    """``y = f(x)`` elementwise. Subclasses define ``value_and_slope(x, want_slope, **params)``
    returning ``(y, f'(x) or None)``; the slope is computed in forward (only when a gradient
    is wanted), so backward is one product.

    Double backward (``backward_graph``): a piecewise-linear activation (``smooth = False``)
    has ``f'' = 0`` (torch's convention at its kinks too), so its gradient ``gy * slope`` is
    linear in ``gy`` with the saved slope as a constant. A smooth one also keeps its input (a
    reference, no copy, as torch keeps it) and writes ``slope_graph``: ``f'(x)`` with svertka
    ops on the graph input, differentiable to any order.
    """

    smooth = False

    @staticmethod
    def slope_graph(xg, x, slope, **params):
        """``f'(x)`` as a graph Tensor of ``xg`` (the input in the graph; ``x`` its values,
        ``slope`` the saved ``f'(x)``). Every smooth activation overrides it."""
        raise NotImplementedError

    @staticmethod
    def value_and_slope(x, want_slope, **params):
        """``(f(x), f'(x))`` on the array ``x``; the slope is ``None`` unless ``want_slope``. Every
        pointwise activation overrides it.
        """
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, **params):
        want = ctx.needs_input_grad[0]
        y, slope = cls.value_and_slope(x, want, **params)
        if want:
            if cls.smooth:
                ctx.save_for_backward(slope, x)
                ctx.params = params
            else:
                ctx.save_for_backward(slope)
        return y

    @staticmethod
    def backward(ctx, gy):
        slope = ctx.saved_tensors[0]
        return gy * slope

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        saved = ctx.saved_tensors
        if not ctx.fn.smooth:
            return Mul.apply(gy, saved[0])
        slope, x = saved
        return gy * ctx.fn.slope_graph(ctx.input_graph(0, x), x, slope, **ctx.params)


def _cast(a, x):
    """Bring a slope computed with Python-float constants to ``x``'s dtype."""
    return np.asarray(a).astype(x.dtype, copy=False)


class Hardtanh(Pointwise):
    """``clip(x, min_val, max_val)``; slope 1 strictly inside, 0 at and beyond the bounds
    (torch's rule; ``relu6`` is ``Hardtanh(0, 6)``)."""

    @staticmethod
    def value_and_slope(x, want, min_val=-1.0, max_val=1.0):
        lo, hi = x.dtype.type(min_val), x.dtype.type(max_val)  # integer inputs stay integer
        return np.clip(x, lo, hi), ((x > lo) & (x < hi) if want else None)


class LeakyRelu(Pointwise):
    """``x`` if ``x > 0`` else ``negative_slope * x``."""

    @staticmethod
    def value_and_slope(x, want, negative_slope=0.01):
        pos = x > 0
        y = np.where(pos, x, x * negative_slope)
        return y, (_cast(np.where(pos, 1.0, negative_slope), x) if want else None)


class Elu(Pointwise):
    """torch's ELU family: ``scale * x`` for ``x > 0``, else
    ``scale * alpha * (exp(x * input_scale) - 1)``; ``selu`` and ``celu`` are instances."""

    @staticmethod
    def value_and_slope(x, want, alpha=1.0, scale=1.0, input_scale=1.0):
        pos = x > 0
        xs = np.minimum(x, 0) * input_scale  # exp only of the negative side: no overflow
        em1 = np.expm1(xs)
        y = np.where(pos, x * scale, em1 * (scale * alpha))
        if not want:
            return y, None
        slope = np.where(pos, scale, (em1 + 1) * (scale * alpha * input_scale))
        return y, _cast(slope, x)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope, alpha=1.0, scale=1.0, input_scale=1.0):
        # differentiable where x < 0; 0 second derivative at x >= 0 (torch: ``self < 0``)
        neg = x < 0
        e = Exp.apply(Where.apply(neg, xg, 0.0) * input_scale)  # no exp of the positive side
        return Where.apply(neg, e * (scale * alpha * input_scale), slope)


_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class Gelu(Pointwise):
    """``x * Phi(x)`` with the normal CDF ``Phi(x) = erfc(-x / sqrt 2) / 2``; with
    ``approximate="tanh"``, ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))``."""

    @staticmethod
    def value_and_slope(x, want, approximate="none"):
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (x + _GELU_CUBIC * (x * x * x))
            t = np.tanh(inner)
            y = 0.5 * x * (1 + t)
            if not want:
                return y, None
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * (x * x))
            return y, 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner
        cdf = 0.5 * erfc(-x * _SQRT1_2)
        y = x * cdf
        if not want:
            return y, None
        pdf = _INV_SQRT_2PI * np.exp(-0.5 * (x * x))
        return y, cdf + x * pdf

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope, approximate="none"):
        if approximate == "tanh":
            t = Tanh.apply((xg + xg * xg * xg * _GELU_CUBIC) * _SQRT_2_OVER_PI)
            d_inner = (xg * xg * (3 * _GELU_CUBIC) + 1.0) * _SQRT_2_OVER_PI
            return (t + 1.0) * 0.5 + xg * 0.5 * (1.0 - t * t) * d_inner
        cdf = (Erf.apply(xg * _SQRT1_2) + 1.0) * 0.5
        return cdf + xg * Exp.apply(xg * xg * -0.5) * _INV_SQRT_2PI


class Silu(Pointwise):
    """``x * sigmoid(x)``; slope ``s * (1 + x * (1 - s))``."""

    @staticmethod
    def value_and_slope(x, want):
        s = sigmoid_array(x)
        return x * s, (s * (1 + x * (1 - s)) if want else None)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope):
        s = Sigmoid.apply(xg)
        return s * (xg * (1.0 - s) + 1.0)


class Softplus(Pointwise):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``."""

    @staticmethod
    def value_and_slope(x, want, beta=1.0, threshold=20.0):
        bx = x * beta
        linear = bx > threshold
        y = np.where(linear, x, np.logaddexp(0, bx) / beta)  # logaddexp never overflows
        return y, (np.where(linear, 1, sigmoid_array(bx)) if want else None)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope, beta=1.0, threshold=20.0):
        linear = x * beta > threshold  # slope 1 there: 0 second derivative, as torch
        return Where.apply(linear, 1.0, Sigmoid.apply(Where.apply(linear, 0.0, xg) * beta))


class Softsign(Pointwise):
    """``x / (1 + |x|)``; slope ``1 / (1 + |x|)^2``."""

    @staticmethod
    def value_and_slope(x, want):
        d = 1 + np.abs(x)
        return x / d, (1 / (d * d) if want else None)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope):
        d = Abs.apply(xg) + 1.0
        return 1.0 / (d * d)


class Mish(Pointwise):
    """``x * tanh(softplus(x))``; slope ``t + x * sigmoid(x) * (1 - t^2)``."""

    @staticmethod
    def value_and_slope(x, want):
        t = np.tanh(np.logaddexp(0, x))
        y = x * t
        return y, (t + x * sigmoid_array(x) * (1 - t * t) if want else None)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope):
        t = Tanh.apply(Softplus.apply(xg))
        return t + xg * Sigmoid.apply(xg) * (1.0 - t * t)


class Hardsigmoid(Pointwise):
    """``clip(x + 3, 0, 6) / 6``; slope 1/6 strictly inside (-3, 3)."""

    @staticmethod
    def value_and_slope(x, want):
        y = np.clip(x + 3, 0, 6) / 6
        return y, (_cast(((x > -3) & (x < 3)) / 6, x) if want else None)


class Hardswish(Pointwise):
    """``x * clip(x + 3, 0, 6) / 6``; slope 0 up to -3, ``x/3 + 1/2`` on (-3, 3), 1 from 3
    (torch's one-sided slopes at the kinks)."""

    @staticmethod
    def value_and_slope(x, want):
        y = x * np.clip(x + 3, 0, 6) / 6
        if not want:
            return y, None
        slope = np.where(x <= -3, 0, np.where(x < 3, x / 3 + 0.5, 1))
        return y, _cast(slope, x)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope):
        # x/3 + 1/2 strictly inside (-3, 3); constant outside (torch's second derivative)
        return Where.apply((x > -3) & (x < 3), xg * (1.0 / 3.0) + 0.5, slope)


class LogSigmoid(Pointwise):
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`` (stable); slope ``sigmoid(-x)``."""

    @staticmethod
    def value_and_slope(x, want):
        y = np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x)))
        return y, (sigmoid_array(-x) if want else None)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope):
        return Sigmoid.apply(-xg)


class Threshold(Pointwise):
    """``value`` where ``x <= threshold``, else ``x`` (torch's comparison: a NaN threshold
    keeps every ``x``)."""

    @staticmethod
    def value_and_slope(x, want, threshold=0.0, value=0.0):
        keep = ~(x <= threshold)
        y = np.where(keep, x, x.dtype.type(value))
        return y, (keep if want else None)


class Tanhshrink(Pointwise):
    """``x - tanh(x)``; slope ``tanh(x)^2``."""

    @staticmethod
    def value_and_slope(x, want):
        t = np.tanh(x)
        return x - t, (t * t if want else None)

    smooth = True

    @staticmethod
    def slope_graph(xg, x, slope):
        t = Tanh.apply(xg)
        return t * t


class Hardshrink(Pointwise):
    """``x`` outside ``[-lambd, lambd]``, 0 inside (slope 0 inside, bounds included)."""

    @staticmethod
    def value_and_slope(x, want, lambd=0.5):
        inside = (x >= -lambd) & (x <= lambd)
        y = np.where(inside, x.dtype.type(0), x)
        return y, (~inside if want else None)


class Softshrink(Pointwise):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, 0 between."""

    @staticmethod
    def value_and_slope(x, want, lambd=0.5):
        y = np.where(x > lambd, x - lambd, np.where(x < -lambd, x + lambd, x.dtype.type(0)))
        return y, (~((x >= -lambd) & (x <= lambd)) if want else None)


# ----------------------------------------------------------------------------- mixing ops

def _prelu_weight_shape(x_ndim, w_size):
    """Shape that broadcasts the weight over channel dim 1 (or everywhere if it is one value)."""
    if w_size == 1 or x_ndim < 2:
        return (1,) * x_ndim
    return (1, w_size) + (1,) * (x_ndim - 2)


class Prelu(Function):
    """``x`` if ``x > 0`` else ``weight * x``, the weight broadcast over channel dim 1.

    d/dx = 1 or weight; d/dweight = ``x`` where ``x <= 0``, summed over all but the channel dim.
    """

    @staticmethod
    def forward(ctx, x, w):
        wb = w.reshape(_prelu_weight_shape(x.ndim, w.size))
        pos = x > 0
        ctx.save_for_backward(x, w)
        return np.where(pos, x, x * wb)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        nx, nw = ctx.needs_input_grad
        wb = w.reshape(_prelu_weight_shape(x.ndim, w.size))
        pos = x > 0
        gx = np.where(pos, gy, gy * wb) if nx else None
        gw = None
        if nw:
            gw = unbroadcast(np.where(pos, 0, gy * x).astype(gy.dtype, copy=False), wb.shape)
            gw = gw.reshape(w.shape)
        return gx, gw

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        x, w = ctx.saved_tensors
        xg, wg = ctx.saved_graph()
        nx, nw = ctx.needs_input_grad
        shape = _prelu_weight_shape(x.ndim, w.size)
        pos = x > 0
        gx = Where.apply(pos, gy, gy * Reshape.apply(wg, shape=shape)) if nx else None
        gw = None
        if nw:
            gw = Reshape.apply(sum_to(Where.apply(pos, 0.0, gy * xg), shape), shape=w.shape)
        return gx, gw


def _scalar_safe(x):
    """Softmax over a 0-d array is over its single element: view it as 1-D."""
    return x.reshape(1) if x.ndim == 0 else x


def _scalar_safe_graph(t):
    """``_scalar_safe`` on a Tensor."""
    return Reshape.apply(t, shape=(1,)) if t.ndim == 0 else t


class Softmax(Function):
    """``exp(s x - max) / sum exp(s x - max)`` along ``dim`` (``sign`` s = -1 for softmin).

    Backward: ``gx = s * y * (gy - sum(gy * y, dim))``.
    """

    @staticmethod
    def forward(ctx, x, dim=-1, sign=1):
        shape = x.shape
        z = _scalar_safe(x if sign == 1 else -x)
        if z.shape[dim] == 0:
            y = z.copy()
        else:
            with np.errstate(invalid="ignore"):  # a row of -inf (or +inf) gives NaN, as torch
                e = np.exp(z - z.max(axis=dim, keepdims=True))
                y = e / e.sum(axis=dim, keepdims=True)
        y = y.reshape(shape)
        ctx.dim, ctx.sign = dim, sign
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        y1, g1 = _scalar_safe(y), _scalar_safe(gy)
        gx = y1 * (g1 - (g1 * y1).sum(axis=ctx.dim, keepdims=True))
        return (gx if ctx.sign == 1 else -gx).reshape(y.shape)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        y1, g1 = _scalar_safe_graph(y), _scalar_safe_graph(gy)
        gx = y1 * (g1 - (g1 * y1).sum(dim=ctx.dim, keepdim=True))
        return Reshape.apply(gx if ctx.sign == 1 else -gx, shape=y.shape)


class LogSoftmax(Function):
    """``x - max - log(sum exp(x - max))`` along ``dim``.

    Backward: ``gx = gy - exp(y) * sum(gy, dim)``.
    """

    @staticmethod
    def forward(ctx, x, dim=-1):
        z = _scalar_safe(x)
        if z.shape[dim] == 0:
            y = z.copy()
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                shifted = z - z.max(axis=dim, keepdims=True)
                y = shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))
        y = y.reshape(x.shape)
        ctx.dim = dim
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        y1, g1 = _scalar_safe(y), _scalar_safe(gy)
        gx = g1 - np.exp(y1) * g1.sum(axis=ctx.dim, keepdims=True)
        return gx.reshape(y.shape)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        y1, g1 = _scalar_safe_graph(y), _scalar_safe_graph(gy)
        gx = g1 - Exp.apply(y1) * g1.sum(dim=ctx.dim, keepdim=True)
        return Reshape.apply(gx, shape=y.shape)


class Glu(Function):
    """Gated linear unit: split ``x`` in halves ``a, b`` along ``dim``; ``a * sigmoid(b)``.

    Backward: ``ga = gy * s``, ``gb = gy * a * s * (1 - s)``, concatenated along ``dim``.
    """

    @staticmethod
    def forward(ctx, x, dim=-1):
        a, b = np.split(x, 2, axis=dim)
        s = sigmoid_array(b)
        ctx.dim = dim
        # x for the double backward: no extra memory (``a`` is a view of it)
        ctx.save_for_backward(a, s, x)
        return a * s

    @staticmethod
    def backward(ctx, gy):
        a, s = ctx.saved_tensors[:2]
        gs = gy * s
        return np.concatenate([gs, gs * a * (1 - s)], axis=ctx.dim)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        x = ctx.saved_tensors[2]
        return vjp_by_recompute(ctx, gy, [ctx.input_graph(0, x)],
                                lambda t: _glu_graph(t, ctx.dim))


def _glu_graph(x, dim):
    """``glu`` with graph ops only: the halves are selected by ``Where`` on a ``(2, H)`` view
    of ``dim`` and a sum over the 2 (adding zeros: exact)."""
    shape = tuple(x.shape)
    d = dim % len(shape)
    x2 = Reshape.apply(x, shape=shape[:d] + (2, shape[d] // 2) + shape[d + 1:])
    first = np.array([True, False]).reshape((2,) + (1,) * (len(shape) - d))
    a = Where.apply(first, x2, 0.0).sum(dim=d)
    b = Where.apply(first, 0.0, x2).sum(dim=d)
    return a * Sigmoid.apply(b)
