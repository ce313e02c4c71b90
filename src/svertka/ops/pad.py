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
