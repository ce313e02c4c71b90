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

Gradients of gradients (``backward_graph``): a convolution ``conv(x, w)``, its input gradient
``conv_transpose(gy, w)`` and its weight gradient ``ConvWeightGrad(x, gy)`` are bilinear maps
whose partial adjoints are one another, so each one's backward is made of the other two and
the family is closed under differentiation (third and higher derivatives work). The locally
connected layer has the same closed family (``LocallyConnectedNd`` and its input and weight
gradients); ``Unfold`` and ``Fold`` are each other's adjoint.

Arguments arrive validated and normalised by ``nn.functional`` (tuples per spatial axis,
``pads`` as ``(lo, hi)`` pairs, a batch axis present).
"""

from __future__ import annotations

import math

import numpy as np

from svertka.autograd.function import Function
from svertka.kernels import conv as K
from svertka.kernels.channels import add_per_channel_
from svertka.kernels.gemm import single_threaded_blas

__all__ = ["ConvNd", "ConvTransposeNd", "ConvWeightGrad", "Unfold", "Fold", "LocallyConnectedNd",
           "LocallyConnectedInputGrad", "LocallyConnectedWeightGrad"]


def _add_bias(y, b):
    if b is not None:
        add_per_channel_(y, b)                           # y is a fresh array: add in place
    return y


def _bias_grad(gy):
    """``gy`` summed over all axes but the channels: ``(Co,)``. On a C-contiguous float
    ``gy`` the positions are summed by a matrix-vector product with ones (a BLAS gemv,
    3-4x faster than NumPy's reduction over axes (0, 2, 3): 81 -> 19 us for LeNet-5's
    (64, 6, 28, 28)), then the batch. The gemv runs on one thread: woken, the BLAS's threads
    spin and take the cores from the threaded passes that follow (the lecture CNN's step
    took 40% longer)."""
    N, Co = gy.shape[:2]
    if gy.dtype.kind != "f" or gy.size == 0 or gy.ndim < 3 or not gy.flags.c_contiguous:
        return gy.sum(axis=(0,) + tuple(range(2, gy.ndim)))
    rows = gy.reshape(N * Co, -1)                                   # (N*Co, P)
    with single_threaded_blas():
        per_image = np.matmul(rows, np.ones(rows.shape[1], dtype=gy.dtype))  # (N*Co,)
    return per_image.reshape(N, Co).sum(axis=0)                     # (Co,)


def _bias_grad_graph(gy):
    return gy.sum(dim=(0,) + tuple(range(2, gy.ndim)))    # (Co,), a graph Tensor


class ConvNd(Function):
    """``y = conv(x, w) + b`` with ``x`` ``(N, C, I...)``, ``w`` ``(Co, C/G, K...)``.

    ``out`` (optional) gives the output's spatial sizes when they are smaller than the usual
    formula's: the input gradient of a transposed convolution whose ``output_padding`` is
    not smaller than its stride is such a cropped convolution.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups, out=None):
        ctx.params = (stride, pads, dilation, groups)
        ctx.has_bias = b is not None
        if ctx.needs_input_grad[1]:          # gw may use what the forward keeps (opaque)
            y, ctx.saved = K.conv_forward(x, w, stride, pads, dilation, groups, out=out,
                                          keep=True, bias=b)
        else:
            y, ctx.saved = K.conv_forward(x, w, stride, pads, dilation, groups, out=out,
                                          bias=b), None
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

    @staticmethod
    def backward_graph(ctx, gy):
        """``gx = conv_transpose(gy, w)``, ``gw = ConvWeightGrad(x, gy)``: recorded ops."""
        K.release(ctx.saved)
        ctx.saved = None
        x, w = ctx.saved_graph()
        stride, pads, dilation, groups = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        params = dict(stride=stride, pads=pads, dilation=dilation, groups=groups)
        gx = (ConvTransposeNd.apply(gy, w, None, out=tuple(x.shape[2:]), **params)
              if nx else None)
        gw = ConvWeightGrad.apply(x, gy, w_shape=tuple(w.shape), **params) if nw else None
        gb = _bias_grad_graph(gy) if nb and ctx.has_bias else None
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

    @staticmethod
    def backward_graph(ctx, gy):
        """``gx = conv(gy, w)`` (cropped to ``x``'s sizes), ``gw = ConvWeightGrad(gy, x)``:
        the transposed convolution is the input gradient of the convolution that maps ``y``
        to ``x``, so its gradients are that convolution and its weight gradient."""
        x, w = ctx.saved_graph()
        stride, pads, dilation, groups = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        params = dict(stride=stride, pads=pads, dilation=dilation, groups=groups)
        gx = ConvNd.apply(gy, w, None, out=tuple(x.shape[2:]), **params) if nx else None
        gw = ConvWeightGrad.apply(gy, x, w_shape=tuple(w.shape), **params) if nw else None
        gb = _bias_grad_graph(gy) if nb and ctx.has_bias else None
        return gx, gw, gb


