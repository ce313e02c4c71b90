"""Depthwise convolutions at stride 1, over cache-sized blocks of (image, channel) rows.

Each row is one channel of one image. For a block of rows, every kernel offset ``k`` copies
the row shifted by its offset into row ``k`` of the block's columns ``(B, K, P)`` (``P``
output positions; the positions a shifted row does not reach stay zero from one block to
the next, so there is no padded copy and no crop), then one small GEMM per row does all the
offsets at once: ``(1, K) @ (K, P)`` straight into the output (forward) or ``(K, P) @ (P,
1)`` (weight gradient). The columns stay in the L2 cache and are never written out whole.
The forward's bias is one more row of ones in the columns (and a tap of the weight). The
backward builds the columns of ``gy`` once for both gradients (``backward``).

Small feature maps (any stride) take ``forward_taps`` / ``backward_taps`` instead: the
input zero-padded into a channels-last grid and one ``einsum`` over its windows, whose inner
loops run over the channels rather than over a row of a few pixels (the strided input
gradient adds ``gy`` times each tap into its slab of ``gx``, the one loop over offsets).
"""

from __future__ import annotations

import functools
import itertools
import math
import threading

import numpy as np

from svertka.kernels import gemm
from svertka.kernels import parallel as threads

__all__ = ["forward", "weight_grad", "backward", "forward_taps", "backward_taps"]


@functools.lru_cache(maxsize=256)
def _shift_copies(dst_sizes, src_sizes, offsets):
    """``(k, dst_slices, src_slices)`` for each offset ``k`` (a tuple per axis) whose
    shifted row reaches the destination: position ``p`` of an axis reads the source at
    ``p + offset``, kept where that lies in ``[0, S)``. (Cached: a network asks for the same
    few geometries at every step; the arguments are tuples.)"""
    copies = []
    for k, offs in enumerate(offsets):
        dst, src = [], []
        for size, n, off in zip(dst_sizes, src_sizes, offs):
            lo, hi = max(0, -off), min(size, n - off)
            if hi <= lo:
                break
            dst.append(slice(lo, hi))
            src.append(slice(lo + off, hi + off))
        else:
            copies.append((k, (slice(None), k) + tuple(dst), (slice(None),) + tuple(src)))
    return tuple(copies)


_local = threading.local()


def _thread_columns(shape, dtype):
    """A scratch array of ``shape`` in a byte block kept by the calling thread from one call
    to the next (a block's columns are a few MB at most; a fresh array would page-fault at
    every call), grown when too small. A ``parallel`` part runs on one thread, which uses
    its block for one part at a time."""
    need = math.prod(shape) * np.dtype(dtype).itemsize
    block = getattr(_local, "block", None)
    if block is None or block.nbytes < need:
        block = _local.block = np.empty(need, np.uint8)
    return block[:need].view(dtype).reshape(shape)


