"""The im2col algorithm: column matrices and GEMMs, NCHW and channels-last, whole or in blocks.

Layout, chosen so that the GEMMs dominate the time:

* the column matrix is ``(N, C, K1, .., Kn, O1, .., On)``, torch's ``unfold`` layout, built
  from the strided window view with ONE copy whose inner loop runs along the output
  positions (long and regularly strided);
* the forward GEMM is ``(G, Cog, CK) @ (N, G, CK, P) -> (N, G, Cog, P)``, which *is* the
  output ``(N, Co, O...)`` after a free reshape; groups are the batch axis of ``np.matmul``;
* a pointwise kernel (1x1, stride 1, no padding) uses the input itself as the columns; on
  1x1 maps the batch becomes the columns of one GEMM (``forward_pointwise_folded``) instead
  of N matrix-vector products;
* col2im (the adjoint of im2col) loops over the ``prod(K)`` kernel offsets with one strided
  ``+=`` each into a zero padded buffer, never over pixels or channels;
* few output positions: the batch is folded into the GEMM columns (``forward_folded``), or,
  for a dense convolution, the columns are built channels-last ``(N*P, K...*C)`` from a
  channels-last copy of the input, whose copy's inner loop runs ``Kn*C`` elements instead of
  ``On`` (``forward_channels_last``);
* columns that are not kept for the weight gradient are never built whole: each thread
  builds a few images' columns and runs their GEMM while they are in its cache
  (``forward_blocked``, ``_nchw_blocks``, ``_cl_blocks``).

Which of these runs, and every size they use, is decided by ``kernels.conv.plan``; the
functions here take their block sizes as arguments.
"""

from __future__ import annotations

import math

import numpy as np

from svertka.kernels import gemm
from svertka.kernels.conv.geometry import (
    as_conv_weight_and_pads,
    is_pointwise,
    offset_slabs,
    padded_shape,
)
from svertka.kernels.conv.workspace import WORKSPACE
from svertka.kernels.parallel import parallel
from svertka.kernels.window import pad_constant, window_view

__all__ = ["im2col", "col2im", "columns", "forward_channels_last", "forward_folded",
           "forward_pointwise_folded", "forward_blocked", "forward_whole", "input_grad_col2im",
           "input_grad_batch_last",
           "weight_grad_from_columns", "weight_grad_channels_last", "weight_grad_blocked",
           "backward_fused"]


def im2col(x, kernel, stride, pads, dilation, out=None):
    """The column matrix ``(N, C, K1, .., Kn, O1, .., On)`` of ``x`` ``(N, C, I1, .., In)``.

    One padded copy (only when padding), a strided window view (no copy) and one contiguous
    copy. ``out`` may fix the output sizes (they must fit in the padded input).

    >>> x = np.arange(16.0).reshape(1, 1, 4, 4)
    >>> im2col(x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))[0, 0, :, :, 0, 0]
    array([[0., 1.],
           [4., 5.]])
    """
    n = len(kernel)
    xp = pad_constant(x, pads)
    view = window_view(xp, kernel, stride, dilation, out)        # (N, C, O..., K...)
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    return np.ascontiguousarray(view.transpose(perm))            # (N, C, K..., O...)


