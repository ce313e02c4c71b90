"""Running sums and products along one axis: ``cumsum``, ``cumprod``."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.autograd.graph import vjp_by_recompute


def reverse_cumsum(a, axis):
    """``sum_{j >= i} a_j`` along ``axis``."""
    return np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)


def reverse_cumsum_graph(g, axis):
    """``reverse_cumsum`` on a Tensor, as ``sum - cumsum + g`` (no flip op needed)."""
    from svertka.ops.reduce import expand_back

    axis = axis % g.ndim
    total = expand_back(g.sum(dim=axis, keepdim=True), g.shape, (axis,), True)
    return total - Cumsum.apply(g, axis=axis) + g


class Cumsum(Function):
    """``y_i = sum_{j <= i} x_j``; backward ``g_i = sum_{j >= i} gy_j``."""

    @staticmethod
    def forward(ctx, x, axis, dtype=None):
        ctx.axis = axis
        return np.cumsum(x, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        return reverse_cumsum(gy, ctx.axis)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        return reverse_cumsum_graph(gy, ctx.axis)


class Cumprod(Function):
    """``y_i = prod_{j <= i} x_j``.

    Backward (torch's rule, no division by zero): with ``z`` the first zero of a slice
    (its length if none), ``g_i = sum_{j >= i} gy_j y_j / x_i`` for ``i < z`` (there
    ``x_i != 0``); ``g_z = sum_{j >= z} gy_j y'_j`` where ``y'`` is the cumprod with ``x_z``
    replaced by 1; ``g_i = 0`` for ``i > z`` (every product holds ``x_z = 0``).
    """

    @staticmethod
    def forward(ctx, x, axis):
        y = np.cumprod(x, axis=axis)
        ctx.axis = axis
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, y = ctx.saved_tensors
        axis = ctx.axis
        zero = x == 0
        if not zero.any():
            return reverse_cumsum(gy * y, axis) / x
        n = x.shape[axis]
        shape = [1] * x.ndim
        shape[axis] = n
        pos = np.arange(n).reshape(shape)
        first = np.where(zero.any(axis=axis, keepdims=True),
                         np.argmax(zero, axis=axis, keepdims=True), n)
        safe = np.where(zero, 1, x).astype(x.dtype, copy=False)
        g = reverse_cumsum(gy * y, axis) / safe
        at_first = pos == first
        y1 = np.cumprod(np.where(at_first, 1, x).astype(x.dtype, copy=False), axis=axis)
        gz = reverse_cumsum(gy * y1, axis)
        return np.where(pos < first, g, np.where(at_first, gz, 0)).astype(x.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        x, y = ctx.saved_tensors
        xg, yg = ctx.saved_graph()
        if not (x == 0).any():
            return reverse_cumsum_graph(gy * yg, ctx.axis) / xg
        # zeros: differentiate the same products written as a K x K masked Prod
        return vjp_by_recompute(ctx, gy, [xg], lambda t: _cumprod_by_prod(t, ctx.axis))


def _cumprod_by_prod(x, axis):
    """``cumprod(x, axis)`` as ``prod_k where(k <= j, x_k, 1)``: no division, so its gradients
    of every order are exact where ``x`` holds zeros."""
    from svertka.ops.elementwise import Where
    from svertka.ops.movement import Expand, Reshape
    from svertka.ops.reduce import Prod

    shape = tuple(x.shape)
    axis = axis % len(shape)
    P, K = int(np.prod(shape[:axis])), shape[axis]
    Q = int(np.prod(shape[axis + 1:]))
    xs = Expand.apply(Reshape.apply(x, shape=(P, 1, K, Q)), shape=(P, K, K, Q))  # [p, j, k]: x_k
    upto = (np.arange(K)[None, :] <= np.arange(K)[:, None])[:, :, None]         # k <= j
    y = Prod.apply(Where.apply(upto, xs, 1.0), axis=(2,), keepdim=False)         # (P, K, Q)
    return Reshape.apply(y, shape=shape)