def _shifted_blocks(src, offsets, dst_sizes, dtype, consume, block_bytes, ones=False):
    """Drive the blocked depthwise passes: for every block of rows ``r0:r1`` of ``src``
    ``(R, S...)``, fill the block's columns ``(B, K, P)`` (``P = prod(dst_sizes)``), row
    ``k`` the source row shifted by ``offsets[k]`` (zeros where it reads outside; with
    ``ones`` one more row of ones), and call ``consume(r0, r1, cols)``, at most
    ``block_bytes`` of columns at a time.

    The blocks go to ``parallel``'s threads one at a time, each thread taking the next one
    when it is done (not a fixed half each: a worker that wakes late, as after an idle
    pause on a shared machine, then costs its share, not the whole step's wait). Each
    thread has its own columns buffer (``_thread_columns``), zeroed once per call: a block
    writes only the positions its shifted rows reach, the same in every block."""
    R = src.shape[0]
    KK = len(offsets) + ones
    P = math.prod(dst_sizes)
    copies = _shift_copies(tuple(dst_sizes), tuple(src.shape[1:]), tuple(offsets))
    row_bytes = KK * P * np.dtype(dtype).itemsize
    step = max(1, block_bytes // row_bytes)
    blocks = -(-R // step)
    claim = itertools.count()              # next(claim) is atomic: the GIL guards it

    def part(_):
        cols = None
        while (i := next(claim)) < blocks:
            r0, r1 = i * step, min(R, (i + 1) * step)
            if cols is None:
                m = min(step, R)
                cols = _thread_columns((m, KK, P), dtype)            # (B, K, P)
                cols[...] = 0
                if ones:
                    cols[:, -1] = 1
                grid = cols.reshape((m, KK) + tuple(dst_sizes))      # (B, K, D...)
            g, rows = grid[:r1 - r0], src[r0:r1]
            for _, dst, sl in copies:
                g[dst] = rows[sl]
            consume(r0, r1, cols[:r1 - r0])

    if R and P:
        with gemm.single_threaded_blas():
            threads.parallel(part, min(threads.NUM_THREADS, blocks), R * row_bytes)


def _forward_offsets(kernel, pads, dilation):
    """Per kernel offset (C order), the input offset of output ``o``: ``o + k d - lo``."""
    return tuple(tuple(k * d - lo for k, d, (lo, _) in zip(offs, dilation, pads))
                 for offs in np.ndindex(*kernel))


def forward(x, w, pads, dilation, outs, block_bytes, bias=None):
    """Depthwise forward at stride 1 over cache-sized blocks of columns (``block_bytes``
    each): ``y[row] = w[c] @ cols[row]`` per (image, channel) row, with ``bias`` ``(C,)``
    as one more tap on a row of ones.

    >>> x, w = np.arange(4.0).reshape(1, 1, 4), np.array([[[1.0, 2.0, 3.0]]])
    >>> forward(x, w, ((1, 1),), (1,), (4,), 2**20)
    array([[[ 3.,  8., 14.,  8.]]])
    """
    N, C = x.shape[:2]
    kernel, outs = tuple(w.shape[2:]), tuple(outs)
    KK = math.prod(kernel)
    dtype = np.result_type(x, w) if bias is None else np.result_type(x, w, bias)
    taps = w.reshape(C, KK)
    if bias is not None:
        taps = np.concatenate([taps, bias.reshape(C, 1)], axis=1)    # (C, K + 1)
    taps = np.ascontiguousarray(np.broadcast_to(taps.astype(dtype, copy=False)[None],
                                                (N,) + taps.shape))
    taps = taps.reshape(N * C, 1, taps.shape[-1])                    # (R, 1, K[+1]): small copy
    y = np.empty((N, C) + outs, dtype)
    y_rows = y.reshape(N * C, 1, math.prod(outs))                    # (R, 1, P): a view

    def consume(r0, r1, cols):
        np.matmul(taps[r0:r1], cols, out=y_rows[r0:r1])

    _shifted_blocks(x.reshape((N * C,) + x.shape[2:]), _forward_offsets(kernel, pads, dilation),
                    outs, dtype, consume, block_bytes, ones=bias is not None)
    return y


def weight_grad(x, gy, w_shape, pads, dilation, block_bytes):
    """Depthwise weight gradient at stride 1 over cache-sized blocks of columns: per row,
    ``cols[row] @ gy[row]``, summed over the batch.

    >>> x, gy = np.ones((1, 1, 4)), np.ones((1, 1, 4))
    >>> weight_grad(x, gy, (1, 1, 3), ((1, 1),), (1,), 2**20)
    array([[[3., 4., 3.]]])
    """
    N, C = x.shape[:2]
    kernel, outs = tuple(w_shape[2:]), tuple(gy.shape[2:])
    KK = math.prod(kernel)
    dtype = np.result_type(x, gy)
    gy_rows = gy.reshape(N * C, math.prod(outs), 1).astype(dtype, copy=False)  # (R, P, 1)
    partial = np.zeros((N * C, KK, 1), dtype)

    def consume(r0, r1, cols):
        np.matmul(cols, gy_rows[r0:r1], out=partial[r0:r1])         # (B, K, 1)

    _shifted_blocks(x.reshape((N * C,) + x.shape[2:]), _forward_offsets(kernel, pads, dilation),
                    outs, dtype, consume, block_bytes)
    return _batch_sum(partial, N, C, KK, w_shape)


def _batch_sum(partial, N, C, KK, w_shape):
    """The weight gradient ``w_shape`` from the per-row ``partial`` ``(N*C, K, 1)``, summed
    over the batch into an array of its own (a leaf's ``.grad`` takes it without a copy)."""
    gw = np.empty(w_shape, partial.dtype)
    np.sum(partial.reshape(N, C, KK), axis=0, out=gw.reshape(C, KK))
    return gw


def backward(gy, x, w, pads, dilation, block_bytes):
    """``(gx, gw)`` of a stride-1 depthwise ``conv_forward`` in one blocked pass.

    Input position ``i`` receives ``gy[i - d k + lo] w[k]`` from offset ``k``: the columns
    ``G[k, i] = gy[i - d k + lo]`` (zero outside ``gy``) give ``gx[row] = w[c] @ G`` and,
    as the same offset pairs ``x[o + d k - lo]`` with ``gy[o]``, ``gw[k] = sum_i x[i] G[k,
    i]``: one more GEMM per row with ``x``. The plan (``depthwise_backward_applies``) says
    where it applies.

    >>> x, w, gy = np.ones((1, 1, 4)), np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 4))
    >>> gx, gw = backward(gy, x, w, ((1, 1),), (1,), 2**20)
    >>> gx, gw
    (array([[[3., 6., 6., 5.]]]), array([[[3., 4., 3.]]]))
    """
    N, C = x.shape[:2]
    kernel, ins = tuple(w.shape[2:]), tuple(x.shape[2:])
    KK, Q = math.prod(kernel), math.prod(ins)
    dtype = np.result_type(gy, x, w)
    taps = np.ascontiguousarray(np.broadcast_to(
        w.reshape(1, C, 1, KK).astype(dtype, copy=False), (N, C, 1, KK)))
    taps = taps.reshape(N * C, 1, KK)                                # (R, 1, K): small copy
    x_rows = x.reshape(N * C, Q, 1).astype(dtype, copy=False)        # (R, Q, 1)
    gx = np.empty((N, C) + ins, dtype)        # its own memory: a leaf's .grad takes it as is
    gx_rows = gx.reshape(N * C, 1, Q)                                # (R, 1, Q): a view
    partial = np.zeros((N * C, KK, 1), dtype)
    offsets = tuple(tuple(-o for o in offs) for offs in _forward_offsets(kernel, pads, dilation))

    def consume(r0, r1, cols):
        np.matmul(taps[r0:r1], cols, out=gx_rows[r0:r1])                  # (B, 1, Q)
        np.matmul(cols, x_rows[r0:r1], out=partial[r0:r1])           # (B, K, 1)

    _shifted_blocks(gy.reshape((N * C,) + gy.shape[2:]), offsets, ins, dtype, consume,
                    block_bytes)
    return gx, _batch_sum(partial, N, C, KK, w.shape)


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

    threads.parallel(part, C, y.nbytes * math.prod(kernel))
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

    threads.parallel(part, C, gy.nbytes * math.prod(kernel) * 2)
    gw = np.ascontiguousarray(np.moveaxis(gwl, -1, 0)).reshape(w.shape) if need_w else None
    return gx, gw
