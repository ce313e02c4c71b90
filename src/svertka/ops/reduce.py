"""Reductions over one or several axes (``axis`` is a tuple of non-negative ints or None)."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.ops.elementwise import Exp, Mul, Where


def _expand(g, shape, axis, keepdim):
    """Undo a reduction's squeeze so ``g`` broadcasts against the input of ``shape``."""
    if axis is None:
        return np.reshape(g, (1,) * len(shape))
    if not keepdim:
        g = np.expand_dims(g, axis)
    return g


def expand_back(g, shape, axis, keepdim):
    """The graph form of ``np.broadcast_to(_expand(g, ...), shape)``: ``g`` (a Tensor)
    broadcast back over the reduced axes."""
    from svertka.ops.movement import Expand, Reshape

    kshape = tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape))
    return Expand.apply(Reshape.apply(g, shape=kshape), shape=tuple(shape))


def _kept_graph(ctx, y, axis, keepdim):
    """The output of ``ctx``'s reduction as a graph Tensor (grad_fn ``ctx``), reshaped to the
    keepdim shape; ``y`` is its value with the reduced axes kept."""
    from svertka.ops.movement import Reshape

    out = ctx.output_graph(y if keepdim else np.asarray(np.squeeze(y, axis=axis)))
    return Reshape.apply(out, shape=y.shape)


class Centered(Function):
    """``x - mean(x, axis)`` (keepdims): the deviation that ``Var``/``Std`` save, as a graph
    node for their double backward. ``value`` passes the deviation already computed (then
    ``x``'s values are not read: only its place in the graph matters). The map is linear and
    self-adjoint, so its backward is itself."""

    @staticmethod
    def forward(ctx, x, axis=None, value=None):
        ctx.axis = axis
        if value is not None:
            return value
        return x - np.mean(x, axis=axis, keepdims=True)

    @staticmethod
    def backward(ctx, gy):
        return gy - np.mean(gy, axis=ctx.axis, keepdims=True)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return Centered.apply(gy, axis=ctx.axis)


class Sum(Function):
    """The sum over ``axis`` (a tuple, or ``None`` for all); the gradient is broadcast back."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False, dtype=None):
        ctx.args = (a.shape, axis, keepdim)
        return np.asarray(np.sum(a, axis=axis, keepdims=keepdim, dtype=dtype))

    @staticmethod
    def backward(ctx, gy):
        shape, axis, keepdim = ctx.args
        return np.broadcast_to(_expand(gy, shape, axis, keepdim), shape)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        shape, axis, keepdim = ctx.args
        return expand_back(gy, shape, axis, keepdim)


class Mean(Function):
    """The mean over ``axis`` (a tuple, or ``None`` for all)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        ctx.args = (a.shape, axis, keepdim)
        n = np.prod([a.shape[i] for i in axis]) if axis is not None else a.size
        # sum / n rather than np.mean: the mean of nothing is nan, without NumPy's warning
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.sum(a, axis=axis, keepdims=keepdim) / a.dtype.type(n))

    @staticmethod
    def backward(ctx, gy):
        shape, axis, keepdim = ctx.args
        n = np.prod([shape[i] for i in axis]) if axis is not None else np.prod(shape)
        g = _expand(gy, shape, axis, keepdim) / gy.dtype.type(max(n, 1))
        return np.broadcast_to(g, shape)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        shape, axis, keepdim = ctx.args
        n = np.prod([shape[i] for i in axis]) if axis is not None else np.prod(shape)
        return expand_back(gy, shape, axis, keepdim) / float(max(n, 1))


