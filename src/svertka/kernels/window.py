"""Sliding windows over the trailing spatial axes: the one geometry conv and pooling share.

Legend: ``N`` batch, ``C`` channels, ``I*`` input sizes, ``K*`` kernel sizes, ``O*`` output
sizes, ``S*`` strides, ``D*`` dilations, ``(lo, hi)`` padding pairs per spatial axis. All
functions are N-d: the number of spatial axes is ``len(kernel)``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided


def out_size(size, k, stride=1, lo=0, hi=0, dilation=1, ceil_mode=False):
    """Output length along one axis: ``floor((i + lo + hi - d(k-1) - 1) / s) + 1``.

    With ``ceil_mode`` the division rounds up, but (as in torch) the last window must start
    inside the input or the low padding, not in the high padding.

    >>> out_size(32, 5)                      # 'valid' 5-tap conv on 32 samples
    28
    >>> out_size(7, 3, stride=2, lo=1, hi=1)
    4
    >>> out_size(6, 2, stride=2, ceil_mode=True), out_size(5, 2, stride=2, ceil_mode=True)
    (3, 3)
    >>> out_size(2, 3, stride=2, ceil_mode=True)   # a window larger than the input, as torch
    1
    """
    span = dilation * (k - 1) + 1
    room = size + lo + hi - span
    if ceil_mode:
        o = -(-room // stride) + 1
        if (o - 1) * stride >= size + lo:
            o -= 1
    else:
        o = room // stride + 1
    return max(o, 0)


def out_shape(spatial, kernel, stride, pads, dilation, ceil_mode=False):
    """``out_size`` over every spatial axis; ``pads`` is a sequence of ``(lo, hi)`` pairs."""
    return tuple(out_size(i, k, s, lo, hi, d, ceil_mode)
                 for i, k, s, (lo, hi), d in zip(spatial, kernel, stride, pads, dilation))


def pad_constant(x, pads, value=0.0):
    """Pad the trailing ``len(pads)`` axes of ``x`` by ``(lo, hi)`` pairs (non-negative).

    Returns ``x`` itself when there is nothing to pad (no copy).
    """
    if not any(lo or hi for lo, hi in pads):
        return x
    lead = x.ndim - len(pads)
    shape = x.shape[:lead] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[lead:], pads))
    out = np.full(shape, value, dtype=x.dtype)
    inner = (slice(None),) * lead + tuple(slice(lo, lo + n)
                                          for n, (lo, _) in zip(x.shape[lead:], pads))
    out[inner] = x
    return out


def window_view(xp, kernel, stride, dilation, out=None):
    """A read-only strided view ``(..., O1, .., On, K1, .., Kn)`` of the windows of ``xp``.

    ``xp`` is already padded. No data is copied: element ``[..., o, k]`` is
    ``xp[..., o * s + k * d]`` per spatial axis. ``out`` may give the output sizes when the
    caller computed them (with ``ceil_mode`` the windows may then overhang the end of ``xp``,
    so the caller must have padded enough).
    """
    n = len(kernel)
    lead = xp.shape[:-n]
    spatial = xp.shape[-n:]
    if out is None:
        out = out_shape(spatial, kernel, stride, [(0, 0)] * n, dilation)
    lead_strides = xp.strides[:-n]
    sp_strides = xp.strides[-n:]
    shape = lead + tuple(out) + tuple(kernel)
    strides = (lead_strides + tuple(st * s for st, s in zip(sp_strides, stride))
               + tuple(st * d for st, d in zip(sp_strides, dilation)))
    return as_strided(xp, shape=shape, strides=strides, writeable=False)