class ConvWeightGrad(Function):
    """The weight gradient of ``conv(x, w)`` as an op: ``gw = ConvWeightGrad(x, gy)``,
    ``x`` ``(N, C, I...)``, ``gy`` ``(N, Co, O...)``, ``gw`` ``(Co, C/G, K...)`` (``w_shape``).

    Bilinear: ``<ConvWeightGrad(x, gy), G> = <conv(x, G), gy>``, so with an upstream ``G`` the
    gradient for ``x`` is ``conv_transpose(gy, G)`` and for ``gy`` ``conv(x, G)``. Its forward
    is the kernel that the convolution's first-order backward runs (``conv_weight_grad``).
    """

    @staticmethod
    def forward(ctx, x, gy, *, w_shape, stride, pads, dilation, groups):
        ctx.params = (stride, pads, dilation, groups)
        ctx.save_for_backward(x, gy)
        return K.conv_weight_grad(x, gy, tuple(w_shape), stride, pads, dilation, groups)

    @staticmethod
    def backward(ctx, g):
        x, gy = ctx.saved_tensors
        stride, pads, dilation, groups = ctx.params
        nx, ngy = ctx.needs_input_grad
        gx = (K.conv_input_grad(gy, g, x.shape, stride, pads, dilation, groups)
              if nx else None)
        ggy = (K.conv_forward(x, g, stride, pads, dilation, groups, out=gy.shape[2:])
               if ngy else None)
        return gx, ggy

    @staticmethod
    def backward_graph(ctx, g):
        """``gx = conv_transpose(gy, g)`` and ``ggy = conv(x, g)`` as recorded ops."""
        x, gy = ctx.saved_graph()
        stride, pads, dilation, groups = ctx.params
        nx, ngy = ctx.needs_input_grad
        params = dict(stride=stride, pads=pads, dilation=dilation, groups=groups)
        gx = (ConvTransposeNd.apply(gy, g, None, out=tuple(x.shape[2:]), **params)
              if nx else None)
        ggy = ConvNd.apply(x, g, None, out=tuple(gy.shape[2:]), **params) if ngy else None
        return gx, ggy


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

    @staticmethod
    def backward_graph(ctx, gy):
        """The adjoint of im2col is col2im: ``Fold`` of ``gy``, recorded."""
        x_shape, kernel, stride, pads, dilation = ctx.params
        return Fold.apply(gy, output_size=tuple(x_shape[2:]), kernel=kernel, stride=stride,
                          pads=pads, dilation=dilation)


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

    @staticmethod
    def backward_graph(ctx, gy):
        """The adjoint of col2im is im2col: ``Unfold`` of ``gy``, recorded."""
        x_shape, kernel, stride, pads, dilation, cols_shape = ctx.params
        return Unfold.apply(gy, kernel=kernel, stride=stride, pads=pads, dilation=dilation)


def _lc_columns(x, kernel, stride, pads, outs):
    """The input's blocks at the ``P`` output positions, ``(P, N, C*prod(K))``."""
    N, C = x.shape[:2]
    cols = K.im2col(x, kernel, stride, pads, (1,) * len(kernel), outs)  # (N, C, K..., O...)
    CK = C * math.prod(kernel)
    return np.ascontiguousarray(cols.reshape(N, CK, math.prod(outs)).transpose(2, 0, 1))


