"""``svertka.set_num_threads`` / ``get_num_threads``: one thread count for the BLAS and
svertka's own kernels, as ``torch.set_num_threads``."""

from __future__ import annotations

from svertka import backends
from svertka.kernels import gemm


def get_num_threads():
    """The thread count of svertka's own kernels (:func:`svertka.backends.get_num_threads`),
    which :func:`set_num_threads` also gives the BLAS."""
    return backends.get_num_threads()


def set_num_threads(n):
    """Use ``n`` threads in the BLAS (through ``threadpoolctl``; its count also sets into how
    many parts svertka splits its matrix products) and in svertka's own kernels.

    Examples::

        >>> import svertka
        >>> previous = svertka.get_num_threads()
        >>> svertka.set_num_threads(1)
        >>> svertka.get_num_threads()
        1
        >>> svertka.set_num_threads(previous)
    """
    backends.set_num_threads(n)  # checks n
    with gemm._lock:
        if gemm._depth:  # inside a split product: the count restored at its end
            gemm._saved = [int(n)] * len(gemm._blas())
        else:
            for c in gemm._blas():
                c.set_num_threads(int(n))
