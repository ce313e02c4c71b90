"""Elementwise ops with NumPy broadcasting; gradients are summed back to each input's shape."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import sum_to
from svertka.kernels.special import erf


def unbroadcast(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, to get back ``shape``."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _shape(a):
    return np.shape(a)


class Add(Function):
    """``a + b``, broadcasting; each gradient is summed back to its input's shape."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return np.add(a, b)

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(gy, sa) if na else None, unbroadcast(gy, sb) if nb else None)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (sum_to(gy, sa) if na else None, sum_to(gy, sb) if nb else None)


class Sub(Function):
    """``a - b``, broadcasting; each gradient is summed back to its input's shape."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return np.subtract(a, b)

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (unbroadcast(gy, sa) if na else None, unbroadcast(-gy, sb) if nb else None)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        sa, sb = ctx.shapes
        na, nb = ctx.needs_input_grad
        return (sum_to(gy, sa) if na else None, sum_to(-gy, sb) if nb else None)


class Mul(Function):
    """``a * b``, broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.multiply(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (unbroadcast(gy * b, _shape(a)) if na else None,
                unbroadcast(gy * a, _shape(b)) if nb else None)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, b = ctx.saved_graph()
        na, nb = ctx.needs_input_grad
        return (sum_to(gy * b, a.shape) if na else None,
                sum_to(gy * a, b.shape) if nb else None)


class Div(Function):
    """``a / b`` (true division), broadcasting; ``x / 0`` is inf or nan, as torch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):  # x / 0 is inf or nan, as torch
            return np.true_divide(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = unbroadcast(gy / b, _shape(a)) if na else None
            gb = unbroadcast(-gy * a / (b * b), _shape(b)) if nb else None
        return ga, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, b = ctx.saved_graph()
        na, nb = ctx.needs_input_grad
        return (sum_to(gy / b, a.shape) if na else None,
                sum_to(-gy * a / (b * b), b.shape) if nb else None)


class Pow(Function):
    """``a ** b``; d/da = b a^(b-1), d/db = a^b log(a) (0 where a == 0 and b >= 0, as torch)."""

    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # nan/inf as torch
            y = np.power(a, b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        a, b, y = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            # b * a^(b-1), written so that b == 0 gives 0 even at a == 0 (torch's rule)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                d = np.where(np.asarray(b) == 0, 0,
                             np.asarray(b) * np.power(a, np.asarray(b) - 1))
            ga = unbroadcast((gy * d).astype(gy.dtype, copy=False), _shape(a))
        if nb:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                d = np.where((np.asarray(a) == 0) & (np.asarray(b) >= 0), 0, y * np.log(a))
            gb = unbroadcast((gy * d).astype(gy.dtype, copy=False), _shape(b))
        return ga, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, b, y = ctx.saved_graph()
        na, nb = ctx.needs_input_grad
        ad, bd = a._data, b._data
        ga = gb = None
        if na:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                d = Where.apply(bd == 0, 0.0, b * Pow.apply(a, b - 1.0))
            ga = sum_to(gy * d, ad.shape)
        if nb:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                d = Where.apply((ad == 0) & (bd >= 0), 0.0, y * Log.apply(a))
            gb = sum_to(gy * d, bd.shape)
        return ga, gb


class Neg(Function):
    """``-a``."""

    @staticmethod
    def forward(ctx, a):
        return np.negative(a)

    @staticmethod
    def backward(ctx, gy):
        return -gy

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return -gy


class Abs(Function):
    """``|a|``; the gradient is ``sign(a) * gy`` (0 at 0, as torch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved_tensors
        return gy * np.sign(a)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (a,) = ctx.saved_tensors
        return Mul.apply(gy, np.sign(a))  # |a|'' = 0, as torch


class Exp(Function):
    """``exp(a)``; the backward reuses the output."""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(over="ignore"):  # exp(1000) is inf, as torch
            y = np.exp(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        return gy * y


class Log(Function):
    """The natural logarithm; ``log(0)`` is ``-inf`` and ``log(-1)`` nan, as torch."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return gy / a

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (a,) = ctx.saved_graph()
        return gy / a


class Sqrt(Function):
    """``sqrt(a)``; the backward reuses the output."""

    @staticmethod
    def forward(ctx, a):
        with np.errstate(invalid="ignore"):
            y = np.sqrt(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        with np.errstate(divide="ignore"):
            return gy / (2 * y)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        return gy / (y * 2.0)


class Sin(Function):
    """``sin(a)``."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.sin(a)

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved_tensors
        return gy * np.cos(a)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (a,) = ctx.saved_graph()
        return gy * Cos.apply(a)


class Cos(Function):
    """``cos(a)``."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.cos(a)

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved_tensors
        return -gy * np.sin(a)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (a,) = ctx.saved_graph()
        return -(gy * Sin.apply(a))


class Tanh(Function):
    """``tanh(a)``; the backward reuses the output."""

    @staticmethod
    def forward(ctx, a):
        y = np.tanh(a)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * (1 - y * y)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        return gy * (1.0 - y * y)


def sigmoid_array(a):
    """A numerically stable logistic function (no overflow warning for large |a|)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Sigmoid(Function):
    """``1 / (1 + exp(-a))``, computed without overflow; the backward reuses the output."""

    @staticmethod
    def forward(ctx, a):
        y = sigmoid_array(np.asarray(a))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * y * (1 - y)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        return gy * y * (1.0 - y)


class Relu(Function):
    """``max(x, 0)``; only the output is saved (the backward's mask is ``y > 0``)."""

    @staticmethod
    def forward(ctx, a):
        y = np.maximum(a, 0)
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        if y.dtype != gy.dtype or y.shape != gy.shape or y.dtype.kind != "f":
            return gy * (y > 0)
        gx = np.greater(y, 0, out=np.empty_like(gy))    # the mask as 0/1 in gx, no bool array
        gx *= gy
        return gx

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_tensors
        return Mul.apply(gy, y > 0)  # relu'' = 0, as torch


class _Rounding(Function):
    """Piecewise-constant ops (``sign floor ceil round``): differentiable with a zero gradient,
    as in torch, so that they can sit in a graph."""

    fn = None

    @classmethod
    def forward(cls, ctx, a):
        ctx.shape = np.shape(a)
        return cls.fn(a)

    @staticmethod
    def backward(ctx, gy):
        return np.zeros(ctx.shape, dtype=gy.dtype)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return _zeros_graph(ctx.shape, gy)


class Sign(_Rounding):
    """-1, 0 or 1 per element; the gradient is zero."""

    fn = staticmethod(np.sign)


class Floor(_Rounding):
    """Round down; the gradient is zero."""

    fn = staticmethod(np.floor)


class Ceil(_Rounding):
    """Round up; the gradient is zero."""

    fn = staticmethod(np.ceil)


class Round(_Rounding):
    """Round half to even, as torch; the gradient is zero."""

    fn = staticmethod(np.round)  # half to even, as torch


class Fill(Function):
    """The in-place ``fill_``/``zero_`` of a tensor in a graph: every element becomes ``value``,
    so the gradient to the old values is 0."""

    @staticmethod
    def forward(ctx, a, value=0):
        ctx.shape = a.shape
        return np.full(a.shape, value, dtype=a.dtype)

    @staticmethod
    def backward(ctx, gy):
        return np.zeros(ctx.shape, dtype=gy.dtype)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return _zeros_graph(ctx.shape, gy)


class Clamp(Function):
    """Clamp to [min, max]; the gradient passes where min <= x <= max (torch's rule)."""

    @staticmethod
    def forward(ctx, a, min=None, max=None):
        ctx.save_for_backward(a)
        ctx.bounds = (min, max)
        return np.clip(a, min, max)

    @staticmethod
    def _mask(ctx):
        """Where the gradient passes: ``min <= x <= max``."""
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        mask = np.ones(a.shape, dtype=bool)
        if lo is not None:
            mask &= a >= lo
        if hi is not None:
            mask &= a <= hi
        return mask

    @staticmethod
    def backward(ctx, gy):
        return gy * Clamp._mask(ctx)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        # linear in gy; zero second derivative in a, as torch
        return Mul.apply(gy, Clamp._mask(ctx))


class Maximum(Function):
    """Elementwise max; on ties the gradient is split evenly between the inputs, as torch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        return _select_grads(ctx, gy, a, b, np.greater)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, b = ctx.saved_tensors
        return _select_grads_graph(ctx, gy, a, b, np.greater)


class Minimum(Function):
    """The elementwise minimum, broadcasting; a tie splits the gradient equally, as torch."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        return _select_grads(ctx, gy, a, b, np.less)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, b = ctx.saved_tensors
        return _select_grads_graph(ctx, gy, a, b, np.less)


def _select_grads(ctx, gy, a, b, wins):
    w = np.where(wins(a, b), 1.0, np.where(a == b, 0.5, 0.0)).astype(gy.dtype)
    na, nb = ctx.needs_input_grad
    return (unbroadcast(gy * w, _shape(a)) if na else None,
            unbroadcast(gy * (1 - w), _shape(b)) if nb else None)


def _select_grads_graph(ctx, gy, a, b, wins):
    """``_select_grads`` on a Tensor ``gy``: the weights are constants (0 second derivative
    in ``a`` and ``b``, as torch)."""
    w = np.where(wins(a, b), 1.0, np.where(a == b, 0.5, 0.0))
    na, nb = ctx.needs_input_grad
    return (sum_to(Mul.apply(gy, w), _shape(a)) if na else None,
            sum_to(Mul.apply(gy, 1.0 - w), _shape(b)) if nb else None)


def _zeros_graph(shape, gy):
    """A zero gradient of ``shape`` (a constant Tensor): for the piecewise-constant ops."""
    from svertka.autograd.function import _constant

    return _constant(np.zeros(shape, dtype=gy._data.dtype))


class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a constant boolean array (first positional input)."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        ctx.shapes = (_shape(a), _shape(b))
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, gy):
        (cond,) = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        zero = np.zeros((), dtype=gy.dtype)
        ga = unbroadcast(np.where(cond, gy, zero), ctx.shapes[0]) if na else None
        gb = unbroadcast(np.where(cond, zero, gy), ctx.shapes[1]) if nb else None
        return None, ga, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (cond,) = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        zero = np.zeros((), dtype=gy._data.dtype)
        ga = sum_to(Where.apply(cond, gy, zero), ctx.shapes[0]) if na else None
        gb = sum_to(Where.apply(cond, zero, gy), ctx.shapes[1]) if nb else None
        return None, ga, gb


class Cast(Function):
    """Change the dtype; the gradient is cast back to the input's dtype."""

    @staticmethod
    def forward(ctx, a, dtype=None):
        ctx.in_dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        return gy.astype(ctx.in_dtype)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return Cast.apply(gy, dtype=ctx.in_dtype)


class Clone(Function):
    """A copy; ``order="K"`` keeps the input's memory layout (torch's ``clone``), ``"C"``
    makes it row-major (``contiguous``)."""

    @staticmethod
    def forward(ctx, a, order="K"):
        return np.array(a, order=order, copy=True)

    @staticmethod
    def backward(ctx, gy):
        return gy

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return gy


class Log1p(Function):
    """``log(1 + a)``, accurate for small ``a``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy / (1 + x)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (x,) = ctx.saved_graph()
        return gy / (x + 1.0)


class Expm1(Function):
    """``exp(a) - 1``, accurate for small ``a``."""

    @staticmethod
    def forward(ctx, x):
        y = np.expm1(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_tensors
        return gy * (y + 1)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (y,) = ctx.saved_graph()
        return gy * (y + 1.0)


class Erf(Function):
    """``erf(x)``; ``d/dx = 2/sqrt(pi) exp(-x^2)``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return erf(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * (1.1283791670955126 * np.exp(-(x * x)))

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (x,) = ctx.saved_graph()
        return gy * (Exp.apply(-(x * x)) * 1.1283791670955126)


class Atan2(Function):
    """``atan2(a, b)`` with broadcasting; ``da = b/(a^2+b^2)``, ``db = -a/(a^2+b^2)``."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.arctan2(a, b)

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        r = gy / (a * a + b * b)
        return (unbroadcast(r * b, np.shape(a)) if na else None,
                unbroadcast(-r * a, np.shape(b)) if nb else None)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, b = ctx.saved_graph()
        na, nb = ctx.needs_input_grad
        r = gy / (a * a + b * b)
        return (sum_to(r * b, a._data.shape) if na else None,
                sum_to(-(r * a), b._data.shape) if nb else None)
