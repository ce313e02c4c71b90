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

__all__ = ["MaxPoolNd", "GatherPlane", "ScatterAddPlane", "MaxUnpool", "AvgPoolNd",
           "AvgPoolBackward", "AdaptiveAvgPoolNd", "AdaptiveAvgPoolBackward"]


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

    @staticmethod
    def backward_graph(ctx, gy):
        # linear in gy: the scatter-add at the argmax (a constant of x), whose own backward
        # is the gather there; the second derivative w.r.t. x is zero
        (x,) = ctx.saved_tensors
        idx, empty = K.max_pool_indices(x, *ctx.params)
        return ScatterAddPlane.apply(gy, indices=idx, spatial=x.shape[-len(ctx.params[0]):],
                                     empty=empty)


class GatherPlane(Function):
    """``y[n, c].flat = x[n, c].flat[indices[n, c]]`` over the last ``n`` axes.

    ``indices`` has ``y``'s shape; windows in the mask ``empty`` (max pooling windows that
    hold only padding) read ``fill`` (``-inf``, as torch's) and send no gradient back.
    """

    @staticmethod
    def forward(ctx, x, *, indices, n, empty=None, fill=-np.inf):
        ctx.x_shape = x.shape
        ctx.indices = indices
        ctx.empty = empty
        ctx.n = n
        return K.gather_plane(x, indices, n, empty, fill=fill)

    @staticmethod
    def backward(ctx, gy):
        return K.scatter_add_plane(gy, ctx.indices, ctx.x_shape[-ctx.n:], ctx.empty)

    @staticmethod
    def backward_graph(ctx, gy):
        return ScatterAddPlane.apply(gy, indices=ctx.indices, spatial=ctx.x_shape[-ctx.n:],
                                     empty=ctx.empty)


class ScatterAddPlane(Function):
    """``gx[n, c].flat[indices[n, c]] += g[n, c]`` into zero planes of size ``spatial``
    (windows in ``empty`` send nothing): the backward of max pooling and of ``GatherPlane``
    as an op, so that it can be differentiated again. Its backward is the gather at the
    same indices (``0`` for the empty windows)."""

    @staticmethod
    def forward(ctx, g, *, indices, spatial, empty=None):
        ctx.indices, ctx.empty, ctx.n = indices, empty, len(spatial)
        return K.scatter_add_plane(g, indices, tuple(spatial), empty)

    @staticmethod
    def backward(ctx, gy):
        return K.gather_plane(gy, ctx.indices, ctx.n, ctx.empty, fill=0)

    @staticmethod
    def backward_graph(ctx, gy):
        return GatherPlane.apply(gy, indices=ctx.indices, n=ctx.n, empty=ctx.empty, fill=0.0)


class MaxUnpool(Function):
    """Zero planes of size ``out`` with ``x`` written at ``indices`` (the inverse of max pool)."""

    @staticmethod
    def forward(ctx, x, *, indices, out):
        ctx.indices = indices
        return K.max_unpool(x, indices, tuple(out))

    @staticmethod
    def backward(ctx, gy):
        return K.gather_plane(gy, ctx.indices, ctx.indices.ndim - 2)

    @staticmethod
    def backward_graph(ctx, gy):
        return GatherPlane.apply(gy, indices=ctx.indices, n=ctx.indices.ndim - 2)


class AvgPoolNd(Function):
    """Window means; the divisor follows torch (``count_include_pad``, ``divisor_override``,
    windows clipped to the padded input with ``ceil_mode``)."""

    @staticmethod
    def forward(ctx, x, *, kernel, stride, pads, dilation, ceil_mode, count_include_pad,
                divisor_override):
        ctx.x_shape = x.shape
        ctx.params = (kernel, stride, pads, dilation, count_include_pad, divisor_override)
        ctx.ceil_mode = ceil_mode
        return K.avg_pool_forward(x, kernel, stride, pads, dilation, ceil_mode,
                                  count_include_pad, divisor_override)

    @staticmethod
    def backward(ctx, gy):
        return K.avg_pool_backward(gy, ctx.x_shape, *ctx.params)

    @staticmethod
    def backward_graph(ctx, gy):
        return AvgPoolBackward.apply(gy, x_shape=ctx.x_shape, params=ctx.params,
                                     ceil_mode=ctx.ceil_mode)


class AvgPoolBackward(Function):
    """The backward of ``AvgPoolNd`` (each window's gradient spread over its taps) as an op,
    so that it can be differentiated again: it is linear, and its backward is the average
    pooling itself (the adjoint of the adjoint)."""

    @staticmethod
    def forward(ctx, g, *, x_shape, params, ceil_mode):
        ctx.params, ctx.ceil_mode = params, ceil_mode
        return K.avg_pool_backward(g, x_shape, *params)

    @staticmethod
    def backward(ctx, gy):
        kernel, stride, pads, dilation, count_include_pad, divisor_override = ctx.params
        return K.avg_pool_forward(gy, kernel, stride, pads, dilation, ctx.ceil_mode,
                                  count_include_pad, divisor_override)

    @staticmethod
    def backward_graph(ctx, gy):
        kernel, stride, pads, dilation, count_include_pad, divisor_override = ctx.params
        return AvgPoolNd.apply(gy, kernel=kernel, stride=stride, pads=pads, dilation=dilation,
                               ceil_mode=ctx.ceil_mode, count_include_pad=count_include_pad,
                               divisor_override=divisor_override)


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

    @staticmethod
    def backward_graph(ctx, gy):
        return AdaptiveAvgPoolBackward.apply(gy, x_shape=ctx.x_shape, out=ctx.out,
                                             uniform=ctx.uniform)


class AdaptiveAvgPoolBackward(Function):
    """The backward of ``AdaptiveAvgPoolNd`` as an op, so that it can be differentiated
    again: linear, its backward is the adaptive average pooling itself."""

    @staticmethod
    def forward(ctx, g, *, x_shape, out, uniform):
        ctx.out, ctx.uniform = out, uniform
        if uniform:
            return K.adaptive_avg_uniform_backward(g, x_shape, out)
        return K.adaptive_avg_backward(g, x_shape, out)

    @staticmethod
    def backward(ctx, gy):
        if ctx.uniform:
            return K.adaptive_avg_uniform(gy, ctx.out)
        return K.adaptive_avg_forward(gy, ctx.out)

    @staticmethod
    def backward_graph(ctx, gy):
        return AdaptiveAvgPoolNd.apply(gy, out=ctx.out)
