"""The convolution plan: the one place that chooses the algorithm and path of every pass.

A convolution pass is one entry here: ``conv_forward`` (with ``keep=True`` it also returns
the state its backward needs), ``conv_backward`` (both gradients, and it releases that state)
and, for the transposed convolution, ``conv_transpose_forward`` / ``conv_transpose_backward``.
The entries resolve the algorithm (``ALGORITHM``, ``'auto'`` through
``select_algorithm``), pick a path with the predicates below, and call the leaf kernels of
``columns`` (im2col), ``depthwise``, ``implicit``, ``fft``, ``winograd`` (forward only) and
``direct``, which take their
block sizes as arguments. Every tunable of the convolutions is a module attribute here,
with a sentence on why it exists; ``svertka.backends`` writes the user-facing one (the
algorithm). The measurements behind each threshold are in ``benchmarks/RESULTS.md``
("Convolution plan: the measurements behind each threshold").

Paths of the im2col algorithm, by pass:

* forward: blocked depthwise (``depthwise.forward``), an einsum over channels-last windows
  for small depthwise maps (``depthwise.forward_taps``), channels-last columns, batch folded
  into the GEMM columns (for a 1x1 kernel on 1x1 maps: the input itself, one GEMM), NCHW
  columns in blocks of the batch, or the whole column matrix;
* input gradient: as a convolution of the padded ``gy`` (stride 1, ``GX_AS_CONV``), a
  multiply-add per offset for depthwise, else a GEMM into a column gradient and col2im,
  with the batch as the innermost axis on the channels-last maps (dense, small);
* weight gradient: from the forward's kept columns, blocked depthwise, channels-last
  columns in chunks, NCHW columns in blocks, or a rebuilt column matrix;
* both gradients at once (``conv_backward``): from the columns of the padded ``gy``, which
  the input gradient builds anyway (blocked depthwise, or ``columns.backward_fused``), or
  from channels-last windows for small depthwise maps (``depthwise.backward_taps``).
"""

from __future__ import annotations

import math

import numpy as np

from svertka.kernels import gemm
from svertka.kernels.channels import add_per_channel_
from svertka.kernels.conv import columns, depthwise, direct, fft, implicit, winograd
from svertka.kernels.conv.geometry import (
    as_conv_weight_and_pads,
    conv_out_shape,
    is_depthwise,
    is_pointwise,
)
from svertka.kernels.conv.workspace import WORKSPACE, keep, would_keep

__all__ = ["ALGORITHMS", "conv_forward", "conv_backward", "conv_input_grad",
           "conv_weight_grad", "conv_transpose_forward", "conv_transpose_backward", "Saved",
           "release", "keep_cols", "select_algorithm", "resolve_algorithm", "forward_path",
           "backward_path"]

ALGORITHMS = ("auto", "im2col", "implicit_gemm", "fft", "direct", "winograd")

# ------------------------------------------------------------------------ tunables

# The algorithm of every convolution; ``svertka.backends.set_conv_algorithm`` writes it.
ALGORITHM = "auto"

# 'auto' takes the memory-lean implicit GEMM when im2col's column matrix would be larger
# than this: beyond it the matrix costs more in memory traffic than the GEMM saves.
AUTO_MAX_COLUMN_BYTES = 512 * 2**20

# A forward's column matrix is kept for the weight gradient when it is at most
# KEEP_COLS_BYTES and all kept matrices stay within KEEP_COLS_TOTAL_BYTES: keeping every
# layer's columns tripled a ResNet's peak memory. Only small matrices are kept (LeNet-5's,
# where the rebuild is a tenth of the step): larger ones are made in cache-sized blocks
# for the weight gradient at no measured cost, and kept they were the largest arrays of a
# small CNN's training step (the lecture CNN's peak memory above torch's).
KEEP_COLS_BYTES = 6 * 2**20
KEEP_COLS_TOTAL_BYTES = 64 * 2**20

# Below this many output positions the batch is folded into the GEMM's columns: one large
# GEMM per group instead of N skinny ones.
FOLD_MAX_P = 160

