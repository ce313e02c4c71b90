"""The implicit-GEMM algorithm: one GEMM per kernel offset, accumulated; no column matrix.

At stride 1 the operand of a kernel offset is a contiguous slice of the flattened padded
input (``geometry.flat_grid``), so nothing is copied; at larger strides each offset's slab is
copied into one reused buffer (a ``prod(K)``-th of the column matrix). Needs ``prod(K)``
times less scratch memory than im2col.
"""

from __future__ import annotations

import math

import numpy as np

from svertka.kernels import gemm
from svertka.kernels.conv.geometry import (
    crop,
    flat_grid,
    from_grid,
    offset_slices,
    padded_shape,
    to_grid,
)
from svertka.kernels.window import pad_constant

__all__ = ["forward", "input_grad", "weight_grad"]


def forward(x, w, stride, pads, dilation, groups, outs):
    """One GEMM per kernel offset, accumulated: ``y += W_k @ x_k``; no column matrix.

    With stride 1 ``x_k`` is a contiguous slice of the flattened padded input (see
    ``flat_grid``), so nothing is copied; with larger strides each offset's slab is copied
    into one reused ``(N, G, Cg, P)`` buffer (a ninth of a 3x3 column matrix).
    """
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    Cog = Co // groups
    xp = pad_constant(x, pads)                                       # (N, C, Ip...)
    padded = xp.shape[2:]
    wk = np.moveaxis(w.reshape((groups, Cog, Cg) + kernel), (0, 1, 2), (-3, -2, -1))
    wk = np.ascontiguousarray(wk).reshape((-1, groups, Cog, Cg))    # (K, G, Cog, Cg)
    dtype = np.result_type(x, w)
    unit = all(s == 1 for s in stride)
    if unit:
        L, shifts = flat_grid(padded, outs, kernel, dilation)
        flat = xp.reshape(N, groups, Cg, math.prod(padded))         # (N, G, Cg, Lp)
        operands = (flat[..., s:s + L] for s in shifts)              # (N, G, Cg, L) views
        P = L
    else:
        P = math.prod(outs)
        buf = np.empty((N, C) + outs, dtype=x.dtype)
        operands = (_copied(buf, xp, offs, stride, dilation, outs).reshape(N, groups, Cg, P)
                    for offs in np.ndindex(*kernel))
    acc = np.empty((N, groups, Cog, P), dtype=dtype)                 # (N, G, Cog, P)
    tmp = np.empty_like(acc)
    for i, xs in enumerate(operands):
        if i == 0:
            gemm.matmul(wk[0], xs, out=acc)
        else:
            gemm.matmul(wk[i], xs, out=tmp)
            acc += tmp
    if unit:
        return from_grid(acc.reshape(N, Co, P), padded, outs)
    return acc.reshape((N, Co) + outs)


def input_grad(gy, w, x_shape, stride, pads, dilation, groups):
    """One GEMM ``W_k^T @ gy`` per kernel offset, added into the offset's slab of ``gx``.

    With stride 1 the slabs are contiguous slices of the flattened padded ``gx`` (``gy``
    placed on the padded grid first); otherwise strided slabs (col2im fused with the GEMMs).
    """
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    Cg = w.shape[1]
    Cog = Co // groups
    C = x_shape[1]
    dtype = np.result_type(gy, w)
    padded = padded_shape(x_shape, pads)
    gxp = np.zeros(padded, dtype=dtype)                              # (N, C, Ip...)
    wk = np.moveaxis(w.reshape((groups, Cog, Cg) + kernel), (0, 1, 2), (-3, -1, -2))
    wk = np.ascontiguousarray(wk).reshape((-1, groups, Cg, Cog))    # (K, G, Cg, Cog)
    if all(s == 1 for s in stride):
        L, shifts = flat_grid(padded[2:], outs, kernel, dilation)
        gyg = to_grid(gy, padded[2:], L).reshape(N, groups, Cog, L)  # (N, G, Cog, L)
        flat = gxp.reshape(N, groups, Cg, -1)                        # (N, G, Cg, Lp)
        tmp = np.empty((N, groups, Cg, L), dtype=dtype)
        for i, s in enumerate(shifts):
            gemm.matmul(wk[i], gyg, out=tmp)
            flat[..., s:s + L] += tmp
        return crop(gxp, x_shape, pads)
    P = math.prod(outs)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    tmp = np.empty((N, groups, Cg, P), dtype=dtype)
    for i, offs in enumerate(np.ndindex(*kernel)):
        gemm.matmul(wk[i], gym, out=tmp)                             # (N, G, Cg, P)
        gxp[offset_slices(offs, stride, dilation, outs)] += tmp.reshape((N, C) + outs)
    return crop(gxp, x_shape, pads)


def weight_grad(x, gy, w_shape, stride, pads, dilation, groups):
    """One GEMM ``gy @ x_k^T`` per kernel offset (summed over the batch); no column matrix."""
    kernel = tuple(w_shape[2:])
    N, Co = gy.shape[:2]
    C = x.shape[1]
    outs = tuple(gy.shape[2:])
    Cg = w_shape[1]
    Cog = Co // groups
    xp = pad_constant(x, pads)
    padded = xp.shape[2:]
    gw = np.empty((math.prod(kernel), groups, Cog, Cg), dtype=np.result_type(x, gy))
    if all(s == 1 for s in stride):
        L, shifts = flat_grid(padded, outs, kernel, dilation)
        gyg = to_grid(gy, padded, L).reshape(N, groups, Cog, L)     # (N, G, Cog, L)
        flat = xp.reshape(N, groups, Cg, math.prod(padded))         # (N, G, Cg, Lp)
        for i, s in enumerate(shifts):
            gw[i] = gemm.matmul(gyg, flat[..., s:s + L].transpose(0, 1, 3, 2)).sum(axis=0)
    else:
        P = math.prod(outs)
        gym = gy.reshape(N, groups, Cog, P)
        buf = np.empty((N, C) + outs, dtype=x.dtype)
        for i, offs in enumerate(np.ndindex(*kernel)):
            xs = _copied(buf, xp, offs, stride, dilation, outs).reshape(N, groups, Cg, P)
            gw[i] = gemm.matmul(gym, xs.transpose(0, 1, 3, 2)).sum(axis=0)
    gw = np.moveaxis(gw.reshape(kernel + (groups, Cog, Cg)), tuple(range(len(kernel))),
                     tuple(range(3, 3 + len(kernel))))                # (G, Cog, Cg, K...)
    return np.ascontiguousarray(gw).reshape(w_shape)


def _copied(buf, xp, offs, stride, dilation, outs):
    np.copyto(buf, xp[offset_slices(offs, stride, dilation, outs)])
    return buf