class Var(Function):
    """Variance with Bessel's ``correction`` (1 = unbiased, torch's default)."""

    @staticmethod
    def forward(ctx, a, axis=None, correction=1, keepdim=False):
        mean = np.mean(a, axis=axis, keepdims=True)
        d = a - mean
        n = np.prod([a.shape[i] for i in axis]) if axis is not None else a.size
        denom = max(n - correction, 0)
        ctx.save_for_backward(d)
        ctx.args = (axis, keepdim, denom)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(np.sum(d * d, axis=axis, keepdims=keepdim) / a.dtype.type(denom))

    @staticmethod
    def backward(ctx, gy):
        (d,) = ctx.saved_tensors
        axis, keepdim, denom = ctx.args
        g = _expand(gy, d.shape, axis, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (2 * g * d / gy.dtype.type(denom)).astype(gy.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (d,) = ctx.saved_tensors
        axis, keepdim, denom = ctx.args
        dg = Centered.apply(ctx.input_graph(0, d), axis=axis, value=d)
        g = expand_back(gy, d.shape, axis, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return g * dg * (np.float64(2.0) / np.float64(denom))


class Std(Function):
    """Standard deviation with Bessel's ``correction``; where it is 0 the gradient is 0, as in
    torch (not the inf * 0 that ``var().sqrt()`` would give)."""

    @staticmethod
    def forward(ctx, a, axis=None, correction=1, keepdim=False):
        mean = np.mean(a, axis=axis, keepdims=True)
        d = a - mean
        n = np.prod([a.shape[i] for i in axis]) if axis is not None else a.size
        denom = max(n - correction, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.sqrt(np.sum(d * d, axis=axis, keepdims=True) / a.dtype.type(denom))
        ctx.save_for_backward(d, y)
        ctx.args = (axis, keepdim, denom)
        return y if keepdim else np.asarray(np.squeeze(y, axis=axis))

    @staticmethod
    def backward(ctx, gy):
        d, y = ctx.saved_tensors
        axis, keepdim, denom = ctx.args
        g = _expand(gy, d.shape, axis, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(y == 0, 0, g / (y * gy.dtype.type(denom)))
        return (scale * d).astype(gy.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        d, y = ctx.saved_tensors
        axis, keepdim, denom = ctx.args
        dg = Centered.apply(ctx.input_graph(0, d), axis=axis, value=d)
        zero = y == 0
        yk = Where.apply(zero, 1.0, _kept_graph(ctx, y, axis, keepdim))
        g = expand_back(gy, d.shape, axis, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            return Where.apply(zero, 0.0, g / (yk * float(denom))) * dg


class Norm2(Function):
    """The Euclidean norm; the gradient ``x / norm`` is 0 where the norm is 0 (torch's rule)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        y = np.sqrt(np.sum(a * a, axis=axis, keepdims=True))
        ctx.save_for_backward(a, y)
        ctx.args = (axis, keepdim)
        return y if keepdim else np.asarray(np.squeeze(y, axis=axis))

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved_tensors
        axis, keepdim = ctx.args
        g = _expand(gy, a.shape, axis, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(y == 0, 0, g / y)
        return (scale * a).astype(gy.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, y = ctx.saved_tensors
        axis, keepdim = ctx.args
        zero = y == 0
        yk = Where.apply(zero, 1.0, _kept_graph(ctx, y, axis, keepdim))
        g = expand_back(gy, a.shape, axis, keepdim)
        return Where.apply(zero, 0.0, g / yk) * ctx.input_graph(0, a)


class MaxMin(Function):
    """``amax``/``amin`` and the full ``max()``/``min()``: ties share the gradient evenly.

    ``which`` is ``np.max`` or ``np.min``.
    """

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False, which=np.max):
        y = np.asarray(which(a, axis=axis, keepdims=True))
        ctx.save_for_backward(a, y)
        ctx.args = (axis, keepdim)
        return y if keepdim else np.asarray(np.squeeze(y, axis=axis))

    @staticmethod
    def backward(ctx, gy):
        a, y = ctx.saved_tensors
        axis, keepdim = ctx.args
        mask = (a == y)
        count = mask.sum(axis=axis, keepdims=True)
        g = _expand(gy, a.shape, axis, keepdim)
        with np.errstate(invalid="ignore", divide="ignore"):  # a nan max: nan grads, as torch
            return (g * mask / count).astype(gy.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, y = ctx.saved_tensors
        axis, keepdim = ctx.args
        mask = (a == y)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = mask / mask.sum(axis=axis, keepdims=True)
        # linear in gy; the weights are constants (0 second derivative in a, as torch)
        return Mul.apply(expand_back(gy, a.shape, axis, keepdim), w)


class MaxMinDim(Function):
    """``max(dim)``/``min(dim)`` values: the gradient goes to the returned index only."""

    @staticmethod
    def forward(ctx, a, axis, keepdim=False, indices=None):
        y = np.take_along_axis(a, np.expand_dims(indices, axis), axis)
        ctx.save_for_backward(indices)
        ctx.args = (a.shape, axis, keepdim)
        return y if keepdim else np.squeeze(y, axis)

    @staticmethod
    def backward(ctx, gy):
        (indices,) = ctx.saved_tensors
        shape, axis, keepdim = ctx.args
        gx = np.zeros(shape, dtype=gy.dtype)
        idx = np.expand_dims(indices, axis)
        g = gy if keepdim else np.expand_dims(gy, axis)
        np.put_along_axis(gx, idx, g, axis)
        return gx

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (indices,) = ctx.saved_tensors
        shape, axis, keepdim = ctx.args
        axis = axis % len(shape)
        pos = np.arange(shape[axis]).reshape([-1 if i == axis else 1 for i in range(len(shape))])
        onehot = pos == np.expand_dims(indices, axis)   # the scatter as a 0/1 mask
        return Mul.apply(expand_back(gy, shape, (axis,), keepdim), onehot)


class LogSumExp(Function):
    """``log(sum(exp(a)))`` over ``axis``, shifted by the maximum to avoid overflow."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):  # all -inf: -inf, as torch
            s = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
        ctx.save_for_backward(a, s)
        ctx.args = (axis, keepdim)
        return s if keepdim else np.asarray(np.squeeze(s, axis=axis))

    @staticmethod
    def backward(ctx, gy):
        a, s = ctx.saved_tensors
        axis, keepdim = ctx.args
        g = _expand(gy, a.shape, axis, keepdim)
        with np.errstate(invalid="ignore"):  # -inf - -inf: nan grads, as torch
            return g * np.exp(a - s)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        a, s = ctx.saved_tensors
        axis, keepdim = ctx.args
        g = expand_back(gy, a.shape, axis, keepdim)
        return g * Exp.apply(ctx.input_graph(0, a) - _kept_graph(ctx, s, axis, keepdim))


class Prod(Function):
    """The product over ``axis``; its gradient is exact where inputs are zero."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        ctx.save_for_backward(a)
        ctx.args = (axis, keepdim)
        return np.asarray(np.prod(a, axis=axis, keepdims=keepdim))

    @staticmethod
    def backward(ctx, gy):
        (a,) = ctx.saved_tensors
        axis, keepdim = ctx.args
        g = _expand(gy, a.shape, axis, keepdim)
        # product of all the others, from exclusive cumulative products (no division, so
        # zeros are handled): move the reduced axes last and flatten them into one
        axes = tuple(range(a.ndim)) if axis is None else tuple(axis)
        last = tuple(range(a.ndim - len(axes), a.ndim))
        moved = np.moveaxis(a, axes, last)
        flat = moved.reshape(moved.shape[:a.ndim - len(axes)] + (-1,))   # (..., K)
        if flat.shape[-1] == 0:
            return np.zeros(a.shape, dtype=gy.dtype)
        ones = np.ones(flat.shape[:-1] + (1,), dtype=a.dtype)
        left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
        rev = flat[..., ::-1]
        right = np.cumprod(np.concatenate([ones, rev[..., :-1]], axis=-1), axis=-1)[..., ::-1]
        others = np.moveaxis((left * right).reshape(moved.shape), last, axes)
        return g * others

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (a,) = ctx.saved_tensors
        axis, keepdim = ctx.args
        g = expand_back(gy, a.shape, axis, keepdim)
        ag = ctx.input_graph(0, a)
        if a.size == 0:
            return g * 0.0
        if not (a == 0).any():
            y = np.prod(a, axis=axis, keepdims=True)
            return g * _kept_graph(ctx, y, axis, keepdim) / ag
        return g * _others_graph(ag, a.shape, axis)


def _others_graph(ag, shape, axis):
    """Per element, the product of the other elements of its reduced slice, as a graph on
    ``ag`` (used where the slice holds zeros, so no division): the slice of ``K`` elements is
    expanded to ``K x K``, its diagonal set to 1, and reduced by ``Prod``."""
    from svertka.ops.movement import Expand, Permute, Reshape

    nd = len(shape)
    axes = tuple(range(nd)) if axis is None else tuple(sorted(axis))
    perm = tuple(i for i in range(nd) if i not in axes) + axes
    if axes == tuple(range(axes[0], axes[0] + len(axes))):  # contiguous: a reshape suffices
        perm, x, lo = tuple(range(nd)), ag, axes[0]
    else:
        x, lo = Permute.apply(ag, axes=perm), nd - len(axes)
    moved = tuple(shape[i] for i in perm)
    P, Q = int(np.prod(moved[:lo])), int(np.prod(moved[lo + len(axes):]))
    K = int(np.prod(moved[lo:lo + len(axes)]))
    x = Expand.apply(Reshape.apply(x, shape=(P, 1, K, Q)), shape=(P, K, K, Q))  # [p, i, j]: x_j
    eye = np.eye(K, dtype=bool)[:, :, None]
    others = Prod.apply(Where.apply(eye, 1.0, x), axis=(2,), keepdim=False)  # (P, K, Q)
    others = Reshape.apply(others, shape=moved)
    if perm != tuple(range(nd)):
        others = Permute.apply(others, axes=tuple(int(i) for i in np.argsort(perm)))
    return others
