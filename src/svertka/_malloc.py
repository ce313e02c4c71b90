"""Keep freed memory in the process instead of handing it back to the OS after every op.

A training step allocates and frees the same multi-megabyte activations and gradients again
and again. glibc's malloc serves such blocks from ``mmap`` (or gives the top of its heap back
with ``brk``) and the next allocation of the same size page-faults on first touch, which on a
virtual machine costs more than the arithmetic: a 2x2 max pool of (64, 32, 32, 32) float32
took 11 ms on fresh memory against 1.7 ms on reused memory. Raising glibc's mmap threshold
to its maximum (32 MB) and its trim threshold to ``TRIM_THRESHOLD`` makes freed blocks stay
in the heap for the next step (measured: the lecture CNN's training step 80 -> 67 ms, LeNet-5
12.4 -> 9.7 ms). Larger blocks (column matrices) are cached by
``svertka.kernels.conv.WORKSPACE`` (``kernels/conv/workspace.py``) instead.

Applied once at ``import svertka`` on glibc systems, unless ``SVERTKA_TUNE_MALLOC=0`` is set
or the user set ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_`` or a
``glibc.malloc`` tunable (their choice wins).
``svertka.backends.tune_malloc`` switches it at run time.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 * 2**20        # glibc's upper limit on 64-bit systems
TRIM_THRESHOLD = 1024 * 2**20
# glibc's defaults (without its dynamic adjustment, which any mallopt call turns off)
DEFAULT_MMAP_THRESHOLD = 128 * 2**10
DEFAULT_TRIM_THRESHOLD = 128 * 2**10

_state = {"tuned": False}


def _mallopt():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        fn = libc.mallopt
    except (OSError, AttributeError, TypeError):     # not glibc (macOS, Windows, musl)
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


def tune(enable=True):
    """Set (``enable``) or reset glibc's thresholds; returns whether they were applied."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mmap_t, trim_t = ((MMAP_THRESHOLD, TRIM_THRESHOLD) if enable
                      else (DEFAULT_MMAP_THRESHOLD, DEFAULT_TRIM_THRESHOLD))
    ok = bool(mallopt(M_MMAP_THRESHOLD, mmap_t)) and bool(mallopt(M_TRIM_THRESHOLD, trim_t))
    _state["tuned"] = enable and ok
    return ok


def is_tuned():
    return _state["tuned"]


def tune_at_import():
    if os.environ.get("SVERTKA_TUNE_MALLOC", "1").strip().lower() in ("0", "false", "no", "off"):
        return
    if ("MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ
            or "glibc.malloc." in os.environ.get("GLIBC_TUNABLES", "")):
        return
    tune(True)
