"""Per-channel operations on ``(N, C, S)`` arrays in a fast memory layout.

A per-channel value broadcast as ``(1, C, 1)`` makes NumPy run ``N * C`` short inner loops;
as one ``(C * S,)`` row against ``(N, C * S)`` it runs ``N`` long ones, 2-3x faster. Batch norm
(``ops/norm.py``) and the convolutions' bias (``kernels/conv``) use it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["per_channel", "add_per_channel_"]


def per_channel(op, a, v, out=None):
    """``op(a, v)`` for ``a (N, C, S)`` and a per-channel ``v (1, C, 1)``, as ``(N, C*S)``
    against ``v`` repeated to one ``(C*S,)`` row: NumPy then runs N long inner loops instead
    of N*C short ones (2-3x faster than broadcasting ``(1, C, 1)``). A single image
    broadcasts ``v`` as it is: the repeated row would be as large as the image itself (and
    ``np.repeat`` costs ten times the operation there).

    >>> per_channel(np.add, np.zeros((2, 2, 3)), np.array([1.0, 2.0]).reshape(1, 2, 1))[1]
    array([[1., 1., 1.],
           [2., 2., 2.]])
    """
    N, C, S = a.shape
    if N == 1:
        return op(a, v) if out is None else op(a, v, out=out)
    row = np.repeat(v.reshape(C), S) if S > 1 else v.reshape(C)
    a2 = a.reshape(N, C * S)
    if out is None:
        return op(a2, row).reshape(a.shape)
    op(a2, row, out=out.reshape(N, C * S))
    return out


def add_per_channel_(x, v):
    """``x += v`` per channel, in place, for ``x`` ``(N, C, *)`` and ``v`` ``(C,)`` (a
    convolution's bias on its fresh output); the fast layout of ``per_channel`` where ``x`` is
    C-contiguous and has positions, a broadcast add elsewhere. Returns ``x``.

    >>> add_per_channel_(np.zeros((2, 2, 1, 2)), np.array([1.0, 2.0]))[1, :, 0]
    array([[1., 1.],
           [2., 2.]])
    """
    N, C = x.shape[:2]
    v = v.astype(x.dtype, copy=False)
    if x.ndim < 3 or x.size == 0 or not x.flags.c_contiguous:
        x += v.reshape((C,) + (1,) * (x.ndim - 2))
        return x
    xr = x.reshape(N, C, -1)                                           # (N, C, S), a view
    per_channel(np.add, xr, v.reshape(1, C, 1), out=xr)
    return x