# Dense convolutions on small maps build channels-last columns, whose copy's inner loop
# runs Kn*C elements instead of On; on larger maps the input's transposition costs more than
# that saves. Their col2im (an input gradient not taken as a convolution) runs with the
# batch innermost, for the same reason: its adds' inner loop is On*N elements, not On;
# where the adds are most of the work, with several kernel offsets and at most
# CHANNELS_LAST_MAX_C output channels (more make the GEMM dominate, and one offset is a
# single add, which the transpositions of gy and gx then outweigh).
# Where: at most CHANNELS_LAST_MAX_I input positions, and fewer than FOLD_MAX_P output
# positions or at most CHANNELS_LAST_MAX_P with at most CHANNELS_LAST_MAX_C channels.
CHANNELS_LAST = True
CHANNELS_LAST_MAX_I = 256
CHANNELS_LAST_MAX_P = 256
CHANNELS_LAST_MAX_C = 64

# Channels-last columns that are not kept are made a few images at a time, at most this many
# bytes in all: the whole matrix was the largest array of a small CNN's training step.
CL_CHUNK_BYTES = 8 * 2**20

# The backward of a dense stride-1 convolution whose input gradient (a convolution of the
# padded gy) takes channels-last columns in blocks takes gw from those columns too
# (``columns.backward_fused_channels_last``) instead of building x's columns again; where
# x has at most as many channels as positions (with more, each block's (C, K*Co) partial
# weight gradient outweighs its columns: ResNet-18's 512-channel 4x4 layers).
CL_FUSED_BACKWARD = True

# NCHW columns that are not kept are built and multiplied in blocks of a few images per
# thread, each block at most NCHW_BLOCK_BYTES, so they are used while still in cache and
# never exist whole.
NCHW_BLOCKED = True
NCHW_BLOCK_BYTES = 4 * 2**20

# The blocked paths split the batch over the threads, so a batch smaller than the BLAS's
# thread count (one image: inference latency) would leave threads idle; such a forward
# builds the whole column matrix instead (its copy split over the channels) and its one GEMM
# is split over the threads by ``gemm.matmul``.
SPLIT_SMALL_BATCH = True

# Stride-1 depthwise convolutions build and consume their columns in blocks of (image,
# channel) rows of DEPTHWISE_BLOCK_BYTES (that size measured best): about twice as fast as
# the whole column matrix, and far faster than a multiply-add per offset.
DEPTHWISE_BLOCKED = True
DEPTHWISE_BLOCK_BYTES = 2 * 2**20

# Depthwise convolutions on small maps (fewer than FOLD_MAX_P output positions, or at most
# DEPTHWISE_TAPS_MAX_POSITIONS in the whole batch; any stride) run as one einsum over the
# windows of a channels-last copy (``depthwise.forward_taps`` and ``backward_taps``), whose
# loops run over the channels: the folded NCHW columns they took before were copied in
# loops a few pixels long (a 4x4 or 2x2 map), 3-10 times slower on MobileNetV2's late
# stages. On larger batches of larger maps the blocked path is faster.
DEPTHWISE_TAPS = True
DEPTHWISE_TAPS_MAX_POSITIONS = 1024

# The backward of a blocked depthwise convolution takes gw from the columns of gy that gx
# builds anyway, instead of building x's columns a second time.
DEPTHWISE_FUSED_BACKWARD = True

# The direct algorithm's depthwise multiply-adds run over blocks of the batch of this many
# bytes, so the prod(K) passes over a block stay in the L2 cache.
BLOCK_BYTES = 256 * 2**10

# With stride 1, gx is a convolution of the padded gy (its columns, then one GEMM into gx)
# instead of a GEMM into a column gradient and col2im, where gy's columns are at most
# GX_AS_CONV_MAX_RATIO times that column gradient; and when both gradients are needed, gw
# reuses gy's columns (``columns.backward_fused``) instead of rebuilding x's.
GX_AS_CONV = True
GX_AS_CONV_MAX_RATIO = 2.5


# ------------------------------------------------------------------------ the choices

