"""Unpickling plain data and NumPy arrays from untrusted files (the CIFAR batches).

The mechanism lives in :mod:`svertka._safe_pickle`, below the data layer, so that
:mod:`svertka.serialization` reads PyTorch checkpoints with the same opcode check; this
module keeps the names :mod:`.cifar` and its tests use.
"""

from svertka._safe_pickle import (  # noqa: F401
    _NDARRAY,
    LARGE_WEIGHT,
    MAX_DEPTH,
    NUMPY,
    SMALL_DUP_FACTOR,
    RestrictedUnpickler,
    UnsafePickleError,
    check_pickle,
    safe_load,
)