def col2im(cols, x_shape, kernel, stride, pads, dilation):
    """The adjoint of ``im2col``: sum the columns ``(N, C, K..., O...)`` back into ``x_shape``.

    Any strides are accepted for ``cols``. The loop runs over the ``prod(K)`` kernel offsets;
    each adds one strided slab ``(N, C, O...)`` into a zero padded buffer. Returns a view of
    that buffer with the padding cropped off.

    >>> cols = np.ones((1, 1, 2, 2, 2, 2))
    >>> col2im(cols, (1, 1, 3, 3), (2, 2), (1, 1), ((0, 0), (0, 0)), (1, 1))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    n = len(kernel)
    outs = cols.shape[2 + n:]
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x_shape[2:], pads))
    gxp = np.zeros(tuple(x_shape[:2]) + padded, dtype=cols.dtype)

    slabs = offset_slabs(tuple(kernel), tuple(stride), tuple(dilation), tuple(outs))
    both = (slice(None),) * 2

    def part(b):                                                     # batch items b
        g, c = gxp[b], cols[b]
        for offs, slab in slabs:
            g[both + slab] += c[both + offs]

    if cols.size:
        parallel(part, x_shape[0], cols.nbytes)
    if not any(lo or hi for lo, hi in pads):
        return gxp
    crop = (slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                              for i, (lo, _) in zip(x_shape[2:], pads))
    return gxp[crop]


def columns(x, kernel, stride, pads, dilation, groups, out, fold=False):
    """The column matrix as ``(N, G, CK, P)`` (no copy at all for pointwise kernels), or
    with ``fold`` as ``(G, CK, N*P)`` (the batch next to the positions).

    The matrix is a view of a workspace array (give it back to ``WORKSPACE``)."""
    N, C = x.shape[:2]
    if fold:
        n = len(kernel)
        xp = pad_constant(x, pads)
        view = window_view(xp, kernel, stride, dilation, out)        # (N, C, O..., K...)
        perm = ((1,) + tuple(range(2 + n, 2 + 2 * n)) + (0,)
                + tuple(range(2, 2 + n)))
        view = view.transpose(perm)                                  # (C, K..., N, O...)
        buf = WORKSPACE.take(view.shape, x.dtype)
        parallel(lambda c: np.copyto(buf[c], view[c]), C, buf.nbytes)   # channels c
        CK = C // groups * math.prod(kernel)
        return buf.reshape(groups, CK, N * math.prod(out))           # (G, CK, N*P)
    if is_pointwise(kernel, stride, pads, x.shape[2:], out):
        P = math.prod(x.shape[2:])
        return x.reshape(N, groups, C // groups, P)                 # (N, G, Cg, P)
    n = len(kernel)
    xp = pad_constant(x, pads)
    view = window_view(xp, kernel, stride, dilation, out)            # (N, C, O..., K...)
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    view = view.transpose(perm)                                      # (N, C, K..., O...)
    buf = WORKSPACE.take(view.shape, x.dtype)
    if N > 1:
        parallel(lambda b: np.copyto(buf[b], view[b]), N, buf.nbytes)        # images b
    else:
        parallel(lambda c: np.copyto(buf[:, c], view[:, c]), C, buf.nbytes)  # channels c
    P = math.prod(out)
    CK = C // groups * math.prod(kernel)
    return buf.reshape(N, groups, CK, P)                             # (N, G, CK, P)


def _to_last(a, axis):
    """``np.moveaxis(a, axis, -1)`` without its argument normalisation (a view)."""
    perm = list(range(a.ndim))
    perm.append(perm.pop(axis))
    return a.transpose(perm)


def _from_last(a, axis):
    """``np.moveaxis(a, -1, axis)`` without its argument normalisation (a view)."""
    perm = list(range(a.ndim - 1))
    perm.insert(axis, a.ndim - 1)
    return a.transpose(perm)


def _window_last(xl, kernel, stride, dilation, out):
    """The windows of a padded channels-last ``xl`` ``(N, Ip..., C)``: a read-only view
    ``(N, O..., K..., C)``. A C-contiguous ``xl`` (every caller's) is viewed with
    ``np.ndarray`` directly: ``as_strided`` costs about ten microseconds a call."""
    sN, *sp, sC = xl.strides
    shape = (xl.shape[0],) + tuple(out) + tuple(kernel) + (xl.shape[-1],)
    strides = ((sN,) + tuple(st * s for st, s in zip(sp, stride))
               + tuple(st * d for st, d in zip(sp, dilation)) + (sC,))
    if not (xl.flags.c_contiguous and xl.size):
        return np.lib.stride_tricks.as_strided(xl, shape=shape, strides=strides,
                                               writeable=False)
    view = np.ndarray(shape, xl.dtype, buffer=xl, strides=strides)
    view.flags.writeable = False
    return view


def _columns_last(x, kernel, stride, pads, dilation, out):
    """The column matrix channels-last, ``(N*P, K1*..*Kn*C)``: row ``(n, o...)`` is the
    window at ``o`` of image ``n``, taps in row-major order, channels innermost. A view of a
    workspace array (give it back to ``WORKSPACE``)."""
    N, C = x.shape[:2]
    padded = padded_shape(x.shape, pads)[2:]
    xl = (np.zeros if any(lo or hi for lo, hi in pads) else np.empty)(
        (N,) + padded + (C,), dtype=x.dtype)                        # (N, Ip..., C)
    inner = (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, x.shape[2:]))
    xl[inner] = _to_last(x, 1)
    view = _window_last(xl, kernel, stride, dilation, out)          # (N, O..., K..., C)
    buf = WORKSPACE.take(view.shape, x.dtype)
    parallel(lambda b: np.copyto(buf[b], view[b]), N, buf.nbytes)
    return buf.reshape(N * math.prod(out), math.prod(kernel) * C)


# The per-thread column blocks run on one thread when all the columns of the call take
# fewer bytes than this (the work is then shorter than handing it to another thread).
BLOCKS_PARALLEL_MIN_BYTES = 2**20


def _batch_blocks(x, padded_item, cols_item, step, threads, build, consume):
    """The driver of the per-thread column blocks: ``x``'s batch is split over ``threads``
    threads and each thread walks its part in blocks ``i:j`` of at most ``step`` images. A
    thread owns a zeroed buffer ``(step,) + padded_item`` (the padded images: only their
    interior is ever written, so the border stays zero) and a workspace array
    ``(step,) + cols_item``; ``build(i, j, padded, cols)`` fills the block's columns, then
    ``consume(i, j, cols, state)`` uses them (``state``: a dict private to the thread).
    The GEMMs in ``consume`` run on the single-threaded BLAS. Returns the threads' states."""
    N = x.shape[0]
    states = []

    def part(span):                                                  # batch items span
        m = min(step, span.stop - span.start)
        padded = np.zeros((m,) + tuple(padded_item), dtype=x.dtype)
        cols = WORKSPACE.take((m,) + tuple(cols_item), x.dtype)
        state = {}
        try:
            for i in range(span.start, span.stop, step):
                j = min(span.stop, i + step)
                build(i, j, padded[:j - i], cols[:j - i])
                consume(i, j, cols[:j - i], state)
        finally:
            WORKSPACE.give(cols)
        states.append(state)

    if N:
        # under BLOCKS_PARALLEL_MIN_BYTES of columns in all, one thread: the hand-off costs
        # more than a small convolution (a 2x2x6x6 one took 250 us instead of 100)
        nbytes = N * math.prod(cols_item) * x.itemsize
        if nbytes < BLOCKS_PARALLEL_MIN_BYTES:
            threads = 1
        with gemm.single_threaded_blas():
            parallel(part, N, 0, min_bytes=0, threads=max(1, min(threads, N)))
    return states


def _cl_blocks(x, kernel, stride, pads, dilation, out, consume, threads, chunk_bytes):
    """Channels-last columns made and used a few images at a time on each of ``threads``
    threads (at most ``chunk_bytes`` in all): for blocks ``i:j`` of the batch, build
    ``x[i:j]``'s columns ``((j - i) * P, K*C)`` and call ``consume(i, j, cols, state)``.
    Each thread copies its own images to channels-last, builds their columns and runs their
    GEMM: one hand-off to the threads per call, not two per chunk (``_batch_blocks``)."""
    N, C = x.shape[:2]
    P, KC = math.prod(out), math.prod(kernel) * C
    step = max(1, chunk_bytes // (max(1, min(threads, N)) * P * KC * x.itemsize))
    padded = padded_shape(x.shape, pads)[2:]
    inner = (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, x.shape[2:]))

    def build(i, j, xl, cols):                                       # xl: (b, Ip..., C)
        xl[inner] = _to_last(x[i:j], 1)
        np.copyto(cols, _window_last(xl, kernel, stride, dilation, out))

    return _batch_blocks(x, padded + (C,), tuple(out) + tuple(kernel) + (C,), step, threads,
                         build, lambda i, j, c, state: consume(i, j, c.reshape(-1, KC), state))


def _nchw_blocks(x, kernel, stride, pads, dilation, groups, out, consume, threads,
                 block_bytes):
    """For blocks ``i:j`` of the batch, on ``threads`` threads: build the columns
    ``(j - i, G, CK, P)`` of ``x[i:j]`` (at most ``block_bytes`` each) and call
    ``consume(i, j, cols, state)``, where ``state`` is a dict private to the calling
    thread (``_batch_blocks``). Returns the threads' states."""
    N, C = x.shape[:2]
    n = len(kernel)
    P = math.prod(out)
    CK = C // groups * math.prod(kernel)
    step = max(1, block_bytes // max(CK * groups * P * x.itemsize, 1))
    padded = padded_shape(x.shape, pads)[2:]
    inner = (slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                               for (lo, _), i in zip(pads, x.shape[2:]))
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))

    def build(i, j, xp, cols):                                       # xp: (b, C, Ip...)
        xp[inner] = x[i:j]
        np.copyto(cols, window_view(xp, kernel, stride, dilation, out).transpose(perm))

    return _batch_blocks(x, (C,) + padded, (C,) + tuple(kernel) + tuple(out), step, threads,
                         build, lambda i, j, c, state: consume(
                             i, j, c.reshape(j - i, groups, CK, P), state))


