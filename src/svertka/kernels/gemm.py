"""Matrix products split over svertka's threads, each part on a single-threaded BLAS.

A convolution's GEMMs are batches of mid-sized products (``(64, 576) @ (576, 1024)`` per
image for a 64-channel 32x32 layer). A multi-threaded BLAS splits each product of the batch
over its threads and joins them again, once per image; between calls its worker threads
spin for a while, competing with svertka's own threads for the cores while those copy
columns. Giving each of ``t`` threads ``1/t`` of the batch (or of the rows) and running the
BLAS single-threaded inside removes both costs. Measured on a 2-core AMD EPYC (float32,
OpenBLAS 0.3.31): the batched products of a 64-channel 32x32 layer at 157 GFLOP/s instead of
136, of a 128-channel 16x16 layer at 167 instead of 138; the forward pass of that 32x32 layer
(column copy plus GEMM) in 20.7 instead of 31 ms.

The number of parts is the BLAS's own thread count (``threadpoolctl``,
``OPENBLAS_NUM_THREADS``...): svertka redistributes the threads the user gave the BLAS and
never uses more. While a split product runs, the BLAS is set to one thread and then back
(a pair of calls costing about 2 microseconds); nested or concurrent splits share one
setting (a counter under a lock), so the BLAS always ends at the user's count. The setting
is process-wide: a NumPy product that another thread of the program runs at that moment
runs single-threaded too.
"""

from __future__ import annotations

import threading

import numpy as np

from svertka.kernels.parallel import parallel

__all__ = ["matmul", "blas_threads", "single_threaded_blas", "SPLIT", "SPLIT_MIN_FLOPS",
           "SERIAL_MAX_FLOPS", "BLAS_SERIAL_MACS"]

# Switch (for A/B measurements and tests): False runs every product as one ``np.matmul``.
SPLIT = True

# Products below SERIAL_MAX_FLOPS floating-point operations (2 x multiply-adds) run as one
# ``np.matmul`` on one thread: the BLAS's own threads, once woken, spin a while and take the
# cores from svertka's threaded passes that follow (the lecture CNN's step took 40% longer
# with its 2.5 MFLOP linear products on the BLAS's threads). Products from there up to
# SPLIT_MIN_FLOPS run as one ``np.matmul`` on the BLAS's own threads: handing parts to
# Python threads costs tens of microseconds (up to about 80 on a VM whose idle cores wake
# slowly), more than the split saves on products this small (LeNet-5's 29 MFLOP
# convolution products, which nothing threaded follows closely, ran 20-40% slower split
# or on one thread). Larger products are split. (benchmarks/RESULTS.md)
SERIAL_MAX_FLOPS = 16 * 2**20
SPLIT_MIN_FLOPS = 64 * 2**20

# Products of at most this many multiply-adds each (``m * k * n``) run as plain
# ``np.matmul``: OpenBLAS runs them on one thread by itself (below its
# ``GEMM_MULTITHREAD_THRESHOLD`` of 4 x 65536), so switching its thread count, which costs
# as much as such a product, is not needed.
BLAS_SERIAL_MACS = 4 * 65536

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

_controllers = None
_lock = threading.Lock()
_depth = 0
_saved = []


def _blas():
    """threadpoolctl's controllers of the loaded BLAS libraries (found once)."""
    global _controllers
    if _controllers is None:
        try:
            from threadpoolctl import ThreadpoolController

            _controllers = [c for c in ThreadpoolController().lib_controllers
                            if c.user_api == "blas"]
        except Exception:                           # no threadpoolctl or an unknown BLAS
            _controllers = []
    return _controllers


def blas_threads():
    """The BLAS's thread count as the user set it (1 when it cannot be read)."""
    if _depth:                                      # inside a split: the saved count
        return max(_saved) if _saved else 1
    counts = [c.get_num_threads() for c in _blas()]
    return max([n for n in counts if n] or [1])


class single_threaded_blas:
    """Context manager: the BLAS runs on one thread inside, its previous count after."""

    def __enter__(self):
        global _depth, _saved
        with _lock:
            if _depth == 0:
                _saved = [c.get_num_threads() for c in _blas()]
                for c, n in zip(_blas(), _saved):
                    if n != 1:                      # set only what changes
                        c.set_num_threads(1)
            _depth += 1
        return self

    def __exit__(self, *exc):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                for c, n in zip(_blas(), _saved):
                    if n and n != 1:
                        c.set_num_threads(n)
        return False