def _lc_apply(cols, w, N, outs):
    """``y`` ``(N, Co, O...)`` from the columns ``(P, N, CK)`` and ``w`` ``(O..., Co, C, K...)``."""
    P, CK = cols.shape[0], cols.shape[2]
    Co = w.shape[len(outs)]
    wm = w.reshape(P, Co, CK)                                        # (P, Co, CK)
    y = np.matmul(cols, wm.transpose(0, 2, 1))                       # (P, N, Co)
    return np.ascontiguousarray(y.transpose(1, 2, 0)).reshape((N, Co) + tuple(outs))


def _lc_input_grad(gy, w, x_shape, stride, pads):
    """``gx`` of the locally connected layer: per position ``gy @ w``, then col2im."""
    n = len(x_shape) - 2
    kernel, outs = w.shape[-n:], w.shape[:n]
    N, C = x_shape[:2]
    P = math.prod(outs)
    Co = w.shape[n]
    gyp = gy.reshape(N, Co, P).transpose(2, 0, 1)                    # (P, N, Co)
    gcols = np.matmul(gyp, w.reshape(P, Co, C * math.prod(kernel)))  # (P, N, CK)
    gcols = gcols.transpose(1, 2, 0).reshape((N, C) + tuple(kernel) + tuple(outs))
    return K.col2im(gcols, tuple(x_shape), kernel, stride, pads, (1,) * n)


def _lc_weight_grad(cols, gy, w_shape):
    """``gw`` of the locally connected layer from its columns ``(P, N, CK)``."""
    P, N = cols.shape[:2]
    Co = gy.shape[1]
    gyp = gy.reshape(N, Co, P).transpose(2, 0, 1)                    # (P, N, Co)
    return np.matmul(gyp.transpose(0, 2, 1), cols).reshape(w_shape)  # (P, Co, CK)