def _add_to(state, key, part):
    """``state[key] += part`` (the first part is taken as it is)."""
    if key in state:
        state[key] += part
    else:
        state[key] = part


def _gw_last(gy, cols, matmul=None):
    """``gy (n, Co, O...)`` against channels-last columns ``(n*P, K*C)``: ``(Co, K*C)``
    (by ``matmul``, default ``gemm.matmul``)."""
    n, Co = gy.shape[:2]
    gyt = np.ascontiguousarray(gy.reshape(n, Co, -1).transpose(1, 0, 2)).reshape(Co, -1)
    return (matmul or gemm.matmul)(gyt, cols)


def _gw_from_last(gwl, kernel, w_shape):
    """``(Co, K*C)`` in the channels-last order -> the weight's ``(Co, C, K...)``."""
    gw = _from_last(gwl.reshape((w_shape[0],) + tuple(kernel) + (w_shape[1],)), 1)
    return np.ascontiguousarray(gw)


def _weight_last(w):
    """``(Co, C, K...)`` -> ``(Co, K1*..*Kn*C)``, the channels-last columns' order."""
    return np.ascontiguousarray(_to_last(w, 1)).reshape(w.shape[0], -1)


def forward_channels_last(x, w, stride, pads, dilation, out, keep, chunk_bytes, bias=None):
    """``(y, cols)`` of a dense convolution from channels-last columns ``(N*P, K*C)``: with
    ``keep`` they are built whole and returned; else each thread makes and uses a few
    images' columns at a time (``_cl_blocks``, ``chunk_bytes`` in all) and ``cols`` is
    ``None``. The optional ``bias`` ``(Co,)`` is added in the copy that takes the GEMM's
    ``(N*P, Co)`` to ``y``'s layout (no second pass over ``y``)."""
    kernel = tuple(w.shape[2:])
    N, Co = x.shape[0], w.shape[0]
    P = math.prod(out)
    wl = _weight_last(w)                                             # (Co, K*C)
    dtype = np.result_type(x, w)
    y = np.empty((N, Co, P), dtype=dtype)
    b = None if bias is None else bias.reshape(Co, 1)              # (Co, 1)

    def to_y(yb, i, j):                                              # yb: (b*P, Co)
        yt = yb.reshape(j - i, P, Co).transpose(0, 2, 1)             # (b, Co, P)
        if b is None:
            y[i:j] = yt
        else:
            np.add(yt, b, out=y[i:j])

    cols = None
    if keep:
        cols = _columns_last(x, kernel, stride, pads, dilation, out)  # (N*P, K*C)
        to_y(gemm.matmul(cols, wl.T), 0, N)                          # (N*P, Co)
    else:
        def consume(i, j, c, state):                                 # c: (b*P, K*C)
            to_y(np.matmul(c, wl.T), i, j)

        _cl_blocks(x, kernel, stride, pads, dilation, out, consume, gemm.blas_threads(),
                   chunk_bytes)
    return y.reshape((N, Co) + tuple(out)), cols


