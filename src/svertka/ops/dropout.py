"""Dropout as a Function: ``y = x * noise (+ shift)`` with a noise array drawn by the caller.

``nn.functional.dropout*`` draw the Bernoulli keep-mask from ``svertka.random.get_rng()`` and
turn it into ``noise`` (kept: ``1/(1-p)``, dropped: 0; or alpha dropout's affine constants),
so this op is deterministic and its backward reuses the very mask of the forward pass.
"""

from __future__ import annotations

import math

from svertka.autograd.function import Function
from svertka.ops.elementwise import Mul
from svertka.random import get_rng

__all__ = ["Dropout", "keep_mask", "dropout_noise", "alpha_dropout_noise", "SELU_NEG_SAT"]

# -scale * alpha of SELU: the value SELU saturates to for large negative inputs; alpha dropout
# sets dropped units to it (then applies the affine correction).
SELU_NEG_SAT = 1.7580993408473766


def keep_mask(shape, p):
    """A boolean array, True with probability ``1 - p`` (a Bernoulli(1 - p) draw)."""
    return get_rng().random(shape) < 1.0 - p


def dropout_noise(keep, p, dtype):
    """Inverted dropout's multiplier: ``1/(1-p)`` where kept, 0 where dropped (all 0 at p=1)."""
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return keep.astype(dtype) * dtype.type(scale)


def alpha_dropout_noise(keep, p, dtype):
    """torch's alpha dropout: ``y = x * a * keep + b`` with
    ``a = 1 / sqrt((alpha^2 p + 1)(1 - p))`` and ``b = alpha a p + (keep - 1) alpha a``, so a
    dropped unit becomes ``-alpha a (1 - p)`` and zero mean / unit variance are kept."""
    a = 1.0 / math.sqrt((SELU_NEG_SAT ** 2 * p + 1.0) * (1.0 - p))
    k = keep.astype(dtype)
    noise = k * dtype.type(a)
    shift = (k - 1) * dtype.type(SELU_NEG_SAT * a) + dtype.type(SELU_NEG_SAT * a * p)
    return noise, shift


class Dropout(Function):
    """``x * noise + shift`` (``shift`` optional); ``noise`` broadcasts against ``x`` (feature
    dropout passes ``(N, C, 1, ...)``). Backward: ``gx = gy * noise``, the same mask."""

    @staticmethod
    def forward(ctx, x, noise=None, shift=None):
        ctx.save_for_backward(noise)
        y = x * noise
        if shift is not None:
            y += shift
        return y

    @staticmethod
    def backward(ctx, gy):
        (noise,) = ctx.saved_tensors
        return gy * noise

    @staticmethod
    def backward_graph(ctx, gy):
        """``backward`` with svertka ops on Tensors (``create_graph=True``)."""
        (noise,) = ctx.saved_tensors
        return Mul.apply(gy, noise)  # the same mask; linear in gy
