"""The global random state: `manual_seed`, and the generator every random op draws from.

svertka draws all randomness (``randn``, ``rand``, dropout masks, initialisation, shuffling)
from one ``numpy.random.Generator`` (PCG64), so ``svertka.manual_seed(s)`` makes a whole run
reproducible. Streams are not bit-identical to torch's (a different generator); distributions
are.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

_generator = np.random.default_rng(0)
_local = threading.local()
_seed = 0


def manual_seed(seed):
    """Seed the global generator; returns it, as torch does (a ``numpy.random.Generator``)."""
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got seed={seed!r}")
    _seed = int(seed)
    _generator = np.random.default_rng(_seed)
    return _generator


def initial_seed():
    return _seed


def get_rng():
    """The ``numpy.random.Generator`` random ops draw from (a thread's own one inside
    :func:`fork_rng`, else the global one)."""
    local = getattr(_local, "generator", None)
    return _generator if local is None else local


@contextlib.contextmanager
def fork_rng(seed):
    """Within the block, random ops in this thread draw from a generator seeded with ``seed``.

    The DataLoader uses it to give each batch its own seed, drawn in the main thread, so that
    random augmentations are reproducible whatever thread prepares the batch, and the same
    with or without prefetching.
    """
    previous = getattr(_local, "generator", None)
    _local.generator = np.random.default_rng(seed)
    try:
        yield _local.generator
    finally:
        _local.generator = previous


def get_rng_state():
    """The generator's state as a plain dict (JSON-able), for checkpoints."""
    return _generator.bit_generator.state


def set_rng_state(state):
    _generator.bit_generator.state = state
