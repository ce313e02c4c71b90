"""The FFT algorithm: the convolution theorem, for the forward and the stride-1 input gradient.

Pays off for large kernels; applies with stride 1, dilation 1 and one group (the plan falls
back to im2col elsewhere and for the weight gradient).
"""

from __future__ import annotations

import math

import numpy as np

from svertka.kernels import gemm
from svertka.kernels.window import pad_constant

__all__ = ["conv_fft", "input_grad"]


def conv_fft(x, w, pads=None):
    """Cross-correlation with stride 1, dilation 1 and one group, via ``np.fft.rfftn``.

    The lectures' FFT implementation, forward only: the convolution theorem turns the sum
    over kernel offsets into a product of spectra, summed over input channels by a GEMM per
    frequency. Agrees with ``conv_forward`` to rounding.

    Args:
        x: ``(N, C, I1, .., In)``. w: ``(Co, C, K1, .., Kn)``. pads: ``(lo, hi)`` pairs.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> np.round(conv_fft(x, np.ones((1, 1, 3)), ((1, 1),)), 6)
    array([[[1., 3., 6., 9., 7.]]])
    """
    n = w.ndim - 2
    kernel = w.shape[2:]
    if pads is not None:
        x = pad_constant(x, pads)
    N, C = x.shape[:2]
    Co = w.shape[0]
    spatial = x.shape[2:]
    outs = tuple(i - k + 1 for i, k in zip(spatial, kernel))
    if min(outs, default=1) < 1:
        raise ValueError(f"conv_fft: kernel {tuple(kernel)} is larger than the padded input "
                         f"{tuple(spatial)}")
    axes = tuple(range(2, 2 + n))
    # Correlation is convolution with the flipped kernel; the full linear convolution has
    # length I + K - 1 per axis and the 'valid' part starts at K - 1.
    size = tuple(i + k - 1 for i, k in zip(spatial, kernel))
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    X = np.fft.rfftn(x, s=size, axes=axes)                           # (N, C, F...)
    W = np.fft.rfftn(wf, s=size, axes=axes)                          # (Co, C, F...)
    F = X.shape[2:]
    Xm = X.reshape(N, C, math.prod(X.shape[2:])).transpose(2, 0, 1)     # (F, N, C)
    Wm = W.reshape(Co, C, math.prod(W.shape[2:])).transpose(2, 1, 0)    # (F, C, Co)
    Y = gemm.matmul(Xm, Wm).transpose(1, 2, 0).reshape((N, Co) + F)  # (N, Co, F...)
    y = np.fft.irfftn(Y, s=size, axes=axes)
    valid = (slice(None), slice(None)) + tuple(slice(k - 1, k - 1 + o)
                                               for k, o in zip(kernel, outs))
    return np.ascontiguousarray(y[valid], dtype=x.dtype)


def input_grad(gy, w, x_shape, stride, pads, dilation, groups):
    """``gx`` with stride 1: the correlation of ``gy`` padded by ``K - 1 - lo`` / ``K - 1 -
    hi`` with the flipped, transposed weight, by FFT. Only for stride 1, dilation 1, one
    group and padding at most ``K - 1`` (``plan`` checks)."""
    n = w.ndim - 2
    kernel = w.shape[2:]
    wt = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n].swapaxes(0, 1)
    gpads = tuple((k - 1 - lo, k - 1 - hi) for (lo, hi), k in zip(pads, kernel))
    return conv_fft(gy, wt, gpads)      # (N, C, I...): O + K - 1 - lo - hi = I at stride 1

