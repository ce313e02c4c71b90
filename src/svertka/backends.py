"""Backend switches: which convolution algorithm runs, like cuDNN's algorithm selection.

The user-facing settings of the kernels, written into the kernel modules that read them
(nothing in ``svertka.kernels`` imports this module). Every convolution of svertka (forward,
input gradient, weight gradient; 1-d, 2-d, 3-d, grouped, depthwise, transposed) goes through
the plan of ``svertka.kernels.conv`` (``kernels/conv/plan.py``, which holds the algorithm
set here and every tuning threshold), which has several algorithms that compute the same
thing:

* ``'im2col'``: build the column matrix (one copy of the input per kernel tap) and run one
  batched GEMM; the gradient of the input is a GEMM into columns and col2im (slice-adds per
  kernel offset). The fastest for ordinary dense convolutions. Depthwise convolutions at
  stride 1 build and consume the columns in cache-sized blocks instead (no whole column
  matrix), about 2x faster than whole columns.
* ``'implicit_gemm'``: one GEMM per kernel offset, accumulated, and no column matrix: with
  stride 1 each offset's operand is a shifted slice of the flattened padded input (no copy
  at all). Needs ``prod(K)`` times less scratch memory than im2col.
* ``'fft'``: the convolution theorem (``np.fft.rfftn``) for the forward pass and the input
  gradient, where the stride and dilation are 1 and there is one group (else im2col); the
  weight gradient uses im2col. Pays off for large kernels.
* ``'direct'``: a loop over kernel offsets of multiply-adds (an ``einsum`` per offset; for
  depthwise convolutions a multiply-add per offset over cache-sized blocks of the batch).
  The plainest form of it, for reading, is ``kernels/conv/reference.py``.
* ``'winograd'``: Winograd's F(2x2, 3x3) for the forward pass of 2-d 3x3 convolutions with
  stride 1, dilation 1 and one group (else im2col; the gradients use im2col): 2.25x fewer
  multiply-adds in its GEMMs, but its tile transforms cost about what that saves, so it is
  not faster than im2col here and ``'auto'`` never picks it (``benchmarks/RESULTS.md``).
  Its float32 rounding is slightly larger than im2col's.
* ``'auto'`` (the default): chosen per call by shape, see :func:`select_conv_algorithm`.

Matrix products (convolutions, ``Linear``, ``matmul``) are split over the BLAS's own thread
count (``threadpoolctl``, ``OPENBLAS_NUM_THREADS``), each part on a single-threaded BLAS
(``svertka.kernels.gemm``): svertka redistributes the threads the BLAS was given and never
uses more. Also here: the thread count of svertka's own memory-bound kernels
(:func:`set_num_threads`),
the column workspace (:func:`workspace_bytes`, :func:`clear_workspace`) and the allocator
setting that keeps freed memory in the process (:func:`tune_malloc`, on by default).

Examples:
    >>> import svertka
    >>> svertka.backends.get_conv_algorithm()
    'auto'
    >>> with svertka.backends.conv_algorithm("direct"):
    ...     svertka.backends.get_conv_algorithm()
    'direct'
    >>> svertka.backends.select_conv_algorithm((256, 64, 128, 128), (64, 64, 3, 3))
    'implicit_gemm'
    >>> svertka.backends.select_conv_algorithm((32, 64, 32, 32), (64, 64, 3, 3))
    'im2col'
    >>> svertka.backends.select_conv_algorithm((256, 64, 128, 128), (64, 1, 3, 3), groups=64)
    'im2col'
"""

from __future__ import annotations

from svertka._validate import check_choice, error, is_int, type_error
from svertka.kernels import parallel
from svertka.kernels.conv import WORKSPACE, plan

__all__ = ["CONV_ALGORITHMS", "conv_algorithm", "get_conv_algorithm", "set_conv_algorithm",
           "select_conv_algorithm", "resolve_conv_algorithm", "workspace_bytes",
           "clear_workspace", "get_num_threads", "set_num_threads", "tune_malloc",
           "malloc_tuned"]

CONV_ALGORITHMS = plan.ALGORITHMS


def get_num_threads():
    """Threads svertka's own memory-bound kernels use (column copies, col2im, depthwise
    multiply-adds); the BLAS has its own setting (``threadpoolctl``, ``OPENBLAS_NUM_THREADS``),
    which also sets into how many parts svertka splits its matrix products.
    Default: the cores this process may run on, at most 8."""
    return parallel.NUM_THREADS


def set_num_threads(n):
    """Set the thread count of svertka's own kernels (see :func:`get_num_threads`); returns
    the previous one.

    Examples:
        >>> import svertka
        >>> previous = svertka.backends.set_num_threads(1)
        >>> svertka.backends.set_num_threads(previous)
        1
    """
    if not is_int(n) or n < 1:
        raise error("set_num_threads", f"the thread count must be a positive int, got n={n!r}")
    previous, parallel.NUM_THREADS = parallel.NUM_THREADS, int(n)
    return previous


