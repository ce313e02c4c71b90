"""Depthwise convolutions at stride 1, over cache-sized blocks of (image, channel) rows.

Each row is one channel of one image, a flattened padded plane; a kernel offset reads one
contiguous slice of it (``geometry.flat_grid``), so a block's columns are ``prod(K)`` long
copies and its GEMMs are ``(1, K) @ (K, L)`` per row (forward) or ``(K, L) @ (L, 1)`` (weight
gradient). The columns stay in cache and are never written out whole, and each thread pads
its blocks into its own buffer (no padded copy of the whole input). The backward builds the
columns of the padded ``gy`` once for both gradients (``backward``).

Small feature maps (any stride) take ``forward_taps`` / ``backward_taps`` instead: the
input zero-padded into a channels-last grid and one ``einsum`` over its windows, whose inner
loops run over the channels rather than over a row of a few pixels (the strided input
gradient adds ``gy`` times each tap into its slab of ``gx``, the one loop over offsets).
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



# ------------------------------------------------------ small maps: channels-last windows

@functools.lru_cache(maxsize=256)
def _tap_slices(in_sizes, outs, kernel, stride, pads, dilation):
    """``(k, out_slices, in_slices)`` for every kernel offset (flat index ``k``) that reads
    at least one input position: output ``o`` of an axis reads input ``o * s + k * d - lo``,
    kept where that lies in ``[0, I)``. (Cached: a network asks for the same few geometries
    at every step; the arguments are tuples.)"""
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
            taps.append((k, (slice(None),) + tuple(o_sl), (slice(None),) + tuple(i_sl)))
    return tuple(taps)


def _onto_last(a, offsets, sizes, dtype):
    """``a`` ``(N, C, S...)`` channels-last on a zero grid ``(N, sizes..., C)``: element
    ``s`` of an axis at ``s + offset``; what falls outside the grid is left out."""
    grid = np.zeros((a.shape[0],) + tuple(sizes) + (a.shape[1],), dtype)
    src, dst = [slice(None), slice(None)], [slice(None)]
    for n, off, size in zip(a.shape[2:], offsets, sizes):
        lo, hi = max(0, -off), min(n, size - off)
        src.append(slice(lo, max(lo, hi)))
        dst.append(slice(lo + off, max(lo, hi) + off))
    grid[tuple(dst)] = np.moveaxis(a[tuple(src)], 1, -1)
    return grid


def _windows_last(grid, kernel, stride, dilation, outs):
    """The windows of a channels-last ``grid`` ``(N, S..., C)``: a read-only view
    ``(N, O..., K..., C)`` (window ``o`` starts at ``o * s``, its taps ``d`` apart)."""
    sN, *sp, sC = grid.strides
    return np.lib.stride_tricks.as_strided(
        grid, shape=(grid.shape[0],) + tuple(outs) + tuple(kernel) + (grid.shape[-1],),
        strides=((sN,) + tuple(st * s for st, s in zip(sp, stride))
                 + tuple(st * d for st, d in zip(sp, dilation)) + (sC,)),
        writeable=False)


def _subscripts(n):
    """einsum letters: the output axes ``O...`` and the kernel axes ``K...`` of rank ``n``."""
    return "defgh"[:n], "ijklm"[:n]


def _x_windows(x, kernel, stride, pads, dilation, outs, dtype):
    """The windows ``(N, O..., K..., C)`` of ``x`` padded (channels-last, a new grid only as
    large as the windows reach)."""
    reach = tuple((o - 1) * s + d * (k - 1) + 1
                  for o, s, d, k in zip(outs, stride, dilation, kernel))
    grid = _onto_last(x, tuple(lo for lo, _ in pads), reach, dtype)   # (N, reach..., C)
    return _windows_last(grid, kernel, stride, dilation, outs)


def forward_taps(x, w, stride, pads, dilation, outs, bias=None):
    """Depthwise forward for small feature maps (any stride): ``x`` zero-padded into a
    channels-last grid, then one ``einsum`` over its windows,
    ``y[n, o, c] = sum_k x_pad[n, o * s + k * d, c] * w[c, k]`` (the channels innermost, so
    its loops are long where an NCHW map's rows are a few pixels). The channels are split
    over ``parallel``'s threads, each with its own grid.

    >>> x, w = np.arange(4.0).reshape(1, 1, 4), np.array([[[1.0, 2.0, 3.0]]])
    >>> forward_taps(x, w, (1,), ((1, 1),), (1,), (4,))
    array([[[ 3.,  8., 14.,  8.]]])
    """
    N, C = x.shape[:2]
    kernel, outs = tuple(w.shape[2:]), tuple(outs)
    dtype = np.result_type(x, w)
    wl = np.ascontiguousarray(np.moveaxis(w.reshape((C,) + kernel), 0, -1), dtype)  # (K..., C)
    y = np.empty((N, C) + outs, dtype)
    o, k = _subscripts(len(kernel))

    def part(cs):                                                    # channels cs
        view = _x_windows(x[:, cs], kernel, stride, pads, dilation, outs, dtype)
        yl = np.einsum(f"n{o}{k}c,{k}c->n{o}c", view, wl[..., cs])   # (N, O..., c)
        if bias is not None:
            yl += bias[cs].astype(dtype, copy=False)
        y[:, cs] = np.moveaxis(yl, -1, 1)

    parallel(part, C, y.nbytes * math.prod(kernel))
    return y


def _input_grad_taps(gyl, wl, x_shape, stride, pads, dilation, dtype):
    """``gx`` channels-last ``(N, I..., C)`` from ``gyl`` ``(N, O..., C)``. Stride 1: the
    correlation of ``gy`` (on a grid offset by ``d(K-1) - lo``) with the flipped kernel, one
    ``einsum``; otherwise ``gy`` times each tap added into its strided slab of ``gx``."""
    n = wl.ndim - 1
    kernel = wl.shape[:n]
    ins, outs = tuple(x_shape[2:]), tuple(gyl.shape[1:-1])
    if all(s == 1 for s in stride):
        offsets = tuple(d * (k - 1) - lo for d, k, (lo, _) in zip(dilation, kernel, pads))
        sizes = tuple(i + d * (k - 1) for i, d, k in zip(ins, dilation, kernel))
        grid = _onto_last(np.moveaxis(gyl, -1, 1), offsets, sizes, dtype)
        view = _windows_last(grid, kernel, (1,) * n, dilation, ins)   # (N, I..., K..., C)
        flipped = wl[(slice(None, None, -1),) * n]                    # (K..., C)
        o, k = _subscripts(n)
        return np.einsum(f"n{o}{k}c,{k}c->n{o}c", view, flipped)
    gxl = np.zeros((gyl.shape[0],) + ins + (gyl.shape[-1],), dtype)
    wk = wl.reshape(-1, wl.shape[-1])                                 # (K, C)
    flat = np.empty(gyl.size, dtype)
    for k, o_sl, i_sl in _tap_slices(ins, outs, tuple(kernel), tuple(stride),
                                     tuple(map(tuple, pads)), tuple(dilation)):
        g = gyl[o_sl]
        t = flat[:g.size].reshape(g.shape)
        np.multiply(g, wk[k], out=t)
        gs = gxl[i_sl]
        gs += t
    return gxl


def backward_taps(gy, x, w, stride, pads, dilation, need_x=True, need_w=True):
    """``(gx, gw)`` of ``forward_taps`` (``None`` for a gradient not needed) on channels-last
    grids: ``gw[c, k] = sum_{n, o} gy[n, o, c] * x_pad[n, o * s + k * d, c]``, one
    ``einsum`` over the forward's windows; ``gx`` by ``_input_grad_taps``. The channels are
    split over ``parallel``'s threads.

    >>> x, w, gy = np.ones((1, 1, 4)), np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 4))
    >>> backward_taps(gy, x, w, (1,), ((1, 1),), (1,))
    (array([[[3., 6., 6., 5.]]]), array([[[3., 4., 3.]]]))
    """
    N, C = x.shape[:2]
    kernel, outs = tuple(w.shape[2:]), tuple(gy.shape[2:])
    dtype = np.result_type(gy, x, w)
    wl = np.ascontiguousarray(np.moveaxis(w.reshape((C,) + kernel), 0, -1), dtype)  # (K..., C)
    gx = np.empty((N, C) + tuple(x.shape[2:]), dtype) if need_x else None
    gwl = np.empty(kernel + (C,), dtype) if need_w else None          # (K..., C)
    o, k = _subscripts(len(kernel))

    def part(cs):                                                    # channels cs
        gyl = np.empty((N,) + outs + (cs.stop - cs.start,), dtype)   # (N, O..., c)
        gyl[...] = np.moveaxis(gy[:, cs], 1, -1)
        if need_w:
            view = _x_windows(x[:, cs], kernel, stride, pads, dilation, outs, dtype)
            np.einsum(f"n{o}{k}c,n{o}c->{k}c", view, gyl, out=gwl[..., cs])
        if need_x:
            gxl = _input_grad_taps(gyl, wl[..., cs], x.shape, stride, pads, dilation, dtype)
            gx[:, cs] = np.moveaxis(gxl, -1, 1)

    parallel(part, C, gy.nbytes * math.prod(kernel) * 2)
    gw = np.ascontiguousarray(np.moveaxis(gwl, -1, 0)).reshape(w.shape) if need_w else None
    return gx, gw
