"""Pooling ops: forward and backward side by side, the arithmetic in ``kernels/pool.py``.

Max pooling is an argmax (integer indices, not differentiable, computed by the kernel) followed
by ``GatherPlane``, a differentiable gather of the input at those indices; its backward is a
scatter-add, which routes each gradient to its window's maximum and sums where windows
overlap. ``MaxUnpool`` is the scatter, whose backward is the gather. Average pooling's
backward spreads each gradient evenly over its window; adaptive average pooling is separable,
one gather-and-sum of each bin's members per axis, and its backward gathers, per input
position, the gradients of the bins that hold it.

Arguments arrive validated and normalised by ``nn.functional`` (tuples per spatial axis,
``pads`` as ``(lo, hi)`` pairs, a batch axis present).
"""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.kernels import pool as K

__all__ = ["MaxPoolNd", "GatherPlane", "MaxUnpool", "AvgPoolNd", "AdaptiveAvgPoolNd"]


class MaxPoolNd(Function):
    """Window maxima without indices (``return_indices=False``, the common case).

    The forward is a running ``np.maximum`` over the kernel offsets; only ``x`` is saved.
    The backward recomputes the maxima (cheaper than keeping an argmax from the forward), and
    sends each window's gradient to its first maximum (``kernels.pool.max_pool_backward``);
    windows whose maximum is NaN or ``-inf`` go through torch's index rules instead.

    2x2 windows tiling the input with stride 2 (the common CNN pooling) are the exception:
    when a gradient is needed the forward keeps each window's winning tap as one byte
    (``kernels.pool.max_pool2x2_code``), and the backward just routes ``gy`` by it.
    """

    @staticmethod
    def forward(ctx, x, *, kernel, stride, pads, dilation, ceil_mode):
        ctx.params = (kernel, stride, pads, dilation, ceil_mode)
        ctx.code = None
        if not any(ctx.needs_input_grad):
            return K.max_pool_values(x, *ctx.params)
        ctx.save_for_backward(x)
        if K.tiles_2x2(x.shape, kernel, stride, pads, dilation):
            y, ctx.code = K.max_pool2x2_code(x)        # code None: NaN or -inf maxima
            return y
        return K.max_pool_values(x, *ctx.params)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        if ctx.code is not None:
            return K.max_pool2x2_code_backward(gy, ctx.code, x.shape)
        gx = K.max_pool_backward(gy, x, *ctx.params)
        if gx is None:
            kernel = ctx.params[0]
            idx, empty = K.max_pool_indices(x, *ctx.params)
            gx = K.scatter_add_plane(gy, idx, x.shape[-len(kernel):], empty)
        return gx


class GatherPlane(Function):
    """``y[n, c].flat = x[n, c].flat[indices[n, c]]`` over the last ``n`` axes.

    ``indices`` has ``y``'s shape; windows in the mask ``empty`` (max pooling windows that
    hold only padding) read ``-inf``, as torch's, and send no gradient back.
    """

    @staticmethod
    def forward(ctx, x, *, indices, n, empty=None):
        ctx.x_shape = x.shape
        ctx.indices = indices
        ctx.empty = empty
        ctx.n = n
        return K.gather_plane(x, indices, n, empty, fill=-np.inf)

    @staticmethod
    def backward(ctx, gy):
        return K.scatter_add_plane(gy, ctx.indices, ctx.x_shape[-ctx.n:], ctx.empty)


class MaxUnpool(Function):
    """Zero planes of size ``out`` with ``x`` written at ``indices`` (the inverse of max pool)."""

    @staticmethod
    def forward(ctx, x, *, indices, out):
        ctx.indices = indices
        return K.max_unpool(x, indices, tuple(out))

    @staticmethod
    def backward(ctx, gy):
        return K.gather_plane(gy, ctx.indices, ctx.indices.ndim - 2)


class AvgPoolNd(Function):
    """Window means; the divisor follows torch (``count_include_pad``, ``divisor_override``,
    windows clipped to the padded input with ``ceil_mode``)."""

    @staticmethod
    def forward(ctx, x, *, kernel, stride, pads, dilation, ceil_mode, count_include_pad,
                divisor_override):
        ctx.x_shape = x.shape
        ctx.params = (kernel, stride, pads, dilation, count_include_pad, divisor_override)
        return K.avg_pool_forward(x, kernel, stride, pads, dilation, ceil_mode,
                                  count_include_pad, divisor_override)

    @staticmethod
    def backward(ctx, gy):
        return K.avg_pool_backward(gy, ctx.x_shape, *ctx.params)


class AdaptiveAvgPoolNd(Function):
    """Mean over torch's adaptive bins to spatial size ``out``."""

    @staticmethod
    def forward(ctx, x, *, out):
        n = len(out)
        ctx.uniform = K.adaptive_uniform(x.shape[-n:], out) and x.size > 0
        if ctx.uniform:                    # equal bins (global pooling included)
            ctx.x_shape, ctx.out = x.shape, tuple(out)
            return K.adaptive_avg_uniform(x, tuple(out))
        ctx.x_shape, ctx.out = x.shape, tuple(out)
        return K.adaptive_avg_forward(x, ctx.out)

    @staticmethod
    def backward(ctx, gy):
        if ctx.uniform:
            return K.adaptive_avg_uniform_backward(gy, ctx.x_shape, ctx.out)
        return K.adaptive_avg_backward(gy, ctx.x_shape, ctx.out)
