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
    """Seed the global generator; returns it, as torch does (a ``numpy.random.Generator``).

    As in torch, a negative seed from ``-2**63`` on is taken modulo ``2**64``
    (``manual_seed(-1)`` is ``manual_seed(2**64 - 1)``); seeds outside
    ``[-2**63, 2**64)`` are a ``ValueError``.

    Examples:
        >>> import svertka
        >>> _ = svertka.manual_seed(-1)
        >>> svertka.initial_seed() == 2**64 - 1
        True
    """
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed: seed must be an int, got seed={seed!r}")
    if not -2**63 <= int(seed) < 2**64:
        raise ValueError(f"manual_seed: seed must be in [-2**63, 2**64), got seed={seed}")
    _seed = int(seed) % 2**64
    _generator = np.random.default_rng(_seed)
    return _generator


def initial_seed():
    """The seed of the global generator (the last :func:`manual_seed`'s, in ``[0, 2**64)``)."""
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
    """Restore the generator's state saved by :func:`get_rng_state`."""
    _generator.bit_generator.state = state
