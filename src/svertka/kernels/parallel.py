"""Split memory-bound NumPy passes over threads.

NumPy runs an elementwise pass or a strided copy on one core while the BLAS uses all of
them; NumPy releases the GIL inside its loops, so running parts of the batch on
``NUM_THREADS`` Python threads uses the other cores too (``svertka.backends.set_num_threads``
writes it). Used for column copies, col2im slice-adds, depthwise multiply-adds and max
pooling, and (with ``threads`` set to the BLAS's count) for the parts of ``kernels.gemm``'s
split products and the per-thread column blocks of ``kernels.conv``.
"""

from __future__ import annotations

import contextvars
import os
import threading

__all__ = ["parallel", "PARALLEL_MIN_BYTES", "NUM_THREADS"]

_EXECUTOR = None
_EXECUTOR_LOCK = threading.Lock()

# Below this many bytes of work a call runs on the calling thread alone (the hand-off to a
# worker costs tens of microseconds).
PARALLEL_MIN_BYTES = 4 * 2**20


def _default_threads():
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:                                # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


# Threads of the memory-bound passes: the cores this process may run on, at most 8 (more
# threads than the memory bandwidth serves only add hand-offs).
NUM_THREADS = _default_threads()

_worker = threading.local()


def _run(fn, s):
    _worker.busy = True
    try:
        fn(s)
    finally:
        _worker.busy = False


def parallel(fn, n, nbytes, min_bytes=None, threads=None):
    """Run ``fn(slice)`` over ``range(n)`` split into ``threads`` (default ``NUM_THREADS``)
    contiguous parts, on that many threads; the
    calling thread does the first part.

    Small work (``nbytes`` under ``min_bytes``, default ``PARALLEL_MIN_BYTES``), ``n < 2``,
    or a call from inside another ``parallel`` part runs ``fn(slice(0, n))`` directly (so
    nested calls cannot wait on each other's workers). ``fn`` must write disjoint outputs
    per part.

    >>> import numpy as np
    >>> out = np.zeros(6)
    >>> parallel(lambda s: out.__setitem__(s, np.arange(6)[s] * 2), 6, 0, min_bytes=0)
    >>> out
    array([ 0.,  2.,  4.,  6.,  8., 10.])
    """
    global _EXECUTOR
    t = min(NUM_THREADS if threads is None else threads, n)
    small = nbytes < (PARALLEL_MIN_BYTES if min_bytes is None else min_bytes)
    if t <= 1 or small or getattr(_worker, "busy", False):
        fn(slice(0, n))
        return
    if _EXECUTOR is None or _EXECUTOR._max_workers < t - 1:
        with _EXECUTOR_LOCK:
            if _EXECUTOR is None or _EXECUTOR._max_workers < t - 1:
                from concurrent.futures import ThreadPoolExecutor
                _EXECUTOR = ThreadPoolExecutor(max(1, t - 1), thread_name_prefix="svertka")
    bounds = [n * i // t for i in range(t + 1)]
    # each part runs in a copy of the caller's context, so the caller's np.errstate holds there
    futures = [_EXECUTOR.submit(contextvars.copy_context().run, _run, fn,
                                slice(bounds[i], bounds[i + 1]))
               for i in range(1, t)]
    try:
        _run(fn, slice(bounds[0], bounds[1]))
    finally:
        for f in futures:
            f.result()
