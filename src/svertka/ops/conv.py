"""Convolution ops: forward and backward side by side, all served by ``kernels/conv.py``.

The backward of a convolution is made of the other convolutions (as in Chainer and JAX):
``gx`` of a convolution is a transposed convolution (``conv_input_grad``) and ``gw`` a
correlation of the input with ``gy`` (``conv_weight_grad``); a transposed convolution's
forward is ``conv_input_grad`` and its backward ``conv_forward`` plus ``conv_weight_grad``
with the roles of input and output swapped. A stride-1 depthwise convolution needing both
gradients takes them from one blocked pass (``conv_depthwise_backward``: ``gw`` from the
columns of ``gy`` that ``gx`` builds). Bias is added outside the core; its gradient is
``gy`` summed over the batch and the spatial axes.

Arguments arrive validated and normalised by ``nn.functional`` (tuples per spatial axis,
``pads`` as ``(lo, hi)`` pairs, a batch axis present).
"""

from __future__ import annotations

import math

import numpy as np

from svertka.autograd.function import Function
from svertka.kernels import conv as K

__all__ = ["ConvNd", "ConvTransposeNd", "Unfold", "Fold", "LocallyConnectedNd"]


def _add_bias(y, b):
    if b is not None:
        y += b.reshape((-1,) + (1,) * (y.ndim - 2))      # y is a fresh array: add in place
    return y


def _bias_grad(gy):
    return gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))   # (Co,)


class ConvNd(Function):
    """``y = conv(x, w) + b`` with ``x`` ``(N, C, I...)``, ``w`` ``(Co, C/G, K...)``."""

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups):
        ctx.params = (stride, pads, dilation, groups)
        ctx.has_bias = b is not None
        _, need_w, _ = ctx.needs_input_grad
        # the columns are only asked for when gw will need them (without, channels-last
        # columns are built a few images at a time)
        out = K.conv_forward(x, w, stride, pads, dilation, groups, keep_cols=need_w, bias=b)
        y, cols = out if need_w else (out, None)
        # Keep the columns for gw when they are free (the 1x1 case is a view) or within the
        # size caps (``K.keep_cols``); else hand them back to the workspace for reuse at once.
        ctx.cols = None
        if cols is not None:
            if np.may_share_memory(cols, x) or K.keep_cols(cols):
                ctx.cols = cols
            else:
                K.release(cols)
        ctx.save_for_backward(x, w)
        return y                                          # bias added by conv_forward

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        if nx and nw and ctx.cols is None and K.depthwise_backward_applies(
                x.shape, w.shape, gy.shape, stride, pads, dilation, groups):
            # stride-1 depthwise: gw from the columns of gy that gx builds anyway
            gx, gw = K.conv_depthwise_backward(gy, x, w, pads, dilation)
        elif nx and nw and ctx.cols is None and K.fused_backward_applies(
                x.shape, w.shape, gy.shape, stride, pads, dilation, groups):
            # stride 1: gw from the columns of gy that gx builds anyway
            gx, gw = K.conv_backward_fused(gy, x, w, pads, dilation, groups)
        else:
            gx = (K.conv_input_grad(gy, w, x.shape, stride, pads, dilation, groups)
                  if nx else None)
            gw = (K.conv_weight_grad(x, gy, w.shape, stride, pads, dilation, groups, ctx.cols)
                  if nw else None)
        K.release(ctx.cols)
        ctx.cols = None
        gb = _bias_grad(gy) if nb and ctx.has_bias else None
        return gx, gw, gb


class ConvTransposeNd(Function):
    """``y = conv_transpose(x, w) + b``, ``x`` ``(N, C, I...)``, ``w`` ``(C, Co/G, K...)``.

    ``out`` gives the output's spatial sizes (they include ``output_padding``).
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups, out):
        ctx.params = (stride, pads, dilation, groups)
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w)
        y_shape = (x.shape[0], w.shape[1] * groups) + tuple(out)
        y = K.conv_input_grad(x, w, y_shape, stride, pads, dilation, groups)
        if not y.flags.c_contiguous:
            y = np.ascontiguousarray(y)
        return _add_bias(y, b)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        gx = (K.conv_forward(gy, w, stride, pads, dilation, groups, out=x.shape[2:])
              if nx else None)
        # The convolution whose input-gradient this is maps gy's shape to x's: its weight
        # gradient correlates its input (gy here) with its output gradient (x here).
        gw = (K.conv_weight_grad(gy, x, w.shape, stride, pads, dilation, groups)
              if nw else None)
        gb = _bias_grad(gy) if nb and ctx.has_bias else None
        return gx, gw, gb


class Unfold(Function):
    """im2col: ``(N, C, I...)`` to torch's ``(N, C*prod(K), L)`` blocks."""

    @staticmethod
    def forward(ctx, x, *, kernel, stride, pads, dilation):
        ctx.params = (x.shape, kernel, stride, pads, dilation)
        cols = K.im2col(x, kernel, stride, pads, dilation)           # (N, C, K..., O...)
        ctx.outs = cols.shape[2 + len(kernel):]
        N, C = x.shape[:2]
        L = math.prod(ctx.outs)
        return cols.reshape(N, C * math.prod(kernel), L)              # (N, C*K, L)

    @staticmethod
    def backward(ctx, gy):
        x_shape, kernel, stride, pads, dilation = ctx.params
        gcols = gy.reshape(tuple(x_shape[:2]) + tuple(kernel) + tuple(ctx.outs))
        return K.col2im(gcols, x_shape, kernel, stride, pads, dilation)


