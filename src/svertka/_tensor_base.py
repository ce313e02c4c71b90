"""`TensorBase`: the base class of `svertka.Tensor`, defined below it.

The modules that tensor.py is built from (argument checks, type promotion, the op bodies) must
recognise a tensor without importing tensor.py, which imports them: they test
``isinstance(x, TensorBase)``. Only ``Tensor`` (and its subclasses, ``nn.Parameter``) derive from
it, so the test means exactly ``isinstance(x, Tensor)``.
"""

from __future__ import annotations


class TensorBase:
    """The base of :class:`svertka.Tensor`; it has no state and no methods of its own."""

    __slots__ = ()