def select_algorithm(x_shape, w_shape, stride=1, dilation=1, groups=1):
    """The algorithm ``'auto'`` picks for a convolution of ``x_shape`` with ``w_shape``.

    * depthwise at stride 1 with enough output positions: ``'im2col'``, whose blocked
      depthwise path needs no whole column matrix (so the size rule does not apply);
    * when im2col's column matrix would exceed ``AUTO_MAX_COLUMN_BYTES``: the memory-lean
      ``'implicit_gemm'``;
    * otherwise ``'im2col'``, the fastest everywhere else.

    ``stride`` and ``dilation`` are ints or tuples (``dilation`` is not used: the column
    matrix's size does not depend on it).

    >>> select_algorithm((256, 64, 128, 128), (64, 64, 3, 3))
    'implicit_gemm'
    >>> select_algorithm((32, 64, 32, 32), (64, 64, 3, 3))
    'im2col'
    """
    n = len(w_shape) - 2
    stride = (stride,) * n if isinstance(stride, int) else tuple(stride)
    outs = [max(1, -(-i // s)) for i, s in zip(x_shape[2:], stride)]
    if _blocked_depthwise(x_shape, w_shape, stride, groups, outs):
        return "im2col"
    col_bytes = 4 * x_shape[0] * x_shape[1] * math.prod(w_shape[2:]) * math.prod(outs)
    if col_bytes > AUTO_MAX_COLUMN_BYTES:
        return "implicit_gemm"
    return "im2col"


def resolve_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm=None):
    """The algorithm that will run: ``algorithm`` (default ``ALGORITHM``), with ``'auto'``
    resolved by :func:`select_algorithm`. (``'fft'`` runs only where it applies.)"""
    algorithm = ALGORITHM if algorithm is None else algorithm
    if algorithm == "auto":
        return select_algorithm(x_shape, w_shape, stride, dilation, groups)
    return algorithm


def _gradient_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm=None):
    """The algorithm of the gradients: ``resolve_algorithm``'s, except that ``'winograd'``
    (a forward kernel only) takes im2col's paths."""
    algo = resolve_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm)
    return "im2col" if algo == "winograd" else algo


def _fold(N, P):
    return N > 1 and P < FOLD_MAX_P


def _channels_last(N, C, I, P, groups, pointwise):
    return (CHANNELS_LAST and groups == 1 and N > 1 and not pointwise
            and I <= CHANNELS_LAST_MAX_I
            and (P < FOLD_MAX_P or (P <= CHANNELS_LAST_MAX_P and C <= CHANNELS_LAST_MAX_C)))


def _nchw_blocked(keep_cols, pointwise):
    return NCHW_BLOCKED and not keep_cols and not pointwise


def _nchw_block_bytes():
    """The fused backward's block size, or ``None`` for whole columns."""
    return NCHW_BLOCK_BYTES if NCHW_BLOCKED else None


def _blocked_depthwise(x_shape, w_shape, stride, groups, outs):
    return (DEPTHWISE_BLOCKED and is_depthwise(x_shape, w_shape, groups)
            and all(s == 1 for s in stride) and math.prod(outs) >= FOLD_MAX_P)


def _depthwise_taps(x_shape, w_shape, groups, outs):
    P = math.prod(outs)
    return (DEPTHWISE_TAPS and is_depthwise(x_shape, w_shape, groups) and x_shape[0] > 0
            and P > 0 and math.prod(x_shape[2:]) > 0
            and (P < FOLD_MAX_P or x_shape[0] * P <= DEPTHWISE_TAPS_MAX_POSITIONS))


def _gx_as_conv_applies(kernel, stride, pads, dilation):
    return (GX_AS_CONV and all(s == 1 for s in stride) and math.prod(kernel) > 1
            and all(lo <= d * (k - 1) and hi <= d * (k - 1)
                    for (lo, hi), k, d in zip(pads, kernel, dilation)))


def _gx_as_conv_pays(w_shape, x_shape, outs, groups):
    Cog, Cg = w_shape[0] // groups, w_shape[1]
    return Cog * math.prod(x_shape[2:]) <= GX_AS_CONV_MAX_RATIO * Cg * math.prod(outs)


def _finite(w):
    """Whether the weight holds only finite numbers. The input gradient as a convolution
    multiplies ``gy``'s zero padding by every weight, so a NaN or inf weight would reach
    positions that col2im (and torch) never multiply it into: those weights take col2im. (A
    finite weight whose sum overflows takes it too; col2im is exact, only slower.)"""
    return math.isfinite(float(np.add.reduce(w, axis=None)))


def _fft_forward_applies(x_shape, kernel, stride, pads, dilation, groups, out):
    return (all(s == 1 for s in stride) and all(d == 1 for d in dilation) and groups == 1
            and out == conv_out_shape(x_shape[2:], kernel, stride, pads, dilation))


def _fft_input_grad_applies(kernel, stride, pads, dilation, groups):
    return (all(s == 1 for s in stride) and all(d == 1 for d in dilation) and groups == 1
            and all(lo <= k - 1 and hi <= k - 1 for (lo, hi), k in zip(pads, kernel)))


