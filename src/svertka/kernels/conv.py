"""The one N-d convolution core: im2col / col2im, GEMM kernels and the other algorithms.

Every convolution of svertka (conv1d/2d/3d, grouped and depthwise, transposed, unfold/fold)
reduces to the functions here. Legend: ``N`` batch, ``C`` input channels, ``Co`` output
channels, ``G`` groups (``Cg = C // G``, ``Cog = Co // G``), ``I*`` input sizes, ``K*`` kernel
sizes, ``O*`` output sizes, ``P = prod(O)``, ``CK = Cg * prod(K)``; ``pads`` is one ``(lo, hi)``
pair per spatial axis (``'same'``, ``'valid'`` and asymmetric padding are all such pairs).

Layout, chosen so that the GEMMs dominate the time:

* the column matrix is ``(N, C, K1, .., Kn, O1, .., On)``, torch's ``unfold`` layout. It is
  built from the strided window view with ONE copy whose inner loop runs along the output
  positions (long and regularly strided), which NumPy copies far faster than a channels-last
  ``(N, O..., C*K...)`` layout whose inner loop is only ``Kn`` long;
* the forward GEMM is ``(G, Cog, CK) @ (N, G, CK, P) -> (N, G, Cog, P)``, which *is* the
  output ``(N, Co, O...)`` after a free reshape: no transpose of the output, and grouped /
  depthwise convolution is the ``G`` batch axis of ``np.matmul``, never a Python loop;
* a 1x1 kernel with stride 1 and no padding skips im2col: the input already is the column
  matrix;
* col2im (the adjoint of im2col) loops over the ``prod(K)`` kernel offsets with one strided
  ``+=`` each into a zero padded buffer, never over pixels or channels.

Measured refinements of the im2col algorithm (``benchmarks/``, 2-core AVX2/AVX-512 machine):

* column matrices live in a reused workspace (``WORKSPACE``): a fresh 75 MB array page-faults
  on first touch, which cost as much as building it;
* with stride 1, ``gx`` is a convolution of the padded ``gy`` with the flipped, transposed
  weight (its columns, then one GEMM straight into ``gx``): about 1.5x faster than a GEMM into
  a column gradient plus col2im, where ``gy``'s columns are at most 2.5x the column gradient
  (``GX_AS_CONV_MAX_RATIO``); the weight gradient then reuses those columns
  (``conv_backward_fused``) instead of building the input's a second time;
* below ``FOLD_MAX_P`` output positions the batch is folded into the GEMM columns: one large
  GEMM instead of ``N`` skinny ones (ResNet's 8x8 and 4x4 stages). A dense convolution then
  builds its columns channels-last, ``(N*P, K...*C)``, from a channels-last copy of the input
  (``_columns_last``), where a window's last kernel axis and the channels are adjacent in
  memory: the copy's inner loop runs ``Kn*C`` elements instead of ``On`` (4 to 8 there), 2-8x
  faster; grouped convolutions fold as ``(G, CK, N*P)``;
* depthwise convolutions at stride 1 build and consume their columns one cache-sized block
  of (image, channel) rows at a time, on the flattened padded grid (``DEPTHWISE_BLOCKED``):
  about 2x faster than the whole column matrix for each of forward, ``gx`` and ``gw``;
  each block is padded into a buffer of its thread (no padded copy of the whole input);
* the memory-bound passes (column copies, col2im, depthwise multiply-adds) run on
  ``svertka.backends.get_num_threads()`` threads over parts of the batch (``parallel``);
* every GEMM goes through ``kernels.gemm.matmul``: split over the BLAS's threads, each part
  on a single-threaded BLAS (per-image products 15-20% faster than OpenBLAS's own threading,
  and no BLAS worker spinning while svertka's threads copy);
* column matrices that are not kept for the weight gradient are never built whole: each
  thread builds a few images' columns (NCHW, ``NCHW_BLOCKED``, or channels-last,
  ``_cl_blocks``) and runs their GEMM while they are in its cache; the forward of a
  (32, 64, 32, 32) 3x3 layer needs 2 x 4 MB of scratch instead of 75 MB.

Other algorithms, chosen with ``svertka.backends.conv_algorithm`` (``'auto'`` picks per call,
see ``svertka.backends.select_conv_algorithm``): ``'implicit_gemm'`` (one GEMM per kernel
offset, accumulated, no column matrix; at stride 1 each offset reads a shifted contiguous slice
of the flattened padded input), ``'fft'`` (``conv_fft`` for the forward and the stride-1 input
gradient) and ``'direct'`` (the readable reference loop over kernel offsets; for depthwise
convolutions a multiply-add per offset over cache-sized blocks of the batch).
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

from svertka import backends
from svertka.kernels import gemm
from svertka.kernels.parallel import parallel
from svertka.kernels.window import out_shape, pad_constant, window_view

__all__ = ["same_pads", "conv_out_shape", "im2col", "col2im", "conv_forward",
           "conv_input_grad", "conv_weight_grad", "conv_fft", "release", "keep_cols",
           "kept_cols_bytes", "WORKSPACE"]

# The forward's column matrix is kept for the weight gradient when it is at most
# ``KEEP_COLS_BYTES`` big and the kept matrices (of all the layers whose backward has not run
# yet) stay within ``KEEP_COLS_TOTAL_BYTES``; the others go back to the workspace at once and
# are rebuilt by the backward. Keeping every layer's columns made ResNet-18's training step
# peak at 3x torch's memory (1.1 GB vs 350 MB at batch 32). Rebuilding costs more than the
# copy itself: the weight gradient of the lecture CNN's second layer (18 MB of columns) took
# 6.2-7.4 ms rebuilt against 4.0-4.9 ms kept, and its training step (batch 64) runs 2-3 ms
# faster with all three layers' columns kept (34 MB). The 64 MB total keeps ResNet-18's peak
# memory where the old 16 MB-per-matrix rule had it (550 MB of RSS growth over two steps at
# batch 32; 620 MB with a 128 MB total, for no measurable time); its 75 MB and 38 MB
# matrices are always rebuilt.
KEEP_COLS_BYTES = 24 * 2**20
KEEP_COLS_TOTAL_BYTES = 64 * 2**20

_kept_bytes = 0
_kept_lock = threading.Lock()


def _unkeep(nbytes):
    global _kept_bytes
    with _kept_lock:
        _kept_bytes -= nbytes


def keep_cols(cols):
    """Whether to keep ``cols`` (a column matrix from ``conv_forward(..., keep_cols=True)``)
    for the weight gradient: ``True`` when it fits ``KEEP_COLS_BYTES`` and the matrices kept
    so far plus this one fit ``KEEP_COLS_TOTAL_BYTES``. A kept matrix counts until the array
    object is garbage collected (after ``release``, or when the graph holding it is dropped
    without a backward), so the total cannot leak.

    >>> a = np.zeros((4, 4))
    >>> keep_cols(a), kept_cols_bytes() >= a.nbytes
    (True, True)
    """
    global _kept_bytes
    n = cols.nbytes
    if n > KEEP_COLS_BYTES:
        return False
    with _kept_lock:
        if _kept_bytes + n > KEEP_COLS_TOTAL_BYTES:
            return False
        _kept_bytes += n
    weakref.finalize(cols, _unkeep, n)
    return True


def _would_keep(nbytes):
    """Whether ``keep_cols`` would keep a matrix of ``nbytes`` now (columns it would refuse
    are not worth building whole)."""
    return nbytes <= KEEP_COLS_BYTES and _kept_bytes + nbytes <= KEEP_COLS_TOTAL_BYTES


def kept_cols_bytes():
    """Bytes of the column matrices currently kept by ``keep_cols``."""
    return _kept_bytes


def same_pads(kernel, dilation):
    """``(lo, hi)`` pairs of ``padding='same'``: the extra odd pixel goes high, as in torch.

    >>> same_pads((3, 4), (1, 1))
    ((1, 1), (1, 2))
    """
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def conv_out_shape(spatial, kernel, stride, pads, dilation):
    """Output sizes ``floor((I + lo + hi - D*(K-1) - 1) / S) + 1`` per spatial axis.

    >>> conv_out_shape((32, 32), (5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1))
    (28, 28)
    """
    return out_shape(spatial, kernel, stride, pads, dilation)


def _is_pointwise(kernel, stride, pads, spatial, outs):
    """A 1x1 kernel, stride 1, no padding, output as large as the input: a plain GEMM."""
    return (all(k == 1 for k in kernel) and all(s == 1 for s in stride)
            and not any(lo or hi for lo, hi in pads) and tuple(spatial) == tuple(outs))


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

    def part(b):                                                     # batch items b
        g, c = gxp[b], cols[b]
        for offs in np.ndindex(*kernel):
            g[_offset_slices(offs, stride, dilation, outs)] += c[(slice(None),) * 2 + offs]

    if cols.size:
        parallel(part, x_shape[0], cols.nbytes)
    if not any(lo or hi for lo, hi in pads):
        return gxp
    crop = (slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                              for i, (lo, _) in zip(x_shape[2:], pads))
    return gxp[crop]


class _Workspace:
    """A cache of large scratch arrays (column matrices), reused across calls and steps.

    Fresh multi-megabyte arrays come from ``mmap`` and page-fault on first touch (several ms
    for a 75 MB column matrix, as much as building it). ``take`` hands out a view of a byte
    block; ``give`` (with the array or any view of it) returns the block, which the next
    ``take`` of at most its size and at least half of it reuses, whatever the shape. So the
    cache holds about the largest simultaneous need, not one buffer per shape. Only arrays
    that nothing else references may be given back. At most ``limit`` bytes are kept.
    """

    MIN_BYTES = 2**20

    def __init__(self, limit=1024 * 2**20):
        self.limit = limit
        self.nbytes = 0
        self._free = []                                  # byte blocks, smallest first
        self._lent = weakref.WeakValueDictionary()      # id -> block handed out
        self._lock = threading.Lock()

    def take(self, shape, dtype):
        dtype = np.dtype(dtype)
        need = math.prod(shape) * dtype.itemsize
        block = None
        if need >= self.MIN_BYTES:
            with self._lock:
                for i, b in enumerate(self._free):
                    if need <= b.nbytes <= 2 * need:
                        block = self._free.pop(i)
                        self.nbytes -= block.nbytes
                        break
        if block is None:
            if need < self.MIN_BYTES:
                return np.empty(shape, dtype)
            block = np.empty(need, np.uint8)
        self._lent[id(block)] = block
        return block[:need].view(dtype).reshape(shape)

    def give(self, a):
        """Take back ``a`` (an array from ``take`` or a view of it; anything else is
        ignored)."""
        if a is None:
            return
        block = a.base if a.base is not None else a
        with self._lock:
            if self._lent.get(id(block)) is not block:
                return
            del self._lent[id(block)]
            if self.nbytes + block.nbytes > self.limit:
                self._free.clear()
                self.nbytes = 0
                if block.nbytes > self.limit:
                    return
            self._free.append(block)
            self._free.sort(key=lambda b: b.nbytes)
            self.nbytes += block.nbytes

    def clear(self):
        with self._lock:
            self._free.clear()
            self.nbytes = 0


WORKSPACE = _Workspace()


def release(cols):
    """Hand a column matrix returned by ``conv_forward(..., keep_cols=True)`` back for reuse
    (call it once nothing uses it; arrays not made by the workspace, such as the view of the
    input that pointwise kernels use, are ignored)."""
    WORKSPACE.give(cols)


def _algorithm(x_shape, w_shape, stride, dilation, groups, algorithm):
    return backends.resolve_conv_algorithm(x_shape, w_shape, stride, dilation, groups,
                                           algorithm)


# Below this many output positions the GEMMs fold the batch into their columns: one
# (Cog, CK) @ (CK, N*P) GEMM per group instead of N skinny ones of P columns each.
FOLD_MAX_P = 160


def _fold(N, P):
    return N > 1 and P < FOLD_MAX_P


def _columns(x, kernel, stride, pads, dilation, groups, out, fold=False):
    """The column matrix as ``(N, G, CK, P)`` (no copy at all for pointwise kernels), or
    with ``fold`` as ``(G, CK, N*P)`` (the batch next to the positions).

    The matrix is a view of a workspace array (see ``release``)."""
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
    if _is_pointwise(kernel, stride, pads, x.shape[2:], out):
        P = math.prod(x.shape[2:])
        return x.reshape(N, groups, C // groups, P)                 # (N, G, Cg, P)
    n = len(kernel)
    xp = pad_constant(x, pads)
    view = window_view(xp, kernel, stride, dilation, out)            # (N, C, O..., K...)
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))
    view = view.transpose(perm)                                      # (N, C, K..., O...)
    buf = WORKSPACE.take(view.shape, x.dtype)
    parallel(lambda b: np.copyto(buf[b], view[b]), N, buf.nbytes)
    P = math.prod(out)
    CK = C // groups * math.prod(kernel)
    return buf.reshape(N, groups, CK, P)                             # (N, G, CK, P)


# A dense (one group) convolution with few output positions builds its columns channels-last
# instead, ``(N*P, K1*..*Kn*C)``: the input is copied once to ``(N, I..., C)`` (padded), whose
# windows have their last kernel axis and the channels side by side in memory, so the column
# copy's inner loop runs ``Kn*C`` elements instead of the ``On`` of the NCHW layout (8 or 4
# in ResNet's last stages, where NumPy's per-loop overhead dominated the copy), and the
# weight gradient is one GEMM. Measured (2 threads, float32, 3x3 'same'), columns:
# (64, 64, 8, 8) 1.98 -> 0.41 ms, (64, 128, 8, 8) 4.39 -> 1.48 ms, (32, 256, 8, 8)
# 3.87 -> 0.86 ms, (32, 512, 4, 4) 3.40 -> 0.42 ms, the GEMMs unchanged; at 16x16 with at
# most 64 channels (the lecture CNN's second layer): forward 13.3 -> 10.8 ms, input gradient
# 20.8 -> 15.6 ms, training step 77 -> 68 ms; at 16x16 with 128 channels a tie, at 32x32
# 1.4-1.6x slower: the input's transposition to channels-last costs more than the copy
# saves (NumPy transposes (32, 64, 32, 32) at 1.4 GB/s, 6 ms), which also made ResNet's
# stride-2 64->128 convolution from 32x32 to 16x16 take 19.3 instead of 11.6 ms. Rule: at
# most ``CHANNELS_LAST_MAX_I`` input positions, and fewer than ``FOLD_MAX_P`` output
# positions or at most ``CHANNELS_LAST_MAX_P`` with at most ``CHANNELS_LAST_MAX_C``
# channels.
CHANNELS_LAST = True
CHANNELS_LAST_MAX_I = 256
CHANNELS_LAST_MAX_P = 256
CHANNELS_LAST_MAX_C = 64


def _channels_last(N, C, I, P, groups, pointwise):
    return (CHANNELS_LAST and groups == 1 and N > 1 and not pointwise
            and I <= CHANNELS_LAST_MAX_I
            and (P < FOLD_MAX_P or (P <= CHANNELS_LAST_MAX_P and C <= CHANNELS_LAST_MAX_C)))


def _window_last(xl, kernel, stride, dilation, out):
    """The windows of a padded channels-last ``xl`` ``(N, Ip..., C)``: a read-only view
    ``(N, O..., K..., C)``."""
    sN, *sp, sC = xl.strides
    return np.lib.stride_tricks.as_strided(
        xl, shape=(xl.shape[0],) + tuple(out) + tuple(kernel) + (xl.shape[-1],),
        strides=((sN,) + tuple(st * s for st, s in zip(sp, stride))
                 + tuple(st * d for st, d in zip(sp, dilation)) + (sC,)),
        writeable=False)


def _columns_last(x, kernel, stride, pads, dilation, out):
    """The column matrix channels-last, ``(N*P, K1*..*Kn*C)``: row ``(n, o...)`` is the
    window at ``o`` of image ``n``, taps in row-major order, channels innermost. A view of a
    workspace array (see ``release``)."""
    N, C = x.shape[:2]
    padded = _padded_shape(x.shape, pads)[2:]
    xl = (np.zeros if any(lo or hi for lo, hi in pads) else np.empty)(
        (N,) + padded + (C,), dtype=x.dtype)                        # (N, Ip..., C)
    inner = (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, x.shape[2:]))
    xl[inner] = np.moveaxis(x, 1, -1)
    view = _window_last(xl, kernel, stride, dilation, out)          # (N, O..., K..., C)
    buf = WORKSPACE.take(view.shape, x.dtype)
    parallel(lambda b: np.copyto(buf[b], view[b]), N, buf.nbytes)
    return buf.reshape(N * math.prod(out), math.prod(kernel) * C)


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
        with gemm.single_threaded_blas():
            parallel(part, N, 0, min_bytes=0, threads=max(1, min(threads, N)))
    return states


def _cl_blocks(x, kernel, stride, pads, dilation, out, consume, threads):
    """Channels-last columns made and used a few images at a time on each of ``threads``
    threads (at most ``CL_CHUNK_BYTES`` in all): for blocks ``i:j`` of the batch, build
    ``x[i:j]``'s columns ``((j - i) * P, K*C)`` and call ``consume(i, j, cols, state)``.
    Each thread copies its own images to channels-last, builds their columns and runs their
    GEMM: one hand-off to the threads per call, not two per chunk (``_batch_blocks``)."""
    N, C = x.shape[:2]
    P, KC = math.prod(out), math.prod(kernel) * C
    step = max(1, CL_CHUNK_BYTES // (max(1, min(threads, N)) * P * KC * x.itemsize))
    padded = _padded_shape(x.shape, pads)[2:]
    inner = (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, x.shape[2:]))

    def build(i, j, xl, cols):                                       # xl: (b, Ip..., C)
        xl[inner] = np.moveaxis(x[i:j], 1, -1)
        np.copyto(cols, _window_last(xl, kernel, stride, dilation, out))

    return _batch_blocks(x, padded + (C,), tuple(out) + tuple(kernel) + (C,), step, threads,
                         build, lambda i, j, c, state: consume(i, j, c.reshape(-1, KC), state))


def _gw_last(gy, cols, matmul=None):
    """``gy (n, Co, O...)`` against channels-last columns ``(n*P, K*C)``: ``(Co, K*C)``
    (by ``matmul``, default ``gemm.matmul``)."""
    n, Co = gy.shape[:2]
    gyt = np.ascontiguousarray(gy.reshape(n, Co, -1).transpose(1, 0, 2)).reshape(Co, -1)
    return (matmul or gemm.matmul)(gyt, cols)


def _gw_from_last(gwl, kernel, w_shape):
    """``(Co, K*C)`` in the channels-last order -> the weight's ``(Co, C, K...)``."""
    gw = np.moveaxis(gwl.reshape((w_shape[0],) + tuple(kernel) + (w_shape[1],)), -1, 1)
    return np.ascontiguousarray(gw)