def _plan(shape, k, t):
    """How to split a product with result ``shape`` and inner size ``k`` into ``t`` parts:
    ``'batch'`` over the result's first axis, ``'k'`` over the inner axis (partial products
    summed at the end), ``'rows'`` or ``'cols'`` of the result, or ``None``.

    Measured on the lecture CNN's products (2 threads, GFLOP/s of rows / cols / k split):
    ``(16384, 288) @ (288, 64)`` 154 / 132 / 131, ``(4096, 576) @ (576, 128)`` 177 / 166 /
    171; when the inner size is the largest, ``(64, 16384) @ (16384, 288)`` 113 / 152 / 157
    and ``(128, 4096) @ (4096, 576)`` 156 / 157 / 166 (a multi-threaded OpenBLAS: 102-132).
    """
    m, n = shape[-2], shape[-1]
    if len(shape) >= 3 and shape[0] >= t and (shape[0] % t == 0 or shape[0] >= 4 * t):
        return "batch"
    if len(shape) == 2 and k >= max(m, n) and k >= 8 * t:
        return "k"
    if m >= n and m >= 8 * t:
        return "rows"
    if n >= 8 * t:
        return "cols"
    return None


def _batch_shape(a, b):
    """The broadcast batch shape of two operands of at least 2 dimensions (the common
    cases, one operand 2-d or both batches equal, without ``np.broadcast_shapes``)."""
    if b.ndim == 2:
        return a.shape[:-2]
    if a.ndim == 2 or a.shape[:-2] == b.shape[:-2]:
        return b.shape[:-2]
    return np.broadcast_shapes(a.shape[:-2], b.shape[:-2])


def matmul(a, b, out=None):
    """``np.matmul(a, b, out=out)`` on a single-threaded BLAS, split over the BLAS's
    threads when it is large enough (see the module's text).

    Other dtypes than float32/float64, a BLAS with one thread, products of at most
    ``BLAS_SERIAL_MACS`` multiply-adds each (which the BLAS runs on one thread by itself)
    and products of ``SERIAL_MAX_FLOPS`` to ``SPLIT_MIN_FLOPS`` floating-point operations run
    ``np.matmul`` as it is (the latter on the BLAS's own threads); the other products under
    ``SPLIT_MIN_FLOPS``, products of 1-d operands and those no split fits run whole,
    single-threaded.

    >>> a = np.arange(6.0).reshape(2, 3); b = np.ones((3, 2))
    >>> matmul(a, b)
    array([[ 3.,  3.],
           [12., 12.]])
    """
    dtype = a.dtype
    if not SPLIT or dtype != b.dtype or dtype not in _FLOATS:
        return np.matmul(a, b, out=out)
    how = None
    if a.ndim >= 2 and b.ndim >= 2:
        k = a.shape[-1]
        macs = a.shape[-2] * k * b.shape[-1]            # of one product of the batch
        batch = _batch_shape(a, b)
        shape = batch + (a.shape[-2], b.shape[-1])
        flops = 2 * macs
        for s in batch:
            flops *= s
        if flops < SPLIT_MIN_FLOPS and (macs <= BLAS_SERIAL_MACS or flops >= SERIAL_MAX_FLOPS):
            return np.matmul(a, b, out=out)
        t = blas_threads()
        if t <= 1:
            return np.matmul(a, b, out=out)
        if flops >= SPLIT_MIN_FLOPS:
            how = _plan(shape, k, t)
    elif blas_threads() <= 1:
        return np.matmul(a, b, out=out)
    if how is None:
        with single_threaded_blas():
            return np.matmul(a, b, out=out)
    if out is None:
        out = np.empty(shape, dtype=dtype)
    nd = len(shape)
    a = a.reshape((1,) * (nd - a.ndim) + a.shape)   # same rank: views, no copies
    b = b.reshape((1,) * (nd - b.ndim) + b.shape)
    if how == "k":
        bounds = [a.shape[-1] * i // t for i in range(t + 1)]
        partial = [out] + [np.empty(shape, dtype=dtype) for _ in range(t - 1)]

        def part(s):                                 # parts s of range(t)
            for i in range(s.start, s.stop):
                k = slice(bounds[i], bounds[i + 1])
                np.matmul(a[:, k], b[k], out=partial[i])
        with single_threaded_blas():
            parallel(part, t, 0, min_bytes=0, threads=t)
        for p in partial[1:]:
            np.add(out, p, out=out)
        return out
    if how == "batch":
        def part(s):
            np.matmul(a if a.shape[0] == 1 else a[s], b if b.shape[0] == 1 else b[s],
                      out=out[s])
        n = shape[0]
    elif how == "rows":
        def part(s):
            np.matmul(a[..., s, :], b, out=out[..., s, :])
        n = shape[-2]
    else:
        def part(s):
            np.matmul(a, b[..., s], out=out[..., s])
        n = shape[-1]
    with single_threaded_blas():
        parallel(part, n, 0, min_bytes=0, threads=t)
    return out