class Fold(Function):
    """col2im: ``(N, C*prod(K), L)`` blocks summed into ``(N, C, S...)``; adjoint of Unfold."""

    @staticmethod
    def forward(ctx, cols, *, output_size, kernel, stride, pads, dilation):
        N = cols.shape[0]
        C = cols.shape[1] // math.prod(kernel)
        outs = K.conv_out_shape(output_size, kernel, stride, pads, dilation)
        x_shape = (N, C) + tuple(output_size)
        ctx.params = (x_shape, kernel, stride, pads, dilation, cols.shape)
        gcols = cols.reshape((N, C) + tuple(kernel) + tuple(outs))   # (N, C, K..., O...)
        y = K.col2im(gcols, x_shape, kernel, stride, pads, dilation)
        return y if y.flags.c_contiguous else np.ascontiguousarray(y)

    @staticmethod
    def backward(ctx, gy):
        x_shape, kernel, stride, pads, dilation, cols_shape = ctx.params
        return K.im2col(gy, kernel, stride, pads, dilation).reshape(cols_shape)


class LocallyConnectedNd(Function):
    """Unshared convolution: one weight per output position.

    ``x`` ``(N, C, I...)``, ``w`` ``(O1, .., On, Co, C, K1, .., Kn)``, ``b`` ``(Co, O...)``.
    One GEMM batched over the ``P`` positions: ``(P, N, CK) @ (P, CK, Co) -> (P, N, Co)``.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads):
        n = x.ndim - 2
        kernel = w.shape[-n:]
        outs = w.shape[:n]
        dilation = (1,) * n
        N, C = x.shape[:2]
        P = math.prod(outs)
        Co = w.shape[n]
        ctx.params = (stride, pads, x.shape)
        cols = K.im2col(x, kernel, stride, pads, dilation, outs)     # (N, C, K..., O...)
        CK = C * math.prod(kernel)
        cols = np.ascontiguousarray(cols.reshape(N, CK, P).transpose(2, 0, 1))  # (P, N, CK)
        wm = w.reshape(P, Co, CK)                                    # (P, Co, CK)
        y = np.matmul(cols, wm.transpose(0, 2, 1))                   # (P, N, Co)
        y = np.ascontiguousarray(y.transpose(1, 2, 0)).reshape((N, Co) + tuple(outs))
        ctx.has_bias = b is not None
        ctx.cols = cols
        ctx.save_for_backward(x, w)
        return _add_bias_positions(y, b)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, pads, x_shape = ctx.params
        n = x.ndim - 2
        kernel = w.shape[-n:]
        outs = w.shape[:n]
        N, C = x_shape[:2]
        P = math.prod(outs)
        Co = w.shape[n]
        nx, nw, nb = ctx.needs_input_grad
        gyp = gy.reshape(N, Co, P).transpose(2, 0, 1)                # (P, N, Co)
        gx = gw = gb = None
        if nx:
            gcols = np.matmul(gyp, w.reshape(P, Co, C * math.prod(kernel)))  # (P, N, CK)
            gcols = gcols.transpose(1, 2, 0).reshape((N, C) + tuple(kernel) + tuple(outs))
            gx = K.col2im(gcols, x_shape, kernel, stride, pads, (1,) * n)
        if nw:
            gw = np.matmul(gyp.transpose(0, 2, 1), ctx.cols).reshape(w.shape)  # (P, Co, CK)
        if nb and ctx.has_bias:
            gb = gy.sum(axis=0)                                      # (Co, O...)
        ctx.cols = None
        return gx, gw, gb


def _add_bias_positions(y, b):
    if b is not None:
        y += b                                                       # (Co, O...) per position
    return y
