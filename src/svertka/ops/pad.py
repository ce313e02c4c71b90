"""``Pad``: padding in one of four modes, as a differentiable op over ``kernels.pad``."""

from __future__ import annotations

import numpy as np

from svertka.autograd.function import Function
from svertka.kernels import pad as K


class Pad(Function):
    """Pad (or crop) the trailing axes; ``pads`` are ``(lo, hi)`` pairs in axis order.

    The backward is the kernel's adjoint: crop for 'constant', fold the borders back onto
    the input for 'reflect', 'replicate' and 'circular'.
    """

    @staticmethod
    def forward(ctx, x, pads=(), mode="constant", value=0.0):
        ctx.in_shape = x.shape
        ctx.pads = pads
        ctx.mode = mode
        y = K.pad(x, pads, mode, value)
        # no pads (or a plain crop) would give a view: an op's output owns its data
        return y.copy() if np.may_share_memory(y, x) else y

    @staticmethod
    def backward(ctx, gy):
        return K.pad_backward(gy, ctx.in_shape, ctx.pads, ctx.mode)

    @staticmethod
    def backward_graph(ctx, gy):
        return PadBackward.apply(gy, shape=ctx.in_shape, pads=ctx.pads, mode=ctx.mode)


class PadBackward(Function):
    """The backward of ``Pad`` as an op (crop, or fold the borders back onto ``shape``), so
    that it can be differentiated again: it is linear, and its own backward is the padding
    (with zeros for 'constant')."""

    @staticmethod
    def forward(ctx, g, shape=(), pads=(), mode="constant"):
        ctx.pads, ctx.mode = pads, mode
        gx = K.pad_backward(g, shape, pads, mode)
        return gx.copy() if np.may_share_memory(gx, g) else gx

    @staticmethod
    def backward(ctx, gy):
        return K.pad(gy, ctx.pads, ctx.mode, 0.0)

    @staticmethod
    def backward_graph(ctx, gy):
        return Pad.apply(gy, pads=ctx.pads, mode=ctx.mode, value=0.0)
