"""Depthwise convolutions at stride 1, over cache-sized blocks of (image, channel) rows.

Each row is one channel of one image, a flattened padded plane; a kernel offset reads one
contiguous slice of it (``geometry.flat_grid``), so a block's columns are ``prod(K)`` long
copies and its GEMMs are ``(1, K) @ (K, L)`` per row (forward) or ``(K, L) @ (L, 1)`` (weight
gradient). The columns stay in cache and are never written out whole, and each thread pads
its blocks into its own buffer (no padded copy of the whole input). The backward builds the
columns of the padded ``gy`` once for both gradients (``backward``).

Small feature maps (any stride) take ``forward_taps`` / ``backward_taps`` instead: a
multiply-add per kernel offset over channels-last copies, where each offset touches only the
outputs whose input lies inside the image (no padded copy), and the inner loops run over the
channels rather than over a row of a few pixels.
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np

from svertka.kernels import gemm
from svertka.kernels.conv.geometry import flat_grid, onto_grid
from svertka.kernels.parallel import parallel

__all__ = ["forward", "weight_grad", "backward", "forward_taps", "backward_taps"]


def _row_blocks(x, kernel, pads, dilation, outs, dtype, consume, block_bytes):
    """Drive the blocked depthwise passes: for every block of rows ``r0:r1`` of ``x`` seen as
    ``(N*C, I...)``, pad the block into a buffer of the thread (whose border stays zero from
    one block to the next), fill the block's columns ``(B, K, L)`` from it and call
    ``consume(r0, r1, cols)`` (at most ``block_bytes`` of columns each); the blocks are split
    over ``parallel``. No padded copy of the whole input is made. Returns the padded
    spatial shape and ``L``."""
    N, C = x.shape[:2]
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))
    R = N * C
    src = x.reshape((R,) + x.shape[2:])                              # (R, I...)
    L, shifts = flat_grid(padded, outs, kernel, dilation)
    KK = len(shifts)
    step = max(1, block_bytes // (KK * L * np.dtype(dtype).itemsize))

    def part(span):                                                  # rows span
        m = min(step, span.stop - span.start)
        cols = np.empty((m, KK, L), dtype)
        xb = np.zeros((m, math.prod(padded)), dtype)                 # (B, Lp)
        for r0 in range(span.start, span.stop, step):
            r1 = min(span.stop, r0 + step)
            c, b = cols[:r1 - r0], xb[:r1 - r0]
            onto_grid(b, src[r0:r1], padded, pads)
            for k, s in enumerate(shifts):
                c[:, k] = b[:, s:s + L]
            consume(r0, r1, c)

    if R:
        with gemm.single_threaded_blas():
            parallel(part, R, R * KK * L * np.dtype(dtype).itemsize)
    return padded, L


def _thread_buffer(cache, shape, dtype, fill=np.empty):
    """The first ``shape[0]`` rows of a buffer private to the calling thread, kept in
    ``cache`` (a dict made per call) and grown when too small."""
    buf = cache.get(threading.get_ident())
    if buf is None or buf.shape[0] < shape[0]:
        buf = cache[threading.get_ident()] = fill(shape, dtype)
    return buf[:shape[0]]


def _grid_dot(cache, cols, rows, padded, pads, out):
    """``out[r] = cols[r] @ g[r]`` ``(B, K, 1)``, where ``g`` is ``rows`` ``(B, J...)``
    placed on the flattened padded grid at ``pads`` (zeros elsewhere), in a buffer of the
    thread (``cache``) whose zeros stay from one block to the next."""
    g = _thread_buffer(cache, (cols.shape[0], math.prod(padded)), out.dtype, np.zeros)
    onto_grid(g, rows, padded, pads)
    np.matmul(cols, g[:, :cols.shape[2], None], out=out)


def forward(x, w, pads, dilation, outs, block_bytes, dot=None, bias=None):
    """Depthwise forward at stride 1 over cache-sized blocks of columns (``block_bytes``
    each): ``y[row] = w[c] @ cols[row]`` per (image, channel) row.

    With ``dot`` (an array ``(N, C, J...)`` with ``J <= padded`` sizes, placed at the origin
    of the padded grid of ``x``, zeros elsewhere) also returns ``cols[row] @ dot[row]``
    ``(N*C, K, 1)`` from the same columns (``backward`` uses it for the
    weight gradient). ``bias`` ``(C,)`` is added as the outputs are copied off the grid."""
    N, C = x.shape[:2]
    kernel = tuple(w.shape[2:])
    KK = math.prod(kernel)
    dtype = np.result_type(x, w)
    taps = np.broadcast_to(w.reshape(1, C, 1, KK).astype(dtype, copy=False), (N, C, 1, KK))
    taps = taps.reshape(N * C, 1, KK)                                # (R, 1, K): small copy
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))
    y = np.empty((N * C,) + tuple(outs), dtype)
    crop = (slice(None),) + tuple(slice(0, o) for o in outs)
    grids = {}                                     # one (B, 1, prod(padded)) buffer per thread
    if bias is not None:
        rows_bias = np.broadcast_to(bias.reshape(1, C), (N, C)).reshape(
            (N * C,) + (1,) * len(outs))                             # (R, 1...): small copy
    if dot is not None:
        dot_rows = dot.reshape((N * C,) + dot.shape[2:])             # (R, J...)
        dot_pads = tuple((0, p - j) for p, j in zip(padded, dot.shape[2:]))
        dot_grids = {}                             # one (B, prod(padded)) buffer per thread
        partial = np.empty((N * C, KK, 1), np.result_type(dtype, dot))

    def consume(r0, r1, cols):
        b, L = r1 - r0, cols.shape[2]
        acc = _thread_buffer(grids, (b, 1, math.prod(padded)), dtype)
        np.matmul(taps[r0:r1], cols, out=acc[:, :, :L])              # (B, 1, L)
        if bias is None:
            y[r0:r1] = acc[:, 0].reshape((b,) + padded)[crop]        # outputs off the grid
        else:
            np.add(acc[:, 0].reshape((b,) + padded)[crop], rows_bias[r0:r1], out=y[r0:r1])
        if dot is not None:
            _grid_dot(dot_grids, cols, dot_rows[r0:r1], padded, dot_pads, partial[r0:r1])

    _row_blocks(x, kernel, pads, dilation, tuple(outs), dtype, consume, block_bytes)
    y = y.reshape((N, C) + tuple(outs))
    return y if dot is None else (y, partial)


def weight_grad(x, gy, w_shape, pads, dilation, block_bytes):
    """Depthwise weight gradient at stride 1 over cache-sized blocks of columns: per row,
    ``cols[row] @ gy[row]`` (``gy`` placed on the padded grid), summed over the batch."""
    N, C = x.shape[:2]
    kernel = tuple(w_shape[2:])
    outs = tuple(gy.shape[2:])
    KK = math.prod(kernel)
    dtype = np.result_type(x, gy)
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))
    # gy on the padded grid (zeros between its rows), one block at a time
    hi = tuple((0, p - o) for p, o in zip(padded, outs))
    gy_rows = gy.reshape((N * C,) + outs)
    grids = {}                                     # one (B, prod(padded)) buffer per thread
    partial = np.empty((N * C, KK, 1), dtype)

    def consume(r0, r1, cols):
        _grid_dot(grids, cols, gy_rows[r0:r1], padded, hi, partial[r0:r1])  # (B, K, 1)

    _row_blocks(x, kernel, pads, dilation, outs, dtype, consume, block_bytes)
    return partial.reshape(N, C, KK).sum(axis=0).reshape(w_shape)


def backward(gy, x, w, pads, dilation, block_bytes):
    """``(gx, gw)`` of a stride-1 depthwise ``conv_forward`` in one blocked pass.

    ``gx`` is the correlation of ``gy`` padded by ``d(K-1) - lo`` / ``d(K-1) - hi`` with the
    flipped kernel (the input gradient as a convolution); its columns
    ``G[k', i] = gy_pad[i + d k']``
    also give ``gw[k] = sum_i x[i] G[K-1-k, i]`` (``i = o + d k - lo`` over the input's
    positions), so ``gw`` is one more GEMM per row with ``x`` placed on that grid. The plan
    (``depthwise_backward_applies``) says where it applies.

    >>> x, w, gy = np.ones((1, 1, 4)), np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 4))
    >>> gx, gw = backward(gy, x, w, ((1, 1),), (1,), 2**20)
    >>> gx, gw
    (array([[[3., 6., 6., 5.]]]), array([[[3., 4., 3.]]]))
    """
    n = w.ndim - 2
    N, C = x.shape[:2]
    kernel = tuple(w.shape[2:])
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    gpads = tuple((d * (k - 1) - lo, i - o + lo) for (lo, _), k, d, i, o
                  in zip(pads, kernel, dilation, x.shape[2:], gy.shape[2:]))
    gx, partial = forward(gy, wf, gpads, dilation, tuple(x.shape[2:]), block_bytes,
                                             dot=x)
    gw = partial.reshape(N, C, math.prod(kernel)).sum(axis=0)[:, ::-1]
    return gx, np.ascontiguousarray(gw).reshape(w.shape)



# ------------------------------------------------------------------------ per-offset taps

@functools.lru_cache(maxsize=256)
def _tap_slices(in_sizes, outs, kernel, stride, pads, dilation):
    """``(k, out_slices, in_slices, full)`` for every kernel offset (flat index ``k``) that
    reads at least one input position: output ``o`` of an axis reads input
    ``o * s + k * d - lo``, kept where that lies in ``[0, I)``; ``full`` when the offset
    reaches every output. Offsets reaching every output come first. (Cached: a network
    asks for the same few geometries at every step; the arguments are tuples.)"""
    taps = []
    for k, offs in enumerate(np.ndindex(*kernel)):
        o_sl, i_sl = [], []
        for i, o, s, d, (lo, _), j in zip(in_sizes, outs, stride, dilation, pads, offs):
            o0 = max(0, -(-(lo - j * d) // s))
            o1 = min(o, (i - 1 + lo - j * d) // s + 1)
            if o1 <= o0:
                break
            i0 = o0 * s + j * d - lo
            o_sl.append(slice(o0, o1))
            i_sl.append(slice(i0, i0 + (o1 - o0 - 1) * s + 1, s))
        else:
            full = all(sl.start == 0 and sl.stop == o for sl, o in zip(o_sl, outs))
            taps.append((k, (slice(None),) + tuple(o_sl), (slice(None),) + tuple(i_sl), full))
    taps.sort(key=lambda t: not t[3])
    return tuple(taps)


def _last(a, dtype):
    """``a`` ``(N, C, S...)`` as a C-contiguous channels-last ``(N, S..., C)`` copy."""
    out = np.empty((a.shape[0],) + a.shape[2:] + (a.shape[1],), dtype)
    out[...] = np.moveaxis(a, 1, -1)
    return out


def _first(a):
    """``a`` ``(N, S..., C)`` back to a C-contiguous ``(N, C, S...)``."""
    out = np.empty((a.shape[0], a.shape[-1]) + a.shape[1:-1], a.dtype)
    out[...] = np.moveaxis(a, -1, 1)
    return out


def _scratch(flat, shape):
    """The first ``prod(shape)`` elements of ``flat`` as a contiguous array of ``shape``."""
    return flat[:math.prod(shape)].reshape(shape)


def forward_taps(x, w, stride, pads, dilation, outs, bias=None):
    """Depthwise forward as a multiply-add per kernel offset on channels-last copies:
    ``y[n, o, c] += x[n, o * s + k * d - lo, c] * w[c, k]`` over the outputs each offset
    reaches, for small feature maps of any stride.

    >>> x, w = np.arange(4.0).reshape(1, 1, 4), np.array([[[1.0, 2.0, 3.0]]])
    >>> forward_taps(x, w, (1,), ((1, 1),), (1,), (4,))
    array([[[ 3.,  8., 14.,  8.]]])
    """
    N, C = x.shape[:2]
    outs = tuple(outs)
    dtype = np.result_type(x, w)
    xl = _last(x, dtype)                                             # (N, I..., C)
    wk = w.reshape(C, -1).T.astype(dtype)                            # (K, C)
    yl = np.empty((N,) + outs + (C,), dtype)                         # (N, O..., C)
    taps = _tap_slices(tuple(x.shape[2:]), outs, tuple(w.shape[2:]), tuple(stride),
                       tuple(map(tuple, pads)), tuple(dilation))
    flat = np.empty(yl.size, dtype)
    start = 0
    if taps and taps[0][3]:
        k, _, i_sl, _ = taps[0]
        np.multiply(xl[i_sl], wk[k], out=yl)
        start = 1
    else:
        yl[...] = 0
    for k, o_sl, i_sl, _ in taps[start:]:
        src = xl[i_sl]
        t = _scratch(flat, src.shape)
        np.multiply(src, wk[k], out=t)
        yo = yl[o_sl]
        yo += t
    if bias is not None:
        yl += bias.astype(dtype, copy=False)
    return _first(yl)


def backward_taps(gy, x, w, stride, pads, dilation, need_x=True, need_w=True):
    """``(gx, gw)`` of ``forward_taps`` (``None`` for a gradient not needed), per kernel
    offset on channels-last copies: ``gx[n, i, c] += gy[n, o, c] * w[c, k]`` and
    ``gw[c, k] = sum_{n, o} gy[n, o, c] * x[n, i, c]`` with ``i = o * s + k * d - lo``.

    >>> x, w, gy = np.ones((1, 1, 4)), np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 4))
    >>> backward_taps(gy, x, w, (1,), ((1, 1),), (1,))
    (array([[[3., 6., 6., 5.]]]), array([[[3., 4., 3.]]]))
    """
    N, C = x.shape[:2]
    kernel = tuple(w.shape[2:])
    dtype = np.result_type(gy, x, w)
    gyl = _last(gy, dtype)                                           # (N, O..., C)
    xl = _last(x, dtype) if need_w else None                         # (N, I..., C)
    wk = w.reshape(C, -1).T.astype(dtype)                            # (K, C)
    gxl = np.zeros((N,) + x.shape[2:] + (C,), dtype) if need_x else None
    gw = np.zeros((wk.shape[0], C), dtype) if need_w else None       # (K, C)
    flat = np.empty(gyl.size, dtype)
    for k, o_sl, i_sl, _ in _tap_slices(tuple(x.shape[2:]), tuple(gy.shape[2:]), kernel,
                                        tuple(stride), tuple(map(tuple, pads)),
                                        tuple(dilation)):
        g = gyl[o_sl]
        t = _scratch(flat, g.shape)
        if need_w:
            np.multiply(g, xl[i_sl], out=t)
            np.sum(t.reshape(-1, C), axis=0, out=gw[k])
        if need_x:
            np.multiply(g, wk[k], out=t)
            gs = gxl[i_sl]
            gs += t
    gx = _first(gxl) if need_x else None
    return gx, (np.ascontiguousarray(gw.T).reshape(w.shape) if need_w else None)