def forward_path(x_shape, w_shape, stride, pads, dilation, groups, out=None, keep=False,
                 algorithm=None, itemsize=8):
    """The path ``conv_forward`` takes: ``'fft'``, ``'winograd'``, ``'direct'``,
    ``'implicit_gemm'``, ``'depthwise'``, ``'depthwise_taps'``, ``'channels_last'``
    (``'channels_last_blocks'`` when its columns are not kept), ``'folded'``,
    ``'pointwise_folded'`` (a 1x1 kernel on 1x1 maps: the batch as the columns of one GEMM),
    ``'nchw_blocks'`` or ``'columns'``.

    >>> forward_path((32, 64, 32, 32), (64, 64, 3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1), 1)
    'nchw_blocks'
    """
    kernel = tuple(w_shape[2:])
    if out is None:
        out = conv_out_shape(x_shape[2:], kernel, stride, pads, dilation)
    out = tuple(out)
    N, C = x_shape[:2]
    P = math.prod(out)
    algo = resolve_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm)
    if N == 0 or P == 0:
        algo = "im2col"
    if algo == "fft" and not _fft_forward_applies(x_shape, kernel, stride, pads, dilation,
                                                  groups, out):
        algo = "im2col"
    if algo == "winograd" and not (len(kernel) == 2 and winograd.applies(
            kernel, stride, dilation, groups) and out == conv_out_shape(
            x_shape[2:], kernel, stride, pads, dilation)):
        algo = "im2col"
    if algo != "im2col":
        return algo
    if _depthwise_taps(x_shape, w_shape, groups, out):
        return "depthwise_taps"
    if _blocked_depthwise(x_shape, w_shape, stride, groups, out):
        return "depthwise"
    pointwise = is_pointwise(kernel, stride, pads, x_shape[2:], out)
    col_bytes = N * C * math.prod(kernel) * P * itemsize
    if _channels_last(N, C, math.prod(x_shape[2:]), P, groups, pointwise):
        kept = keep and would_keep(col_bytes, KEEP_COLS_BYTES, KEEP_COLS_TOTAL_BYTES)
        return "channels_last" if kept else "channels_last_blocks"
    if _fold(N, P) and not pointwise:
        return "folded"
    if pointwise and P == 1 and N > 1:
        return "pointwise_folded"
    if (_nchw_blocked(keep and would_keep(col_bytes, KEEP_COLS_BYTES, KEEP_COLS_TOTAL_BYTES),
                      pointwise)
            and not (SPLIT_SMALL_BATCH and N < gemm.blas_threads())):
        return "nchw_blocks"
    return "columns"


def _input_grad_path(gy_shape, w_shape, x_shape, stride, pads, dilation, groups, algorithm):
    kernel = tuple(w_shape[2:])
    outs = tuple(gy_shape[2:])
    algo = _gradient_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm)
    if algo == "fft":
        if _fft_input_grad_applies(kernel, stride, pads, dilation, groups):
            return "fft"
        algo = "im2col"
    if algo != "im2col":
        return algo
    if (_gx_as_conv_applies(kernel, stride, pads, dilation)
            and _gx_as_conv_pays(w_shape, x_shape, outs, groups)):
        return "as_conv"
    if w_shape[0] // groups == 1 and x_shape[1] == groups:
        return "direct"                                  # depthwise: a multiply-add per tap
    pointwise = is_pointwise(kernel, stride, pads, x_shape[2:], outs)
    if (math.prod(kernel) > 1 and gy_shape[1] <= CHANNELS_LAST_MAX_C
            and _channels_last(gy_shape[0], x_shape[1], math.prod(x_shape[2:]),
                               math.prod(outs), groups, pointwise)):
        return "col2im_batch_last"
    return "col2im"


def _weight_grad_path(x_shape, gy_shape, w_shape, stride, pads, dilation, groups, algorithm):
    N, Co = gy_shape[:2]
    outs = tuple(gy_shape[2:])
    P = math.prod(outs)
    algo = _gradient_algorithm(x_shape, w_shape, stride, dilation, groups, algorithm)
    if algo in ("direct", "implicit_gemm"):
        return algo
    if _blocked_depthwise(x_shape, w_shape, stride, groups, outs):
        return "depthwise"
    kernel = tuple(w_shape[2:])
    pointwise = is_pointwise(kernel, stride, pads, x_shape[2:], outs)
    if _channels_last(N, x_shape[1], math.prod(x_shape[2:]), P, groups, pointwise):
        return "channels_last_blocks"
    fold = _fold(N, P) and not pointwise
    if not fold and Co // groups <= P and _nchw_blocked(False, pointwise):
        return "nchw_blocks"
    return "folded" if fold else "columns"