def forward_folded(x, w, stride, pads, dilation, groups, out):
    """``(y, cols)`` with the batch folded into the GEMM's columns ``(G, CK, N*P)``: one
    large GEMM per group instead of ``N`` skinny ones."""
    N, Co = x.shape[0], w.shape[0]
    P = math.prod(out)
    wm = w.reshape(groups, Co // groups, math.prod(w.shape[1:]))   # (G, Cog, CK)
    cols = columns(x, tuple(w.shape[2:]), stride, pads, dilation, groups, out, fold=True)
    y = gemm.matmul(wm, cols).reshape(Co, N, P)                      # (G, Cog, N*P)
    y = np.ascontiguousarray(y.transpose(1, 0, 2)).reshape((N, Co) + tuple(out))
    return y, cols


def forward_blocked(x, w, stride, pads, dilation, groups, out, block_bytes):
    """``y`` of a convolution over blocks of the batch, at most ``block_bytes`` of columns
    per block on each thread (``_nchw_blocks``); no whole column matrix."""
    N, Co = x.shape[0], w.shape[0]
    wm = w.reshape(groups, Co // groups, math.prod(w.shape[1:]))   # (G, Cog, CK)
    y = np.empty((N, groups, Co // groups, math.prod(out)), dtype=np.result_type(x, w))

    def consume(i, j, cols, state):
        np.matmul(wm, cols, out=y[i:j])                              # (b, G, Cog, P)

    _nchw_blocks(x, tuple(w.shape[2:]), stride, pads, dilation, groups, out, consume,
                 gemm.blas_threads(), block_bytes)
    return y.reshape((N, Co) + tuple(out))


def forward_pointwise_folded(x, w, groups):
    """``(y, cols)`` of a pointwise convolution on a single position per image (1x1 maps):
    one GEMM ``(G, Cog, Cg) @ (G, Cg, N)`` with the batch as its columns, instead of N
    matrix-vector products (each all call overhead). ``cols`` is ``x`` viewed as
    ``(N, G, Cg, 1)``, as ``columns`` gives it."""
    N, C = x.shape[:2]
    Co = w.shape[0]
    xm = x.reshape(N, groups, C // groups).transpose(1, 2, 0)       # (G, Cg, N), a view
    wm = w.reshape(groups, Co // groups, C // groups)               # (G, Cog, Cg)
    yt = gemm.matmul(wm[0], xm[0]) if groups == 1 else gemm.matmul(wm, xm)   # (G, Cog, N)
    y = np.ascontiguousarray(yt.reshape(Co, N).T)                    # (N, Co)
    return y.reshape((N, Co) + x.shape[2:]), x.reshape(N, groups, C // groups, 1)


def forward_whole(x, w, stride, pads, dilation, groups, out):
    """``(y, cols)``: the whole column matrix ``(N, G, CK, P)`` and one batched GEMM."""
    N, Co = x.shape[0], w.shape[0]
    wm = w.reshape(groups, Co // groups, math.prod(w.shape[1:]))   # (G, Cog, CK)
    cols = columns(x, tuple(w.shape[2:]), stride, pads, dilation, groups, out)  # (N, G, CK, P)
    y = gemm.matmul(wm, cols).reshape((N, Co) + tuple(out))         # (N, G, Cog, P) = y
    return y, cols


def input_grad_col2im(gy, w, x_shape, stride, pads, dilation, groups):
    """``gx``: a GEMM ``w^T @ gy`` into a column gradient, then col2im."""
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    P = math.prod(outs)
    Cog = Co // groups
    wm = w.reshape(groups, Cog, math.prod(w.shape[1:]))             # (G, Cog, CK)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    pointwise = is_pointwise(kernel, stride, pads, x_shape[2:], outs)
    shape = (N, groups, wm.shape[2], P)
    gcols = np.empty(shape, np.result_type(gy, w)) if pointwise else WORKSPACE.take(
        shape, np.result_type(gy, w))
    if Cog == 1:
        # N*G GEMMs with an inner size of 1 are all call overhead: broadcast instead.
        np.multiply(wm.transpose(0, 2, 1), gym, out=gcols)           # (N, G, CK, P)
    else:
        gemm.matmul(wm.transpose(0, 2, 1), gym, out=gcols)           # (N, G, CK, P)
    if pointwise:
        return gcols.reshape(x_shape)
    gx = col2im(gcols.reshape(tuple(x_shape[:2]) + kernel + outs),  # (N, C, K..., O...)
                x_shape, kernel, stride, pads, dilation)
    WORKSPACE.give(gcols)
    return gx


def input_grad_batch_last(gy, w, x_shape, stride, pads, dilation):
    """``gx`` of a dense convolution (one group) with the batch as the innermost axis: one
    GEMM ``w^T @ gy`` into a column gradient ``(C, K..., O..., N)``, then col2im into a
    padded ``(C, Ip..., N)``. On small maps NCHW col2im adds slabs whose inner loop runs
    ``On`` elements (10 for LeNet's second layer); here it runs ``On * N`` contiguous ones
    (or ``N`` when strided), so the adds cost little next to the GEMM. The adds run over
    the ``prod(K)`` offsets, the channels split over the threads."""
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    C = x_shape[1]
    outs = tuple(gy.shape[2:])
    dtype = np.result_type(gy, w)
    gyt = np.ascontiguousarray(_to_last(gy, 0)).reshape(Co, -1)         # (Co, P*N)
    wt = w.reshape(Co, C * math.prod(kernel)).T                       # (CK, Co)
    gcols = WORKSPACE.take((C * math.prod(kernel), gyt.shape[1]), dtype)
    gemm.matmul(wt, gyt, out=gcols)                                   # (CK, P*N)
    gc = gcols.reshape((C,) + kernel + outs + (N,))                   # (C, K..., O..., N)
    padded = padded_shape(x_shape, pads)[2:]
    gxt = np.zeros((C,) + padded + (N,), dtype=dtype)                 # (C, Ip..., N)

    slabs = offset_slabs(kernel, tuple(stride), tuple(dilation), outs)
    every = (slice(None),)

    def part(c):                                                      # channels c
        g, src = gxt[c], gc[c]
        for offs, slab in slabs:
            g[every + slab + every] += src[every + offs]

    if gcols.size:
        parallel(part, C, gcols.nbytes)
    WORKSPACE.give(gcols)
    inner = tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, x_shape[2:]))
    gx = gxt[(slice(None),) + inner]                                  # (C, I..., N)
    return np.ascontiguousarray(_from_last(gx, 0))                    # (N, C, I...)


def weight_grad_from_columns(gy, cols, w_shape, groups):
    """``gw`` from a column matrix of the input: channels-last ``(N*P, K*C)``, folded
    ``(G, CK, N*P)`` or ``(N, G, CK, P)``."""
    kernel = tuple(w_shape[2:])
    N, Co = gy.shape[:2]
    P = math.prod(gy.shape[2:])
    Cog = Co // groups
    if cols.ndim == 2:                                               # (N*P, K*C), one group
        return _gw_from_last(_gw_last(gy, cols), kernel, w_shape)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    if cols.ndim == 3:                                               # folded: (G, CK, N*P)
        gyt = np.ascontiguousarray(gym.transpose(1, 2, 0, 3)).reshape(groups, Cog, N * P)
        return gemm.matmul(gyt, cols.transpose(0, 2, 1)).reshape(w_shape)  # (G, Cog, CK)
    CK = cols.shape[2]
    if Cog <= P:
        # N GEMMs over the positions, then a sum: the (N, G, CK, Cog) partials are smaller
        # than the columns, and no copy of the columns is needed. The columns are the left
        # operand (``cols @ gy^T``, transposed back at the end), the faster way round with
        # OpenBLAS (benchmarks/RESULTS.md).
        gwt = gemm.matmul(cols, gym.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, CK, Cog)
        gw = np.ascontiguousarray(gwt.transpose(0, 2, 1))             # (G, Cog, CK)
    else:
        # Few positions, many channels: one GEMM over (N, P) per group is cheaper than large
        # partials; it needs the batch next to the positions (one copy of each operand).
        gyt = np.ascontiguousarray(gym.transpose(1, 2, 0, 3)).reshape(groups, Cog, N * P)
        colt = np.ascontiguousarray(cols.transpose(1, 2, 0, 3)).reshape(groups, CK, N * P)
        gw = gemm.matmul(gyt, colt.transpose(0, 2, 1))                # (G, Cog, CK)
    return gw.reshape(w_shape)


def weight_grad_channels_last(x, gy, w_shape, stride, pads, dilation, chunk_bytes):
    """``gw`` of a dense convolution from channels-last columns made a few images at a time
    on each thread (``_cl_blocks``); each thread sums its GEMMs, then the threads' sums are
    added."""
    kernel = tuple(w_shape[2:])

    def consume(i, j, c, state):                                     # c: (b*P, K*C)
        _add_to(state, "gwl", _gw_last(gy[i:j], c, np.matmul))

    states = _cl_blocks(x, kernel, stride, pads, dilation, tuple(gy.shape[2:]), consume,
                        gemm.blas_threads(), chunk_bytes)
    return _gw_from_last(sum(st["gwl"] for st in states), kernel, w_shape)


def weight_grad_blocked(x, gy, w_shape, stride, pads, dilation, groups, block_bytes):
    """``gw`` over blocks of the batch (``_nchw_blocks``, ``block_bytes`` each): each thread
    sums its blocks' ``cols @ gy^T``, then the threads' sums are added."""
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    gym = gy.reshape(N, groups, Co // groups, math.prod(outs))      # (N, G, Cog, P)

    def consume(i, j, cols, state):                                  # (b, G, CK, P)
        _add_to(state, "gwt", np.matmul(cols, gym[i:j].transpose(0, 1, 3, 2)).sum(axis=0))

    states = _nchw_blocks(x, tuple(w_shape[2:]), stride, pads, dilation, groups, outs,
                          consume, gemm.blas_threads(), block_bytes)
    gwt = sum(st["gwt"] for st in states)                            # (G, CK, Cog)
    return np.ascontiguousarray(gwt.transpose(0, 2, 1)).reshape(w_shape)


def backward_fused(gy, x, w, pads, dilation, groups, block_bytes=None):
    """``(gx, gw)`` of a stride-1 convolution from one column matrix, that of ``gy`` padded
    as for the input gradient as a convolution:
    ``cols[n, (co, k'), q] = gy[n, co, q + lo - (K-1-k')d]``
    for each input position ``q``. So ``gx = W_flipped^T @ cols`` and, since
    ``gw[co, c, k] = sum_(n,q) x[n, c, q] * gy[n, co, q + lo - k d]``,
    ``gw = x @ cols^T`` with the kernel axes flipped back: no columns of ``x`` are built.
    With ``block_bytes`` the columns are made and used in blocks of the batch
    (``_nchw_blocks``), else whole."""
    n = w.ndim - 2
    kernel = tuple(w.shape[2:])
    N = x.shape[0]
    Co, Cg = w.shape[:2]
    Cog = Co // groups
    Q = math.prod(x.shape[2:])
    wt, gpads = as_conv_weight_and_pads(w, pads, dilation, groups, x.shape[2:], gy.shape[2:])
    wt3 = wt.reshape(groups, Cg, Cog * math.prod(kernel))
    xg = x.reshape(N, groups, Cg, Q)
    dtype = np.result_type(gy, w)
    if block_bytes is not None:
        gx = np.empty((N, groups, Cg, Q), dtype=dtype)

        def consume(i, j, cols, state):                              # (b, G, Cog*K, Q)
            np.matmul(wt3, cols, out=gx[i:j])
            _add_to(state, "gwt", np.matmul(cols, xg[i:j].transpose(0, 1, 3, 2)).sum(axis=0))

        states = _nchw_blocks(gy, kernel, (1,) * n, gpads, dilation, groups,
                              tuple(x.shape[2:]), consume, gemm.blas_threads(), block_bytes)
        gwt = sum(st["gwt"] for st in states)                        # (G, Cog*K, Cg)
    else:
        cols = columns(gy, kernel, (1,) * n, gpads, dilation, groups, tuple(x.shape[2:]))
        # cols: (N, G, Cog*K, Q)
        gx = gemm.matmul(wt3, cols)                                  # (N, G, Cg, Q)
        gwt = gemm.matmul(cols, xg.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, Cog*K, Cg)
        WORKSPACE.give(cols)
    gwt = gwt.reshape((groups, Cog) + kernel + (Cg,))
    gw = np.moveaxis(gwt, -1, 2)[(Ellipsis,) + (slice(None, None, -1),) * n]  # flip back
    return (gx.reshape(x.shape).astype(np.result_type(gy, w), copy=False),
            np.ascontiguousarray(gw).reshape(w.shape))


def backward_fused_channels_last(gy, x, w, pads, dilation, chunk_bytes):
    """``(gx, gw)`` of a dense stride-1 convolution from the channels-last columns of the
    padded ``gy`` alone, made a few images at a time on each thread (``_cl_blocks``): the
    input gradient as a convolution takes them anyway (``gx = cols @ W_flipped``), and
    ``gw[co, c, k] = sum_(n,q) x[n, c, q] * gy[n, co, q + lo - k d]`` is ``x @ cols`` with
    the kernel axes flipped back, so ``x``'s columns are not built a second time
    (``backward_fused`` for NCHW columns)."""
    n_ax = w.ndim - 2
    kernel = tuple(w.shape[2:])
    N, C = x.shape[:2]
    Co = w.shape[0]
    spatial = tuple(x.shape[2:])
    Q = math.prod(spatial)
    wt, gpads = as_conv_weight_and_pads(w, pads, dilation, 1, spatial, gy.shape[2:])
    wtl = _weight_last(wt)                                           # (C, K*Co)
    gx = np.empty((N, C, Q), dtype=np.result_type(gy, w))
    xm = x.reshape(N, C, Q)

    def consume(i, j, c, state):                                     # c: (b*Q, K*Co)
        gx[i:j] = np.matmul(c, wtl.T).reshape(j - i, Q, C).transpose(0, 2, 1)
        xt = np.ascontiguousarray(xm[i:j].transpose(1, 0, 2)).reshape(C, -1)  # (C, b*Q)
        _add_to(state, "gwt", np.matmul(xt, c))                      # (C, K*Co)

    states = _cl_blocks(gy, kernel, (1,) * n_ax, gpads, dilation, spatial, consume,
                        gemm.blas_threads(), chunk_bytes)
    gwt = sum(st["gwt"] for st in states).reshape((C,) + kernel + (Co,))
    gw = np.moveaxis(gwt, -1, 0)[(Ellipsis,) + (slice(None, None, -1),) * n_ax]  # flip back
    return gx.reshape(x.shape), np.ascontiguousarray(gw)