class LocallyConnectedNd(Function):
    """Unshared convolution: one weight per output position.

    ``x`` ``(N, C, I...)``, ``w`` ``(O1, .., On, Co, C, K1, .., Kn)``, ``b`` ``(Co, O...)``.
    One GEMM batched over the ``P`` positions: ``(P, N, CK) @ (P, CK, Co) -> (P, N, Co)``.
    Its gradients are ``LocallyConnectedInputGrad(gy, w)`` and
    ``LocallyConnectedWeightGrad(x, gy)``, bilinear ops of the same closed family.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads):
        n = x.ndim - 2
        kernel, outs = w.shape[-n:], w.shape[:n]
        ctx.params = (stride, pads, x.shape)
        cols = _lc_columns(x, kernel, stride, pads, outs)            # (P, N, CK)
        y = _lc_apply(cols, w, x.shape[0], outs)
        ctx.has_bias = b is not None
        ctx.cols = cols
        ctx.save_for_backward(x, w)
        return _add_bias_positions(y, b)

    @staticmethod
    def backward(ctx, gy):
        x, w = ctx.saved_tensors
        stride, pads, x_shape = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        gx = _lc_input_grad(gy, w, x_shape, stride, pads) if nx else None
        gw = None
        if nw:
            n = x.ndim - 2
            cols = ctx.cols                  # rebuilt when a retained graph runs again
            if cols is None:
                cols = _lc_columns(x, w.shape[-n:], stride, pads, w.shape[:n])
            gw = _lc_weight_grad(cols, gy, w.shape)
        gb = gy.sum(axis=0) if nb and ctx.has_bias else None        # (Co, O...)
        ctx.cols = None
        return gx, gw, gb

    @staticmethod
    def backward_graph(ctx, gy):
        """``gx = LocallyConnectedInputGrad(gy, w)``, ``gw = LocallyConnectedWeightGrad(x, gy)``."""
        x, w = ctx.saved_graph()
        stride, pads, x_shape = ctx.params
        nx, nw, nb = ctx.needs_input_grad
        gx = (LocallyConnectedInputGrad.apply(gy, w, x_shape=tuple(x_shape), stride=stride,
                                              pads=pads) if nx else None)
        gw = (LocallyConnectedWeightGrad.apply(x, gy, w_shape=tuple(w.shape), stride=stride,
                                               pads=pads) if nw else None)
        gb = gy.sum(dim=0) if nb and ctx.has_bias else None
        return gx, gw, gb


class LocallyConnectedInputGrad(Function):
    """``gx`` of ``LocallyConnectedNd`` as an op of ``(gy, w)``; ``x_shape`` its shape.

    ``<gx(gy, w), G> = <LocallyConnectedNd(G, w), gy>``: the gradient for ``gy`` is the layer
    applied to ``G``, the one for ``w`` its weight gradient ``LocallyConnectedWeightGrad(G, gy)``.
    """

    @staticmethod
    def forward(ctx, gy, w, *, x_shape, stride, pads):
        ctx.params = (tuple(x_shape), stride, pads)
        ctx.save_for_backward(gy, w)
        return _lc_input_grad(gy, w, x_shape, stride, pads)

    @staticmethod
    def backward(ctx, g):
        gy, w = ctx.saved_tensors
        x_shape, stride, pads = ctx.params
        n = len(x_shape) - 2
        cols = _lc_columns(g, w.shape[-n:], stride, pads, w.shape[:n])  # (P, N, CK)
        ngy, nw = ctx.needs_input_grad
        ggy = _lc_apply(cols, w, x_shape[0], w.shape[:n]) if ngy else None
        gw = _lc_weight_grad(cols, gy, w.shape) if nw else None
        return ggy, gw

    @staticmethod
    def backward_graph(ctx, g):
        """``ggy = LocallyConnectedNd(g, w)``, ``gw = LocallyConnectedWeightGrad(g, gy)``."""
        gy, w = ctx.saved_graph()
        x_shape, stride, pads = ctx.params
        ngy, nw = ctx.needs_input_grad
        ggy = LocallyConnectedNd.apply(g, w, None, stride=stride, pads=pads) if ngy else None
        gw = (LocallyConnectedWeightGrad.apply(g, gy, w_shape=tuple(w.shape), stride=stride,
                                               pads=pads) if nw else None)
        return ggy, gw


class LocallyConnectedWeightGrad(Function):
    """``gw`` of ``LocallyConnectedNd`` as an op of ``(x, gy)``; ``w_shape`` its shape.

    ``<gw(x, gy), G> = <LocallyConnectedNd(x, G), gy>``: the gradient for ``x`` is
    ``LocallyConnectedInputGrad(gy, G)``, the one for ``gy`` the layer applied with ``G``.
    """

    @staticmethod
    def forward(ctx, x, gy, *, w_shape, stride, pads):
        n = x.ndim - 2
        ctx.params = (tuple(w_shape), stride, pads)
        ctx.save_for_backward(x, gy)
        cols = _lc_columns(x, w_shape[-n:], stride, pads, w_shape[:n])   # (P, N, CK)
        return _lc_weight_grad(cols, gy, tuple(w_shape))

    @staticmethod
    def backward(ctx, g):
        x, gy = ctx.saved_tensors
        w_shape, stride, pads = ctx.params
        n = x.ndim - 2
        nx, ngy = ctx.needs_input_grad
        gx = _lc_input_grad(gy, g, x.shape, stride, pads) if nx else None
        ggy = (_lc_apply(_lc_columns(x, w_shape[-n:], stride, pads, w_shape[:n]), g,
                         x.shape[0], w_shape[:n]) if ngy else None)
        return gx, ggy

    @staticmethod
    def backward_graph(ctx, g):
        """``gx = LocallyConnectedInputGrad(gy, g)``, ``ggy = LocallyConnectedNd(x, g)``."""
        x, gy = ctx.saved_graph()
        w_shape, stride, pads = ctx.params
        nx, ngy = ctx.needs_input_grad
        gx = (LocallyConnectedInputGrad.apply(gy, g, x_shape=tuple(x.shape), stride=stride,
                                              pads=pads) if nx else None)
        ggy = LocallyConnectedNd.apply(x, g, None, stride=stride, pads=pads) if ngy else None
        return gx, ggy


def _add_bias_positions(y, b):
    if b is not None:
        y += b                                                       # (Co, O...) per position
    return y
