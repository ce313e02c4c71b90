"""Memory of the convolutions: the reused scratch workspace and the budget of kept columns.

Large column matrices come from ``WORKSPACE`` and go back to it, so a training step reuses
the same blocks instead of page-faulting fresh ones. A forward's columns may be kept for the
weight gradient; ``keep`` counts the bytes kept (the caps are the plan's, see
``kernels.conv.plan``) and a kept matrix stops counting when it is garbage collected.
"""

from __future__ import annotations

import math
import threading
import weakref

import numpy as np

__all__ = ["Workspace", "WORKSPACE", "keep", "would_keep", "kept_bytes"]


class Workspace:
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
        """A scratch array of ``shape`` and ``dtype``, from a given-back block when one fits."""
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
        """Drop every kept block."""
        with self._lock:
            self._free.clear()
            self.nbytes = 0


WORKSPACE = Workspace()

_kept_bytes = 0
_kept_lock = threading.RLock()        # reentrant: a callback may run inside (at a GC)
# id -> (weak reference, bytes): the references whose callbacks uncount the kept matrices
# (a weakref.ref with a callback costs a fraction of a weakref.finalize, which ``keep``
# made once per forward).
_kept_refs = {}


def _unkeep(ref):
    global _kept_bytes
    with _kept_lock:
        _kept_bytes -= _kept_refs.pop(id(ref), (None, 0))[1]


def keep(cols, max_bytes, total_bytes):
    """Whether to keep ``cols`` for the weight gradient: ``True`` (and counted) when it is at
    most ``max_bytes`` and the matrices kept so far plus this one fit ``total_bytes``. A kept
    matrix counts until the array object is garbage collected (after it is given back, or
    when the graph holding it is dropped without a backward), so the total cannot leak.

    >>> a = np.zeros((4, 4))
    >>> keep(a, 2**20, 2**30), kept_bytes() >= a.nbytes
    (True, True)
    """
    global _kept_bytes
    n = cols.nbytes
    if n > max_bytes:
        return False
    with _kept_lock:
        if _kept_bytes + n > total_bytes:
            return False
        _kept_bytes += n
        ref = weakref.ref(cols, _unkeep)
        _kept_refs[id(ref)] = (ref, n)                 # (arrays do not hash: by id)
    return True


def would_keep(nbytes, max_bytes, total_bytes):
    """Whether ``keep`` would keep a matrix of ``nbytes`` now (columns it would refuse are
    not worth building whole)."""
    return nbytes <= max_bytes and _kept_bytes + nbytes <= total_bytes


def kept_bytes():
    """Bytes of the column matrices currently kept by ``keep``."""
    return _kept_bytes