def get_conv_algorithm():
    """The convolution algorithm in force: one of :data:`CONV_ALGORITHMS`."""
    return plan.ALGORITHM


def set_conv_algorithm(algorithm):
    """Use ``algorithm`` for every convolution from now on; returns the previous one.

    Args:
        algorithm (str): ``'auto'``, ``'im2col'``, ``'implicit_gemm'``, ``'fft'``,
            ``'direct'`` or ``'winograd'``.

    Examples:
        >>> import svertka
        >>> previous = svertka.backends.set_conv_algorithm("im2col")
        >>> svertka.backends.set_conv_algorithm(previous)
        'im2col'
    """
    check_choice(algorithm, CONV_ALGORITHMS, "algorithm", "set_conv_algorithm")
    previous, plan.ALGORITHM = plan.ALGORITHM, algorithm
    return previous


class conv_algorithm:
    """Context manager: use ``algorithm`` for the convolutions inside the ``with`` block.

    Args:
        algorithm (str): one of :data:`CONV_ALGORITHMS`.

    Examples:
        >>> import svertka
        >>> import svertka.nn.functional as F
        >>> x, w = svertka.ones(1, 1, 5, 5), svertka.ones(1, 1, 3, 3)
        >>> with svertka.backends.conv_algorithm("fft"):
        ...     F.conv2d(x, w)[0, 0, 0].round()
        tensor([9., 9., 9.])
    """

    def __init__(self, algorithm):
        check_choice(algorithm, CONV_ALGORITHMS, "algorithm", "conv_algorithm")
        self.algorithm = algorithm
        self._previous = None

    def __enter__(self):
        self._previous = set_conv_algorithm(self.algorithm)
        return self

    def __exit__(self, *exc):
        set_conv_algorithm(self._previous)
        return False


def select_conv_algorithm(x_shape, w_shape, stride=1, *, groups=1):
    """The algorithm ``'auto'`` picks for a convolution of ``x_shape`` with ``w_shape``.

    The rules are the plan's (:func:`svertka.kernels.conv.plan.select_algorithm`): a
    depthwise convolution at stride 1 with enough output positions takes ``'im2col'`` (its
    blocked depthwise path needs no whole column matrix); a convolution whose im2col column
    matrix would exceed ``plan.AUTO_MAX_COLUMN_BYTES`` takes the memory-lean
    ``'implicit_gemm'``; every other one ``'im2col'``, the fastest there. The measurements
    behind them are in ``benchmarks/RESULTS.md``.

    Args:
        x_shape: ``(N, C, I1, .., In)``. w_shape: ``(Co, C // groups, K1, .., Kn)``.
        stride: an int or a tuple (only used to size the column matrix; dilation does not
            change its size, so it is no argument).
        groups (int): number of groups, keyword-only.
    """
    return plan.select_algorithm(x_shape, w_shape, stride, groups=groups)


def resolve_conv_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm=None):
    """The algorithm that will actually run: ``algorithm`` (default: the one in force), with
    ``'auto'`` resolved by :func:`select_conv_algorithm`. (``'fft'`` runs only where it
    applies; see the module docstring.)"""
    return plan.resolve_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm)


def workspace_bytes():
    """Bytes of scratch buffers (column matrices) cached for reuse by the convolutions.

    Reusing them saves the page faults of fresh large allocations on every step.
    """
    return WORKSPACE.nbytes


def clear_workspace():
    """Free the cached scratch buffers (they are re-created on demand)."""
    WORKSPACE.clear()


def tune_malloc(enable=True):
    """Keep freed memory in the process (``enable=True``, the default at ``import svertka``)
    or return to glibc's small thresholds; returns whether the setting was applied (``False``
    where the C library is not glibc).

    A training step frees and re-allocates the same multi-megabyte arrays; with glibc's
    defaults each re-allocation page-faults on first touch, which costs more than the
    arithmetic on a virtual machine. svertka raises glibc's mmap threshold to 32 MB and its
    trim threshold to 1 GB (``M_MMAP_THRESHOLD``/``M_TRIM_THRESHOLD`` through ``mallopt``),
    so freed blocks serve the next step. The price: up to that much freed memory may stay
    resident in the process. ``SVERTKA_TUNE_MALLOC=0`` in the environment turns it off at
    import, and glibc's own ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_`` settings
    are left alone. See ``svertka/_malloc.py`` for the measurements.

    Examples:
        >>> import svertka
        >>> on = svertka.backends.malloc_tuned()
        >>> svertka.backends.tune_malloc(False) in (True, False)
        True
        >>> svertka.backends.malloc_tuned()
        False
        >>> _ = svertka.backends.tune_malloc(on)
    """
    from svertka import _malloc
    if not isinstance(enable, bool):
        raise type_error("tune_malloc", f"enable must be a bool, got {enable!r}")
    return _malloc.tune(enable)


def malloc_tuned():
    """Whether :func:`tune_malloc` is in force."""
    from svertka import _malloc
    return _malloc.is_tuned()
