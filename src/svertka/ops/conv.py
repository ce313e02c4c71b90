"""Convolution ops: forward and backward side by side, each pass one call into the plan of
``kernels/conv/`` (``kernels/conv/plan.py``).

The backward of a convolution is made of the other convolutions (as in Chainer and JAX):
``gx`` of a convolution is a transposed convolution and ``gw`` a correlation of the input
with ``gy``; a transposed convolution's forward is the input gradient and its backward the
forward plus the weight gradient with the roles of input and output swapped. Which
algorithm and path computes them, and what the forward keeps for the backward (the opaque
``saved`` state), is the plan's business. Bias is added by the forward entry of the
convolution and outside the core for the transposed one; its gradient is ``gy`` summed over
the batch and the spatial axes.

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
        if ctx.needs_input_grad[1]:          # gw may use what the forward keeps (opaque)
            y, ctx.saved = K.conv_forward(x, w, stride, pads, dilation, groups, keep=True,
                                          bias=b)
        else:
            y, ctx.saved = K.conv_forward(x, w, stride, pads, dilation, groups, bias=b), None
        ctx.save_for_backward(x, w)
        return y                                          # bias added by conv_forward

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        saved, ctx.saved = ctx.saved, None
        gx, gw = K.conv_backward(gy, x, w, stride, pads, dilation, groups, nx, nw, saved)
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
        y = K.conv_transpose_forward(x, w, stride, pads, dilation, groups, out)
        return _add_bias(y, b)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        gx, gw = K.conv_transpose_backward(gy, x, w, stride, pads, dilation, groups, nx, nw)
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