def depthwise_backward_applies(x_shape, w_shape, gy_shape, stride, pads, dilation, groups,
                               algorithm=None):
    """Whether ``depthwise.backward`` serves this convolution's ``gx`` and ``gw``: a
    depthwise convolution at stride 1 under the im2col algorithm, whose input gradient is
    computed as a blocked convolution of the padded ``gy``."""
    kernel = tuple(w_shape[2:])
    return (DEPTHWISE_FUSED_BACKWARD and math.prod(gy_shape) > 0 and math.prod(x_shape) > 0
            and _gradient_algorithm(x_shape, w_shape, stride, dilation, groups,
                                    algorithm) == "im2col"
            and _gx_as_conv_applies(kernel, stride, pads, dilation)
            and _blocked_depthwise(x_shape, w_shape, stride, groups, tuple(x_shape[2:])))


def fused_backward_applies(x_shape, w_shape, gy_shape, stride, pads, dilation, groups,
                           algorithm=None):
    """Whether ``columns.backward_fused`` serves this convolution's ``gx`` and ``gw``: stride
    1, the im2col algorithm with the input gradient as a convolution, and ``gy``'s columns
    in the NCHW layout (the large feature maps, whose input columns are not kept)."""
    kernel = tuple(w_shape[2:])
    N = x_shape[0]
    Q = math.prod(x_shape[2:])
    return (N > 0 and Q > 0 and math.prod(gy_shape) > 0
            and _gradient_algorithm(x_shape, w_shape, stride, dilation, groups,
                                    algorithm) == "im2col"
            and _gx_as_conv_applies(kernel, stride, pads, dilation)
            and _gx_as_conv_pays(w_shape, x_shape, tuple(gy_shape[2:]), groups)
            and not _fold(N, Q)
            and not _channels_last(N, gy_shape[1], math.prod(gy_shape[2:]), Q, groups, False)
            and not _blocked_depthwise(tuple(gy_shape), (x_shape[1], w_shape[0] // groups)
                                       + kernel, (1,) * len(kernel), groups,
                                       tuple(x_shape[2:])))


def fused_channels_last_applies(x_shape, w_shape, gy_shape, stride, pads, dilation, groups,
                                algorithm=None):
    """Whether ``columns.backward_fused_channels_last`` serves this convolution's ``gx`` and
    ``gw``: a dense stride-1 convolution under the im2col algorithm whose input gradient, a
    convolution of the padded ``gy``, takes channels-last columns in blocks."""
    kernel = tuple(w_shape[2:])
    N, C = x_shape[:2]
    if not (CL_FUSED_BACKWARD and groups == 1 and N > 0 and 0 < C <= math.prod(x_shape[2:])
            and math.prod(gy_shape) > 0
            and _gradient_algorithm(x_shape, w_shape, stride, dilation, groups,
                                    algorithm) == "im2col"
            and _gx_as_conv_applies(kernel, stride, pads, dilation)
            and _gx_as_conv_pays(w_shape, x_shape, tuple(gy_shape[2:]), groups)):
        return False
    gpads = tuple((d * (k - 1) - lo, i - o + lo) for (lo, _), k, d, i, o
                  in zip(pads, kernel, dilation, x_shape[2:], gy_shape[2:]))
    return forward_path(tuple(gy_shape), (C, w_shape[0]) + kernel, stride, gpads, dilation,
                        1, out=tuple(x_shape[2:]), algorithm="im2col") == "channels_last_blocks"


def backward_path(x_shape, w_shape, gy_shape, stride, pads, dilation, groups, need_x=True,
                  need_w=True, saved=None, algorithm=None):
    """How ``conv_backward`` computes the gradients: ``'depthwise'`` (both from one blocked
    pass), ``'depthwise_taps'`` (those needed, from channels-last windows: small depthwise
    maps, whose forward kept no columns),
    ``'fused'`` (both from ``gy``'s NCHW columns), ``'fused_channels_last'`` (both from
    ``gy``'s channels-last columns) or ``'separate'``."""
    if ((need_x or need_w) and (saved is None or saved.cols is None)
            and _depthwise_taps(x_shape, w_shape, groups, tuple(gy_shape[2:]))
            and _gradient_algorithm(x_shape, w_shape, stride, dilation, groups,
                                    algorithm) == "im2col"):
        return "depthwise_taps"
    if need_x and need_w and (saved is None or saved.cols is None):
        args = (x_shape, w_shape, gy_shape, stride, pads, dilation, groups, algorithm)
        if depthwise_backward_applies(*args):
            return "depthwise"
        if fused_backward_applies(*args):
            return "fused"
        if fused_channels_last_applies(*args):
            return "fused_channels_last"
    return "separate"


# ------------------------------------------------------------------------ saved state

class Saved:
    """What a forward keeps for its backward (opaque to the ops): the column matrix, when
    the plan kept it. ``conv_backward`` (or ``release``) hands it back."""

    __slots__ = ("cols",)

    def __init__(self, cols):
        self.cols = cols


def keep_cols(cols):
    """Whether to keep ``cols`` for the weight gradient, within ``KEEP_COLS_BYTES`` and
    ``KEEP_COLS_TOTAL_BYTES`` (``workspace.keep`` counts it until it is collected).

    >>> keep_cols(np.zeros((4, 4)))
    True
    """
    return keep(cols, KEEP_COLS_BYTES, KEEP_COLS_TOTAL_BYTES)


def release(saved):
    """Hand the state a forward kept (a ``Saved`` or ``None``) back for reuse; call it once
    nothing uses it. Arrays the workspace did not make (the input itself, for pointwise
    kernels) are ignored."""
    if saved is not None:
        WORKSPACE.give(saved.cols)
        saved.cols = None


# ------------------------------------------------------------------------ the entries

def conv_forward(x, w, stride, pads, dilation, groups, out=None, keep=False, algorithm=None,
                 bias=None):
    """Cross-correlation ``y = x * w`` (torch's conv), plus an optional bias.

    Args:
        x: input ``(N, C, I1, .., In)``.
        w: weight ``(Co, C // groups, K1, .., Kn)``; the rank ``n`` is ``w.ndim - 2``.
        stride, dilation: ``n`` ints each. pads: ``n`` ``(lo, hi)`` pairs.
        groups: ``G``; ``C`` and ``Co`` are multiples of it.
        out: optional output sizes (default: the usual formula).
        keep: also return the state ``conv_backward`` takes (a ``Saved`` holding the column
            matrix when the plan keeps it, else ``None``).
        algorithm: ``'im2col'``, ``'implicit_gemm'``, ``'fft'``, ``'direct'``,
            ``'winograd'`` or ``'auto'``; default: ``ALGORITHM``.
        bias: optional ``(Co,)``, added to the output.

    Returns:
        ``y`` ``(N, Co, O1, .., On)``, or ``(y, saved)`` with ``keep``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_forward(x, np.ones((1, 1, 3)), (1,), ((1, 1),), (1,), 1)
    array([[[1., 3., 6., 9., 7.]]])
    >>> conv_forward(x, np.ones((1, 1, 3)), (1,), ((1, 1),), (1,), 1, bias=np.array([0.5]))
    array([[[1.5, 3.5, 6.5, 9.5, 7.5]]])
    """
    kernel = tuple(w.shape[2:])
    if out is None:
        out = conv_out_shape(x.shape[2:], kernel, stride, pads, dilation)
    out = tuple(out)
    path = forward_path(x.shape, w.shape, stride, pads, dilation, groups, out, keep,
                        algorithm, x.itemsize)
    cols = None
    if path == "fft":
        y = fft.conv_fft(x, w, pads)
    elif path == "winograd":
        y = winograd.conv_winograd(x, w, pads)
    elif path == "direct":
        y = direct.forward(x, w, stride, pads, dilation, groups, out, BLOCK_BYTES)
    elif path == "implicit_gemm":
        y = implicit.forward(x, w, stride, pads, dilation, groups, out)
    elif path == "depthwise":
        y = depthwise.forward(x, w, pads, dilation, out, DEPTHWISE_BLOCK_BYTES, bias=bias)
        bias = None                                                  # added already
    elif path == "depthwise_taps":
        y = depthwise.forward_taps(x, w, stride, pads, dilation, out, bias=bias)
        bias = None                                                  # added already
    elif path in ("channels_last", "channels_last_blocks"):
        y, cols = columns.forward_channels_last(x, w, stride, pads, dilation, out,
                                               path == "channels_last", CL_CHUNK_BYTES,
                                               bias=bias)
        bias = None                                                  # added already
    elif path == "folded":
        y, cols = columns.forward_folded(x, w, stride, pads, dilation, groups, out)
    elif path == "pointwise_folded":
        y, cols = columns.forward_pointwise_folded(x, w, groups)
    elif path == "nchw_blocks":
        y = columns.forward_blocked(x, w, stride, pads, dilation, groups, out,
                                   NCHW_BLOCK_BYTES)
    else:
        y, cols = columns.forward_whole(x, w, stride, pads, dilation, groups, out)
    if bias is not None:
        add_per_channel_(y, bias)                                    # y is a fresh array
    if not keep:
        WORKSPACE.give(cols)
        return y
    # Keep the columns when they are free (a pointwise kernel's are a view of x) or within
    # the caps; else hand them back to the workspace for reuse at once.
    if cols is not None and (np.may_share_memory(cols, x) or keep_cols(cols)):
        return y, Saved(cols)
    WORKSPACE.give(cols)
    return y, None


def conv_input_grad(gy, w, x_shape, stride, pads, dilation, groups, algorithm=None):
    """``gx`` of ``conv_forward`` (the transposed convolution of ``gy``).

    Also the forward of the transposed convolution (``gy`` is then its input, ``x_shape``
    its output shape).

    Args:
        gy: ``(N, Co, O1, .., On)``. w: ``(Co, C // groups, K...)``.
        x_shape: ``(N, C, I1, .., In)``, the shape of the result.
        algorithm: as for ``conv_forward``.

    >>> gy = np.ones((1, 1, 3))
    >>> conv_input_grad(gy, np.ones((1, 1, 3)), (1, 1, 5), (1,), ((0, 0),), (1,), 1)
    array([[[1., 2., 3., 2., 1.]]])
    """
    if gy.shape[0] == 0 or math.prod(gy.shape[2:]) == 0:
        return np.zeros(x_shape, dtype=np.result_type(gy, w))
    path = _input_grad_path(gy.shape, w.shape, x_shape, stride, pads, dilation, groups,
                            algorithm)
    if path == "fft":
        return fft.input_grad(gy, w, x_shape, stride, pads, dilation, groups)
    if path == "direct":
        return direct.input_grad(gy, w, x_shape, stride, pads, dilation, groups, BLOCK_BYTES)
    if path == "implicit_gemm":
        return implicit.input_grad(gy, w, x_shape, stride, pads, dilation, groups)
    if path == "as_conv" and not _finite(w):
        path = "col2im"
    if path == "as_conv":
        # gy padded by d(K-1) - lo (low side) and correlated with the flipped weight, input
        # and output channels swapped within each group
        wt, gpads = as_conv_weight_and_pads(w, pads, dilation, groups, x_shape[2:],
                                            gy.shape[2:])
        return conv_forward(gy, wt, (1,) * (w.ndim - 2), gpads, dilation, groups,
                            out=tuple(x_shape[2:]), algorithm="im2col")
    if path == "col2im_batch_last":
        return columns.input_grad_batch_last(gy, w, x_shape, stride, pads, dilation)
    return columns.input_grad_col2im(gy, w, x_shape, stride, pads, dilation, groups)


def conv_weight_grad(x, gy, w_shape, stride, pads, dilation, groups, saved=None,
                     algorithm=None):
    """``gw`` of ``conv_forward``: the correlation of ``x`` with ``gy``.

    ``saved`` is the forward's state (``conv_forward(..., keep=True)``); its kept columns are
    used when there are any, else the plan builds what the path needs. The caller releases
    ``saved``.

    >>> x = np.arange(5.0).reshape(1, 1, 5)
    >>> conv_weight_grad(x, np.ones((1, 1, 3)), (1, 1, 3), (1,), ((0, 0),), (1,), 1)
    array([[[3., 6., 9.]]])
    """
    N = gy.shape[0]
    outs = tuple(gy.shape[2:])
    if N == 0 or math.prod(outs) == 0:
        return np.zeros(w_shape, dtype=np.result_type(x, gy))
    if saved is not None and saved.cols is not None:
        return columns.weight_grad_from_columns(gy, saved.cols, w_shape, groups)
    path = _weight_grad_path(x.shape, gy.shape, w_shape, stride, pads, dilation, groups,
                             algorithm)
    if path == "direct":
        return direct.weight_grad(x, gy, w_shape, stride, pads, dilation, groups, BLOCK_BYTES)
    if path == "implicit_gemm":
        return implicit.weight_grad(x, gy, w_shape, stride, pads, dilation, groups)
    if path == "depthwise":
        return depthwise.weight_grad(x, gy, w_shape, pads, dilation, DEPTHWISE_BLOCK_BYTES)
    if path == "channels_last_blocks":
        return columns.weight_grad_channels_last(x, gy, w_shape, stride, pads, dilation,
                                                CL_CHUNK_BYTES)
    if path == "nchw_blocks":
        return columns.weight_grad_blocked(x, gy, w_shape, stride, pads, dilation, groups,
                                          NCHW_BLOCK_BYTES)
    cols = columns.columns(x, tuple(w_shape[2:]), stride, pads, dilation, groups, outs,
                          fold=path == "folded")
    gw = columns.weight_grad_from_columns(gy, cols, w_shape, groups)
    WORKSPACE.give(cols)
    return gw


def conv_backward(gy, x, w, stride, pads, dilation, groups, need_x=True, need_w=True,
                  saved=None, algorithm=None):
    """``(gx, gw)`` of ``conv_forward`` (``None`` for a gradient not needed); releases
    ``saved``, the state ``conv_forward(..., keep=True)`` returned.

    >>> x, w, gy = np.ones((1, 1, 4)), np.array([[[1.0, 2.0, 3.0]]]), np.ones((1, 1, 4))
    >>> conv_backward(gy, x, w, (1,), ((1, 1),), (1,), 1)
    (array([[[3., 6., 6., 5.]]]), array([[[3., 4., 3.]]]))
    """
    path = backward_path(x.shape, w.shape, gy.shape, stride, pads, dilation, groups, need_x,
                         need_w, saved, algorithm)
    if path not in ("separate", "depthwise_taps") and not _finite(w):
        path = "separate"                  # (the taps never multiply padding: exact as is)
    if path == "depthwise_taps":
        gx, gw = depthwise.backward_taps(gy, x, w, stride, pads, dilation, need_x, need_w)
    elif path == "depthwise":
        gx, gw = depthwise.backward(gy, x, w, pads, dilation, DEPTHWISE_BLOCK_BYTES)
    elif path == "fused_channels_last":
        gx, gw = columns.backward_fused_channels_last(gy, x, w, pads, dilation, CL_CHUNK_BYTES)
    elif path == "fused":
        gx, gw = columns.backward_fused(gy, x, w, pads, dilation, groups, _nchw_block_bytes())
    else:
        gx = (conv_input_grad(gy, w, x.shape, stride, pads, dilation, groups, algorithm)
              if need_x else None)
        gw = (conv_weight_grad(x, gy, w.shape, stride, pads, dilation, groups, saved,
                               algorithm) if need_w else None)
    release(saved)
    return gx, gw


def conv_transpose_forward(x, w, stride, pads, dilation, groups, out, algorithm=None):
    """The transposed convolution of ``x`` ``(N, C, I...)`` with ``w`` ``(C, Co/G, K...)``:
    the input gradient of the convolution that maps ``out``-sized inputs to ``x``'s sizes
    (a C-contiguous array; ``out`` includes ``output_padding``).

    >>> conv_transpose_forward(np.ones((1, 1, 3)), np.ones((1, 1, 3)), (1,), ((0, 0),),
    ...                        (1,), 1, (5,))
    array([[[1., 2., 3., 2., 1.]]])
    """
    y_shape = (x.shape[0], w.shape[1] * groups) + tuple(out)
    y = conv_input_grad(x, w, y_shape, stride, pads, dilation, groups, algorithm)
    return y if y.flags.c_contiguous else np.ascontiguousarray(y)


def conv_transpose_backward(gy, x, w, stride, pads, dilation, groups, need_x=True,
                            need_w=True, algorithm=None):
    """``(gx, gw)`` of ``conv_transpose_forward``: ``gx`` is the forward convolution of
    ``gy``, and ``gw`` the weight gradient of the convolution whose input gradient the
    transposed convolution is (its input is ``gy`` here, its output gradient ``x``)."""
    gx = (conv_forward(gy, w, stride, pads, dilation, groups, out=x.shape[2:],
                       algorithm=algorithm) if need_x else None)
    gw = (conv_weight_grad(gy, x, w.shape, stride, pads, dilation, groups,
                           algorithm=algorithm) if need_w else None)
    return gx, gw
