"""Running sums and products along one axis: ``cumsum``, ``cumprod``."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function


def reverse_cumsum(a, axis):
    """``sum_{j >= i} a_j`` along ``axis``."""
    return np.flip(np.cumsum(np.flip(a, axis), axis=axis), axis)


class Cumsum(Function):
    """``y_i = sum_{j <= i} x_j``; backward ``g_i = sum_{j >= i} gy_j``."""

    @staticmethod
    def forward(ctx, x, axis, dtype=None):
        ctx.axis = axis
        return np.cumsum(x, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, gy):
        return reverse_cumsum(gy, ctx.axis)


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