def _weight_last(w):
    """``(Co, C, K...)`` -> ``(Co, K1*..*Kn*C)``, the channels-last columns' order."""
    return np.ascontiguousarray(np.moveaxis(w, 1, -1)).reshape(w.shape[0], -1)


# Large feature maps (the NCHW columns of a 32x32 layer are 2.4 MB per image at 64
# channels) whose columns are not kept are built and multiplied in blocks of a few images
# on each thread: the thread pads its images into its own buffer (whose border stays zero
# from one block to the next), copies their columns, and runs the block's GEMM on the
# single-threaded BLAS (see ``kernels.gemm``) while the columns are still in its cache. No
# whole column matrix exists: the forward of a (32, 64, 32, 32) 3x3 layer needed 75 MB of
# columns and 9.5 MB of padded input, now 2 x ``NCHW_BLOCK_BYTES``. The same driver serves
# the fused stride-1 backward (``conv_backward_fused``). A loop over blocks of the batch,
# not over single images for their own sake: each block is one copy and one GEMM.
NCHW_BLOCKED = True
NCHW_BLOCK_BYTES = 4 * 2**20


def _nchw_blocks(x, kernel, stride, pads, dilation, groups, out, consume, threads):
    """For blocks ``i:j`` of the batch, on ``threads`` threads: build the columns
    ``(j - i, G, CK, P)`` of ``x[i:j]`` and call ``consume(i, j, cols, state)``, where
    ``state`` is a dict private to the calling thread (``_batch_blocks``). Returns the
    threads' states."""
    N, C = x.shape[:2]
    n = len(kernel)
    P = math.prod(out)
    CK = C // groups * math.prod(kernel)
    step = max(1, NCHW_BLOCK_BYTES // max(CK * groups * P * x.itemsize, 1))
    padded = _padded_shape(x.shape, pads)[2:]
    inner = (slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                               for (lo, _), i in zip(pads, x.shape[2:]))
    perm = (0, 1) + tuple(range(2 + n, 2 + 2 * n)) + tuple(range(2, 2 + n))

    def build(i, j, xp, cols):                                       # xp: (b, C, Ip...)
        xp[inner] = x[i:j]
        np.copyto(cols, window_view(xp, kernel, stride, dilation, out).transpose(perm))

    return _batch_blocks(x, (C,) + padded, (C,) + tuple(kernel) + tuple(out), step, threads,
                         build, lambda i, j, c, state: consume(
                             i, j, c.reshape(j - i, groups, CK, P), state))


def _nchw_blocked(keep, pointwise):
    return NCHW_BLOCKED and not keep and not pointwise


def _blocked_im2col_forward(x, w, stride, pads, dilation, groups, out):
    """``y`` of a convolution over blocks of the batch (see ``NCHW_BLOCKED``)."""
    N, Co = x.shape[0], w.shape[0]
    wm = w.reshape(groups, Co // groups, math.prod(w.shape[1:]))   # (G, Cog, CK)
    y = np.empty((N, groups, Co // groups, math.prod(out)), dtype=np.result_type(x, w))

    def consume(i, j, cols, state):
        np.matmul(wm, cols, out=y[i:j])                              # (b, G, Cog, P)

    _nchw_blocks(x, tuple(w.shape[2:]), stride, pads, dilation, groups, out, consume,
                 gemm.blas_threads())
    return y.reshape((N, Co) + tuple(out))


def _add_to(state, key, part):
    """``state[key] += part`` (the first part is taken as it is)."""
    if key in state:
        state[key] += part
    else:
        state[key] = part


def _blocked_weight_grad(x, gy, w_shape, stride, pads, dilation, groups):
    """``gw`` over blocks of the batch (see ``NCHW_BLOCKED``): each thread sums its
    blocks' ``cols @ gy^T``, then the threads' sums are added."""
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    gym = gy.reshape(N, groups, Co // groups, math.prod(outs))      # (N, G, Cog, P)

    def consume(i, j, cols, state):                                  # (b, G, CK, P)
        _add_to(state, "gwt", np.matmul(cols, gym[i:j].transpose(0, 1, 3, 2)).sum(axis=0))

    states = _nchw_blocks(x, tuple(w_shape[2:]), stride, pads, dilation, groups, outs,
                          consume, gemm.blas_threads())
    gwt = sum(st["gwt"] for st in states)                            # (G, CK, Cog)
    return np.ascontiguousarray(gwt.transpose(0, 2, 1)).reshape(w_shape)


# ------------------------------------------------------------------------ shared helpers

def _offset_slices(offs, stride, dilation, outs):
    """The strided slab of the padded input read by kernel offset ``offs``: ``(N, C, O...)``."""
    return (slice(None), slice(None)) + tuple(
        slice(k * d, k * d + s * (o - 1) + 1, s)
        for k, d, s, o in zip(offs, dilation, stride, outs))


def _padded_shape(x_shape, pads):
    return tuple(x_shape[:2]) + tuple(i + lo + hi for i, (lo, hi) in zip(x_shape[2:], pads))


def _crop(a, x_shape, pads):
    """The unpadded part ``x_shape`` of a padded array (a view)."""
    if not any(lo or hi for lo, hi in pads):
        return a
    return a[(slice(None), slice(None)) + tuple(slice(lo, lo + i)
                                                for i, (lo, _) in zip(x_shape[2:], pads))]


def _flat_grid(padded, outs, kernel, dilation):
    """Stride-1 'flat shift' geometry on the flattened padded grid ``padded`` (spatial).

    Output position ``o`` sits at flat index ``sum(o_i * st_i)`` of the padded grid (``st``
    its C-order strides), so the input a kernel offset ``k`` reads for ALL outputs is one
    contiguous slice ``[shift_k, shift_k + L)`` of the flattened input. Returns ``L`` (the
    span of the outputs, garbage positions between rows included) and the shifts.
    """
    st = [math.prod(padded[i + 1:]) for i in range(len(padded))]
    L = sum((o - 1) * s for o, s in zip(outs, st)) + 1
    shifts = [sum(k * d * s for k, d, s in zip(offs, dilation, st))
              for offs in np.ndindex(*kernel)]
    return L, shifts


def _to_grid(a, padded, L):
    """``a`` ``(N, C, O...)`` placed on the padded grid, flattened: ``(N, C, L)``, zeros at
    the positions between the outputs' rows."""
    N, C = a.shape[:2]
    g = np.zeros((N, C, math.prod(padded)), dtype=a.dtype)
    g.reshape((N, C) + tuple(padded))[(slice(None), slice(None)) + tuple(
        slice(0, o) for o in a.shape[2:])] = a
    return g[:, :, :L]


def _from_grid(g, padded, outs):
    """Inverse of ``_to_grid``: ``(N, C, >= L)`` on the padded grid to ``(N, C, O...)``."""
    N, C = g.shape[:2]
    full = np.empty((N, C, math.prod(padded)), dtype=g.dtype)
    full[:, :, :g.shape[2]] = g
    return np.ascontiguousarray(full.reshape((N, C) + tuple(padded))[
        (slice(None), slice(None)) + tuple(slice(0, o) for o in outs)])


def _depthwise(x_shape, w_shape, groups):
    return groups == x_shape[1] and w_shape[1] == 1 and w_shape[0] == groups


# Depthwise multiply-adds run over blocks of the batch whose slabs fit in the L2 cache: the
# nine passes per block then stay in cache instead of streaming the whole tensor nine times.
BLOCK_BYTES = 256 * 2**10


def _blocks(span, item_bytes):
    """Cache-sized blocks of the batch items ``span`` (a slice with a start and a stop)."""
    step = max(1, BLOCK_BYTES // max(1, item_bytes))
    return [slice(i, min(span.stop, i + step)) for i in range(span.start, span.stop, step)]


# Depthwise convolutions at stride 1 (im2col algorithm): the columns are built and consumed
# one block of (image, channel) rows at a time, so they stay in cache and are never written
# out whole. Each row is the flattened padded plane, and a kernel offset reads one contiguous
# slice of it (``_flat_grid``), so building a block's columns is ``prod(K)`` long copies;
# the block's GEMMs are then ``(1, K) @ (K, L)`` per row (forward) or ``(K, L) @ (L, 1)``
# (weight gradient). Measured on (32, 64, 32, 32) with a 3x3 kernel, one thread: forward
# 3.9 ms, weight gradient 4.3 ms, against 7.4-8.0 and 7.7-8.4 ms for the whole column matrix
# and 10-14 ms for a multiply-add per offset (NumPy's inner loops are only one image row
# long there). Each thread pads its blocks into its own buffer instead of reading a padded
# copy of the whole input (one pass over the input and one hand-off to the threads less per
# padded operand; the depthwise layer's training step 17.8 -> 17.0 ms over four pairs of
# back-to-back runs). Below ``FOLD_MAX_P`` output positions the per-row GEMMs are too small
# and the folded column matrix is used instead.
DEPTHWISE_BLOCKED = True

# Bytes of one block's columns: 2 MB (about 50 rows of a 34x34 plane with 9 taps) measured
# best; 4 MB and more were twice as slow, 0.5 MB slightly slower.
DEPTHWISE_BLOCK_BYTES = 2 * 2**20


def _blocked_depthwise(x_shape, w_shape, stride, groups, outs):
    return (DEPTHWISE_BLOCKED and _depthwise(x_shape, w_shape, groups)
            and all(s == 1 for s in stride) and math.prod(outs) >= FOLD_MAX_P)


def _row_blocks(x, kernel, pads, dilation, outs, dtype, consume):
    """Drive the blocked depthwise passes: for every block of rows ``r0:r1`` of ``x`` seen as
    ``(N*C, I...)``, pad the block into a buffer of the thread (whose border stays zero from
    one block to the next), fill the block's columns ``(B, K, L)`` from it and call
    ``consume(r0, r1, cols)``; the blocks are split over ``parallel``. No padded copy of the
    whole input is made. Returns the padded spatial shape and ``L``."""
    N, C = x.shape[:2]
    padded = tuple(i + lo + hi for i, (lo, hi) in zip(x.shape[2:], pads))
    R = N * C
    src = x.reshape((R,) + x.shape[2:])                              # (R, I...)
    L, shifts = _flat_grid(padded, outs, kernel, dilation)
    KK = len(shifts)
    step = max(1, DEPTHWISE_BLOCK_BYTES // (KK * L * np.dtype(dtype).itemsize))

    def part(span):                                                  # rows span
        m = min(step, span.stop - span.start)
        cols = np.empty((m, KK, L), dtype)
        xb = np.zeros((m, math.prod(padded)), dtype)                 # (B, Lp)
        for r0 in range(span.start, span.stop, step):
            r1 = min(span.stop, r0 + step)
            c, b = cols[:r1 - r0], xb[:r1 - r0]
            _onto_grid(b, src[r0:r1], padded, pads)
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
    _onto_grid(g, rows, padded, pads)
    np.matmul(cols, g[:, :cols.shape[2], None], out=out)


def _onto_grid(buf, rows, padded, pads):
    """Write ``rows`` ``(B, I...)`` into the flattened grid ``buf`` ``(B, prod(padded))`` at
    offsets ``lo`` of ``pads``; the rest of ``buf`` is left as it is (zero)."""
    inner = (slice(None),) + tuple(slice(lo, lo + i) for (lo, _), i in zip(pads, rows.shape[1:]))
    buf.reshape((buf.shape[0],) + tuple(padded))[inner] = rows


def _blocked_depthwise_forward(x, w, pads, dilation, outs, dot=None, bias=None):
    """Depthwise forward at stride 1 over cache-sized blocks of columns (see
    ``DEPTHWISE_BLOCKED``): ``y[row] = w[c] @ cols[row]`` per (image, channel) row.

    With ``dot`` (an array ``(N, C, J...)`` with ``J <= padded`` sizes, placed at the origin
    of the padded grid of ``x``, zeros elsewhere) also returns ``cols[row] @ dot[row]``
    ``(N*C, K, 1)`` from the same columns (``conv_depthwise_backward`` uses it for the
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

    _row_blocks(x, kernel, pads, dilation, tuple(outs), dtype, consume)
    y = y.reshape((N, C) + tuple(outs))
    return y if dot is None else (y, partial)


def depthwise_backward_applies(x_shape, w_shape, gy_shape, stride, pads, dilation, groups,
                               algorithm=None):
    """Whether ``conv_depthwise_backward`` serves this convolution's ``gx`` and ``gw``: a
    depthwise convolution at stride 1 under the im2col algorithm, whose input gradient is
    computed as a blocked convolution of the padded ``gy``."""
    kernel = tuple(w_shape[2:])
    return (DEPTHWISE_FUSED_BACKWARD and math.prod(gy_shape) > 0 and math.prod(x_shape) > 0
            and _algorithm(x_shape, w_shape, stride, dilation, groups, algorithm) == "im2col"
            and GX_AS_CONV and _gx_as_conv_applies(kernel, stride, pads, dilation)
            and _blocked_depthwise(x_shape, w_shape, stride, groups, tuple(x_shape[2:])))


# The backward of a blocked depthwise convolution computes gw from gy's columns (built for
# gx anyway) and x placed on their grid, instead of building x's columns a second time:
# measured 1.5-2 ms less per backward on (32, 64, 32, 32), 3x3.
DEPTHWISE_FUSED_BACKWARD = True


def conv_depthwise_backward(gy, x, w, pads, dilation):
    """``(gx, gw)`` of a stride-1 depthwise ``conv_forward`` in one blocked pass.

    ``gx`` is the correlation of ``gy`` padded by ``d(K-1) - lo`` / ``d(K-1) - hi`` with the
    flipped kernel (``_input_grad_as_conv``); its columns ``G[k', i] = gy_pad[i + d k']``
    also give ``gw[k] = sum_i x[i] G[K-1-k, i]`` (``i = o + d k - lo`` over the input's
    positions), so ``gw`` is one more GEMM per row with ``x`` placed on that grid. See
    :func:`depthwise_backward_applies` for where it applies.

    >>> x, w, gy = np.ones((1, 1, 4)), np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 4))
    >>> gx, gw = conv_depthwise_backward(gy, x, w, ((1, 1),), (1,))
    >>> gx, gw
    (array([[[3., 6., 6., 5.]]]), array([[[3., 4., 3.]]]))
    """
    n = w.ndim - 2
    N, C = x.shape[:2]
    kernel = tuple(w.shape[2:])
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    gpads = tuple((d * (k - 1) - lo, i - o + lo) for (lo, _), k, d, i, o
                  in zip(pads, kernel, dilation, x.shape[2:], gy.shape[2:]))
    gx, partial = _blocked_depthwise_forward(gy, wf, gpads, dilation, tuple(x.shape[2:]),
                                             dot=x)
    gw = partial.reshape(N, C, math.prod(kernel)).sum(axis=0)[:, ::-1]
    return gx, np.ascontiguousarray(gw).reshape(w.shape)


def _blocked_depthwise_weight_grad(x, gy, w_shape, pads, dilation):
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

    _row_blocks(x, kernel, pads, dilation, outs, dtype, consume)
    return partial.reshape(N, C, KK).sum(axis=0).reshape(w_shape)


# ------------------------------------------------------------------------ forward

def conv_forward(x, w, stride, pads, dilation, groups, out=None, keep_cols=False,
                 algorithm=None, bias=None):
    """Cross-correlation ``y = x * w`` (torch's conv), plus an optional bias.

    Args:
        x: input ``(N, C, I1, .., In)``.
        w: weight ``(Co, C // groups, K1, .., Kn)``; the rank ``n`` is ``w.ndim - 2``.
        stride, dilation: ``n`` ints each. pads: ``n`` ``(lo, hi)`` pairs.
        groups: ``G``; ``C`` and ``Co`` are multiples of it.
        out: optional output sizes (default: the usual formula).
        keep_cols: also return the column matrix ``(N, G, CK, P)`` for ``conv_weight_grad``
            (``None`` when the algorithm builds none); hand it back with ``release``.
        algorithm: ``'im2col'``, ``'implicit_gemm'``, ``'fft'``, ``'direct'`` or ``'auto'``;
            default: ``svertka.backends.get_conv_algorithm()``.
        bias: optional ``(Co,)``, added to the output (in the blocked depthwise pass as its
            outputs are copied off the grid; elsewhere one in-place add).

    Returns:
        ``y`` ``(N, Co, O1, .., On)``, or ``(y, cols)`` with ``keep_cols``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_forward(x, np.ones((1, 1, 3)), (1,), ((1, 1),), (1,), 1)
    array([[[1., 3., 6., 9., 7.]]])
    >>> conv_forward(x, np.ones((1, 1, 3)), (1,), ((1, 1),), (1,), 1, bias=np.array([0.5]))
    array([[[1.5, 3.5, 6.5, 9.5, 7.5]]])
    """
    kernel = tuple(w.shape[2:])
    if out is None:
        out = conv_out_shape(x.shape[2:], kernel, stride, pads, dilation)
    out = tuple(out)
    algo = _algorithm(x.shape, w.shape, stride, dilation, groups, algorithm)
    if x.shape[0] == 0 or 0 in out:
        algo = "im2col"
    if algo == "fft" and (any(s != 1 for s in stride) or any(d != 1 for d in dilation)
                          or groups != 1 or out != conv_out_shape(x.shape[2:], kernel,
                                                                  stride, pads, dilation)):
        algo = "im2col"
    cols = None
    if algo == "fft":
        y = conv_fft(x, w, pads)
    elif algo == "direct":
        y = _direct_forward(x, w, stride, pads, dilation, groups, out)
    elif algo == "implicit_gemm":
        y = _implicit_forward(x, w, stride, pads, dilation, groups, out)
    elif _blocked_depthwise(x.shape, w.shape, stride, groups, out):
        y = _blocked_depthwise_forward(x, w, pads, dilation, out, bias=bias)
        bias = None                                                  # added already
    else:
        y, cols = _im2col_forward(x, w, stride, pads, dilation, groups, out, keep=keep_cols)
    if bias is not None:
        y += bias.reshape((-1,) + (1,) * (y.ndim - 2))               # y is a fresh array
    if keep_cols:
        return y, cols
    release(cols)
    return y


# Channels-last column matrices that are not kept (inference, the input gradient as a
# convolution, a rebuilt weight gradient) are built and consumed a few images at a time, at
# most this many bytes each: the lecture CNN's second layer's input gradient needed 38 MB of
# columns at once, the largest array of its training step. Its peak memory (RSS growth over
# two steps): 173 MB whole, 153 MB with 12 MB chunks, 131 -> 106 MB with 12 -> 8 MB chunks
# once the graph stopped holding unneeded intermediates (torch: 63-73 MB); 6 MB chunks saved
# no more and made its inference 7% slower, 8 MB cost no measurable time.
CL_CHUNK_BYTES = 8 * 2**20


def _im2col_forward(x, w, stride, pads, dilation, groups, out, keep=True):
    """``(y, cols)``: the column matrix (channels-last for few output positions, folded for
    grouped convolutions with few positions) and one GEMM. Without ``keep``, or when
    ``keep_cols`` would refuse them, the channels-last and NCHW columns are made and used a
    few images at a time on each thread (``_cl_blocks``, ``_nchw_blocks``) and ``cols`` is
    ``None``."""
    kernel = tuple(w.shape[2:])
    N, Co = x.shape[0], w.shape[0]
    P = math.prod(out)
    wm = w.reshape(groups, Co // groups, math.prod(w.shape[1:]))   # (G, Cog, CK)
    pointwise = _is_pointwise(kernel, stride, pads, x.shape[2:], out)
    if _channels_last(N, x.shape[1], math.prod(x.shape[2:]), P, groups, pointwise):
        wl = _weight_last(w)                                         # (Co, K*C)
        y = np.empty((N, Co, P), dtype=np.result_type(x, w))
        cols = None
        if keep and _would_keep(N * P * wl.shape[1] * x.itemsize):
            cols = _columns_last(x, kernel, stride, pads, dilation, out)  # (N*P, K*C)
            yb = gemm.matmul(cols, wl.T)                             # (N*P, Co)
            y[...] = yb.reshape(N, P, Co).transpose(0, 2, 1)
        else:
            def consume(i, j, c, state):                             # c: (b*P, K*C)
                y[i:j] = np.matmul(c, wl.T).reshape(j - i, P, Co).transpose(0, 2, 1)

            _cl_blocks(x, kernel, stride, pads, dilation, out, consume, gemm.blas_threads())
        y = y.reshape((N, Co) + out)
    elif _fold(N, P) and not pointwise:
        cols = _columns(x, kernel, stride, pads, dilation, groups, out, fold=True)
        y = gemm.matmul(wm, cols).reshape(Co, N, P)                  # (G, Cog, N*P)
        y = np.ascontiguousarray(y.transpose(1, 0, 2)).reshape((N, Co) + out)
    elif _nchw_blocked(keep and _would_keep(N * wm.shape[2] * groups * P * x.itemsize),
                       pointwise):
        y, cols = _blocked_im2col_forward(x, w, stride, pads, dilation, groups, out), None
    else:
        cols = _columns(x, kernel, stride, pads, dilation, groups, out)  # (N, G, CK, P)
        y = gemm.matmul(wm, cols).reshape((N, Co) + out)             # (N, G, Cog, P) = y
    return y, cols


def _direct_forward(x, w, stride, pads, dilation, groups, outs):
    """Reference: for every kernel offset, ``y += w[..., k] . x_shifted`` (an einsum).

    Depthwise: a multiply-add per offset, per cache-sized block of the batch.
    """
    N, C = x.shape[:2]
    Co, Cg = w.shape[:2]
    kernel = tuple(w.shape[2:])
    xp = pad_constant(x, pads)                                       # (N, C, Ip...)
    dtype = np.result_type(x, w)
    if _depthwise(x.shape, w.shape, groups):
        n = len(kernel)
        taps = w.reshape((Co,) + kernel + (1,) * n)                  # (C, K..., 1...)
        y = np.empty((N, Co) + outs, dtype=dtype)
        tmp = np.empty_like(y)

        def part(b):                                                 # batch items b
            for blk in _blocks(b, y[0].nbytes):
                xb, yb, tb = xp[blk], y[blk], tmp[blk]
                for i, offs in enumerate(np.ndindex(*kernel)):
                    src = xb[_offset_slices(offs, stride, dilation, outs)]   # (B, C, O...)
                    tap = taps[(slice(None),) + offs]
                    if i == 0:
                        np.multiply(src, tap, out=yb)
                    else:
                        np.multiply(src, tap, out=tb)
                        yb += tb

        parallel(part, N, y.nbytes)
        return y
    y = np.zeros((N, Co) + outs, dtype=dtype)
    Cog = Co // groups
    yg = y.reshape((N, groups, Cog) + outs)                          # (N, G, Cog, O...)
    wg = w.reshape((groups, Cog, Cg) + kernel)                       # (G, Cog, Cg, K...)
    for offs in np.ndindex(*kernel):
        xs = xp[_offset_slices(offs, stride, dilation, outs)]        # (N, C, O...)
        xs = xs.reshape((N, groups, Cg) + outs)                      # (N, G, Cg, O...)
        yg += np.einsum("gab,ngb...->nga...", wg[(Ellipsis,) + offs], xs)
    return y


def _implicit_forward(x, w, stride, pads, dilation, groups, outs):
    """One GEMM per kernel offset, accumulated: ``y += W_k @ x_k``; no column matrix.

    With stride 1 ``x_k`` is a contiguous slice of the flattened padded input (see
    ``_flat_grid``), so nothing is copied; with larger strides each offset's slab is copied
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
        L, shifts = _flat_grid(padded, outs, kernel, dilation)
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
        return _from_grid(acc.reshape(N, Co, P), padded, outs)
    return acc.reshape((N, Co) + outs)


def _copied(buf, xp, offs, stride, dilation, outs):
    np.copyto(buf, xp[_offset_slices(offs, stride, dilation, outs)])
    return buf


# ------------------------------------------------------------------------ input gradient

def conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups, algorithm=None):
    """``gx`` of ``conv_forward`` (the transposed convolution of ``gy``).

    im2col: a GEMM ``w^T @ gy`` into columns, then col2im. Also the forward of the transposed
    convolution (``gy`` is then its input, ``x_shape`` its output shape).

    Args:
        gy: ``(N, Co, O1, .., On)``. w: ``(Co, C // groups, K...)``.
        x_shape: ``(N, C, I1, .., In)``, the shape of the result.
        algorithm: as for ``conv_forward``.

    >>> gy = np.ones((1, 1, 3))
    >>> conv_input_grad(gy, np.ones((1, 1, 3)), (1, 1, 5), (1,), ((0, 0),), (1,), 1)
    array([[[1., 2., 3., 2., 1.]]])
    """
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    P = math.prod(outs)
    Cog = Co // groups
    algo = _algorithm(x_shape, w.shape, stride, dilation, groups, algorithm)
    if N == 0 or P == 0:
        return np.zeros(x_shape, dtype=np.result_type(gy, w))
    if algo == "fft":
        gx = _fft_input_grad(gy, w, x_shape, stride, pads, dilation, groups)
        if gx is not None:
            return gx
        algo = "im2col"
    if algo == "direct":
        return _direct_input_grad(gy, w, x_shape, stride, pads, dilation, groups)
    if algo == "implicit_gemm":
        return _implicit_input_grad(gy, w, x_shape, stride, pads, dilation, groups)
    if (GX_AS_CONV and _gx_as_conv_applies(kernel, stride, pads, dilation)
            and _gx_as_conv_pays(w.shape, x_shape, outs, groups)):
        return _input_grad_as_conv(gy, w, x_shape, pads, dilation, groups)
    if Cog == 1 and x_shape[1] == groups:
        return _direct_input_grad(gy, w, x_shape, stride, pads, dilation, groups)
    wm = w.reshape(groups, Cog, math.prod(w.shape[1:]))             # (G, Cog, CK)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    pointwise = _is_pointwise(kernel, stride, pads, x_shape[2:], outs)
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


# With stride 1, the im2col algorithm computes gx as a convolution of the padded gy (its
# columns, then one GEMM straight into gx) instead of a GEMM into columns and col2im, as
# long as gy's columns (Co/G * K rows over the input's positions) are at most
# ``GX_AS_CONV_MAX_RATIO`` times the column gradient col2im would fold (C/G * K rows over
# the output's positions). Measured (2 threads, float32): 64->64 and 128->128 3x3 'same'
# (ratio 1): 25.7 vs 42.9 ms and 20.4 vs 28.8 ms for the convolution; 32->64 (ratio 2): a
# tie; LeNet-5's 6->16 5x5 'valid' on 14x14 (ratio 5.2): 3.8 vs 2.0 ms for col2im; a
# 3->32 first layer (ratio 10.7): 12.7 vs 3.4 ms for col2im.
GX_AS_CONV = True
GX_AS_CONV_MAX_RATIO = 2.5


def _gx_as_conv_applies(kernel, stride, pads, dilation):
    return (all(s == 1 for s in stride) and math.prod(kernel) > 1
            and all(lo <= d * (k - 1) and hi <= d * (k - 1)
                    for (lo, hi), k, d in zip(pads, kernel, dilation)))


def _gx_as_conv_pays(w_shape, x_shape, outs, groups):
    Cog, Cg = w_shape[0] // groups, w_shape[1]
    return Cog * math.prod(x_shape[2:]) <= GX_AS_CONV_MAX_RATIO * Cg * math.prod(outs)


def _input_grad_as_conv(gy, w, x_shape, pads, dilation, groups):
    """``gx`` at stride 1: ``gy`` padded by ``d(K-1) - lo`` / ``d(K-1) - hi`` and correlated
    with the flipped weight, input and output channels swapped within each group."""
    wt, gpads = _as_conv_weight_and_pads(w, pads, dilation, groups, x_shape[2:], gy.shape[2:])
    return conv_forward(gy, wt, (1,) * (w.ndim - 2), gpads, dilation, groups,
                        out=tuple(x_shape[2:]), algorithm="im2col")


def _as_conv_weight_and_pads(w, pads, dilation, groups, spatial, outs):
    """The weight ``(G*Cg, Cog, K...)`` (flipped, input and output channels swapped within
    each group) and the padding of ``gy`` that make the stride-1 input gradient a
    convolution. The high padding comes from the sizes (``spatial``, the result's, and
    ``outs``, gy's), not from ``hi`` alone: a transposed convolution's ``output_padding``
    makes the result longer than the forward convolution's input, and those extra
    positions read zeros from the padding."""
    n = w.ndim - 2
    kernel = tuple(w.shape[2:])
    Co, Cg = w.shape[:2]
    Cog = Co // groups
    wf = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n]
    wt = wf.reshape((groups, Cog, Cg) + kernel).swapaxes(1, 2)      # (G, Cg, Cog, K...)
    wt = np.ascontiguousarray(wt).reshape((groups * Cg, Cog) + kernel)
    gpads = tuple((d * (k - 1) - lo, i - o + lo)
                  for (lo, _), k, d, i, o in zip(pads, kernel, dilation, spatial, outs))
    return wt, gpads


# With stride 1, the backward's weight gradient reuses the columns of the padded ``gy`` that
# the input gradient (as a convolution) builds anyway, instead of building the input's
# columns a second time (see ``conv_backward_fused``).
FUSED_BACKWARD = True


def fused_backward_applies(x_shape, w_shape, gy_shape, stride, pads, dilation, groups,
                           algorithm=None):
    """Whether ``conv_backward_fused`` serves this convolution's ``gx`` and ``gw``: stride
    1, the im2col algorithm with the input gradient as a convolution, and ``gy``'s columns
    in the NCHW layout (the large feature maps, whose input columns are not kept)."""
    kernel = tuple(w_shape[2:])
    N = x_shape[0]
    Q = math.prod(x_shape[2:])
    return (FUSED_BACKWARD and GX_AS_CONV and N > 0 and Q > 0 and math.prod(gy_shape) > 0
            and _algorithm(x_shape, w_shape, stride, dilation, groups, algorithm) == "im2col"
            and _gx_as_conv_applies(kernel, stride, pads, dilation)
            and _gx_as_conv_pays(w_shape, x_shape, tuple(gy_shape[2:]), groups)
            and not _fold(N, Q)
            and not _channels_last(N, gy_shape[1], math.prod(gy_shape[2:]), Q, groups, False)
            and not _blocked_depthwise(tuple(gy_shape), (x_shape[1], w_shape[0] // groups)
                                       + kernel, (1,) * len(kernel), groups,
                                       tuple(x_shape[2:])))


def conv_backward_fused(gy, x, w, pads, dilation, groups):
    """``(gx, gw)`` of a stride-1 convolution from one column matrix, that of ``gy`` padded
    as for ``_input_grad_as_conv``: ``cols[n, (co, k'), q] = gy[n, co, q + lo - (K-1-k')d]``
    for each input position ``q``. So ``gx = W_flipped^T @ cols`` and, since
    ``gw[co, c, k] = sum_(n,q) x[n, c, q] * gy[n, co, q + lo - k d]``,
    ``gw = x @ cols^T`` with the kernel axes flipped back: no columns of ``x`` are built.
    Measured on (32, 64, 32, 32) with a 3x3 kernel: the backward 4-5 ms faster (the 75 MB
    column build it saves)."""
    n = w.ndim - 2
    kernel = tuple(w.shape[2:])
    N = x.shape[0]
    Co, Cg = w.shape[:2]
    Cog = Co // groups
    Q = math.prod(x.shape[2:])
    wt, gpads = _as_conv_weight_and_pads(w, pads, dilation, groups, x.shape[2:], gy.shape[2:])
    wt3 = wt.reshape(groups, Cg, Cog * math.prod(kernel))
    xg = x.reshape(N, groups, Cg, Q)
    dtype = np.result_type(gy, w)
    if NCHW_BLOCKED:
        gx = np.empty((N, groups, Cg, Q), dtype=dtype)

        def consume(i, j, cols, state):                              # (b, G, Cog*K, Q)
            np.matmul(wt3, cols, out=gx[i:j])
            _add_to(state, "gwt", np.matmul(cols, xg[i:j].transpose(0, 1, 3, 2)).sum(axis=0))

        states = _nchw_blocks(gy, kernel, (1,) * n, gpads, dilation, groups,
                              tuple(x.shape[2:]), consume, gemm.blas_threads())
        gwt = sum(st["gwt"] for st in states)                        # (G, Cog*K, Cg)
    else:
        cols = _columns(gy, kernel, (1,) * n, gpads, dilation, groups, tuple(x.shape[2:]))
        # cols: (N, G, Cog*K, Q)
        gx = gemm.matmul(wt3, cols)                                  # (N, G, Cg, Q)
        gwt = gemm.matmul(cols, xg.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, Cog*K, Cg)
        release(cols)
    gwt = gwt.reshape((groups, Cog) + kernel + (Cg,))
    gw = np.moveaxis(gwt, -1, 2)[(Ellipsis,) + (slice(None, None, -1),) * n]  # flip back
    return (gx.reshape(x.shape).astype(np.result_type(gy, w), copy=False),
            np.ascontiguousarray(gw).reshape(w.shape))


def _direct_input_grad(gy, w, x_shape, stride, pads, dilation, groups):
    """Reference: for every kernel offset, ``gx_shifted += w[..., k]^T . gy`` (an einsum).

    Depthwise: ``gy`` times that tap of every channel's filter, added into its strided slab,
    per cache-sized block of the batch; never the ``prod(K)`` times larger column gradient.
    """
    kernel = tuple(w.shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    Cg = w.shape[1]
    gxp = np.zeros(_padded_shape(x_shape, pads), dtype=np.result_type(gy, w))
    if _depthwise(x_shape, w.shape, groups):
        n = len(kernel)
        taps = w.reshape((Co,) + kernel + (1,) * n)                  # (C, K..., 1...)
        tmp = np.empty_like(gy, dtype=gxp.dtype)

        def part(b):                                                 # batch items b
            for blk in _blocks(b, gy[0].nbytes):
                g, t, dst = gy[blk], tmp[blk], gxp[blk]
                for offs in np.ndindex(*kernel):
                    np.multiply(g, taps[(slice(None),) + offs], out=t)   # (B, C, O...)
                    dst[_offset_slices(offs, stride, dilation, outs)] += t

        parallel(part, N, gy.nbytes)
        return _crop(gxp, x_shape, pads)
    Cog = Co // groups
    gyg = gy.reshape((N, groups, Cog) + outs)                        # (N, G, Cog, O...)
    wg = w.reshape((groups, Cog, Cg) + kernel)                       # (G, Cog, Cg, K...)
    for offs in np.ndindex(*kernel):
        dst = gxp[_offset_slices(offs, stride, dilation, outs)]      # (N, C, O...) view
        dst.reshape((N, groups, Cg) + outs)[...] += np.einsum(
            "gab,nga...->ngb...", wg[(Ellipsis,) + offs], gyg)
    return _crop(gxp, x_shape, pads)


def _implicit_input_grad(gy, w, x_shape, stride, pads, dilation, groups):
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
    padded = _padded_shape(x_shape, pads)
    gxp = np.zeros(padded, dtype=dtype)                              # (N, C, Ip...)
    wk = np.moveaxis(w.reshape((groups, Cog, Cg) + kernel), (0, 1, 2), (-3, -1, -2))
    wk = np.ascontiguousarray(wk).reshape((-1, groups, Cg, Cog))    # (K, G, Cg, Cog)
    if all(s == 1 for s in stride):
        L, shifts = _flat_grid(padded[2:], outs, kernel, dilation)
        gyg = _to_grid(gy, padded[2:], L).reshape(N, groups, Cog, L)  # (N, G, Cog, L)
        flat = gxp.reshape(N, groups, Cg, -1)                        # (N, G, Cg, Lp)
        tmp = np.empty((N, groups, Cg, L), dtype=dtype)
        for i, s in enumerate(shifts):
            gemm.matmul(wk[i], gyg, out=tmp)
            flat[..., s:s + L] += tmp
        return _crop(gxp, x_shape, pads)
    P = math.prod(outs)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    tmp = np.empty((N, groups, Cg, P), dtype=dtype)
    for i, offs in enumerate(np.ndindex(*kernel)):
        gemm.matmul(wk[i], gym, out=tmp)                             # (N, G, Cg, P)
        gxp[_offset_slices(offs, stride, dilation, outs)] += tmp.reshape((N, C) + outs)
    return _crop(gxp, x_shape, pads)


def _fft_input_grad(gy, w, x_shape, stride, pads, dilation, groups):
    """``gx`` with stride 1: the correlation of ``gy`` padded by ``K - 1 - lo`` / ``K - 1 -
    hi`` with the flipped, transposed weight, by FFT; ``None`` where that does not apply."""
    n = w.ndim - 2
    kernel = w.shape[2:]
    if (any(s != 1 for s in stride) or any(d != 1 for d in dilation) or groups != 1
            or any(lo > k - 1 or hi > k - 1 for (lo, hi), k in zip(pads, kernel))):
        return None
    wt = w[(slice(None), slice(None)) + (slice(None, None, -1),) * n].swapaxes(0, 1)
    gpads = tuple((k - 1 - lo, k - 1 - hi) for (lo, hi), k in zip(pads, kernel))
    return conv_fft(gy, wt, gpads)      # (N, C, I...): O + K - 1 - lo - hi = I at stride 1


# ------------------------------------------------------------------------ weight gradient

def conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups, cols=None,
                     algorithm=None):
    """``gw`` of ``conv_forward``: the correlation of ``x`` with ``gy``.

    im2col: a GEMM of ``gy`` with the columns; ``cols`` is the forward's column matrix
    ``(N, G, CK, P)`` when it was kept, else it is rebuilt from ``x``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_weight_grad(x, np.ones((1, 1, 3)), (1, 1, 3), (1,), ((0, 0),), (1,), 1)
    array([[[3., 6., 9.]]])
    """
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    P = math.prod(outs)
    Cog = Co // groups
    if N == 0 or P == 0:
        return np.zeros(w_shape, dtype=np.result_type(x, gy))
    algo = _algorithm(x.shape, w_shape, stride, dilation, groups, algorithm)
    if cols is None and algo == "direct":
        return _direct_weight_grad(x, gy, w_shape, stride, pads, dilation, groups)
    if cols is None and algo == "implicit_gemm":
        return _implicit_weight_grad(x, gy, w_shape, stride, pads, dilation, groups)
    if cols is None and _blocked_depthwise(x.shape, w_shape, stride, groups, outs):
        return _blocked_depthwise_weight_grad(x, gy, w_shape, pads, dilation)
    built = cols is None
    kernel = tuple(w_shape[2:])
    if built:
        pointwise = _is_pointwise(kernel, stride, pads, x.shape[2:], outs)
        if _channels_last(N, x.shape[1], math.prod(x.shape[2:]), P, groups, pointwise):
            def consume(i, j, c, state):                             # c: (b*P, K*C)
                _add_to(state, "gwl", _gw_last(gy[i:j], c, np.matmul))

            states = _cl_blocks(x, kernel, stride, pads, dilation, outs, consume,
                                gemm.blas_threads())
            return _gw_from_last(sum(st["gwl"] for st in states), kernel, w_shape)
        fold = _fold(N, P) and not pointwise
        if not fold and Cog <= P and _nchw_blocked(False, pointwise):
            return _blocked_weight_grad(x, gy, w_shape, stride, pads, dilation, groups)
        cols = _columns(x, kernel, stride, pads, dilation, groups, outs, fold=fold)
    if cols.ndim == 2:                                               # (N*P, K*C), one group
        return _gw_from_last(_gw_last(gy, cols), kernel, w_shape)
    gym = gy.reshape(N, groups, Cog, P)                              # (N, G, Cog, P)
    if cols.ndim == 3:                                               # folded: (G, CK, N*P)
        gyt = np.ascontiguousarray(gym.transpose(1, 2, 0, 3)).reshape(groups, Cog, N * P)
        gw = gemm.matmul(gyt, cols.transpose(0, 2, 1))               # (G, Cog, CK)
        if built:
            release(cols)
        return gw.reshape(w_shape)
    CK = cols.shape[2]
    if Cog <= P:
        # N GEMMs over the positions, then a sum: the (N, G, CK, Cog) partials are smaller
        # than the columns, and no copy of the columns is needed. The columns are the left
        # operand (``cols @ gy^T``, transposed back at the end): OpenBLAS ran these GEMMs
        # 5-10% faster that way round than ``gy @ cols^T`` on ResNet-18's 32x32 and 16x16
        # layers (14.5 vs 16.3 ms at (32, 64, 32, 32)), and no slower on the others.
        gwt = gemm.matmul(cols, gym.transpose(0, 1, 3, 2)).sum(axis=0)  # (G, CK, Cog)
        gw = np.ascontiguousarray(gwt.transpose(0, 2, 1))             # (G, Cog, CK)
    else:
        # Few positions, many channels: one GEMM over (N, P) per group is cheaper than large
        # partials; it needs the batch next to the positions (one copy of each operand).
        gyt = np.ascontiguousarray(gym.transpose(1, 2, 0, 3)).reshape(groups, Cog, N * P)
        colt = np.ascontiguousarray(cols.transpose(1, 2, 0, 3)).reshape(groups, CK, N * P)
        gw = gemm.matmul(gyt, colt.transpose(0, 2, 1))                # (G, Cog, CK)
    if built:
        release(cols)
    return gw.reshape(w_shape)


def _direct_weight_grad(x, gy, w_shape, stride, pads, dilation, groups):
    """Reference: for every kernel offset, ``gw[..., k] = sum_n,o gy . x_shifted``."""
    kernel = tuple(w_shape[2:])
    N, Co = gy.shape[:2]
    outs = tuple(gy.shape[2:])
    Cg = w_shape[1]
    Cog = Co // groups
    xp = pad_constant(x, pads)
    gw = np.zeros((groups, Cog, Cg) + kernel, dtype=np.result_type(x, gy))
    sp = "ijklmopqrs"[:len(outs)]                                   # spatial subscripts
    if _depthwise(x.shape, w_shape, groups):
        partials = {}

        def part(b):                                                 # batch items b
            taps = np.zeros((Co,) + kernel, dtype=gw.dtype)          # (C, K...)
            for blk in _blocks(b, gy[0].nbytes):
                g, xb = gy[blk], xp[blk]
                for offs in np.ndindex(*kernel):
                    xs = xb[_offset_slices(offs, stride, dilation, outs)]    # (B, C, O...)
                    taps[(slice(None),) + offs] += np.einsum(f"nc{sp},nc{sp}->c", g, xs)
            partials[b.start] = taps

        parallel(part, N, gy.nbytes)
        return sum(partials[k] for k in sorted(partials)).reshape(w_shape)
    gyg = gy.reshape((N, groups, Cog) + outs)                        # (N, G, Cog, O...)
    for offs in np.ndindex(*kernel):
        xs = xp[_offset_slices(offs, stride, dilation, outs)]        # (N, C, O...)
        xs = xs.reshape((N, groups, Cg) + outs)
        gw[(Ellipsis,) + offs] = np.einsum(f"nga{sp},ngb{sp}->gab", gyg, xs)
    return gw.reshape(w_shape)


def _implicit_weight_grad(x, gy, w_shape, stride, pads, dilation, groups):
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
        L, shifts = _flat_grid(padded, outs, kernel, dilation)
        gyg = _to_grid(gy, padded, L).reshape(N, groups, Cog, L)     # (N, G, Cog, L)
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
